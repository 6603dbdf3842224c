"""What the operator dashboard shows: the selectors' numbers, and the charts drawn from them.

Metadata only: states, counts, sizes, dates and ids. No customer or agent reference appears
here; an operator runs the service and has no business knowing whose sessions these are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils.timesince import timesince

from core.charts import Chart, Column, Series, bar_list, column_chart
from forwarding.selectors import DestinationLag, destination_lags
from recorder.models import Recording
from retention import selectors
from retention.models import LegalHold, PurgeRun
from retention.selectors import PurgeBacklog, purge_backlog

STATE_SERIES: dict[str, Series] = {
    Recording.State.RECEIVING: Series("receiving", "Receiving"),
    Recording.State.LOCKED: Series("locked", "Locked (kept)"),
    Recording.State.SHREDDED: Series("shredded", "Shredded"),
    Recording.State.PURGED: Series("purged", "Purged"),
}
EXPIRY_SERIES = (Series("due", "Purged when due"), Series("held", "Kept by a legal hold"))
RUN_SERIES = (Series("purged", "Purged"), Series("failed", "Failed"))


@dataclass(frozen=True)
class Overview:
    now: datetime
    counts: dict[str, int]
    locked_bytes: int
    backlog: PurgeBacklog
    states_chart: Chart
    expiry_chart: Chart
    runs_chart: Chart
    next_expiring: QuerySet[Recording]
    holds: list[LegalHold]
    runs: list[PurgeRun]  # newest first, for the table
    last_run: PurgeRun | None
    forwarding: list[DestinationLag]  # the ledger's SIEM destinations and how far behind each is

    @property
    def last_run_age(self) -> str:
        """How long ago the last run started, in words ("under a minute", "2 hours")."""
        if self.last_run is None:
            return ""
        if (self.now - self.last_run.started_at).total_seconds() < 60:
            return "under a minute"
        return timesince(self.last_run.started_at, self.now, depth=1)


def overview(*, now: datetime) -> Overview:
    counts = selectors.recording_counts_by_state()
    runs = selectors.recent_purge_runs(limit=30)
    return Overview(
        now=now,
        counts=counts,
        locked_bytes=selectors.locked_bytes(),
        backlog=purge_backlog(now=now),
        states_chart=_states_chart(counts),
        expiry_chart=_expiry_chart(selectors.expiry_schedule(now=now)),
        runs_chart=_runs_chart(runs),
        next_expiring=selectors.next_expiring(limit=10),
        holds=list(selectors.active_legal_holds()),
        runs=list(reversed(runs))[:10],
        last_run=runs[-1] if runs else None,
        forwarding=destination_lags(),
    )


def _states_chart(counts: dict[str, int]) -> Chart:
    return bar_list(
        title="Recordings by state",
        description=", ".join(f"{STATE_SERIES[s].label}: {n}" for s, n in counts.items()),
        bars=[(STATE_SERIES[state], n) for state, n in counts.items()],
        row_height=44,
    )


def _expiry_chart(buckets: list[selectors.ExpiryBucket]) -> Chart:
    columns = []
    for bucket in buckets:
        if bucket.start is None:
            label, title = "Due", "Expired already"
        else:
            label, title = f"{bucket.start:%d %b}", f"Week from {bucket.start:%d %b %Y}"
        columns.append(Column(label, {"due": bucket.due, "held": bucket.held}, title))
    due_now = buckets[0].due if buckets else 0
    return column_chart(
        title="Next purges",
        description=(
            f"Locked recordings by expiry week; {due_now} expired and unheld, waiting for the next run."
        ),
        columns=columns,
        series=EXPIRY_SERIES,
        width=520,
    )


def _runs_chart(runs: list[PurgeRun]) -> Chart:
    columns = [
        Column(
            f"{run.started_at:%d %b %H:%M}",
            {"purged": run.purged, "failed": run.failed},
            f"Run at {run.started_at:%Y-%m-%d %H:%M} UTC" + (" (dry run)" if run.dry_run else ""),
        )
        for run in runs
        if not run.dry_run
    ]
    return column_chart(
        title="Purge runs",
        description=f"Recordings purged and failed per run, the last {len(columns)} runs.",
        columns=columns,
        series=RUN_SERIES,
        width=1100,
        height=200,
        label_width=110,
    )
