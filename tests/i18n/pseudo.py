"""A pseudo-language built at test time: every msgid the German reader would get translated (the
project's catalogue, Django's, and every installed app's German catalogue) is "translated" into
itself wrapped in ⟦…⟧. A page rendered in it shows at a glance what was marked: whatever text is
left outside the markers was never marked for translation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import django
import polib
from django.apps import apps
from django.conf import settings
from django.test import override_settings

PSEUDO = "xx"  # no real language has this code (ISO 639 leaves it to private use)
OPEN, CLOSE = "⟦", "⟧"
# Django's yesno filter splits its translated argument at commas: each word is marked alone.
COMMA_LIST = re.compile(r"^[^,\s]+(,[^,\s]+)+$")


def wrap(msgid: str) -> str:
    if COMMA_LIST.match(msgid):
        return ",".join(f"{OPEN}{part}{CLOSE}" for part in msgid.split(","))
    return f"{OPEN}{msgid}{CLOSE}"


def german_catalogues() -> list[Path]:
    """The project's committed German catalogue, then Django's and every installed app's."""
    found = [Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES" / "django.po"]
    roots = [Path(django.__file__).parent / "conf" / "locale"]
    roots += [Path(config.path) / "locale" for config in apps.get_app_configs()]
    for root in roots:
        for name in ("django.mo",):
            candidate = root / "de" / "LC_MESSAGES" / name
            if candidate.exists():
                found.append(candidate)
    return found


def build(folder: Path) -> Path:
    """Write LC_MESSAGES/django.mo of PSEUDO under `folder`; returns `folder` for LOCALE_PATHS."""
    pseudo = polib.POFile()
    pseudo.metadata = {
        "Content-Type": "text/plain; charset=UTF-8",
        "Language": PSEUDO,
        "Plural-Forms": "nplurals=2; plural=(n != 1);",
    }
    seen: set[tuple[str | None, str]] = set()
    for path in german_catalogues():
        catalogue = polib.pofile(str(path)) if path.suffix == ".po" else polib.mofile(str(path))
        for entry in catalogue:
            key = (entry.msgctxt, entry.msgid)
            translated = entry.msgstr or any(entry.msgstr_plural.values())
            if not entry.msgid or key in seen or not translated or "fuzzy" in entry.flags:
                continue
            seen.add(key)
            pseudo.append(
                polib.POEntry(
                    msgctxt=entry.msgctxt,
                    msgid=entry.msgid,
                    msgid_plural=entry.msgid_plural,
                    msgstr="" if entry.msgid_plural else wrap(entry.msgid),
                    msgstr_plural={0: wrap(entry.msgid), 1: wrap(entry.msgid_plural)}
                    if entry.msgid_plural
                    else {},
                )
            )
    target = folder / PSEUDO / "LC_MESSAGES"
    target.mkdir(parents=True)
    pseudo.save_as_mofile(str(target / "django.mo"))
    return folder


@contextmanager
def pseudo_language(folder: Path) -> Iterator[None]:
    """Settings in which `Accept-Language: xx` selects the pseudo-language."""
    build(folder)
    with override_settings(
        LOCALE_PATHS=[folder, *settings.LOCALE_PATHS],
        LANGUAGES=[*settings.LANGUAGES, (PSEUDO, "Pseudo")],
    ):
        yield


def unmarked(text: str) -> str:
    """What is left of `text` once every marked span (innermost first: a marked sentence may hold a
    marked word) is cut out."""
    innermost = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
    while True:
        shorter = innermost.sub(" ", text)
        if shorter == text:
            return text
        text = shorter
