"""Recorder services: clients and their tokens, session registration and the rights timeline.

Every state change commits together with its ledger entry; every refusal is a ledger entry too.
Ingest of the recording itself lives in `recorder.ingest`.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from audit.services import Actor, record_event
from core.errors import Conflict, DomainError, InvalidInput, NotFound
from recorder import timeline
from recorder.models import RecorderClient, Session, SessionEvent
from recorder.pseudonyms import pseudonym

TOKEN_PREFIX = "rvt_"  # noqa: S105 - a recognisable prefix, not a secret


def client_actor(client: RecorderClient) -> Actor:
    return Actor(kind="recorder_client", id=str(client.id), label=client.name)


def _token_digest(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is as strong as a slow hash here.
    return hashlib.sha256(token.encode()).hexdigest()


def create_recorder_client(*, name: str) -> tuple[RecorderClient, str]:
    """Create a client; returns it with its token, which is shown once and stored only hashed."""
    name = name.strip()
    if not name:
        raise InvalidInput(gettext("A recorder client needs a name."), code="name_required")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = RecorderClient(name=name, token_digest=_token_digest(token), token_prefix=token[:10])
    client.full_clean()
    with transaction.atomic():
        client.save()
        record_event(
            action="recorder_client.created", actor=Actor.system(), details={"client": str(client.id)}
        )
    return client, token


def revoke_recorder_client(*, client: RecorderClient, actor: Actor | None = None) -> bool:
    """Revoke the client's token: from the next request on it is refused (401). Returns False
    (and writes nothing) if it was revoked already, so revoking twice is harmless."""
    with transaction.atomic():
        revoked = RecorderClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if not revoked:
            return False
        client.refresh_from_db(fields=["revoked_at"])
        record_event(
            action="recorder_client.revoked",
            actor=actor or Actor.system(),
            details={"client": str(client.id), "name": client.name},
        )
    return True


def recorder_client_named(*, name: str) -> RecorderClient:
    client = RecorderClient.objects.filter(name=name.strip()).first()
    if client is None:
        raise NotFound(
            gettext("No recorder client is named %(name)r.") % {"name": name}, code="client_not_found"
        )
    return client


def authenticate_token(token: str) -> RecorderClient | None:
    """The active client holding `token`, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return RecorderClient.objects.filter(token_digest=_token_digest(token), revoked_at__isnull=True).first()


def register_session(
    *,
    client: RecorderClient,
    external_id: str,
    customer_ref: str,
    agent_ref: str,
    initiated_by: str,
    started_at: datetime,
    consent_granted_at: datetime,
    consent_view: bool,
    consent_control: bool,
) -> Session:
    """Register a customer-initiated session with its prior consent; refusals are ledger events."""
    actor = client_actor(client)
    try:
        if initiated_by != Session.InitiatedBy.CUSTOMER:
            raise InvalidInput(
                gettext("Only sessions initiated by the customer may be registered."),
                code="not_customer_initiated",
            )
        timeline.start(
            consent_granted_at=consent_granted_at,
            started_at=started_at,
            consent=timeline.Rights(view=consent_view, control=consent_control),
        )
        session = Session(
            client=client,
            external_id=external_id,
            customer_ref=customer_ref,
            customer_ref_hash=pseudonym(customer_ref, purpose="customer_ref"),
            agent_ref=agent_ref,
            agent_ref_hash=pseudonym(agent_ref, purpose="agent_ref"),
            initiated_by=initiated_by,
            started_at=started_at,
            consent_granted_at=consent_granted_at,
            consent_view=consent_view,
            consent_control=consent_control,
        )
        session.full_clean(validate_unique=False, validate_constraints=False)
        with transaction.atomic():
            session.save(force_insert=True)
            record_event(
                action="session.registered",
                actor=actor,
                session_id=session.id,
                details={"consent": {"view": consent_view, "control": consent_control}},
            )
    except IntegrityError:
        existing = Session.objects.filter(client=client, external_id=external_id).first()
        error = Conflict(
            gettext("A session with this external_id is already registered as %(id)s.") % {"id": existing.id}
            if existing
            else gettext("A session with this external_id is already registered."),
            code="session_exists",
        )
        _record_refusal("session.rejected", actor, error, session_id=existing.id if existing else None)
        raise error from None
    except DomainError as error:
        _record_refusal("session.rejected", actor, error)
        raise
    return session


def session_for_client(*, client: RecorderClient, session_id: uuid.UUID | str) -> Session:
    """The client's own session; another client's session is as unknown as a missing one."""
    try:
        return Session.objects.get(id=session_id, client=client)
    except (Session.DoesNotExist, ValueError):
        raise NotFound(
            gettext("No session with this id is registered by this client."), code="session_not_found"
        ) from None


def timeline_state(session: Session) -> timeline.TimelineState:
    """Replay the stored timeline (it was validated when written)."""
    state = timeline.start(
        consent_granted_at=session.consent_granted_at,
        started_at=session.started_at,
        consent=timeline.Rights(view=session.consent_view, control=session.consent_control),
    )
    for event in session.events.order_by("position"):
        state = timeline.apply(
            state,
            type=event.type,
            at=event.at,
            rights=timeline.Rights(view=event.view, control=event.control),
        )
    return state


def append_session_event(
    *,
    client: RecorderClient,
    session_id: uuid.UUID | str,
    type: str,
    at: datetime,
    view: bool | None,
    control: bool | None,
) -> SessionEvent:
    """Append one rights change after validating it against the timeline so far."""
    session = session_for_client(client=client, session_id=session_id)
    actor = client_actor(client)
    try:
        with transaction.atomic():
            # Lock the session row so two concurrent events are validated one after the other.
            session = Session.objects.select_for_update().get(pk=session.pk)
            reported = (
                None
                if view is None and control is None
                else timeline.Rights(view=bool(view), control=bool(control))
            )
            state = timeline.apply(timeline_state(session), type=type, at=at, rights=reported)
            event = SessionEvent.objects.create(
                session=session,
                position=session.events.count() + 1,
                type=type,
                at=at,
                view=state.rights.view,
                control=state.rights.control,
            )
            if state.phase is timeline.Phase.ENDED:
                session.ended_at = at
                session.save(update_fields=["ended_at"])
            record_event(
                action="session.rights_changed",
                actor=actor,
                session_id=session.id,
                details={
                    "type": type,
                    "view": event.view,
                    "control": event.control,
                    "position": event.position,
                },
            )
    except DomainError as error:
        _record_refusal("session.event_rejected", actor, error, session_id=session.id)
        raise
    return event


def _record_refusal(
    action: str, actor: Actor, error: DomainError, *, session_id: uuid.UUID | None = None
) -> None:
    record_event(action=action, actor=actor, session_id=session_id, details={"reason": error.code})
