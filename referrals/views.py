"""The referral pages: server-rendered, one URL per action, redirect after POST.

Every view that shows a referral starts from ``Referral.objects.visible_to(request.user)`` (a
referral you may not see is a 404); only ``detail`` shows a patient's details, and it writes the
access log each time.
"""

from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from config.clientip import client_ip
from referrals import forms, permissions, reports, services
from referrals.authentication import revoke_all_tokens
from referrals.models import (
    AccessLog,
    Connection,
    Goal,
    IllegalMove,
    Measure,
    Notification,
    OutgoingEmail,
    Referral,
    StaleReferral,
    Team,
)


# --- Access -----------------------------------------------------------------------------------
def care_team_required(view):
    """Signed in, and a clinician, trainer or lead: everyone else gets a 403. Every page behind
    it may show patient data, so none is kept by a browser or proxy (``Cache-Control:
    no-store`` from ``never_cache``)."""

    @wraps(view)
    @never_cache
    @login_required
    def wrapper(request, *args, **kwargs):
        if not permissions.in_care_team(request.user):
            raise PermissionDenied("Only clinicians and health trainers can see referrals.")
        return view(request, *args, **kwargs)

    return wrapper


def _visible(request, pk, **related) -> Referral:
    queryset = Referral.objects.visible_to(request.user).select_related(
        "patient", "practice", "team", "team__service", "referred_by", "assigned_to"
    )
    return get_object_or_404(queryset, pk=pk)


def _acting(request, pk) -> Referral:
    """A referral the user may change: 404 if they cannot see it, 403 if they only may look."""
    referral = _visible(request, pk)
    if not referral.may_act(request.user):
        raise PermissionDenied("Only a trainer in this referral's team can do that.")
    return referral


# --- Sign in and out --------------------------------------------------------------------------
class LoginView(auth_views.LoginView):
    # A FormView treats PUT as POST; only GET and POST mean anything here, the rest are a 405.
    http_method_names = ["get", "post", "head", "options"]
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    extra_context = {"session_minutes": settings.SESSION_COOKIE_AGE // 60}

    def get_default_redirect_url(self) -> str:
        """Straight to the work: a trainer's queue, a clinician's referrals, a manager's figures
        (a ``next`` parameter still wins)."""
        user = self.request.user
        if permissions.is_trainer(user):
            return reverse("referrals-queue")
        if permissions.is_clinician(user):
            return reverse("referrals-list")
        if permissions.is_manager(user):
            return reverse("referrals-report")
        if user.is_staff:
            return reverse("admin:index")
        return super().get_default_redirect_url()


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]

    def post(self, request, *args, **kwargs):
        # Signing out of the pages ends the user's API tokens too: a practice PC is shared, and
        # a token left in a script or tool on it must not outlive the person's session.
        if request.user.is_authenticated:
            revoke_all_tokens(request.user)
        return super().post(request, *args, **kwargs)


# --- Lists ------------------------------------------------------------------------------------
def _with_list_data(queryset):
    return queryset.select_related("patient", "team", "practice", "assigned_to").prefetch_related(
        "needs"
    )


