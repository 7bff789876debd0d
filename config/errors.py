"""Django's own error answers (an unknown URL, a bad request, a crash), in JSON under /api/.

DRF answers refusals inside its views in JSON already; these are the ones Django gives before
or around a view: a path that matches no URL (``/api/services/not-a-uuid/``), a request Django
refuses outright (too many fields, a bad Host), a crash. An API client gets the same
``{"detail": ...}`` shape the schema documents (config/openapi.py); pages get Django's pages.
Only used with DEBUG off (with DEBUG on Django shows its debugging pages).

While the database is unreachable (restarting, failing over), the crash handler answers 503 with
Retry-After instead of 500, wherever the database error was raised (a view, a middleware such
as sessions or rate limits, a template). It drops the broken connection; Django's connection
health checks (CONN_HEALTH_CHECKS) reconnect on the next request once the database is back, so
the app recovers by itself.
"""

import logging
import sys

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

logger = logging.getLogger("flourish.database")
DATABASE_RETRY_AFTER_SECONDS = 30
DATABASE_DOWN = "The service cannot reach its database just now. Please try again in a minute."


def is_api(request) -> bool:
    """An API request: its errors are JSON ``{"detail": ...}``, whoever answers them."""
    return request.path.startswith("/api/")


def is_fhir(request) -> bool:
    """A FHIR request: its errors are OperationOutcomes, whoever answers them."""
    return request.path.startswith("/fhir/")


def fhir_error(status: int, text: str) -> JsonResponse:
    """An OperationOutcome in the shape the FHIR views give (referrals.fhir.resources)."""
    from referrals.fhir.resources import Issue, operation_outcome
    from referrals.fhir.views import FHIR_JSON, ISSUE_TYPES

    body = operation_outcome(status, [Issue(ISSUE_TYPES.get(status, "processing"), text)])
    return JsonResponse(body, status=status, content_type=FHIR_JSON)


def bad_request(request, exception):
    if is_fhir(request):
        return fhir_error(400, "Bad request: the request could not be read.")
    if is_api(request):
        return JsonResponse({"detail": "Bad request: the request could not be read."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if is_fhir(request):
        return fhir_error(403, "You do not have permission to do that.")
    if is_api(request):
        return JsonResponse({"detail": "You do not have permission to do that."}, status=403)
    return defaults.permission_denied(request, exception)


def not_found(request, exception):
    if is_fhir(request):
        return fhir_error(404, "Not found: no such address.")
    if is_api(request):
        return JsonResponse(
            {"detail": "Not found: no such address in the API (see /api/docs/)."}, status=404
        )
    return defaults.page_not_found(request, exception)


def server_error(request):
    exception = sys.exc_info()[1]
    if isinstance(exception, (OperationalError, InterfaceError)):
        return database_unavailable(request, exception)
    if is_fhir(request):
        return fhir_error(500, "Something went wrong on our side; it has been logged.")
    if is_api(request):
        return JsonResponse(
            {"detail": "Something went wrong on our side; it has been logged. Try again later."},
            status=500,
        )
    return defaults.server_error(request)


def database_unavailable(request, exception):
    first_line = (str(exception).strip().splitlines() or [type(exception).__name__])[0]
    logger.error("Database unavailable: %s", first_line)
    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except (OperationalError, InterfaceError):
            pass
    if is_fhir(request):
        response = fhir_error(503, DATABASE_DOWN)
    elif is_api(request) or request.path.startswith("/openreferral/"):
        response = JsonResponse({"detail": DATABASE_DOWN}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
