"""A clinician's new referral, and the confirmation that says what happens next."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from config.clientip import client_ip
from directory.models import TaxonomyTerm
from referrals import forms, permissions, services
from referrals.views.access import _visible, care_team_required

# Services offered on the form: a short list, nearest first.
NEARBY_SERVICES = 8


def _near(post) -> tuple:
    """The place, covering teams and nearby services for what was typed so far: (place,
    teams, services, problem with the postcode or "")."""
    postcode = (post.get("postcode") or "").strip() if post else ""
    if not postcode:
        return None, [], [], ""
    try:
        place, teams = services.suggest_teams(postcode=postcode)
    except ValidationError as error:
        return None, [], [], error.message_dict.get("postcode", [""])[0]
    if place is None:
        return None, [], [], "We could not find this postcode. Check it and try again."
    codes = post.getlist("needs")[:20]
    known = list(TaxonomyTerm.objects.needs().filter(code__in=codes).values_list("code", flat=True))
    nearby = services.services_near_postcode(place.postcode, known, limit=NEARBY_SERVICES)
    return place, teams, nearby if known else [], ""


@care_team_required
@require_http_methods(["GET", "POST"])
def referral_new(request):
    if not permissions.is_clinician(request.user):
        raise PermissionDenied("Only clinicians can make referrals.")
    if not request.user.practices.exists():
        raise PermissionDenied("You are not a member of a practice yet: ask an administrator.")
    post = request.POST if request.method == "POST" else None
    place, suggestions, nearby, postcode_problem = _near(post)
    options = {"user": request.user, "team_order": suggestions, "nearby_services": nearby}
    finding = post is not None and "find_teams" in post
    if finding:
        # "Find teams and services" shows what was typed again, with the teams and services
        # for the postcode, unbound so no errors are shown yet; it saves nothing.
        typed = forms.ReferralForm(post, **options).typed(post)
        if suggestions:
            typed["team"] = str(suggestions[0].pk)
        form = forms.ReferralForm(initial=typed, **options)
    else:
        form = forms.ReferralForm(post, **options)
    if post is not None and not finding and form.is_valid():
        data = form.cleaned_data
        try:
            referral, created = services.referral_create(
                by=request.user,
                practice=data["practice"],
                patient=form.patient_data(),
                needs=list(data["needs"]),
                team=data["team"],
                what_matters=data["what_matters"],
                urgency=data["urgency"],
                consent_to_contact=data["consent_to_contact"],
                consent_to_share=data["consent_to_share"],
                services_in_mind=list(data["services_in_mind"]),
                idempotency_key=f"form:{data['form_token']}",
                fingerprint=services.request_fingerprint(
                    {key: post.getlist(key) for key in post if key != "csrfmiddlewaretoken"}
                ),
                ip_address=client_ip(request),
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except services.IdempotencyKeyReused:
            form.add_error(
                None,
                "You already sent this form with different details. Check your referrals list "
                "before sending it again, or start a new referral.",
            )
        else:
            if not created:
                messages.info(request, "This referral was already sent: here it is.")
            return redirect("referrals-sent", pk=referral.pk)
    return render(
        request,
        "referrals/new.html",
        {
            "form": form,
            "suggestions": suggestions,
            "nearby": nearby,
            "place": place,
            "postcode_problem": postcode_problem,
            "looked_up": finding and place is not None,
            "needs_chosen": bool(post and post.getlist("needs")),
        },
    )


@care_team_required
@require_http_methods(["GET"])
def referral_sent(request, pk):
    """After sending: what happens next and when, from the same settings the chaser and the
    referral lists use (``Referral.accept_by`` and the rest)."""
    referral = _visible(request, pk)
    return render(
        request,
        "referrals/sent.html",
        {
            "referral": referral,
            "patient": referral.patient,
            "accept_by": referral.accept_by(),
            "declines_on": referral.declined_automatically_on(),
            "chase_days": settings.REFERRAL_CHASE_AFTER_DAYS,
            "contact_days": services.contact_working_days(),
            "emailed": bool(request.user.email),
            "another": reverse("referrals-new"),
        },
    )
