"""`manage.py s3_lifecycle [--grace-days N] [--dry-run]`: install the bucket's backstop rule."""

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recorder.stores import s3_client
from retention.lifecycle import backstop_rule, install_backstop


class Command(BaseCommand):
    help = "Install an S3 lifecycle rule expiring payloads after the retention period plus a grace period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace-days", type=int, default=7, help="Days past the longest retention (default 7)"
        )
        parser.add_argument("--dry-run", action="store_true", help="Print the rule; change nothing")

    def handle(self, *args: Any, grace_days: int, dry_run: bool, **options: Any) -> None:
        if settings.OBJECT_STORE != "s3" or not settings.S3_BUCKET:
            raise CommandError("The object store is not S3 (set S3_BUCKET): there is no bucket to configure.")
        if grace_days < 0:
            raise CommandError("--grace-days must not be negative.")
        rule = backstop_rule(period=settings.RECORDING_RETENTION, grace_days=grace_days)
        self.stdout.write(json.dumps(rule, indent=2))
        if dry_run:
            self.stdout.write("Dry run: the bucket was not changed.")
            return
        try:
            install_backstop(
                s3_client(settings.S3_ENDPOINT_URL, settings.S3_REGION), settings.S3_BUCKET, rule
            )
        except (ClientError, BotoCoreError) as error:
            raise CommandError(f"Could not install the lifecycle rule: {error}") from error
        self.stdout.write(f"Installed lifecycle rule {rule['ID']} on bucket {settings.S3_BUCKET}.")
