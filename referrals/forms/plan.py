"""Goals in the personal health plan, and connections to community services."""

from django import forms

from directory.models import Service
from referrals.forms.base import ErrorSummaryMixin
from referrals.models import (
    Connection,
    Goal,
)


class GoalForm(ErrorSummaryMixin, forms.ModelForm):
    class Meta:
        model = Goal
        fields = ["text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 2})}


class GoalStatusForm(ErrorSummaryMixin, forms.ModelForm):
    class Meta:
        model = Goal
        fields = ["status"]


class ConnectionForm(ErrorSummaryMixin, forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.active())
    status = forms.ChoiceField(choices=Connection.Status.choices, initial="suggested")


class ConnectionStatusForm(ErrorSummaryMixin, forms.ModelForm):
    class Meta:
        model = Connection
        fields = ["status"]
