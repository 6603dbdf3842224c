"""The committed German catalogue is complete and compiled: `make messages`' extraction run into a
copy finds no msgid the committed .po lacks, every German msgstr is filled and not fuzzy, and the
committed .mo is exactly what the committed .po compiles to (so `make run` needs no gettext)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

from tests.conftest import require_program

LOCALE = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES"
# The README's `make messages`, exactly (tests/ and the rest left out as it says).
MAKEMESSAGES = [
    "makemessages", "--locale", "de", "--no-location", "--no-obsolete", "--no-wrap",
    "--ignore", ".venv/*", "--ignore", "tests/*", "--ignore", "bench/*", "--ignore", "var/*",
    "--ignore", "deploy/*",
]  # fmt: skip


@pytest.fixture
def gettext_tools() -> None:
    """Skipped where GNU gettext is missing; a failure in CI, whose .ci/run installs it."""
    for program in ("xgettext", "msgmerge", "msgfmt"):
        require_program(program, "apt-get install gettext")


def keys(catalogue: polib.POFile) -> set[tuple[str | None, str, str]]:
    return {(entry.msgctxt, entry.msgid, entry.msgid_plural) for entry in catalogue if not entry.obsolete}


def test_every_marked_string_is_in_the_committed_catalogue(tmp_path: Path, gettext_tools: None) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(
        settings.BASE_DIR,
        copy,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".venv", "var", ".git", "tests", "bench", "deploy", "__pycache__", "*.mo"
        ),
    )
    subprocess.run(
        [sys.executable, "manage.py", *MAKEMESSAGES], cwd=copy, check=True, capture_output=True, timeout=300
    )
    extracted = polib.pofile(str(copy / "locale" / "de" / "LC_MESSAGES" / "django.po"))
    committed = polib.pofile(str(LOCALE / "django.po"))
    missing = sorted(keys(extracted) - keys(committed), key=str)
    assert not missing, f"marked but not in locale/de (run `make messages` and translate): {missing}"
    stale = sorted(keys(committed) - keys(extracted), key=str)
    assert not stale, f"in locale/de but no longer marked anywhere (run `make messages`): {stale}"


def test_every_german_msgstr_is_filled_and_not_fuzzy() -> None:
    committed = polib.pofile(str(LOCALE / "django.po"))
    assert committed.metadata.get("Plural-Forms", "").startswith("nplurals=2;")
    fuzzy = [entry.msgid for entry in committed if "fuzzy" in entry.flags]
    empty = [
        entry.msgid
        for entry in committed
        if not (entry.msgstr if not entry.msgid_plural else all(entry.msgstr_plural.values()))
    ]
    assert not fuzzy, f"fuzzy translations: {fuzzy}"
    assert not empty, f"no German translation: {empty}"


def test_the_committed_mo_is_the_compile_of_the_committed_po(tmp_path: Path, gettext_tools: None) -> None:
    compiled = tmp_path / "django.mo"
    # compilemessages runs msgfmt with --check-format; so does this.
    subprocess.run(
        ["msgfmt", "--check-format", "-o", str(compiled), str(LOCALE / "django.po")], check=True, timeout=60
    )
    assert (LOCALE / "django.mo").read_bytes() == compiled.read_bytes(), (
        "run `make messages` and commit the .mo"
    )
