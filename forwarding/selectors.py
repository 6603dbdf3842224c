"""Reads of the forwarding state: how far behind the ledger each configured destination is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from audit.selectors import last_seq
from forwarding.destinations import configured_names
from forwarding.models import ForwardCursor


@dataclass(frozen=True)
class DestinationLag:
    destination: str
    acked_seq: int
    lag_entries: int  # ledger entries not yet confirmed by the destination
    acked_at: datetime | None
    failing_since: datetime | None
    last_error: str

    def sentence(self) -> str:
        text = f"{self.destination}: {self.lag_entries} entries behind (confirmed up to seq {self.acked_seq})"
        if self.failing_since is not None:
            text += f", failing since {self.failing_since:%Y-%m-%d %H:%M:%S} UTC"
        return text


def destination_lags() -> list[DestinationLag]:
    """Every configured destination, in configuration order, including one never reached yet."""
    names = configured_names()
    cursors = {cursor.destination: cursor for cursor in ForwardCursor.objects.filter(destination__in=names)}
    last = last_seq()
    lags = []
    for name in names:
        cursor = cursors.get(name)
        acked = int(cursor.acked_seq) if cursor else 0
        lags.append(
            DestinationLag(
                destination=name,
                acked_seq=acked,
                lag_entries=max(last - acked, 0),
                acked_at=cursor.acked_at if cursor else None,
                failing_since=cursor.failing_since if cursor else None,
                last_error=cursor.last_error if cursor else "",
            )
        )
    return lags
