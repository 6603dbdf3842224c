"""The notification preferences form: one switch per kind of the staff member's role, and the
language of their e-mails."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from notifications.kinds import Kind
from notifications.models import NotificationPreferences


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(label=_("Language of your e-mails"), choices=settings.LANGUAGES)

    def __init__(self, data: Any = None, *, kinds: list[Kind], current: NotificationPreferences) -> None:
        super().__init__(data, initial={"language": current.language})
        self.kinds = kinds
        for kind in kinds:
            # A required kind is shown switched on and disabled: whatever is posted for it, Django
            # keeps the initial value, and the service refuses to turn it off besides.
            self.fields[kind.code] = forms.BooleanField(
                label=kind.label,
                help_text=kind.explanation,
                required=False,
                initial=kind.required or kind.code not in (current.muted or []),
                disabled=kind.required,
            )

    def muted(self) -> list[str]:
        return [kind.code for kind in self.kinds if not self.cleaned_data.get(kind.code)]
