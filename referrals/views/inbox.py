"""Messages to staff and the emails the worker could not deliver."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from referrals import permissions
from referrals.message_back import who_for
from referrals.models import (
    AccessLog,
    Notification,
    OutgoingEmail,
    Referral,
)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def notifications(request):
    """The user's messages, newest first, unread ones marked. A message about a referral the
    user may still see names the person (first and last name only: the message itself, opened,
    shows the NHS number and is access-logged)."""
    mine = Notification.objects.filter(user=request.user)
    if request.method == "POST":
        count = mine.filter(read_at__isnull=True).update(read_at=timezone.now())
        if count:
            messages.success(request, "All messages marked as read.")
        return redirect("referrals-notifications")
    shown = list(mine.select_related("referral")[:100])
    about = Referral.objects.visible_to(request.user).filter(
        pk__in={n.referral_id for n in shown if n.referral_id}
    )
    patients = {r.pk: r.patient for r in about.select_related("patient")}
    for notification in shown:
        notification.patient = patients.get(notification.referral_id)
    return render(
        request,
        "referrals/notifications.html",
        {"notifications": shown, "unread": sum(1 for n in shown if n.is_unread)},
    )


@never_cache
@login_required
@require_http_methods(["GET"])
def notification(request, pk):
    """One message, opened: it is marked read. The person it is about is named, with their NHS
    number, only while the user may see the referral (and the view is access-logged)."""
    notification = get_object_or_404(
        Notification.objects.filter(user=request.user).select_related("referral"), pk=pk
    )
    was_unread = notification.is_unread
    notification.mark_read()
    referral = who_for(notification, request.user)
    if referral is not None:
        AccessLog.record(request, referral, channel="page")
    return render(
        request,
        "referrals/notification.html",
        {
            "notification": notification,
            "referral": referral,
            "patient": referral.patient if referral else None,
            "back": notification.message_back,
            "was_unread": was_unread,
        },
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
