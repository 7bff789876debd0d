"""Refer yourself: a short public form for a resident to ask for a health trainer or link worker
without a GP (issue 12).

No login. What is typed becomes a referral whose source is "self", in the queue of the team
that covers the person's postcode (``services.referral_create``, the one way a referral is made;
the person's record is new and held by that team). Nothing about it is ever shown back to the
public beyond the confirmation, which is the answer to the POST itself (no URL to come back to).

Abuse protection holds across processes, because all of it lives in the shared cache or the
database: a signed single-use form token (marked used in the cache with ``cache.add``, one
INSERT or Redis SET NX, and backed by a unique constraint on the referral), a minimum time
between the form being shown and sent, a field people never see (the honeypot) and per-address
limits (``services._refuse_if_too_many_from``). A refusal is a security event, once per
address and kind an hour; it never loses what the person typed: the form comes back filled in.
"""

import contextlib
import hashlib
import math
import re
import secrets
import time
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from config import ratelimit
from config.clientip import client_ip
from config.forms import DateInputField, DateInputWidget
from geo import postcodes
from referrals import services
from referrals.forms import ErrorSummaryMixin
from referrals.models import (
    WHAT_MATTERS_MAX,
    OutgoingEmail,
    Patient,
    Referral,
    SecurityEvent,
    nhs_number_digits,
    validate_date_of_birth,
    validate_nhs_number,
)

TOKEN_SALT = "referrals.self-referral"
# A form left open overnight still sends; older than this, the person is asked to send again.
TOKEN_MAX_AGE = 24 * 60 * 60
SESSION_KEY = "self_referrals_sent"

EXPIRED = (
    "This page was open for a long time, so we could not send your request yet. Check your "
    "answers, then select Send my request again."
)
TOO_FAST = (
    "Your request was sent very quickly, so we have not sent it yet. Check your answers, then "
    "select Send my request again."
)
HONEYPOT = "We could not send your request. Check your answers, then select Send my request again."


def min_fill_seconds() -> float:
    return settings.SELF_REFERRAL_MIN_SECONDS


# --- The single-use token -----------------------------------------------------------------------
def issue_token() -> str:
    """Signed (so its time cannot be forged) and random (so each form is one request)."""
    return signing.dumps({"n": secrets.token_urlsafe(16), "t": time.time()}, salt=TOKEN_SALT)


@dataclass
class Token:
    digest: str
    issued_at: float

    @property
    def age(self) -> float:
        return time.time() - self.issued_at

    @property
    def cache_key(self) -> str:
        return f"self-referral-token:{self.digest}"

    def first_use(self) -> bool:
        """Mark it used; False if it was used before. ``cache.add`` is one INSERT (or Redis
        SET NX), so of two copies sent at once to two processes only one is first."""
        return cache.add(self.cache_key, 1, timeout=TOKEN_MAX_AGE + 60)

    def used(self) -> bool:
        return cache.get(self.cache_key) is not None

    def release(self) -> None:
        """Nothing was made with it (a limit refused it): the person may send it again later."""
        cache.delete(self.cache_key)


