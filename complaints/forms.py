"""Input of the officer's and the DPO's pages, parsed and validated before a service is called.

The services validate again (they are the rules); these forms give the person field-by-field
messages and keep what they typed.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from complaints.models import ComplaintCase

DATETIME_LOCAL = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class SessionSearchForm(forms.Form):
    customer_ref = forms.CharField(max_length=200, label=_("Customer reference"))
    started_from = forms.DateTimeField(required=False, input_formats=DATETIME_LOCAL, label=_("Sessions from"))
    started_until = forms.DateTimeField(required=False, input_formats=DATETIME_LOCAL, label=_("until"))

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, until = data.get("started_from"), data.get("started_until")
        if start and until and until <= start:  # type: ignore[operator]
            self.add_error("started_until", _("The end of the range must come after its start."))
        return data


class OpenCaseForm(SessionSearchForm):
    channel = forms.ChoiceField(choices=ComplaintCase.Channel.choices, label=_("How the complaint arrived"))
    received_at = forms.DateTimeField(required=False, input_formats=DATETIME_LOCAL, label=_("Received"))
    complaint = forms.CharField(max_length=10_000, label=_("The complaint"))


class JustificationForm(forms.Form):
    justification = forms.CharField(max_length=5_000, label=_("Justification"))


class CloseCaseForm(forms.Form):
    outcome = forms.ChoiceField(choices=ComplaintCase.Outcome.choices, label=_("Outcome"))
    summary = forms.CharField(max_length=10_000, label=_("Summary"))


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("reject", _("Reject"))], label=_("Decision")
    )
    reason = forms.CharField(max_length=5_000, label=_("Your reason"))
