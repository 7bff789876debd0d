"""Rate limits count in the shared cache, so every process and every restart sees one count; a
429 always says when to retry."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from rest_framework.views import APIView

from config import ratelimit
from config.settings import cache_from_url

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh_cache(db):
    cache.clear()
    yield
    cache.clear()


def hit_in_another_process(
    scope: str, key: str, *, times: int, limit: int, cache_url: str = ""
) -> subprocess.Popen:
    """Run ``ratelimit.hit`` in a separate Python process against the test database's cache."""
    db = connection.settings_dict
    url = f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    script = (
        "import django, json; django.setup()\n"
        "from config import ratelimit\n"
        f"print(json.dumps([ratelimit.hit({scope!r}, {key!r}, limit={limit}, period_s=3600)"
        f" for _ in range({times})]))\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": url,
            "CACHE_URL": cache_url,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def results(process) -> list:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out)


@pytest.mark.usefixtures("fresh_cache")
class HitTests:
    def test_it_allows_up_to_the_limit_then_says_how_long_to_wait(self):
        answers = [ratelimit.hit("t", "203.0.113.7", limit=3, period_s=600) for _ in range(5)]
        assert answers[:3] == [None, None, None]
        assert all(isinstance(a, int) and 1 <= a <= 600 for a in answers[3:])

    def test_it_counts_each_scope_and_key_apart(self):
        assert ratelimit.hit("a", "k", limit=1, period_s=60) is None
        assert ratelimit.hit("b", "k", limit=1, period_s=60) is None
        assert ratelimit.hit("a", "other", limit=1, period_s=60) is None
        assert ratelimit.hit("a", "k", limit=1, period_s=60) is not None

    def test_it_takes_any_key_text(self):
        odd = "x" * 5000 + " \n\0é"
        assert ratelimit.hit("t", odd, limit=1, period_s=60) is None
        assert ratelimit.hit("t", odd, limit=1, period_s=60) is not None

    def test_check_raises_rate_limited_with_the_wait(self):
        ratelimit.check("t", "k", limit=1, period_s=60)
        with pytest.raises(ratelimit.RateLimited) as raised:
            ratelimit.check("t", "k", limit=1, period_s=60, message="Slow down.")
        assert 1 <= raised.value.retry_after <= 60
        assert raised.value.message == "Slow down."

    def test_the_count_lives_in_the_database_cache_table(self):
        assert isinstance(caches["default"], DatabaseCache)
        ratelimit.hit("t", "k", limit=5, period_s=60)
        ratelimit.hit("t", "k", limit=5, period_s=60)
        with connection.cursor() as cursor:
            cursor.execute("SELECT cache_key FROM flourish_cache")
            keys = [row[0] for row in cursor.fetchall()]
        assert len(keys) == 1 and ":ratelimit:t:" in keys[0]
        assert cache.get(keys[0].split(":", 2)[2]) == 2


@pytest.mark.django_db(transaction=True)
class AcrossProcessesTests:
    """Separate Python processes, as gunicorn workers are, each with its own memory."""

    @pytest.fixture(autouse=True)
    def empty_cache(self):
        cache.clear()
        yield
        cache.clear()

    def test_it_shares_one_count_with_another_process(self):
        assert [ratelimit.hit("p", "k", limit=5, period_s=3600) for _ in range(3)] == [None] * 3
        other = results(hit_in_another_process("p", "k", times=3, limit=5))
        assert other[:2] == [None, None]
        assert isinstance(other[2], int)  # the sixth in all, wherever it was counted
        assert ratelimit.hit("p", "k", limit=5, period_s=3600) is not None

    def test_it_loses_no_count_when_processes_race(self):
        processes = [hit_in_another_process("race", "k", times=40, limit=60) for _ in range(3)]
        answers = [a for p in processes for a in results(p)]
        # 120 hits against a limit of 60: exactly 60 let through, however they interleaved.
        assert answers.count(None) == 60


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A throwaway redis-server (or valkey-server) on a free port, if one is installed."""
    server = shutil.which("valkey-server") or shutil.which("redis-server")
    if server is None:
        pytest.skip("neither valkey-server nor redis-server is installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"valkey://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


class RedisTests:
    """The same limits with CACHE_URL naming Redis or Valkey."""

    def test_it_counts_in_redis_and_shares_the_count_with_another_process(self, redis_url):
        with override_settings(CACHES={"default": cache_from_url(redis_url)}):
            cache.clear()
            assert [ratelimit.hit("r", "k", limit=3, period_s=3600) for _ in range(2)] == [None] * 2
            other = results(hit_in_another_process("r", "k", times=2, limit=3, cache_url=redis_url))
            assert other[0] is None and isinstance(other[1], int)
            assert ratelimit.hit("r", "k", limit=3, period_s=3600) is not None
            cache.clear()


class RefusalTests:
    def test_an_api_view_answers_429_with_retry_after(self):
        class Limited(APIView):
            def get(self, request):
                raise ratelimit.RateLimited(42, "You have done that too often.")

        response = Limited.as_view()(RequestFactory().get("/api/x/"))
        assert response.status_code == 429
        assert response["Retry-After"] == "42"
        assert response.data["detail"].startswith("You have done that too often.")

    def test_an_html_view_answers_a_plain_429_page_with_retry_after(self, db):
        request = RequestFactory().get("/somewhere/")
        middleware = ratelimit.RateLimitMiddleware(lambda r: HttpResponse())
        response = middleware.process_exception(
            request, ratelimit.RateLimited(125, "You have sent that too often.")
        )
        assert response.status_code == 429
        assert response["Retry-After"] == "125"
        html = response.content.decode()
        assert "You have sent that too often." in html
        assert "try again in 3 minutes" in html

    def test_the_middleware_leaves_other_errors_alone(self):
        middleware = ratelimit.RateLimitMiddleware(lambda r: HttpResponse())
        assert middleware.process_exception(RequestFactory().get("/"), ValueError()) is None


class CacheSettingTests:
    def test_it_uses_the_database_cache_table_by_default(self):
        config = cache_from_url("")
        assert config["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
        assert config["LOCATION"] == "flourish_cache"
        assert config["OPTIONS"]["MAX_ENTRIES"] >= 10000  # culling must not drop live counts

    @pytest.mark.parametrize(
        ("url", "location"),
        [
            ("redis://cache.internal:6379/1", "redis://cache.internal:6379/1"),
            ("rediss://:secret@cache.internal:6380/0", "rediss://:secret@cache.internal:6380/0"),
            ("valkey://cache.internal:6379/2", "redis://cache.internal:6379/2"),
        ],
    )
    def test_it_takes_redis_or_valkey_from_cache_url(self, url, location):
        config = cache_from_url(url)
        assert config == {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
        }

    def test_the_redis_client_is_installed(self):
        from django.core.cache.backends.redis import RedisCache

        backend = RedisCache("redis://127.0.0.1:1/0", {})
        assert backend._class.__name__ == "RedisCacheClient"
        import redis  # noqa: F401  (the backend imports it only when first used)

    def test_it_refuses_a_cache_it_does_not_support(self):
        with pytest.raises(ImproperlyConfigured, match="CACHE_URL must start with redis://"):
            cache_from_url("memcached://cache.internal:11211")
