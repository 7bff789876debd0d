"""Figures for managers and commissioners."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from referrals import permissions, reports


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
