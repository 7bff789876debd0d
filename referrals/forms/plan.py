"""Goals in the personal health plan, and connections to community services. Each carries the
version of the referral the trainer saw (``VersionForm``): the change is refused, not merged,
when someone changed the referral since (``Referral.add_goal`` and the others decide)."""

from django import forms

from directory.models import Service
from referrals.forms.base import VersionForm
from referrals.models import (
    GOAL_MAX,
    Connection,
    Goal,
)


class GoalForm(VersionForm):
    text = forms.CharField(
        label="Add a goal, in the person's own words",
        max_length=GOAL_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Agreeing the first goal marks the referral as engaged.",
    )
    nouns = {"text": "the goal"}


class GoalStatusForm(VersionForm):
    status = forms.ChoiceField(label="Status", choices=Goal.Status.choices)
    nouns = {"status": "the goal's status"}


class ConnectionForm(VersionForm):
    service = forms.ModelChoiceField(queryset=Service.objects.active())
    status = forms.ChoiceField(choices=Connection.Status.choices, initial="suggested")
    nouns = {"service": "a service", "status": "the connection's status"}


class ConnectionStatusForm(VersionForm):
    status = forms.ChoiceField(label="Status", choices=Connection.Status.choices)
    nouns = {"status": "the connection's status"}
