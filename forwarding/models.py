"""Where each SIEM destination stands: the last ledger seq it acknowledged, and why it is failing."""

from __future__ import annotations

from django.db import models


class ForwardCursor(models.Model):
    """One row per destination (named by forwarding.destinations). `acked_seq` only moves forward,
    and only after the destination confirmed every entry up to it: the next batch starts after it,
    so a crash resends (a duplicate, recognisable by seq) and never skips."""

    destination = models.CharField(max_length=300, unique=True)
    acked_seq = models.PositiveBigIntegerField(default=0)
    acked_at = models.DateTimeField(null=True, blank=True)
    # Set at the first failure after a success, cleared by the next success.
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["destination"]

    def __str__(self) -> str:
        return f"{self.destination} at seq {self.acked_seq}"
