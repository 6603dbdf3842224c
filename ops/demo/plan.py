"""The demo's sessions: consent timelines as a remote-support tool would report them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

SEED = 20261126

# Each scenario: the consent (view, control) and the events after the start, as
# (minutes after the start, type, view, control); view/control None where the type implies them.
Event = tuple[int, str, bool | None, bool | None]
SCENARIOS: dict[str, tuple[tuple[bool, bool], list[Event]]] = {
    "full control, straight through": ((True, True), [(12, "ended", None, None)]),
    "view only, widened to control": (
        (True, False),
        [(4, "scope_changed", True, True), (19, "ended", None, None)],
    ),
    "control, narrowed to view only": (
        (True, True),
        [(7, "scope_changed", True, False), (15, "ended", None, None)],
    ),
    "control, interrupted (F11) and resumed": (
        (True, True),
        [(5, "interrupted", None, None), (8, "resumed", None, None), (21, "ended", None, None)],
    ),
    "view only throughout (not recorded)": ((True, False), [(9, "ended", None, None)]),
    "control, off, resumed with view only, widened again": (
        (True, True),
        [
            (3, "interrupted", None, None),
            (6, "resumed", True, False),
            (11, "scope_changed", True, True),
            (25, "ended", None, None),
        ],
    ),
    "control, customer switched off and left": (
        (True, True),
        [(6, "interrupted", None, None), (7, "ended", None, None)],
    ),
    "view only, interrupted, ended (not recorded)": (
        (True, False),
        [(2, "interrupted", None, None), (4, "resumed", None, None), (10, "ended", None, None)],
    ),
}


@dataclass(frozen=True)
class PlannedSession:
    external_id: str
    scenario: str
    customer_ref: str
    agent_ref: str
    consent_granted_at: datetime
    started_at: datetime
    consent: tuple[bool, bool]
    events: list[dict[str, object]] = field(default_factory=list)

    @property
    def records(self) -> bool:
        """Whether control rights were ever granted: only then may it be recorded."""
        return self.consent[1] or any(e.get("control") for e in self.events)

    def registration(self) -> dict[str, object]:
        return {
            "external_id": self.external_id,
            "customer_ref": self.customer_ref,
            "agent_ref": self.agent_ref,
            "initiated_by": "customer",
            "started_at": _iso(self.started_at),
            "consent": {
                "granted_at": _iso(self.consent_granted_at),
                "view": self.consent[0],
                "control": self.consent[1],
            },
        }


def plan(*, count: int, now: datetime, days: int = 85) -> list[PlannedSession]:
    """`count` sessions spread over the last `days` days, the same ones for the same `now` day."""
    rng = random.Random(SEED)  # noqa: S311 - demo data, not secrets: the same plan every run
    names = list(SCENARIOS)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    sessions = []
    for number in range(count):
        scenario = names[number % len(names)]
        consent, events = SCENARIOS[scenario]
        day = today - timedelta(days=days - (days * number) // max(count, 1))
        started_at = day + timedelta(hours=rng.randint(8, 18), minutes=rng.randint(0, 59))
        granted_at = started_at - timedelta(seconds=rng.randint(20, 180))
        sessions.append(
            PlannedSession(
                external_id=f"demo-{number + 1:04d}",
                scenario=scenario,
                customer_ref=f"CUST-{rng.randint(100000, 999999)}",
                agent_ref=f"agent-{rng.randint(1, 12):02d}",
                consent_granted_at=granted_at,
                started_at=started_at,
                consent=consent,
                events=[
                    {
                        "type": kind,
                        "at": _iso(started_at + timedelta(minutes=minutes, seconds=rng.randint(0, 50))),
                        **({"view": view, "control": control} if view is not None else {}),
                    }
                    for minutes, kind, view, control in events
                ],
            )
        )
    return sessions


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
