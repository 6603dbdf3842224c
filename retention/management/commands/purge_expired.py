"""`manage.py purge_expired [--dry-run] [--limit N]`: run the purge now, with a progress bar."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from tqdm import tqdm

from retention.models import PurgeRun
from retention.selectors import purge_backlog
from retention.services import purge_expired


class Command(BaseCommand):
    help = "Crypto-shred and delete every expired, unheld recording; prints a summary table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be purged; change nothing"
        )
        parser.add_argument("--limit", type=int, default=None, help="Shred at most N recordings in this run")
        parser.add_argument("--batch-size", type=int, default=None, help="Recordings per batch")

    def handle(
        self, *args: Any, dry_run: bool, limit: int | None, batch_size: int | None, **options: Any
    ) -> None:
        total = purge_backlog(now=timezone.now(), limit=limit).to_purge
        with tqdm(
            total=total, unit="rec", desc="purged", disable=dry_run or total == 0, file=self.stderr
        ) as bar:

            def progress(shredded: int, purged: int) -> None:
                bar.update(purged)

            run = purge_expired(
                trigger=PurgeRun.Trigger.COMMAND,
                dry_run=dry_run,
                limit=limit,
                batch_size=batch_size,
                progress=progress,
            )
        self.stdout.write(self.summary(run))
        if run.failed:
            self.stderr.write(
                self.style.WARNING(f"{run.failed} recording(s) left for the next run: {run.errors}")
            )

    def summary(self, run: PurgeRun) -> str:
        title = "Purge (dry run: nothing changed)" if run.dry_run else "Purge"
        rows = [
            ("shredded (key destroyed)" if not run.dry_run else "would shred", run.shredded),
            ("purged (payload deleted)" if not run.dry_run else "would purge", run.purged),
            (
                "sessions without recording pseudonymised" if not run.dry_run else "would pseudonymise",
                run.pseudonymised,
            ),
            ("skipped: legal hold", run.skipped_held),
            ("failed (left for next run)", run.failed),
        ]
        width = max(len(label) for label, _ in rows)
        lines = [title, "-" * (width + 10)]
        lines += [f"{label:<{width}}  {count:>8}" for label, count in rows]
        seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
        lines.append(f"{'duration':<{width}}  {seconds:>7.1f}s")
        return "\n".join(lines)
