"""Access grants: holding an active grant is the capability to decrypt the recordings it names.

Only `complaints.services` creates grants (through the approved complaint workflow, which a
later issue builds); `recorder.playback` accepts nothing else.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models


class AccessGrant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    grantee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_grants"
    )
    recordings = models.ManyToManyField("recorder.Recording", related_name="access_grants")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="grant_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"grant {self.id}"

    def is_active(self, at: datetime) -> bool:
        return self.revoked_at is None and self.starts_at <= at < self.ends_at
