"""`manage.py s3_lifecycle` installs the backstop rule: retention's longest span plus grace."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from retention.lifecycle import RULE_ID, longest_retention_days


@pytest.mark.parametrize(("period", "days"), [("P3M", 92), ("P1M", 31), ("P90D", 90), ("P1Y", 366)])
def test_longest_retention_covers_the_longest_months(period: str, days: int) -> None:
    assert longest_retention_days(period) == days


def test_the_rule_is_installed_beside_existing_rules(moto, settings, capsys) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="vault-lc")
    other = {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}}
    s3.put_bucket_lifecycle_configuration(Bucket="vault-lc", LifecycleConfiguration={"Rules": [other]})
    settings.OBJECT_STORE, settings.S3_BUCKET, settings.S3_ENDPOINT_URL = "s3", "vault-lc", moto.endpoint
    call_command("s3_lifecycle", "--grace-days", "10")
    call_command("s3_lifecycle", "--grace-days", "10")  # idempotent: replaces its own rule
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket="vault-lc")["Rules"]}
    assert set(rules) == {"logs", RULE_ID}
    assert rules[RULE_ID]["Expiration"]["Days"] == 92 + 10
    assert rules[RULE_ID]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    assert "Installed lifecycle rule" in capsys.readouterr().out


def test_dry_run_changes_nothing(moto, settings, capsys) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="vault-lc2")
    settings.OBJECT_STORE, settings.S3_BUCKET, settings.S3_ENDPOINT_URL = "s3", "vault-lc2", moto.endpoint
    call_command("s3_lifecycle", "--dry-run")
    assert '"Days": 99' in capsys.readouterr().out
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket="vault-lc2")


def test_without_s3_the_command_says_so(settings) -> None:
    settings.OBJECT_STORE = "local"
    with pytest.raises(CommandError, match="not S3"):
        call_command("s3_lifecycle")
