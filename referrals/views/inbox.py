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
from referrals.models import (
    Notification,
    OutgoingEmail,
)


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
