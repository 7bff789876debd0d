"""The pages an organisation's contact opens from the link an editor sent (no account).

The link's token is exchanged, once, for this browser's session (``listing-open``): the pages
after it carry no secret in their addresses (nothing to leak through a Referer or a log), and
every page checks again that the link is still live, so revoking it or its expiry ends access
at once. The moves are directory.listings'; these views only read forms and show results.
"""

import datetime as dt
import functools
import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from directory import listings
from directory.listing_models import ListingLink
from directory.models import Service

SESSION_KEY = "listing_link"


# --- Forms ---------------------------------------------------------------------------------
class ChangeForm(forms.Form):
    name = forms.CharField(
        label="Name", max_length=255, error_messages={"required": "Enter the listing's name."}
    )
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What happens, who it is for, what to expect.",
    )
    phone = forms.CharField(
        label="Phone number",
        required=False,
        max_length=30,
        help_text="The number people should call, like 0161 123 4567.",
    )
    email = forms.EmailField(
        label="Email address",
        required=False,
        error_messages={"invalid": "Enter an email address like name@example.com."},
    )
    url = forms.URLField(
        label="Website",
        required=False,
        assume_scheme="https",
        error_messages={"invalid": "Enter a web address like https://example.org."},
    )
    times = forms.CharField(
        label="Opening times",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One line for each session, like: Tuesdays, 10am to 12pm.",
    )
    fees = forms.CharField(
        label="Cost",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Leave empty if it is free.",
    )

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"].strip()
        digits = [c for c in phone if c.isdigit()]
        if phone and (len(digits) < 6 or any(c not in "0123456789 +()-" for c in phone)):
            raise ValidationError("Enter a phone number like 0161 123 4567.")
        return phone


class CancelForm(forms.Form):
    session = forms.CharField(error_messages={"required": "Select the session that is cancelled."})
    note = forms.CharField(
        label="Anything people should know (optional)",
        required=False,
        max_length=200,
        help_text="For example: the hall is closed for repairs; back the week after.",
    )

    def clean_session(self) -> tuple[uuid.UUID, dt.date]:
        schedule_id, _, day = self.cleaned_data["session"].partition("/")
        try:
            return uuid.UUID(schedule_id), dt.date.fromisoformat(day)
        except ValueError:
            raise ValidationError("Select the session that is cancelled.") from None


# --- The link --------------------------------------------------------------------------------
def _gone(request: HttpRequest, link: ListingLink | None) -> HttpResponse:
    """A link that has ended, or never was: a plain page saying whom to ask."""
    editor = link.created_by if link else None
    return render(
        request,
        "directory/listing/gone.html",
        {
            "link": link,
            "editor_name": (editor.get_full_name() or editor.get_username()) if editor else "",
            "editor_email": editor.email if editor else "",
        },
        status=410 if link else 404,
    )


def _link(request: HttpRequest) -> ListingLink | HttpResponse:
    """The live link this browser opened, or the page to show instead."""
    link_id = request.session.get(SESSION_KEY)
    link = (
        ListingLink.objects.select_related("organization", "created_by").filter(pk=link_id).first()
        if link_id
        else None
    )
    if link is None:
        return render(request, "directory/listing/closed.html", status=403)
    if not link.is_live():
        request.session.pop(SESSION_KEY, None)
        return _gone(request, link)
    return link


