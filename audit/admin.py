"""Admin: the ledger is readable, never editable, by anyone."""

from django.contrib import admin

from audit.models import LedgerEntry
from core.admin import ReadOnlyAdmin


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["seq", "recorded_at", "actor_kind", "actor_label", "action", "recording_id", "session_id"]
    list_filter = ["action", "actor_kind"]
    # The details carry an access request's justification and a closing summary, which the case
    # admin does not show either; auditors read them on /audit/ and in exports.
    exclude = ["leaf_hash", "details"]
