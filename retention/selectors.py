"""Reads of retention data: purge runs, and what the operator dashboard shows (metadata only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from recorder import shredding
from recorder.models import Recording
from retention.models import LegalHold, PurgeRun


def purge_runs() -> QuerySet[PurgeRun]:
    return PurgeRun.objects.order_by("-started_at")


def recent_purge_runs(*, limit: int = 30) -> list[PurgeRun]:
    """The last `limit` runs, oldest first (the order a chart reads left to right)."""
    return list(reversed(purge_runs()[:limit]))


def recording_counts_by_state() -> dict[str, int]:
    """How many recordings are in each state, every state listed (zero included)."""
    counts = dict(Recording.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    return {state: int(counts.get(state, 0)) for state in Recording.State.values}


def locked_bytes() -> int:
    """Sealed payload bytes of the recordings still kept (state locked)."""
    total = Recording.objects.filter(state=Recording.State.LOCKED).aggregate(
        total=Coalesce(Sum("payload_size"), 0)
    )["total"]
    return int(total)


def _is_held() -> Exists:
    return Exists(LegalHold.objects.filter(session_id=OuterRef("session_id"), released_at__isnull=True))


@dataclass(frozen=True)
class ExpiryBucket:
    """Locked recordings whose expiry falls in [start, end); `start` None means "already due"."""

    start: datetime | None
    end: datetime
    due: int  # unheld: the purge takes them when the bucket's time comes
    held: int  # kept past their expiry by a legal hold


def expiry_schedule(*, now: datetime, weeks: int = 14) -> list[ExpiryBucket]:
    """The purge's work ahead: already due, then week by week from `now`, counted in one query."""
    bounds: list[tuple[datetime | None, datetime]] = [(None, now)]
    bounds += [(now + timedelta(weeks=w), now + timedelta(weeks=w + 1)) for w in range(weeks)]
    aggregates: dict[str, Any] = {}
    for index, (start, end) in enumerate(bounds):
        window = Q(expires_at__lt=end) if start is None else Q(expires_at__gte=start, expires_at__lt=end)
        aggregates[f"due{index}"] = Count("id", filter=window & Q(held=False))
        aggregates[f"held{index}"] = Count("id", filter=window & Q(held=True))
    counts = (
        Recording.objects.filter(state=Recording.State.LOCKED)
        .annotate(held=_is_held())
        .aggregate(**aggregates)
    )
    return [
        ExpiryBucket(start, end, int(counts[f"due{i}"]), int(counts[f"held{i}"]))
        for i, (start, end) in enumerate(bounds)
    ]


def next_expiring(*, limit: int = 10) -> QuerySet[Recording]:
    """The locked recordings that expire first, each marked `held` if a legal hold keeps it."""
    return (
        Recording.objects.filter(state=Recording.State.LOCKED)
        .annotate(held=_is_held())
        .order_by("expires_at", "id")[:limit]
    )


def active_legal_holds() -> QuerySet[LegalHold]:
    """Unreleased holds, oldest first, with the held session's recording state."""
    return (
        LegalHold.objects.filter(released_at__isnull=True)
        .select_related("session__recording")
        .order_by("placed_at", "id")
    )


def held_session_ids() -> QuerySet[LegalHold, Any]:
    """Sessions under at least one unreleased hold (a subquery: `.values("session_id")`)."""
    return LegalHold.objects.filter(released_at__isnull=True).values("session_id")


@dataclass(frozen=True)
class PurgeBacklog:
    to_shred: int  # expired, unheld, locked (capped by the limit)
    to_purge: int  # to_shred plus the shredded ones a crashed run left
    to_pseudonymise: int  # sessions without a recording whose retention passed, unheld


def purge_backlog(*, now: datetime, limit: int | None = None) -> PurgeBacklog:
    """What a purge run would do now: for dry runs and progress bars."""
    due = shredding.expired(now=now, held_session_ids=held_session_ids()).count()
    to_shred = min(due, limit) if limit is not None else due
    to_purge = to_shred + Recording.objects.filter(state=Recording.State.SHREDDED).count()
    candidates = shredding.unrecorded_due(now=now, held_session_ids=held_session_ids())
    to_pseudonymise = len(
        [ended for _, ended in candidates.iterator() if shredding.is_unrecorded_due(ended, now=now)]
    )
    return PurgeBacklog(to_shred, to_purge, to_pseudonymise)


def purge_lag_seconds(*, now: datetime) -> float:
    """Seconds since the oldest recording the purge should have removed, and has not, expired (0
    if none): `vault_purge_lag_seconds`, and what operators are e-mailed about. Held recordings are
    kept on purpose and are left out; shredded ones whose payload is not yet deleted are in (the
    purge's second half is still owed)."""
    oldest = (
        Recording.objects.filter(
            state__in=[Recording.State.LOCKED, Recording.State.SHREDDED], expires_at__lte=now
        )
        .exclude(session_id__in=held_session_ids())
        .aggregate(oldest=Min("expires_at"))["oldest"]
    )
    return (now - oldest).total_seconds() if oldest is not None else 0.0


def purge_run(*, run_id: Any) -> PurgeRun | None:
    return PurgeRun.objects.filter(pk=run_id).first()