def with_link(view):
    """Runs ``view(request, link, ...)`` for a live link, else shows why not."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        link = _link(request)
        if isinstance(link, HttpResponse):
            return link
        ListingLink.objects.filter(pk=link.pk).update(last_used_at=timezone.now())
        return view(request, link, *args, **kwargs)

    return wrapped


def _service(link: ListingLink, service_id) -> Service:
    # Another organisation's listing (or none) is a 404: a link looks after its own only.
    return get_object_or_404(listings.services_of(link), pk=service_id)


@require_GET
def open_link(request: HttpRequest) -> HttpResponse:
    """The address in the email: ``/listing/open?t=<token>`` (a query string, which the logs
    never record)."""
    link = ListingLink.find(request.GET.get("t", ""))
    if link is None or not link.is_live():
        return _gone(request, link)
    request.session.cycle_key()
    request.session[SESSION_KEY] = link.pk
    return redirect("listing-home")


# --- Pages -------------------------------------------------------------------------------------
@require_GET
@with_link
def home(request: HttpRequest, link: ListingLink) -> HttpResponse:
    services = list(listings.services_of(link))
    for service in services:
        service.checked = listings.checked_status(service)
        service.pending = service.proposed_changes.filter(status="pending").exists()
        service.cancellations = list(listings.upcoming_cancellations(service))
    return render(
        request,
        "directory/listing/home.html",
        {
            "link": link,
            "services": services,
            "attendance_count": listings.connections_for(link).count(),
        },
    )


@require_POST
@with_link
def confirm(request: HttpRequest, link: ListingLink, service_id) -> HttpResponse:
    service = _service(link, service_id)
    listings.confirm(link=link, service=service)
    messages.success(request, f"Thank you: {service.name} is marked as checked today.")
    return redirect("listing-home")


@require_http_methods(["GET", "POST"])
@with_link
def change(request: HttpRequest, link: ListingLink, service_id) -> HttpResponse:
    service = _service(link, service_id)
    current = listings.current_values(service)
    status = 200
    if request.method == "POST":
        form = ChangeForm(request.POST)
        if form.is_valid():
            proposed = listings.propose(link=link, service=service, values=form.cleaned_data)
            if proposed is None:
                form.add_error(None, "You have not changed anything. Change a field, or go back.")
            else:
                messages.success(
                    request,
                    f"Thank you: your changes to {service.name} have been sent to an editor, "
                    "who will check them before they appear.",
                )
                return redirect("listing-home")
        status = 400
    else:
        form = ChangeForm(initial=current)
    return render(
        request,
        "directory/listing/change.html",
        {"link": link, "service": service, "form": form},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@with_link
def cancel(request: HttpRequest, link: ListingLink, service_id) -> HttpResponse:
    service = _service(link, service_id)
    status = 200
    if request.method == "POST":
        form = CancelForm(request.POST)
        if form.is_valid():
            schedule_id, day = form.cleaned_data["session"]
            # A schedule of another service, or of none, is a 404 like another's listing.
            schedule = get_object_or_404(listings.schedules_for(service), pk=schedule_id)
            try:
                listings.cancel_session(
                    link=link,
                    service=service,
                    schedule=schedule,
                    date=day,
                    note=form.cleaned_data["note"],
                )
            except ValidationError as error:
                form.add_error("session", error)
            else:
                messages.success(
                    request,
                    f"{service.name} on {day:%A %-d %B %Y} is marked as cancelled. People "
                    "looking at the listing will see it.",
                )
                return redirect("listing-home")
        status = 400
    else:
        form = CancelForm()
    return render(
        request,
        "directory/listing/cancel.html",
        {
            "link": link,
            "service": service,
            "form": form,
            "sessions": listings.upcoming_sessions(service),
            "cancellations": listings.upcoming_cancellations(service),
        },
        status=status,
    )


@require_GET
@with_link
def attendance(request: HttpRequest, link: ListingLink) -> HttpResponse:
    return render(
        request,
        "directory/listing/attendance.html",
        {"link": link, "rows": listings.attendance_rows(link, request=request)},
    )


@require_POST
@with_link
def attendance_report(request: HttpRequest, link: ListingLink, connection_id: int) -> HttpResponse:
    from referrals.models import Connection

    answer = request.POST.get("attended")
    if answer not in ("yes", "no"):
        messages.error(request, "Choose whether the person came or not.")
        return redirect("listing-attendance")
    try:
        listings.report_attendance(link=link, connection_id=connection_id, attended=answer == "yes")
    except Connection.DoesNotExist:
        raise Http404("No such person to report on.") from None
    messages.success(request, "Thank you: the health trainer will see your answer.")
    return redirect("listing-attendance")
