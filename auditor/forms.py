"""The auditor page's filters: the export's filters, entered by a person (whole days in UTC, as the
export and the API count them)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.exports import ANY_ACCOUNT, EARLIEST, LATEST, OUT_OF_RANGE, ExportFilters


class LedgerFilterForm(forms.Form):
    since = forms.DateField(
        required=False, label=_("From (UTC)"), widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label=_("To (UTC)"), widget=forms.DateInput(attrs={"type": "date"})
    )
    case_id = forms.UUIDField(required=False, label=_("Case"))
    actor = forms.CharField(
        required=False, max_length=150, label=_("Who"), help_text=_("username, job or client")
    )
    action = forms.CharField(required=False, max_length=64, label=_("What"))
    recording_id = forms.UUIDField(required=False, label=_("Recording"))
    account = forms.CharField(
        required=False,
        max_length=150,
        label=_("Staff account changes"),
        help_text=format_lazy(_("a user name, or {any} for every account"), any=ANY_ACCOUNT),
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        for name, day in (("since", since), ("until", until)):
            # `until` is the last day shown: the filter ends the midnight after it
            if day and not EARLIEST.date() <= day < LATEST.date():  # type: ignore[operator]
                self.add_error(name, OUT_OF_RANGE)
        if since and until and until < since:  # type: ignore[operator]
            self.add_error("until", _("The last day must not come before the first."))
        return data

    def filters(self) -> ExportFilters:
        """Whole days: `until` is the last day shown, so entries before the next midnight."""
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        return ExportFilters(
            since=datetime.combine(since, time(), tzinfo=UTC) if since else None,
            until=datetime.combine(until, time(), tzinfo=UTC) + timedelta(days=1) if until else None,
            case_id=data.get("case_id"),
            actor=data.get("actor") or None,
            action=data.get("action") or None,
            recording_id=data.get("recording_id"),
            account=data.get("account") or None,
        )
