"""Template filters of the complaint pages."""

from __future__ import annotations

from django import template

from complaints.pages import STATUS_BADGES

register = template.Library()


@register.filter
def status_badge(status: str) -> str:
    """The badge class for a case or request status ("badge-ok", ...)."""
    return STATUS_BADGES.get(status, "")


@register.filter
def short_id(value: object) -> str:
    """The first eight characters of an id: enough to tell cases apart on a page."""
    return str(value)[:8]
