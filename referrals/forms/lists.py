"""Searching and filtering the referral list (a plain GET form)."""

from django import forms

from directory.models import TaxonomyTerm
from referrals.forms.base import ErrorSummaryMixin
from referrals.models import Practice, Referral, Team

SEARCH_MAX = 100


class ReferralFilterForm(ErrorSummaryMixin, forms.Form):
    AGES = [
        ("", "Any time"),
        ("7", "More than 7 days ago"),
        ("14", "More than 14 days ago"),
        ("28", "More than 28 days ago"),
    ]

    q = forms.CharField(
        label="Search by name or NHS number",
        max_length=SEARCH_MAX,
        required=False,
        widget=forms.TextInput(
            attrs={"class": "input--width-20", "type": "search", "autocomplete": "off"}
        ),
    )
    status = forms.ChoiceField(
        choices=[
            ("", "Any status"),
            ("open", "Open (not declined or closed)"),
            *Referral.Status.choices,
        ],
        required=False,
    )
    age = forms.ChoiceField(label="Referred", choices=AGES, required=False)
    need = forms.ModelChoiceField(
        label="Need",
        queryset=TaxonomyTerm.objects.needs(),
        to_field_name="code",
        required=False,
        empty_label="Any need",
    )
    practice = forms.ModelChoiceField(
        label="Practice", queryset=Practice.objects.none(), required=False, empty_label="All"
    )
    team = forms.ModelChoiceField(
        label="Team", queryset=Team.objects.none(), required=False, empty_label="All"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # A practice or team filter only for someone who belongs to several.
        practices = Practice.objects.filter(memberships__user=user).order_by("name")
        teams = Team.objects.filter(memberships__user=user).order_by("name")
        for name, queryset in (("practice", practices), ("team", teams)):
            if len(queryset) > 1:
                self.fields[name].queryset = queryset
            else:
                del self.fields[name]

    FILTERS = ("status", "age", "need", "practice", "team")

    def filter_fields(self) -> list:
        """The filters (not the search), in order, as bound fields."""
        return [self[name] for name in self.FILTERS if name in self.fields]

    def filter_count(self) -> int:
        """How many filters are chosen (the search box not counted)."""
        if not self.is_bound:
            return 0
        return sum(1 for name in self.FILTERS if name in self.fields and self.data.get(name))

    def active(self) -> bool:
        """Whether anything narrows the list: a search or a filter."""
        return self.is_bound and (bool(self.data.get("q", "").strip()) or self.filter_count() > 0)
