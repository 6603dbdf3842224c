"""The S3 lifecycle rule that backs up the purge: if the purge stopped running, S3 itself expires
payloads after the longest retention plus a grace period (and aborts stale multipart uploads)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from core.periods import add_period

RULE_ID = "session-recording-vault-retention-backstop"
PREFIX = "recordings/"


def longest_retention_days(period: str) -> int:
    """The most days `period` can span (P3M is 92 days from 1 June or 1 July; months vary)."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    spans = (
        add_period(start + timedelta(days=n), period) - (start + timedelta(days=n)) for n in range(4 * 366)
    )
    return math.ceil(max(spans).total_seconds() / 86400)


def backstop_rule(*, period: str, grace_days: int) -> dict[str, Any]:
    return {
        "ID": RULE_ID,
        "Filter": {"Prefix": PREFIX},
        "Status": "Enabled",
        "Expiration": {"Days": longest_retention_days(period) + grace_days},
        # Versioned (Object Lock) buckets keep a noncurrent version after each delete.
        "NoncurrentVersionExpiration": {"NoncurrentDays": max(1, grace_days)},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


def install_backstop(client: Any, bucket: str, rule: dict[str, Any]) -> list[dict[str, Any]]:
    """Put the rule in the bucket's lifecycle configuration, keeping every other rule there."""
    try:
        existing = client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
            raise
        existing = []
    rules = [r for r in existing if r.get("ID") != RULE_ID] + [rule]
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    return rules
