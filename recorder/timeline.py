"""The consent and rights timeline of a session as a state machine (pure, no database).

The customer consents before the session with chosen rights, then may interrupt (F11, "off"),
resume, narrow or widen the rights, until the session ends. Control without view means nothing:
an agent cannot steer a desktop it cannot see.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from django.utils.translation import gettext

from core.errors import Conflict, InvalidInput


@dataclass(frozen=True)
class Rights:
    view: bool
    control: bool

    def __post_init__(self) -> None:
        if self.control and not self.view:
            raise InvalidInput(gettext("Control rights require view rights."), code="control_without_view")

    @property
    def any(self) -> bool:
        return self.view or self.control


NO_RIGHTS = Rights(view=False, control=False)


class Phase(enum.Enum):
    ACTIVE = "active"
    INTERRUPTED = "interrupted"
    ENDED = "ended"


@dataclass(frozen=True)
class TimelineState:
    phase: Phase
    rights: Rights  # in force now (NO_RIGHTS while interrupted or ended)
    before_interrupt: Rights  # what `resumed` restores when it names no rights
    last_at: datetime
    ever_control: bool


def start(*, consent_granted_at: datetime, started_at: datetime, consent: Rights) -> TimelineState:
    """The state at the start of a session, from the customer's prior consent."""
    if consent_granted_at > started_at:
        raise InvalidInput(
            gettext("Consent must be granted no later than the session starts."), code="consent_after_start"
        )
    if not consent.any:
        raise InvalidInput(
            gettext("The consent grants neither view nor control rights."), code="consent_grants_nothing"
        )
    return TimelineState(
        phase=Phase.ACTIVE,
        rights=consent,
        before_interrupt=consent,
        last_at=started_at,
        ever_control=consent.control,
    )


def apply(state: TimelineState, *, type: str, at: datetime, rights: Rights | None) -> TimelineState:
    """The state after one reported event; raises InvalidInput or Conflict if it cannot happen.

    `rights` is what the event reports; None means "not given" (allowed where it is implied).
    """
    if state.phase is Phase.ENDED:
        raise Conflict(
            gettext("The session has ended; its timeline takes no more events."), code="session_ended"
        )
    if at < state.last_at:
        raise Conflict(
            gettext("Event time %(at)s is before the previous event (%(previous)s).")
            % {"at": at.isoformat(), "previous": state.last_at.isoformat()},
            code="time_went_backwards",
        )
    handler = _HANDLERS.get(type)
    if handler is None:
        raise InvalidInput(
            gettext("Unknown event type %(type)r.") % {"type": type}, code="unknown_event_type"
        )
    return handler(state, at, rights)


def _scope_changed(state: TimelineState, at: datetime, rights: Rights | None) -> TimelineState:
    if state.phase is Phase.INTERRUPTED:
        raise Conflict(
            gettext("The session is interrupted; resume it before changing rights."),
            code="session_interrupted",
        )
    if rights is None:
        raise InvalidInput(
            gettext("scope_changed must give the new view and control rights."), code="rights_required"
        )
    if not rights.any:
        raise InvalidInput(
            gettext("scope_changed cannot remove every right; report interrupted or ended instead."),
            code="no_rights",
        )
    if rights == state.rights:
        raise Conflict(
            gettext("scope_changed must narrow or widen the rights in force."), code="rights_unchanged"
        )
    return replace(
        state,
        rights=rights,
        before_interrupt=rights,
        last_at=at,
        ever_control=state.ever_control or rights.control,
    )


def _interrupted(state: TimelineState, at: datetime, rights: Rights | None) -> TimelineState:
    if state.phase is Phase.INTERRUPTED:
        raise Conflict(gettext("The session is already interrupted."), code="already_interrupted")
    _require_no_rights(rights, "interrupted")
    return replace(
        state, phase=Phase.INTERRUPTED, rights=NO_RIGHTS, before_interrupt=state.rights, last_at=at
    )


def _resumed(state: TimelineState, at: datetime, rights: Rights | None) -> TimelineState:
    if state.phase is not Phase.INTERRUPTED:
        raise Conflict(gettext("Only an interrupted session can be resumed."), code="not_interrupted")
    restored = state.before_interrupt if rights is None else rights
    if not restored.any:
        raise InvalidInput(gettext("resumed must restore view or control rights."), code="no_rights")
    return replace(
        state,
        phase=Phase.ACTIVE,
        rights=restored,
        before_interrupt=restored,
        last_at=at,
        ever_control=state.ever_control or restored.control,
    )


def _ended(state: TimelineState, at: datetime, rights: Rights | None) -> TimelineState:
    _require_no_rights(rights, "ended")
    return replace(state, phase=Phase.ENDED, rights=NO_RIGHTS, last_at=at)


def _require_no_rights(rights: Rights | None, type: str) -> None:
    if rights is not None and rights.any:
        raise InvalidInput(
            f"{type} leaves the agent no rights: view and control must be false.", code="rights_not_allowed"
        )


_HANDLERS = {
    "scope_changed": _scope_changed,
    "interrupted": _interrupted,
    "resumed": _resumed,
    "ended": _ended,
}
