"""`{{ code|report_label:"kind" }}`: the access report page's word for one of the report's codes."""

from __future__ import annotations

from django import template

from privacy.labels import label
from staff.roles import role_label

register = template.Library()


@register.filter
def report_label(code: str | None, kind: str) -> str:
    return label(kind, code)


@register.filter
def role_name(code: str | None) -> str:
    """A staff role's name (the report names roles, never people)."""
    return role_label(code)
