"""Filtering and searching the referral lists."""

from django import forms

from directory.models import TaxonomyTerm
from referrals.models import (
    Referral,
)


class ReferralFilterForm(forms.Form):
    AGES = [("", "Any age"), ("7", "Over 7 days"), ("14", "Over 14 days"), ("28", "Over 28 days")]

    status = forms.ChoiceField(
        choices=[("", "Any status"), ("open", "Open"), *Referral.Status.choices], required=False
    )
    age = forms.ChoiceField(label="Referred", choices=AGES, required=False)
    need = forms.ModelChoiceField(
        queryset=TaxonomyTerm.objects.needs(),
        to_field_name="code",
        required=False,
        empty_label="Any need",
    )
