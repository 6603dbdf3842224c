"""`{% language_choices as languages %}`: the languages of the header's switch, each named in
itself ("English", "Deutsch") as settings.LANGUAGES spells it: a reader who cannot read the page's
language still finds their own. Django's own tags would translate the names (German "Englisch")."""

from __future__ import annotations

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def language_choices() -> list[tuple[str, str]]:
    return list(settings.LANGUAGES)
