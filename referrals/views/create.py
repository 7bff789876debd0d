"""A clinician's new referral."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from config.clientip import client_ip
from referrals import forms, permissions, services
from referrals.views.access import care_team_required


@care_team_required
@require_http_methods(["GET", "POST"])
def referral_new(request):
    if not permissions.is_clinician(request.user):
        raise PermissionDenied("Only clinicians can make referrals.")
    if not request.user.practices.exists():
        raise PermissionDenied("You are not a member of a practice yet: ask an administrator.")
    suggestions, place = [], None
    postcode = request.POST.get("postcode", "")
    if postcode:
        try:
            place, suggestions = services.suggest_teams(postcode=postcode)
        except ValidationError:
            pass  # the form reports the postcode error
    finding = "find_teams" in request.POST
    if finding:
        # "Find teams" re-shows what was typed with the teams for the postcode, unbound so no
        # errors are shown yet; it saves nothing.
        typed = {
            name: request.POST.getlist(name)
            if name in ("needs", "services_in_mind")
            else request.POST.get(name)
            for name in request.POST
        }
        if suggestions:
            typed["team"] = suggestions[0].pk
        form = forms.ReferralForm(initial=typed, user=request.user, team_order=suggestions)
    else:
        form = forms.ReferralForm(request.POST or None, user=request.user, team_order=suggestions)
    if request.method == "POST" and not finding and form.is_valid():
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
                    {
                        key: request.POST.getlist(key)
                        for key in request.POST
                        if key != "csrfmiddlewaretoken"
                    }
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
            if created:
                messages.success(request, f"Referral sent to {referral.team.name}.")
            else:
                messages.info(request, "This referral was already sent; here it is.")
            return redirect(referral)
    return render(
        request,
        "referrals/new.html",
        {
            "form": form,
            "suggestions": suggestions,
            "place": place,
            "looked_up": bool(postcode) and finding,
        },
    )
