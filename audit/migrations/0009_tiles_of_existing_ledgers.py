"""Builds the tiles (0008) of a ledger written before them, when it is small enough to do so
within a deployment's migrate (up to a million entries: seconds). A larger ledger is left to
`manage.py build_ledger_tiles` (resumable, with a progress bar), and this migration says so:
until it has run, the next signed head would build them itself, in one long transaction.
"""

import sys

from django.db import migrations

from audit.tiles import TileBuilder

BUILT_HERE_UP_TO = 1_000_000
CHUNK = 65_536


def build(apps, schema_editor):
    entry_model = apps.get_model("audit", "LedgerEntry")
    tile_model = apps.get_model("audit", "LedgerTile")
    if tile_model.objects.exists():
        return
    last = entry_model.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    if last == 0:
        return
    if last > BUILT_HERE_UP_TO:
        sys.stdout.write(
            f"\n  The ledger holds {last:,} entries: its tiles are not built by this migration. "
            "Run `manage.py build_ledger_tiles` now (resumable); until then, the next signed tree "
            "head builds them itself.\n"
        )
        return
    builder = TileBuilder(0, {})
    for after in range(0, last, CHUNK):
        rows = entry_model.objects.filter(seq__gt=after, seq__lte=after + CHUNK).order_by("seq")
        leaves = [bytes(leaf) for leaf in rows.values_list("leaf_hash", flat=True)]
        if len(leaves) != min(CHUNK, last - after):
            sys.stdout.write(
                f"\n  The ledger has gaps in seq {after + 1}..{after + CHUNK}: no tiles built. "
                "Run `manage.py verify_ledger`.\n"
            )
            return
        builder.extend(b"".join(leaves))
    tiles = [
        tile_model(level=t.level, index=t.index, width=t.width, hashes=t.hashes, inner=t.inner)
        for t in builder.changed()
    ]
    tile_model.objects.bulk_create(tiles, batch_size=500)
    sys.stdout.write(f"\n  Built the tiles of the ledger's {last:,} entries.\n")


class Migration(migrations.Migration):
    dependencies = [("audit", "0008_ledger_tiles")]
    operations = [migrations.RunPython(build, migrations.RunPython.noop)]
