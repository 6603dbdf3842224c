"""`manage.py verify_ledger`: check the live ledger end to end; exit 1 at the first problem."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from audit.integrity import check_ledger
from audit.selectors import last_seq


class Command(BaseCommand):
    help = (
        "Recompute every leaf hash, check seq is gapless, and check every signed tree head "
        "(root from the entries, Ed25519 signature, order). Reports the first bad seq."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with tqdm(total=last_seq(), unit=" entries", disable=options["verbosity"] == 0) as bar:
            result = check_ledger(progress=bar.update)
        if not result.ok:
            where = f"first bad seq {result.first_bad_seq}: " if result.first_bad_seq else ""
            raise CommandError(f"LEDGER FAILED VERIFICATION: {where}{result.problem}", returncode=1)
        self.stdout.write(
            f"Ledger verified: {result.entries} entries, every leaf hash recomputed; "
            f"{result.heads} signed tree heads consistent with them and with each other."
        )