def read_token(text: str) -> Token | None:
    """The token's digest and when it was issued; None if forged, damaged or too old."""
    try:
        payload = signing.loads(text or "", salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
        issued_at = float(payload["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return Token(hashlib.sha256(text.encode()).hexdigest(), issued_at)


# --- The form -----------------------------------------------------------------------------------
PHONE_RE = re.compile(r"^\+?[\d\s()-]+$")


class SelfReferralForm(ErrorSummaryMixin, forms.Form):
    nouns = {"preferred_contact": "how the team should contact you"}
    form_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=500)
    # People never see it (``.honeypot`` moves it off screen, and it is hidden from screen
    # readers): a script filling in every field fills this one too.
    website = forms.CharField(required=False)

    given_name = forms.CharField(
        label="First name",
        max_length=100,
        error_messages={"required": "Enter your first name."},
        widget=forms.TextInput(attrs={"autocomplete": "given-name", "spellcheck": "false"}),
    )
    family_name = forms.CharField(
        label="Last name",
        max_length=100,
        error_messages={"required": "Enter your last name."},
        widget=forms.TextInput(attrs={"autocomplete": "family-name", "spellcheck": "false"}),
    )
    date_of_birth = DateInputField(
        label="What is your date of birth?",
        help_text="For example, 27 3 1961.",
        noun="your date of birth",
        validators=[validate_date_of_birth],
        widget=DateInputWidget(autocomplete="bday"),
    )
    postcode = forms.CharField(
        label="Your postcode",
        max_length=10,
        help_text="We use it to find the team that covers where you live.",
        error_messages={"required": "Enter your postcode, like SK14 1AA."},
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "spellcheck": "false"}),
    )
    nhs_number = forms.CharField(
        label="NHS number (optional)",
        max_length=20,
        required=False,
        help_text="Only if you know it: 10 digits, like 943 476 5919. It is on letters from "
        "the NHS and in the NHS App.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "spellcheck": "false"}),
    )
    preferred_contact = forms.ChoiceField(
        label="How should the team contact you?",
        choices=[
            (Patient.ContactMethod.PHONE, "Phone call"),
            (Patient.ContactMethod.TEXT, "Text message"),
            (Patient.ContactMethod.EMAIL, "Email"),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Select how the team should contact you."},
    )
    phone = forms.CharField(
        label="Phone number",
        max_length=30,
        required=False,
        help_text="For a phone call or a text message. A mobile number, like 07700 900 982, "
        "or a landline, like 0161 496 0000.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        required=False,
        help_text="If you give one, we will email you your reference number.",
        error_messages={
            "invalid": "Enter an email address in the correct format, like name@example.com."
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )
    what_matters = forms.CharField(
        label="What would you like help with?",
        max_length=WHAT_MATTERS_MAX,
        help_text="A few words is enough. For example: I feel lonely since I retired, or I "
        "want to get more active. Do not include anything urgent: call NHS 111 or 999.",
        error_messages={
            "required": "Tell us what you would like help with, in a few words.",
            "max_length": f"What you would like help with must be {WHAT_MATTERS_MAX} "
            "characters or fewer.",
        },
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    consent_to_share = forms.TypedChoiceField(
        label="Can the team share your name and contact details with local groups or services "
        "they suggest?",
        help_text="Only so that a group you want to join can get in touch. You can change your "
        "mind at any time.",
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={
            "required": "Select yes if the team can share your details with groups they "
            "suggest, or no if not."
        },
    )
    consent_to_contact = forms.BooleanField(
        label="I agree that the health trainer team can keep these details and contact me "
        "about support",
        error_messages={
            "required": "Tick the box to agree that the team can keep your details and contact "
            "you. Without it we cannot send your request."
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["form_token"] = issue_token()
        self.fields["postcode"].widget.attrs["class"] = "input--postcode"

    # -- checks that are not about one field --------------------------------------------------
    def honeypot_filled(self) -> bool:
        return bool(self.data.get("website", "").strip())

    def token(self) -> Token | None:
        return read_token(self.data.get("form_token", ""))

    def refuse(self, message: str, *, new_token: bool = False) -> None:
        """Show ``message`` above the form, keeping everything the person typed (except the
        honeypot, emptied, and the token, renewed when it was no good)."""
        self.data = self.data.copy()
        self.data["website"] = ""
        if new_token:
            self.data["form_token"] = issue_token()
        self.add_error(None, message)

    # -- each field -----------------------------------------------------------------------------
    def clean_given_name(self) -> str:
        return self.cleaned_data["given_name"].strip()

    def clean_family_name(self) -> str:
        return self.cleaned_data["family_name"].strip()

    def clean_postcode(self) -> str:
        try:
            parsed = postcodes.parse(self.cleaned_data["postcode"], allow_outcode=False)
        except postcodes.InvalidPostcode:
            raise ValidationError("Enter a full postcode, like SK14 1AA.", code="invalid") from None
        return parsed.postcode

    def clean_nhs_number(self) -> str:
        text = self.cleaned_data["nhs_number"].strip()
        if not text:
            return ""
        try:
            validate_nhs_number(text)
        except ValidationError:
            raise ValidationError(
                "Enter your NHS number with 10 digits, like 943 476 5919, or leave it empty if "
                "you are not sure."
            ) from None
        return nhs_number_digits(text)

    def clean_phone(self) -> str:
        text = self.cleaned_data["phone"].strip()
        digits = re.sub(r"\D", "", text)
        if text and (not PHONE_RE.match(text) or not 10 <= len(digits) <= 15):
            raise ValidationError("Enter a phone number, like 07700 900 982 or 0161 496 0000.")
        return text

    def clean(self):
        data = super().clean()
        method = data.get("preferred_contact")
        if (
            method in (Patient.ContactMethod.PHONE, Patient.ContactMethod.TEXT)
            and not data.get("phone")
            and "phone" not in self.errors
        ):
            how = "call" if method == Patient.ContactMethod.PHONE else "text"
            self.add_error(
                "phone",
                f"Enter a phone number for the team to {how} you on, or choose another way to "
                "be contacted.",
            )
        if (
            method == Patient.ContactMethod.EMAIL
            and not data.get("email")
            and ("email" not in self.errors)
        ):
            self.add_error(
                "email",
                "Enter an email address for the team to contact you on, or choose another way "
                "to be contacted.",
            )
        return data

    def patient_data(self) -> dict:
        data = self.cleaned_data
        return {
            "given_name": data["given_name"],
            "family_name": data["family_name"],
            "date_of_birth": data["date_of_birth"],
            "postcode": data["postcode"],
            "nhs_number": data["nhs_number"],
            "phone": data["phone"],
            "email": data["email"],
            "preferred_contact": data["preferred_contact"],
        }


# --- The pages ----------------------------------------------------------------------------------
def _refusal_logged(ip_address: str | None, reason: str, detail: str) -> None:
    """A security event for the people who run the service, once per address and reason an
    hour (a script retrying all day must not fill the table). No name or anything typed."""
    first = ratelimit.hit(
        f"self-referral-refused-{reason}", ip_address or "unknown", limit=1, period_s=3600
    )
    if first is None:
        SecurityEvent.record(
            kind=SecurityEvent.Kind.SELF_REFERRAL_REFUSED, ip_address=ip_address, detail=detail
        )


def _form_page(request: HttpRequest, form: SelfReferralForm, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "referrals/self/form.html",
        {"form": form},
        status=status,
    )


def _confirmation(request: HttpRequest, confirmation: dict) -> HttpResponse:
    return render(
        request,
        "referrals/self/confirmation.html",
        {**confirmation, "working_days": services.contact_working_days()},
    )


def _replayed(request: HttpRequest, token: Token) -> HttpResponse:
    """The same form sent twice (a double click, a refresh, the back button): nothing new is
    made. The browser that sent it first sees its confirmation again; anyone else only that it
    was sent."""
    confirmation = request.session.get(SESSION_KEY, {}).get(token.digest)
    if confirmation:
        return _confirmation(request, confirmation)
    return render(request, "referrals/self/already_sent.html", status=409)


def _remember(request: HttpRequest, token: Token, confirmation: dict) -> None:
    sent = dict(request.session.get(SESSION_KEY, {}))
    sent[token.digest] = confirmation
    # The last few only: enough for a refresh or the back button.
    request.session[SESSION_KEY] = dict(list(sent.items())[-5:])


@never_cache
@require_http_methods(["GET", "POST"])
def refer_yourself(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _form_page(request, SelfReferralForm())
    form = SelfReferralForm(request.POST)
    ip_address = client_ip(request)
    if form.honeypot_filled():
        _refusal_logged(ip_address, "honeypot", "Self-referral form: the hidden field was filled.")
        form.refuse(HONEYPOT)
        return _form_page(request, form, status=400)
    token = form.token()
    if token is None:
        _refusal_logged(ip_address, "token", "Self-referral form: no valid form token.")
        form.refuse(EXPIRED, new_token=True)
        return _form_page(request, form, status=400)
    if token.used():
        return _replayed(request, token)
    if token.age < min_fill_seconds():
        _refusal_logged(
            ip_address,
            "too-fast",
            f"Self-referral form sent {token.age:.1f} s after it was shown.",
        )
        form.refuse(TOO_FAST)
        return _form_page(request, form, status=400)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    data = form.cleaned_data
    try:
        place, teams = services.suggest_teams(postcode=data["postcode"])
    except ValidationError:
        place, teams = None, []
    if place is None:
        form.add_error(
            "postcode",
            "We cannot find this postcode. Check it and try again; Northern Ireland (BT) "
            "postcodes are not covered yet.",
        )
        return _form_page(request, form, status=400)
    if not teams:
        # Nothing is made and nothing kept: say so, and where else to turn.
        return render(request, "referrals/self/no_team.html", {"postcode": data["postcode"]})
    if not token.first_use():
        return _replayed(request, token)
    try:
        referral, created = services.referral_create(
            by=None,
            practice=None,
            source=Referral.Source.SELF,
            patient=form.patient_data(),
            needs=[],
            team=teams[0],
            what_matters=data["what_matters"].strip(),
            consent_to_contact=data["consent_to_contact"],
            consent_to_share=data["consent_to_share"],
            idempotency_key=f"self:{token.digest}",
            ip_address=ip_address,
        )
    except ratelimit.RateLimited as limited:
        token.release()
        minutes = max(1, math.ceil(limited.retry_after / 60))
        form.add_error(
            None,
            f"{limited.message} Please try again in {minutes} minute{'s' if minutes > 1 else ''}"
            ", or call NHS 111 if you need help sooner.",
        )
        response = _form_page(request, form, status=429)
        response["Retry-After"] = str(limited.retry_after)
        return response
    except ValidationError as error:
        token.release()
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _form_page(request, form, status=400)
    except Exception:
        # Nothing was made (the database went away, say): the person's retry must not be
        # taken for a replay. If the cache is unreachable too, the database's unique token
        # still stops a second referral.
        with contextlib.suppress(Exception):
            token.release()
        raise
    if not created:  # the database's backstop caught a replay the cache had lost
        return _replayed(request, token)
    confirmation = {
        "reference": referral.reference,
        "team": referral.team.name,
        "method": referral.patient.preferred_contact,
        "method_label": referral.patient.get_preferred_contact_display().lower(),
        "emailed": bool(referral.patient.email),
        "texted": referral.emails.filter(channel=OutgoingEmail.Channel.TEXT).exists(),
    }
    _remember(request, token, confirmation)
    return _confirmation(request, confirmation)
