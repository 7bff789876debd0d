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
    nouns = {"to": "the trainer to assign it to"}

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = team.trainer_users().order_by("username")


class DeclineForm(VersionForm):
    reason = forms.CharField(
        label="Why can your team not take this referral on?",
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=NOTE_MAX,
        help_text="The referrer sees this in Flourish: say why, and what they could do instead. "
        "Their email only says the referral was declined.",
    )
    nouns = {"reason": "why you are declining the referral"}


class CloseForm(VersionForm):
    outcome = forms.ChoiceField(
        label="Outcome",
        choices=Referral.Outcome.choices,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label="Note for the referrer (optional)",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=NOTE_MAX,
        help_text="What went well, what the person is doing now, anything the practice should "
        "follow up. The referrer reads it in Flourish, not in the email.",
    )
    nouns = {"outcome": "the outcome", "note": "the note for the referrer"}

    def chosen(self) -> tuple[str, str]:
        """The outcome and note as typed so far, valid or not, for the preview."""
        if self.is_bound:
            outcome = self.data.get("outcome", "")
            note = self.data.get("note", "")
        else:
            outcome = self.initial.get("outcome") or ""
            note = self.initial.get("note") or ""
        if outcome not in Referral.Outcome.values:
            outcome = ""
        return outcome, note[:NOTE_MAX]
