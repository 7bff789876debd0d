"""Forms for moving a referral: accept, assign, decline, close."""

from django import forms

from referrals.forms.base import VersionForm
from referrals.models import (
    NOTE_MAX,
    Referral,
    Team,
)


class AcceptForm(VersionForm):
    assign_to = forms.ModelChoiceField(
        queryset=None, required=False, label="Assign to", empty_label="Me"
    )

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assign_to"].queryset = team.trainer_users().order_by("username")


class AssignForm(VersionForm):
    to = forms.ModelChoiceField(queryset=None, label="Assign to")

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = team.trainer_users().order_by("username")


class DeclineForm(VersionForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=NOTE_MAX,
        help_text="The referrer sees this: say why, and what they could do instead.",
        error_messages={"required": "Give a reason for declining."},
    )


class CloseForm(VersionForm):
    outcome = forms.ChoiceField(
        choices=Referral.Outcome.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose an outcome."},
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=NOTE_MAX
    )
