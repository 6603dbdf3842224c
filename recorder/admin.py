"""Admin: metadata only. No field, action or link here can reach recording content or keys."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy

from audit.services import Actor
from core.admin import ReadOnlyAdmin
from recorder.models import RecorderClient, Recording, Session, SessionEvent
from recorder.services import revoke_recorder_client


@admin.register(RecorderClient)
class RecorderClientAdmin(ReadOnlyAdmin):
    """Read-only but for one action: revoking tokens (through the service, so it is a ledger event)."""

    list_display = ["name", "token_prefix", "created_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    exclude = ["token_digest"]
    actions = ["revoke_tokens"]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    @admin.action(description=gettext_lazy("Revoke the selected clients' tokens"), permissions=["revoke"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[RecorderClient]) -> None:
        actor = Actor.for_user(request.user)
        revoked = [client.name for client in queryset if revoke_recorder_client(client=client, actor=actor)]
        if revoked:
            self.message_user(
                request, gettext("Revoked: %(names)s.") % {"names": ", ".join(revoked)}, messages.SUCCESS
            )
        else:
            self.message_user(
                request, gettext("The selected clients were revoked already."), messages.WARNING
            )


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
    # Metadata only: the references and the client's own id for the session are personal data,
    # for the complaint workflow (which ledgers every search), not for the admin.
    exclude = ["external_id", "customer_ref", "customer_ref_hash", "agent_ref", "agent_ref_hash"]
    inlines = [SessionEventInline]


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdmin):
    list_display = ["id", "state", "size", "media_type", "received_at", "expires_at"]
    list_filter = ["state"]
    # The sealed header (the wrapped file key) and the content fingerprint are never shown.
    exclude = ["header", "fingerprint"]
