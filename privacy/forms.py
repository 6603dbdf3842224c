"""The data-subject request forms (DPO pages)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from privacy.services import ERASURE_GROUNDS


class SubjectForm(forms.Form):
    customer_ref = forms.CharField(max_length=200, label=_("Customer reference"), strip=True)


class ErasureForm(SubjectForm):
    ground = forms.ChoiceField(choices=list(ERASURE_GROUNDS.items()), label=_("Ground (Art. 17(1))"))
