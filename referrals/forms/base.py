"""What every referral form shares: NHS.UK rendering and messages, the error summary's links,
and the version a change was made against."""

from django import forms

from config.forms import NHSFormMixin


class ErrorSummaryMixin(NHSFormMixin):
    """Every staff form: see ``config.forms.NHSFormMixin``."""


class VersionForm(ErrorSummaryMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
