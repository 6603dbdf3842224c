"""Admin: metadata only. No field, action or link here can reach recording content or keys."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from config.admin import ReadOnlyAdmin
from recorder.models import RecorderClient, Recording, Session, SessionEvent


@admin.register(RecorderClient)
class RecorderClientAdmin(ReadOnlyAdmin):
    list_display = ["name", "token_prefix", "created_at", "revoked_at"]
    exclude = ["token_digest"]


class SessionEventInline(admin.TabularInline):  # type: ignore[type-arg]
    model = SessionEvent
    extra = 0
    can_delete = False
    fields = ["position", "type", "at", "view", "control"]
    readonly_fields = ["position", "type", "at", "view", "control"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Session)
class SessionAdmin(ReadOnlyAdmin):
    list_display = ["id", "client", "started_at", "ended_at", "consent_view", "consent_control"]
    list_filter = ["client"]
    exclude = ["customer_ref_hash", "agent_ref_hash"]
    inlines = [SessionEventInline]


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdmin):
    list_display = ["id", "state", "size", "media_type", "received_at", "expires_at"]
    list_filter = ["state"]
    # The sealed header (the wrapped file key) and the content fingerprint are never shown.
    exclude = ["header", "fingerprint"]