@care_team_required
@require_http_methods(["GET"])
def referral_list(request):
    """Clinicians: my practice's referrals; trainers: their teams'. Filter by status, age, need."""
    form = forms.ReferralFilterForm(request.GET or None)
    referrals = _with_list_data(Referral.objects.visible_to(request.user))
    if form.is_valid():
        status = form.cleaned_data["status"]
        if status == "open":
            referrals = referrals.open()
        elif status:
            referrals = referrals.filter(status=status)
        if form.cleaned_data["age"]:
            cutoff = timezone.now() - timedelta(days=int(form.cleaned_data["age"]))
            referrals = referrals.filter(created_at__lte=cutoff)
        if form.cleaned_data["need"]:
            referrals = referrals.filter(needs=form.cleaned_data["need"])
    page = Paginator(referrals.order_by("-created_at"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "referrals/list.html",
        {"form": form, "page": page, "query": query.urlencode(), "now": timezone.now()},
    )


@care_team_required
@require_http_methods(["GET"])
def queue(request):
    """The team queue: new referrals, oldest first, with how long each has waited."""
    if not permissions.is_trainer(request.user):
        raise PermissionDenied("The queue is for health trainers.")
    referrals = _with_list_data(
        Referral.objects.visible_to(request.user)
        .filter(status=Referral.Status.NEW, team__memberships__user=request.user)
        .order_by("created_at")
    )
    teams = Team.objects.filter(memberships__user=request.user).with_load()
    return render(
        request,
        "referrals/queue.html",
        {"referrals": referrals, "teams": teams, "now": timezone.now()},
    )


@care_team_required
@require_http_methods(["GET"])
def caseload(request):
    if not permissions.is_trainer(request.user):
        raise PermissionDenied("The caseload is for health trainers.")
    referrals = _with_list_data(
        Referral.objects.visible_to(request.user)
        .open()
        .filter(assigned_to=request.user)
        .order_by("status_changed_at")
    )
    return render(
        request, "referrals/caseload.html", {"referrals": referrals, "now": timezone.now()}
    )


# --- Create -----------------------------------------------------------------------------------
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


# --- One referral -----------------------------------------------------------------------------
def _measure_summary(referral: Referral) -> list[dict]:
    """Each instrument's first and latest values and the change, for the referral page."""
    by_instrument: dict[str, list[Measure]] = {}
    for measure in referral.measures.all():
        by_instrument.setdefault(measure.instrument, []).append(measure)
    rows = []
    for instrument, taken in by_instrument.items():
        first, latest = taken[0], taken[-1]
        for name in Measure.FIELDS[instrument]:
            label = Measure._meta.get_field(name).verbose_name
            change = getattr(latest, name) - getattr(first, name) if len(taken) > 1 else None
            rows.append(
                {
                    "instrument": Measure.Instrument(instrument).label,
                    "item": label,
                    "first": getattr(first, name),
                    "first_on": first.taken_on,
                    "latest": getattr(latest, name),
                    "latest_on": latest.taken_on,
                    "change": change,
                    "count": len(taken),
                    # For anxiety a fall is the improvement.
                    "lower_is_better": name == "anxiety",
                }
            )
    return rows


@care_team_required
@require_http_methods(["GET"])
def referral_detail(request, pk):
    referral = _visible(request, pk)
    # Special-category data: every view of a patient's details is logged (and only this one).
    AccessLog.record(request, referral, channel="page")
    may_act = referral.may_act(request.user)
    context = {
        "referral": referral,
        "patient": referral.patient,
        "may_act": may_act,
        "may_assign": referral.may_assign(request.user),
        "follow_ups": referral.follow_ups.select_related("by")[:10],
        "goals": referral.goals.all(),
        "connections": referral.connections.select_related("service"),
        "measure_rows": _measure_summary(referral),
        "needs": referral.needs.all(),
        "services_in_mind": referral.services_in_mind.all(),
        "suggest_could_not_contact": referral.suggests_could_not_contact(),
        "same_person": referral.same_person(request.user),
        "unanswered": referral.unanswered_attempts(),
        "can": {status: referral.can_move(status) for status in Referral.Status.values},
        "now": timezone.now(),
    }
    if may_act:
        context["accept_form"] = forms.AcceptForm(
            initial={"version": referral.version}, team=referral.team
        )
        context["assign_form"] = forms.AssignForm(
            initial={"version": referral.version, "to": referral.assigned_to_id}, team=referral.team
        )
        context["goal_form"] = forms.GoalForm(prefix="goal")
        connected = referral.connections.values_list("service_id", flat=True)
        context["nearby"] = [
            s for s in services.services_near(referral) if s.pk not in set(connected)
        ]
        context["goal_statuses"] = Goal.Status.choices
        context["connection_statuses"] = Connection.Status.choices
    return render(request, "referrals/detail.html", context)


@care_team_required
@require_http_methods(["GET"])
def referral_timeline(request, pk):
    referral = _visible(request, pk)
    events = referral.events.select_related("by")
    return render(request, "referrals/timeline.html", {"referral": referral, "events": events})


def _do_move(request, referral: Referral, action) -> None:
    """Run a move, turning the refusals into messages on the referral page."""
    try:
        action()
    except StaleReferral as error:
        messages.error(request, str(error))
    except IllegalMove as error:
        messages.error(request, str(error))
    except PermissionDenied as error:
        messages.error(request, str(error) or "You cannot do that.")


@care_team_required
@require_POST
def referral_accept(request, pk):
    referral = _acting(request, pk)
    form = forms.AcceptForm(request.POST, team=referral.team)
    if not form.is_valid():
        return HttpResponseBadRequest("Missing or invalid version.")
    _do_move(
        request,
        referral,
        lambda: referral.accept(
            by=request.user,
            version=form.cleaned_data["version"],
            assign_to=form.cleaned_data["assign_to"],
        ),
    )
    if referral.status == Referral.Status.ACCEPTED:
        messages.success(request, "Referral accepted. The referrer has been told.")
    return redirect(referral)


@care_team_required
@require_POST
def referral_assign(request, pk):
    referral = _acting(request, pk)
    form = forms.AssignForm(request.POST, team=referral.team)
    if not form.is_valid():
        return HttpResponseBadRequest("Missing or invalid version or trainer.")
    version = referral.version
    _do_move(
        request,
        referral,
        lambda: referral.assign(
            by=request.user, version=form.cleaned_data["version"], to=form.cleaned_data["to"]
        ),
    )
    if referral.version != version:
        messages.success(request, "Referral reassigned.")
    return redirect(referral)


def _simple_move(method_name: str, done: str):
    @care_team_required
    @require_POST
    def view(request, pk):
        referral = _acting(request, pk)
        form = forms.VersionForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest("Missing or invalid version.")
        before = referral.status
        _do_move(
            request,
            referral,
            lambda: getattr(referral, method_name)(
                by=request.user, version=form.cleaned_data["version"]
            ),
        )
        if referral.status != before:
            messages.success(request, done)
        return redirect(referral)

    view.__name__ = f"referral_{method_name}"
    return view


referral_contact = _simple_move("contact", "Marked as contacted.")
referral_engage = _simple_move("engage", "Marked as engaged.")


@care_team_required
@require_http_methods(["GET", "POST"])
def referral_decline(request, pk):
    referral = _acting(request, pk)
    form = forms.DeclineForm(request.POST or None, initial={"version": referral.version})
    if request.method == "POST" and form.is_valid():
        try:
            referral.decline(
                by=request.user,
                version=form.cleaned_data["version"],
                reason=form.cleaned_data["reason"],
            )
        except (StaleReferral, IllegalMove) as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Referral declined. The referrer has been told why.")
            return redirect(referral)
    return render(request, "referrals/decline.html", {"referral": referral, "form": form})


@care_team_required
@require_http_methods(["GET", "POST"])
def referral_close(request, pk):
    referral = _acting(request, pk)
    initial = {"version": referral.version, "outcome": request.GET.get("outcome")}
    form = forms.CloseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            referral.close(
                by=request.user,
                version=form.cleaned_data["version"],
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )
        except (StaleReferral, IllegalMove) as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Referral closed. The referrer has been told the outcome.")
            return redirect(referral)
    return render(request, "referrals/close.html", {"referral": referral, "form": form})


# --- Follow-ups -------------------------------------------------------------------------------
@care_team_required
@require_http_methods(["GET", "POST"])
def follow_up_new(request, pk):
    referral = _acting(request, pk)
    form = forms.FollowUpForm(
        request.POST or None,
        initial={"at": timezone.localtime().replace(second=0, microsecond=0)},
        referral=referral,
    )
    if request.method == "POST" and form.is_valid():
        follow_up = form.save(commit=False)
        follow_up.referral = referral
        follow_up.by = request.user
        follow_up.save()
        messages.success(request, "Contact logged.")
        if referral.suggests_could_not_contact():
            messages.warning(
                request,
                f"{referral.unanswered_attempts()} attempts without reaching the person: "
                "consider closing the referral as 'could not contact'.",
            )
        return redirect(referral)
    return render(request, "referrals/follow_up.html", {"referral": referral, "form": form})


@care_team_required
@require_http_methods(["GET", "POST"])
def measures(request, pk):
    """All measures taken, each instrument's first/latest/change, and one form per instrument."""
    referral = _visible(request, pk)
    may_act = referral.may_act(request.user)
    instruments = Measure.Instrument.values
    posted = request.POST.get("instrument") if request.method == "POST" else None
    if request.method == "POST":
        if not may_act:
            raise PermissionDenied("Only a trainer in this referral's team can record measures.")
        if posted not in instruments:
            return HttpResponseBadRequest("Unknown measure.")
    measure_forms = {
        instrument: forms.MeasureForm(
            request.POST if instrument == posted else None,
            instrument=instrument,
            referral=referral,
            prefix=instrument,
        )
        for instrument in instruments
    }
    if posted:
        form = measure_forms[posted]
        if form.is_valid():
            measure = form.save(commit=False)
            measure.referral = referral
            measure.by = request.user
            measure.save()
            messages.success(request, f"{measure.get_instrument_display()} recorded.")
            return redirect("referrals-measures", pk=referral.pk)
    return render(
        request,
        "referrals/measures.html",
        {
            "referral": referral,
            "may_act": may_act,
            "measures": referral.measures.all(),
            "measure_rows": _measure_summary(referral),
            "measure_forms": [
                (Measure.Instrument(i).label, i, measure_forms[i]) for i in instruments
            ],
            "posted_form": measure_forms.get(posted),
        },
    )


@care_team_required
@require_POST
def goal_add(request, pk):
    referral = _acting(request, pk)
    form = forms.GoalForm(request.POST, prefix="goal")
    if form.is_valid():
        goal = form.save(commit=False)
        goal.referral = referral
        goal.by = request.user
        goal.save()
        messages.success(request, "Goal added to the plan.")
    else:
        messages.error(request, "Write the goal in the person's own words.")
    return redirect(reverse("referrals-detail", args=[referral.pk]) + "#plan")


@care_team_required
@require_POST
def goal_update(request, pk, goal_id):
    referral = _acting(request, pk)
    goal = get_object_or_404(referral.goals, pk=goal_id)
    form = forms.GoalStatusForm(request.POST, instance=goal)
    if form.is_valid():
        goal = form.save(commit=False)
        goal.status_changed_on = timezone.localdate()
        goal.save(update_fields=["status", "status_changed_on"])
        messages.success(request, f"Goal marked {goal.get_status_display().lower()}.")
    return redirect(reverse("referrals-detail", args=[referral.pk]) + "#plan")


@care_team_required
@require_POST
def connection_add(request, pk):
    referral = _acting(request, pk)
    form = forms.ConnectionForm(request.POST)
    if form.is_valid():
        Connection.objects.get_or_create(
            referral=referral,
            service=form.cleaned_data["service"],
            defaults={"status": form.cleaned_data["status"], "by": request.user},
        )
        messages.success(request, f"Connected to {form.cleaned_data['service'].name}.")
    return redirect(reverse("referrals-detail", args=[referral.pk]) + "#connections")


@care_team_required
@require_POST
def connection_update(request, pk, connection_id):
    referral = _acting(request, pk)
    connection = get_object_or_404(referral.connections, pk=connection_id)
    form = forms.ConnectionStatusForm(request.POST, instance=connection)
    if form.is_valid():
        connection = form.save(commit=False)
        connection.updated_at = timezone.now()
        connection.save(update_fields=["status", "updated_at"])
        messages.success(request, f"{connection.service.name}: {connection.get_status_display()}.")
    return redirect(reverse("referrals-detail", args=[referral.pk]) + "#connections")


# --- Notifications and figures ----------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def notifications(request):
    mine = Notification.objects.filter(user=request.user)
    if request.method == "POST":
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
        return redirect("referrals-notifications")
    return render(
        request,
        "referrals/notifications.html",
        {"notifications": mine.select_related("referral")[:100]},
    )


@never_cache
@login_required
@require_http_methods(["GET"])
def emails(request):
    """Emails the worker could not deliver, for team leads and the admin to retry."""
    if not (permissions.is_lead(request.user) or request.user.is_superuser):
        raise PermissionDenied("Undelivered emails are for team leads.")
    undelivered = OutgoingEmail.objects.watched_by(request.user).undelivered()
    return render(
        request,
        "referrals/emails.html",
        {
            "emails": undelivered.select_related("referral")[:200],
            "max_attempts": settings.EMAIL_MAX_ATTEMPTS,
        },
    )


@login_required
@require_POST
def email_retry(request, email_id):
    email = get_object_or_404(OutgoingEmail.objects.watched_by(request.user), pk=email_id)
    if email.status == OutgoingEmail.Status.FAILED:
        email.retry()
        messages.success(request, f"The email to {email.to} will be sent again now.")
    else:
        messages.info(request, f"The email to {email.to} is already being retried.")
    return redirect("referrals-emails")


@login_required
@require_http_methods(["GET"])
def report(request):
    """Managers (and admins): aggregate figures only, small numbers suppressed."""
    if not (permissions.is_manager(request.user) or request.user.is_superuser):
        raise PermissionDenied("Figures are for managers.")
    return render(
        request,
        "referrals/report.html",
        {"report": reports.build(), "threshold": settings.SMALL_NUMBER_THRESHOLD},
    )
