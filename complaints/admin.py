"""Admin: cases, requests and grants are shown, never made or changed here. Grants come only
from an approval in `complaints.services`, where four-eyes is enforced."""

from django.contrib import admin

from complaints.models import AccessGrant, AccessRequest, ComplaintCase
from core.admin import ReadOnlyAdmin


@admin.register(ComplaintCase)
class ComplaintCaseAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "channel", "opened_by", "opened_at", "respond_by", "outcome"]
    list_filter = ["status", "channel", "outcome"]
    # The complaint text and the customer's reference are for the case's officer, not the admin;
    # the commitment key would let anyone test a guessed text against the ledger.
    exclude = ["customer_ref", "customer_ref_hash", "complaint", "summary", "text_key"]


@admin.register(AccessRequest)
class AccessRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "case", "requester", "status", "decided_by", "requested_at", "decided_at"]
    list_filter = ["status"]
    exclude = ["justification", "reason"]


@admin.register(AccessGrant)
class AccessGrantAdmin(ReadOnlyAdmin):
    list_display = ["id", "case", "grantee", "starts_at", "ends_at", "revoked_at"]
