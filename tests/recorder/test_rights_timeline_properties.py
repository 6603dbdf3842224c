"""The rights timeline (recorder/timeline.py) under random event sequences: whatever a recorder
client reports, in any order, the state machine keeps its invariants, and every refusal is a
domain error (InvalidInput or Conflict, mapped to 400/409), never anything else.

tests/recorder/test_rights_timeline.py pins chosen sequences through the API; this draws them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import Conflict, InvalidInput
from recorder import timeline
from recorder.timeline import NO_RIGHTS, Phase, Rights

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
TYPES = ["scope_changed", "interrupted", "resumed", "ended", "unknown"]

# Rights a client may send, including the impossible "control without view" and "not given".
reported_rights = st.none() | st.tuples(st.booleans(), st.booleans())
events = st.lists(
    st.tuples(st.sampled_from(TYPES), st.integers(-5, 600), reported_rights), max_size=30
)  # (type, seconds after the previous accepted event, (view, control) or None)


def make_rights(pair: tuple[bool, bool] | None) -> Rights | None:
    return None if pair is None else Rights(view=pair[0], control=pair[1])


@settings(max_examples=300, deadline=None)
@given(consent=st.sampled_from([(True, False), (True, True)]), sequence=events)
def test_property_any_event_sequence_keeps_the_timeline_invariants(
    consent: tuple[bool, bool], sequence: list[tuple[str, int, tuple[bool, bool] | None]]
) -> None:
    state = timeline.start(consent_granted_at=START, started_at=START, consent=Rights(*consent))
    had_control = state.rights.control
    for kind, seconds, pair in sequence:
        at = state.last_at + timedelta(seconds=seconds)
        try:
            rights = make_rights(pair)
            after = timeline.apply(state, type=kind, at=at, rights=rights)
        except (InvalidInput, Conflict):
            # Refused: the old state stands (it is immutable); a refusal never ends the session.
            continue
        # Accepted events never go back in time, and an ended session accepts nothing.
        assert seconds >= 0 and state.phase is not Phase.ENDED
        assert after.last_at == at
        # Control only ever with view; no rights at all while interrupted or after the end.
        assert not (after.rights.control and not after.rights.view)
        if after.phase is not Phase.ACTIVE:
            assert after.rights == NO_RIGHTS
        else:
            assert after.rights.any
        # "Did the agent ever have control?" is exactly the history of the rights in force.
        had_control = had_control or after.rights.control
        assert after.ever_control == had_control
        # Each event type leads to exactly one phase.
        expected_phase = {
            "scope_changed": Phase.ACTIVE,
            "resumed": Phase.ACTIVE,
            "interrupted": Phase.INTERRUPTED,
            "ended": Phase.ENDED,
        }[kind]
        assert after.phase is expected_phase
        if kind == "resumed" and rights is None:
            assert after.rights == state.before_interrupt  # resume without rights restores them
        if kind == "scope_changed":
            assert after.rights != state.rights
        state = after


@settings(max_examples=100, deadline=None)
@given(sequence=events)
def test_property_an_ended_session_refuses_every_further_event(
    sequence: list[tuple[str, int, tuple[bool, bool] | None]],
) -> None:
    state = timeline.start(consent_granted_at=START, started_at=START, consent=Rights(True, True))
    state = timeline.apply(state, type="ended", at=START + timedelta(minutes=5), rights=None)
    for kind, seconds, pair in sequence:
        try:
            rights = make_rights(pair)
        except InvalidInput:
            continue
        try:
            timeline.apply(state, type=kind, at=state.last_at + timedelta(seconds=seconds), rights=rights)
        except Conflict as error:
            assert error.code == "session_ended"
        else:
            raise AssertionError(f"{kind} accepted after the end")
