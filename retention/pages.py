"""What the operator dashboard shows: the selectors' numbers, and the charts drawn from them.

Metadata only: states, counts, sizes, dates and ids. No customer or agent reference appears
here; an operator runs the service and has no business knowing whose sessions these are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import formats
from django.utils.functional import Promise
from django.utils.timesince import timesince
from django.utils.translation import gettext, gettext_lazy, ngettext

from core.charts import Chart, Column, Series, bar_list, column_chart
from core.templatetags.display_time import in_display_zone, moment_text
from forwarding.selectors import DestinationLag, destination_lags
from recorder.models import Recording
from retention import selectors
from retention.models import LegalHold, PurgeRun
from retention.selectors import PurgeBacklog, purge_backlog

# Each chart's series by CSS key, labelled in the reader's language when a page is drawn
STATE_LABELS: dict[str, Promise] = {
    Recording.State.RECEIVING: gettext_lazy("Receiving"),
    Recording.State.LOCKED: gettext_lazy("Locked (kept)"),
    Recording.State.SHREDDED: gettext_lazy("Shredded"),
    Recording.State.PURGED: gettext_lazy("Purged"),
}
EXPIRY_LABELS = {"due": gettext_lazy("Purged when due"), "held": gettext_lazy("Kept by a legal hold")}
RUN_LABELS = {"purged": gettext_lazy("Purged"), "failed": gettext_lazy("Failed")}


def _series(labels: Mapping[str, Promise]) -> list[Series]:
    return [Series(key, str(label)) for key, label in labels.items()]


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
            return gettext("under a minute")
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
        title=gettext("Recordings by state"),
        description=", ".join(f"{STATE_LABELS[s]}: {n}" for s, n in counts.items()),
        bars=[(Series(state, str(STATE_LABELS[state])), n) for state, n in counts.items()],
        row_height=44,
    )


def _expiry_chart(buckets: list[selectors.ExpiryBucket]) -> Chart:
    columns = []
    for bucket in buckets:
        if bucket.start is None:
            label, title = gettext("Due"), gettext("Expired already")
        else:
            label = formats.date_format(bucket.start, "MONTH_DAY_FORMAT")
            title = gettext("Week from %(day)s") % {"day": formats.date_format(bucket.start, "DATE_FORMAT")}
        columns.append(Column(label, {"due": bucket.due, "held": bucket.held}, title))
    due_now = buckets[0].due if buckets else 0
    return column_chart(
        title=gettext("Next purges"),
        description=ngettext(
            "Locked recordings by expiry week; %(count)s expired and unheld, waiting for the next run.",
            "Locked recordings by expiry week; %(count)s expired and unheld, waiting for the next run.",
            due_now,
        )
        % {"count": formats.number_format(due_now, force_grouping=True)},
        columns=columns,
        series=_series(EXPIRY_LABELS),
        width=520,
    )


def _runs_chart(runs: list[PurgeRun]) -> Chart:
    columns = [
        Column(
            formats.date_format(in_display_zone(run.started_at), "SHORT_DATETIME_FORMAT"),
            {"purged": run.purged, "failed": run.failed},
            gettext("Run at %(moment)s") % {"moment": moment_text(run.started_at, "SHORT_DATETIME_FORMAT")},
        )
        for run in runs
        if not run.dry_run
    ]
    return column_chart(
        title=gettext("Purge runs"),
        description=ngettext(
            "Recordings purged and failed per run, the last run.",
            "Recordings purged and failed per run, the last %(count)d runs.",
            len(columns),
        )
        % {"count": len(columns)},
        columns=columns,
        series=_series(RUN_LABELS),
        width=1100,
        height=200,
        label_width=110,
    )
