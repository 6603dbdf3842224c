"""`manage.py reconcile_uploads`: remove uploads abandoned by a crashed web process."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from recorder.ingest import reconcile_abandoned_uploads


class Command(BaseCommand):
    help = "Remove `receiving` uploads with no progress for UPLOAD_STALE_AFTER_SECONDS, and their objects."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stale-after", type=int, default=None, help="Seconds without progress (default: setting)"
        )

    def handle(self, *args: Any, stale_after: int | None, **options: Any) -> None:
        removed = reconcile_abandoned_uploads(stale_after_seconds=stale_after)
        self.stdout.write(f"Removed {removed} abandoned upload(s).")
