"""The vault's own Prometheus metrics, computed from the database at scrape time.

Gauges and counters derived from rows are right whichever process is scraped (several gunicorn
workers, Celery workers elsewhere): the database is the one place all of them write to. Counters
come from rows that are never deleted (a purged recording keeps its tombstone row; the ledger
is append-only), so they only grow, as Prometheus expects of a counter.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from audit.models import LedgerEntry
from audit.selectors import last_seq, latest_head
from complaints.models import AccessGrant
from forwarding.selectors import destination_lags
from notifications.selectors import tallies
from recorder.models import Recording
from retention.selectors import active_legal_holds, purge_lag_seconds


class VaultCollector(Collector):
    """Every `vault_*` metric, each one query."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        ingested = Recording.objects.filter(received_at__isnull=False).aggregate(
            count=Count("id"), size=Coalesce(Sum("size"), 0)
        )
        yield CounterMetricFamily(
            "vault_recordings_ingested", "Recordings sealed and stored since the vault began.",
            value=int(ingested["count"]),
        )  # fmt: skip
        yield CounterMetricFamily(
            "vault_ingested_bytes", "Plaintext bytes of every recording ingested since the vault began.",
            value=int(ingested["size"]),
        )  # fmt: skip
        yield self._refusals()
        yield from self._recordings_by_state()
        yield self._purge_lag(now)
        yield GaugeMetricFamily(
            "vault_legal_holds_active",
            "Legal holds placed and not released.",
            value=active_legal_holds().count(),
        )
        yield GaugeMetricFamily(
            "vault_access_grants_active",
            "Access grants neither revoked nor ended (the recordings they name can be decrypted).",
            value=AccessGrant.objects.filter(revoked_at__isnull=True, ends_at__gt=now).count(),
        )
        yield CounterMetricFamily(
            "vault_playbacks", "Playbacks of a recording (ledger `recording.played`).",
            value=LedgerEntry.objects.filter(action="recording.played").count(),
        )  # fmt: skip
        yield GaugeMetricFamily("vault_ledger_entries", "Entries in the audit ledger.", value=last_seq())
        yield self._head_age(now)
        yield self._forward_lag()
        yield self._notifications()

    def _refusals(self) -> Metric:
        family = CounterMetricFamily(
            "vault_ingest_refusals",
            "Uploads refused or abandoned, by reason (ledger `recording.rejected`).",
            labels=["reason"],
        )
        rows = (
            LedgerEntry.objects.filter(action="recording.rejected")
            .values("details__reason")
            .annotate(count=Count("seq"))
            .values_list("details__reason", "count")
        )
        for reason, count in rows:
            family.add_metric([str(reason or "unknown")], int(count))
        return family

    def _recordings_by_state(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("vault_recordings", "Recordings by state.", labels=["state"])
        counts = dict(
            Recording.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n")
        )
        for state in Recording.State.values:
            family.add_metric([state], int(counts.get(state, 0)))
        yield family

    def _purge_lag(self, now: datetime) -> Metric:
        """Age of the oldest recording the purge should have removed and has not: alert on this."""
        return GaugeMetricFamily(
            "vault_purge_lag_seconds",
            "Seconds since the oldest expired, unheld, unpurged recording expired (0 if none).",
            value=purge_lag_seconds(now=now),
        )

    def _head_age(self, now: datetime) -> Metric:
        head = latest_head()
        family = GaugeMetricFamily(
            "vault_ledger_signed_head_age_seconds",
            "Seconds since the last signed tree head (absent until one is signed).",
        )
        if head is not None:
            family.add_metric([], (now - head.signed_at).total_seconds())
        return family

    def _forward_lag(self) -> Metric:
        family = GaugeMetricFamily(
            "vault_ledger_forward_lag_entries",
            "Ledger entries a SIEM destination has not yet confirmed (a series per configured one).",
            labels=["destination"],
        )
        for lag in destination_lags():
            family.add_metric([lag.destination], lag.lag_entries)
        return family

    def _notifications(self) -> Metric:
        family = CounterMetricFamily(
            "vault_notifications_sent",
            "E-mail notifications by kind and outcome: sent, retried (a temporary failure), failed "
            "(every retry spent), no_address (a recipient without an e-mail address, skipped).",
            labels=["kind", "outcome"],
        )
        for kind, outcome, count in tallies():
            family.add_metric([kind, outcome], count)
        return family
