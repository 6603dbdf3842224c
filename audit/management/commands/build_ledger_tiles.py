"""`manage.py build_ledger_tiles`: build (or catch up) the stored tiles of the ledger, resumable,
and check them against the last signed tree head."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from audit.selectors import LedgerInconsistent, last_seq
from audit.services import build_tiles
from audit.tile_store import CATCH_UP_CHUNK, tiled_size


class Command(BaseCommand):
    help = (
        "Build the Merkle tree tiles of every sequenced ledger entry not tiled yet (a ledger written "
        "before tiles existed), a committed chunk at a time: interrupted, it goes on where it stopped. "
        "Then checks the tiles give the root of the last signed tree head."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--chunk",
            type=int,
            default=CATCH_UP_CHUNK,
            help="entries a committed transaction (default 65536)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk"] < 1:
            raise CommandError("--chunk must be at least 1")
        start = tiled_size()
        with tqdm(
            total=max(last_seq() - start, 0), unit=" entries", disable=options["verbosity"] == 0
        ) as bar:
            try:
                size = build_tiles(chunk=options["chunk"], progress=bar.update)
            except LedgerInconsistent as error:
                raise CommandError(f"TILES NOT BUILT: {error.detail}", returncode=1) from None
        self.stdout.write(
            f"Ledger tiles cover {size} entries ({size - start} added); "
            "they give the root of the last signed tree head."
        )
