"""Admin: the ledger is readable, never editable, by anyone."""

from django.contrib import admin

from audit.models import LedgerEntry
from core.admin import ReadOnlyAdmin


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["seq", "recorded_at", "actor_kind", "actor_label", "action", "recording_id", "session_id"]
    list_filter = ["action", "actor_kind"]
    exclude = ["leaf_hash"]
