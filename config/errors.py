"""Django's own error answers (an unknown URL, a bad request, a crash), in JSON under /api/.

DRF answers refusals inside its views in JSON already; these are the ones Django gives before
or around a view: a path that matches no URL (``/api/services/not-a-uuid/``), a request Django
refuses outright (too many fields, a bad Host), a crash. An API client gets the same
``{"detail": ...}`` shape the schema documents (config/openapi.py); pages get Django's pages.
Only used with DEBUG off (with DEBUG on Django shows its debugging pages).
"""

from django.http import JsonResponse
from django.views import defaults


def is_api(request) -> bool:
    """An API request: its errors are JSON ``{"detail": ...}``, whoever answers them."""
    return request.path.startswith("/api/")


def bad_request(request, exception):
    if is_api(request):
        return JsonResponse({"detail": "Bad request: the request could not be read."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if is_api(request):
        return JsonResponse({"detail": "You do not have permission to do that."}, status=403)
    return defaults.permission_denied(request, exception)


def not_found(request, exception):
    if is_api(request):
        return JsonResponse(
            {"detail": "Not found: no such address in the API (see /api/docs/)."}, status=404
        )
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api(request):
        return JsonResponse(
            {"detail": "Something went wrong on our side; it has been logged. Try again later."},
            status=500,
        )
    return defaults.server_error(request)
