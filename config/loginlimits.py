"""Login lockouts: django-axes, per username and address, plus a limit per address across usernames.

django-axes locks a username at one address after AXES_FAILURE_LIMIT failures (a person who
forgot their password is not locked out everywhere). On its own that never slows someone who
tries 50 made-up usernames from one address, and each would leave a row. Axes compares every
lockout parameter with the same limit, and a whole practice can share one address, so the
per-address limit (LOGIN_FAILURE_LIMIT_PER_ADDRESS, higher) is added here, counted from the
same AccessAttempt rows over the same cool-off. With AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT
off, a locked-out attempt stores nothing, so one address leaves at most that many rows per
cool-off; and since retrying does not extend a lockout, the Retry-After sent is the truth.
"""

import math
from datetime import timedelta

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from config.errors import is_api
from config.ratelimit import too_many_requests

LOCKED_MESSAGE = (
    "Too many failed sign-in attempts from your connection. If you have forgotten your "
    "password, ask your manager to reset it."
)


def _address_limit() -> int:
    return settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS


def _seconds_until_below(attempts: QuerySet, limit: int, cool_off: timedelta) -> int:
    """0 if these attempts are under ``limit``; else seconds until enough of them expire."""
    rows = list(
        attempts.order_by("attempt_time").values_list("attempt_time", "failures_since_start")
    )
    total = sum(failures for _, failures in rows)
    wait = 0.0
    now = timezone.now()
    for attempt_time, failures in rows:
        if total < limit:
            break
        total -= failures
        wait = (attempt_time + cool_off - now).total_seconds()
    return max(1, math.ceil(wait)) if wait > 0 else 0


class LoginAttemptHandler(AxesDatabaseHandler):
    """Axes' database handler, also locking an address after too many failures in total."""

    def address_attempts(self, request: HttpRequest) -> QuerySet:
        return AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address,
            attempt_time__gte=get_cool_off_threshold(request),
        )

    def address_locked(self, request: HttpRequest) -> bool:
        if not request.axes_ip_address:
            return False  # no address to count (a unix socket): the username limit still holds
        failures = self.address_attempts(request).aggregate(n=Sum("failures_since_start"))["n"]
        return (failures or 0) >= _address_limit()

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        return super().is_locked(request, credentials) or self.address_locked(request)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or getattr(request, "axes_locked_out", False):
            return
        # The failure that reaches the address limit is answered 429 itself, as axes does for
        # the username limit.
        if settings.AXES_LOCK_OUT_AT_FAILURE and self.address_locked(request):
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send(
                "axes",
                request=request,
                username=credentials.get(settings.AXES_USERNAME_FORM_FIELD),
                ip_address=request.axes_ip_address,
            )

    def retry_after(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """Seconds until this request's username and address would be let in again."""
        cool_off = get_cool_off(request)
        waits = [
            _seconds_until_below(attempts, get_failure_limit(request, credentials), cool_off)
            for attempts in self.get_user_attempts(request, credentials)
        ]
        if request.axes_ip_address:
            waits.append(
                _seconds_until_below(self.address_attempts(request), _address_limit(), cool_off)
            )
        # Locked by something the counts no longer show (a race with expiry): one second.
        return max([*waits, 1])


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with Retry-After; JSON for the API, a plain page otherwise."""
    retry_after = LoginAttemptHandler().retry_after(request, credentials)
    if is_api(request):
        minutes = max(1, math.ceil(retry_after / 60))
        detail = f"{LOCKED_MESSAGE} Try again in {minutes} minute{'' if minutes == 1 else 's'}."
        response = JsonResponse({"detail": detail}, status=429)
        response["Retry-After"] = str(retry_after)
        return response
    return too_many_requests(request, retry_after, context={"message": LOCKED_MESSAGE})
