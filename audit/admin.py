"""Admin: the ledger is readable, never editable, by anyone."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["seq", "recorded_at", "actor_kind", "actor_label", "action", "recording_id", "session_id"]
    list_filter = ["action", "actor_kind"]
    exclude = ["leaf_hash"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
