"""What every referral form shares: the error summary's links, and the version a change was made against."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS

MULTI_INPUT_WIDGETS = (forms.RadioSelect, forms.CheckboxSelectMultiple)


class ErrorSummaryMixin:
    """``error_links`` for the error summary at the top of a page: each message links to its
    field (the first radio or checkbox of a group). Labels carry no trailing colon."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def error_links(self) -> list[tuple[str, str]]:
        links = []
        for name, errors in self.errors.items():
            if name == NON_FIELD_ERRORS or name not in self.fields:
                anchor = ""
            else:
                bound = self[name]
                anchor = bound.auto_id
                if isinstance(bound.field.widget, MULTI_INPUT_WIDGETS):
                    anchor += "_0"
            links.extend((anchor, message) for message in errors)
        return links


class VersionForm(ErrorSummaryMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
