"""Forms for the public pages. The search itself is validated by directory.search (one set of
rules for the API and the pages); only "Report a problem with this listing" has a Django form."""

import time

from django import forms
from django.conf import settings
from django.core import signing

from directory.models import ListingReport

# A person takes a few seconds to read and fill in the report form; a script posts at once.
REPORT_MIN_SECONDS_DEFAULT = 3
_SIGNER_SALT = "directory.listing-report.started"
# A form shown longer ago than this is refused (and its token need be remembered no longer).
REPORT_TOKEN_MAX_AGE = 60 * 60 * 24


def report_min_seconds() -> float:
    return getattr(settings, "LISTING_REPORT_MIN_SECONDS", REPORT_MIN_SECONDS_DEFAULT)


def started_token() -> str:
    """A signed "the form was shown at" time, so a post that comes too soon can be spotted."""
    return signing.dumps(time.time(), salt=_SIGNER_SALT)


class ListingReportForm(forms.ModelForm):
    """What a member of the public tells us; two invisible checks keep most spam out: a field
    people never see (``website``: bots fill it) and the time the form was shown."""

    website = forms.CharField(
        required=False,
        label="Leave this empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    started = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = ListingReport
        fields = ["reason", "details", "email"]
        labels = {
            "reason": "What is wrong?",
            "details": "Tell us more (optional)",
            "email": "Your email address (optional)",
        }
        help_texts = {
            "details": "For example, the new opening times or phone number. Do not include "
            "personal or medical information.",
            "email": "Only if you are happy for an editor to email you about this report.",
        }
        widgets = {
            "reason": forms.RadioSelect,
            "details": forms.Textarea(attrs={"rows": 5, "maxlength": 2000}),
            "email": forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
        }
        error_messages = {
            "reason": {"required": "Select what is wrong with this listing."},
            "email": {
                "invalid": "Enter an email address like name@example.com, or leave it empty."
            },
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [c for c in self.fields["reason"].choices if c[0] != ""]
        if not self.is_bound:
            self.initial["started"] = started_token()

    def is_honeypot_filled(self) -> bool:
        return bool(self.data.get("website", "").strip())

    def clean_started(self) -> str:
        token = self.cleaned_data.get("started") or ""
        try:
            shown_at = signing.loads(token, salt=_SIGNER_SALT, max_age=REPORT_TOKEN_MAX_AGE)
        except signing.BadSignature:
            shown_at = None
        if shown_at is None or time.time() - float(shown_at) < report_min_seconds():
            # A fresh token: a person who was quick (or whose page was stale) just sends again.
            self.data = self.data.copy()
            self.data["started"] = started_token()
            raise forms.ValidationError("Please check your answers, then select Send report again.")
        return token
