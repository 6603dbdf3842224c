"""Admin: cases, requests and grants are shown, never made or changed here. Grants come only
from an approval in `complaints.services`, where four-eyes is enforced."""

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from audit.services import Actor
from complaints.models import AccessGrant, AccessRequest, ComplaintCase
from complaints.staff_audit import acting_as
from config.admin import ReadOnlyAdmin


class StaffUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """Django's user admin; a change of someone's role groups is on the ledger with the admin's
    signed-in user as actor (complaints.staff_audit)."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        with acting_as(Actor.for_user(request.user)):
            super().save_related(request, form, formsets, change)


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), StaffUserAdmin)
# Role groups and their permissions follow config.roles (synced at every migrate): shown only.
admin.site.unregister(Group)
admin.site.register(Group, ReadOnlyAdmin)


@admin.register(ComplaintCase)
class ComplaintCaseAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "channel", "opened_by", "opened_at", "respond_by", "outcome"]
    list_filter = ["status", "channel", "outcome"]
    # The complaint text and the customer's reference are for the case's officer, not the admin.
    exclude = ["customer_ref", "customer_ref_hash", "complaint", "summary"]


@admin.register(AccessRequest)
class AccessRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "case", "requester", "status", "decided_by", "requested_at", "decided_at"]
    list_filter = ["status"]
    exclude = ["justification", "reason"]


@admin.register(AccessGrant)
class AccessGrantAdmin(ReadOnlyAdmin):
    list_display = ["id", "case", "grantee", "starts_at", "ends_at", "revoked_at"]
