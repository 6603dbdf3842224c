"""The staff admin: Django's user admin, with every change of someone's role on the ledger; role
groups shown, never edited (they follow staff.roles)."""

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from audit.services import Actor
from core.admin import ReadOnlyAdmin
from staff.account_changes import acting_as


class StaffUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """Django's user admin; a change of someone's role groups is on the ledger with the admin's
    signed-in user as actor (staff.account_changes)."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        with acting_as(Actor.for_user(request.user)):
            super().save_related(request, form, formsets, change)


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), StaffUserAdmin)
# Role groups and their permissions follow staff.roles (synced at every migrate): shown only.
admin.site.unregister(Group)
admin.site.register(Group, ReadOnlyAdmin)
