"""Rate limits that hold across processes and restarts, and the 429 that says when to retry.

Every limit in Flourish goes through ``hit(scope, key, limit=..., period_s=...)``: it counts one
event for ``key`` (an address, a user id) in the shared cache (Django's database cache table
unless CACHE_URL points at Redis or Valkey), in a fixed window of ``period_s`` seconds keyed by
the window's start, so every gunicorn worker and every restart sees the same count. It returns
None while the count is within ``limit`` and, once over it, the whole seconds until the window
ends (at least 1), which is the ``Retry-After`` to send. ``check()`` does the same but raises
``RateLimited``; that exception is a DRF ``Throttled``, so an API view that lets it propagate
answers 429 with ``Retry-After`` and a JSON ``detail``, and ``RateLimitMiddleware`` turns it
into a plain 429 page with ``Retry-After`` for HTML views (or call ``too_many_requests()`` for
a page of your own). With the database cache a count written inside a transaction that later
rolls back is rolled back too: call ``hit``/``check`` before ``transaction.atomic``.
"""

import hashlib
import math
import time
from contextlib import contextmanager

from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.exceptions import Throttled

DEFAULT_MESSAGE = "Too many requests in a short time."


class RateLimited(Throttled):
    """Over a limit: ``retry_after`` whole seconds until it resets.

    A DRF ``Throttled``, so DRF views answer 429 with ``Retry-After`` by themselves."""

    def __init__(self, retry_after: int, message: str = DEFAULT_MESSAGE):
        self.retry_after = max(1, math.ceil(retry_after))
        self.message = message
        super().__init__(wait=self.retry_after, detail=message)


def _cache_key(scope: str, key: str, window: int) -> str:
    # Hashed: keys may hold usernames or addresses, and cache keys must be short and plain.
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"ratelimit:{scope}:{window}:{digest}"


@contextmanager
def _serialised(cache_key: str):
    """Make add + incr one step on the database cache.

    Django's DatabaseCache.incr is a get then a set, so two workers could both read 4 and both
    write 5. A PostgreSQL advisory lock on the key (held until the transaction ends) makes the
    read-and-write of one counter happen one process at a time. Redis' INCR is atomic already,
    and the local-memory cache locks within its one process."""
    backend = caches["default"]  # ``cache`` is a proxy: ask for the backend itself
    if not isinstance(backend, DatabaseCache):
        yield
        return
    alias = router.db_for_write(backend.cache_model_class)
    lock_id = int.from_bytes(hashlib.sha256(cache_key.encode()).digest()[:8], "big", signed=True)
    with transaction.atomic(using=alias):
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
        yield


def hit(scope: str, key: str, *, limit: int, period_s: int) -> int | None:
    """Count one event for ``key``; None if allowed, else seconds until the window ends."""
    now = time.time()
    window = int(now // period_s)
    ends_in = (window + 1) * period_s - now
    cache_key = _cache_key(scope, key, window)
    with _serialised(cache_key):
        # The entry outlives its window a little, so a slow clock never restarts a count early.
        if cache.add(cache_key, 1, timeout=math.ceil(ends_in) + 1):
            count = 1
        else:
            try:
                count = cache.incr(cache_key)
            except ValueError:  # expired between add and incr: this is the window's first
                cache.set(cache_key, 1, timeout=math.ceil(ends_in) + 1)
                count = 1
    if count > limit:
        return max(1, math.ceil(ends_in))
    return None


def check(
    scope: str, key: str, *, limit: int, period_s: int, message: str = DEFAULT_MESSAGE
) -> None:
    """Like ``hit``, but raise ``RateLimited`` when over the limit."""
    retry_after = hit(scope, key, limit=limit, period_s=period_s)
    if retry_after is not None:
        raise RateLimited(retry_after, message)


def too_many_requests(
    request: HttpRequest,
    retry_after: int,
    *,
    template: str = "429.html",
    context: dict | None = None,
) -> HttpResponse:
    """A 429 page that says, in words and in ``Retry-After``, when to try again."""
    minutes = max(1, math.ceil(retry_after / 60))
    response = render(
        request,
        template,
        {"retry_after": retry_after, "retry_minutes": minutes, **(context or {})},
        status=429,
    )
    response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


class RateLimitMiddleware:
    """An HTML view that raises ``RateLimited`` answers a plain 429 page with Retry-After."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, RateLimited):
            return too_many_requests(
                request, exception.retry_after, context={"message": exception.message}
            )
        return None
