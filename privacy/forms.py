"""The data-subject request forms (DPO pages)."""

from django import forms

from privacy.services import ERASURE_GROUNDS


class SubjectForm(forms.Form):
    customer_ref = forms.CharField(max_length=200, label="Customer reference", strip=True)


class ErasureForm(SubjectForm):
    ground = forms.ChoiceField(choices=list(ERASURE_GROUNDS.items()), label="Ground (Art. 17(1))")
