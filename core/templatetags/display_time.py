"""Times on staff pages: in DISPLAY_TIME_ZONE, in the reader's date format, with the zone named.

The API and the ledger stay in UTC; only what a person reads on a page is converted here. The
`<time>` element keeps the exact UTC instant for machines (and for tests).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django import template
from django.conf import settings
from django.utils import formats
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


def in_display_zone(value: datetime) -> datetime:
    """The moment on DISPLAY_TIME_ZONE's clock (for a chart's ticks, or text built in Python)."""
    return value.astimezone(ZoneInfo(settings.DISPLAY_TIME_ZONE))


@register.filter
def when(value: datetime | None, style: str = "SHORT_DATETIME_FORMAT") -> SafeString | str:
    """A moment as a reader in DISPLAY_TIME_ZONE reads it: "05.12.2026 10:15 CET" in German.

    `style` is a Django format name (DATETIME_FORMAT, SHORT_DATETIME_FORMAT, ...).
    """
    if value is None:
        return ""
    return format_html(
        '<time datetime="{}">{}</time>', value.astimezone(UTC).isoformat(), moment_text(value, style)
    )


def moment_text(value: datetime, style: str = "DATETIME_FORMAT") -> str:
    """The same moment as plain text, for what is not a page (an e-mail, a chart's title):
    "12. Mai 2026 10:15 CEST"."""
    local = in_display_zone(value)
    return f"{formats.date_format(local, style)} {local.tzname()}"


@register.filter
def when_date(value: datetime | None) -> SafeString | str:
    """The calendar day of a moment in DISPLAY_TIME_ZONE, in the reader's short date format."""
    if value is None:
        return ""
    local = in_display_zone(value)
    return format_html(
        '<time datetime="{}">{}</time>',
        value.astimezone(UTC).isoformat(),
        formats.date_format(local, "SHORT_DATE_FORMAT"),
    )
