"""Figures for managers and commissioners: the page and its CSV download (the same report)."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from referrals import permissions, reports
from referrals.forms.report import ReportPeriodForm


def _managers_only(request) -> None:
    if not (permissions.is_manager(request.user) or request.user.is_superuser):
        raise PermissionDenied("Figures are for managers.")


def _page(request, form, report, status=200):
    return render(
        request,
        "referrals/report.html",
        {
            "form": form,
            "report": report,
            "chart": reports.chart(report) if report else None,
            "threshold": settings.SMALL_NUMBER_THRESHOLD,
            "rule": reports.suppression_rule(),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET"])
def report(request):
    """Managers (and admins): aggregate figures only, small numbers suppressed."""
    _managers_only(request)
    form = ReportPeriodForm.from_query(request.GET)
    if form.is_bound and not form.is_valid():
        return _page(request, form, None)
    return _page(request, form, reports.build(form.period()))


@login_required
@require_http_methods(["GET"])
def report_csv(request):
    """The same figures as a CSV file, the same cells suppressed."""
    _managers_only(request)
    form = ReportPeriodForm.from_query(request.GET)
    if form.is_bound and not form.is_valid():
        return _page(request, form, None, status=400)
    report = reports.build(form.period())
    response = HttpResponse(reports.csv_text(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="flourish-referrals-{report.period.slug}.csv"'
    )
    return response
