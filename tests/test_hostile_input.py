"""Hostile input gets a 4xx with a plain message, never a 500 (config/input.py).

Found by trying the running app from outside: a username over 255 characters (django-axes
could not store it), JSON nested 100,000 levels deep (RecursionError), and a NUL byte in a
search (PostgreSQL refuses it). The sweep at the end sends NUL bytes, 10,000-character values,
an unpaired surrogate and right-to-left marks in every known parameter to every URL in the
URLconf, as a stranger and as a clinician, and wants no answer of 500 or more.
"""

import json
import uuid
from urllib.parse import quote

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from config import input as hostile
from directory.models import Service
from tests.referrals import conftest as referrals_conftest
from tests.referrals.conftest import World
from tests.referrals.factories import PASSWORD

# The referral tests' people and places (one user per role, a referral), used here too.
world = referrals_conftest.world
fast_passwords = referrals_conftest.fast_passwords

pytestmark = pytest.mark.django_db

LONG_USERNAME = "u" * 300


def deeply_nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- 1. Over-long usernames ------------------------------------------------------------------
class LongUsernameTests:
    def test_it_reshows_the_login_page_with_a_plain_error(self, client, world):
        response = client.post(reverse("login"), {"username": LONG_USERNAME, "password": "x"})
        assert response.status_code in (200, 400)
        assert "There is a problem" in response.content.decode()

    def test_it_reshows_the_admin_login_page_with_a_plain_error(self, client, world):
        response = client.post(reverse("admin:login"), {"username": LONG_USERNAME, "password": "x"})
        assert response.status_code in (200, 400)
        assert "correct username and password" in response.content.decode()

    @pytest.mark.parametrize("as_json", [True, False])
    def test_it_refuses_an_api_token_with_a_400(self, client, world, as_json):
        body = {"username": LONG_USERNAME, "password": "x"}
        if as_json:
            response = client.post(reverse("api-token"), body, content_type="application/json")
        else:
            response = client.post(reverse("api-token"), body)
        assert response.status_code == 400
        assert response.json()

    def test_it_still_counts_the_failure_under_a_username_axes_can_store(self, client, world):
        client.post(reverse("login"), {"username": LONG_USERNAME, "password": "x"})
        attempt = AccessAttempt.objects.get()
        assert attempt.username == LONG_USERNAME[:255]

    def test_it_does_not_lock_out_the_real_user_it_begins_like(self, client, world):
        for _ in range(6):
            client.post(reverse("login"), {"username": "trainer" + "x" * 300, "password": "x"})
        response = client.post(reverse("login"), {"username": "trainer", "password": PASSWORD})
        assert response.status_code == 302

    def test_it_keeps_control_characters_out_of_the_stored_username(self):
        stored = hostile.axes_username(None, {"username": "ad\x00min\x1b" + "a" * 400})
        assert stored == "admin" + "a" * 250

    @pytest.mark.parametrize("url_name", ["login", "admin:login", "api-token"])
    def test_it_refuses_a_nul_in_a_username_with_a_400(self, client, world, url_name):
        response = client.post(reverse(url_name), {"username": "train\x00er", "password": "x"})
        assert response.status_code == 400
        assert "control character" in response.content.decode()
        assert not AccessAttempt.objects.exists()


# --- 2. JSON bodies --------------------------------------------------------------------------
class NestedJSONTests:
    @pytest.fixture
    def trainer(self, world):
        return signed_in(world.trainer)

    def json_endpoints(self, world: World) -> list[str]:
        pk = world.referral.pk
        return [
            reverse("api-token"),
            reverse("api-referrals"),
            reverse("api-referral-accept", args=[pk]),
            reverse("api-referral-close", args=[pk]),
            reverse("api-referral-follow-ups", args=[pk]),
        ]

    def test_it_refuses_100000_levels_of_nesting_with_a_plain_400(self, world):
        for client in (Client(), signed_in(world.clinician), signed_in(world.trainer)):
            for url in self.json_endpoints(world):
                response = client.post(url, deeply_nested(100_000), content_type="application/json")
                assert response.status_code in (400, 401, 403), (url, response.status_code)
                if response.status_code == 400:
                    assert "levels deep" in response.json()["detail"], url

    def test_it_refuses_deep_nesting_inside_an_object_too(self, trainer, world):
        body = '{"note": ' + "{" * 40 + '"a": 1' + "}" * 40 + "}"
        url = reverse("api-referral-contact", args=[world.referral.pk])
        response = trainer.post(url, body, content_type="application/json")
        assert response.status_code == 400
        assert "32 levels" in response.json()["detail"]

    def test_it_still_reads_ordinary_nesting_and_brackets_inside_strings(self, trainer, world):
        # A note full of brackets is text, not nesting: the move goes through.
        url = reverse("api-referral-accept", args=[world.referral.pk])
        body = json.dumps({"version": world.referral.version, "note": "[{" * 100})
        response = trainer.post(url, body, content_type="application/json")
        assert response.status_code == 200, response.content

    def test_it_counts_depth_without_recursing(self):
        assert hostile.json_depth_exceeds(deeply_nested(1_000_000), 32)
        assert not hostile.json_depth_exceeds(deeply_nested(32), 32)
        assert hostile.json_depth_exceeds(deeply_nested(33), 32)
        assert not hostile.json_depth_exceeds(json.dumps({"a": "[[[[" * 50 + '\\"['}), 1)

    def test_it_refuses_a_body_over_the_size_limit(self, trainer, world, settings):
        settings.API_MAX_BODY_BYTES = 1000
        url = reverse("api-referral-contact", args=[world.referral.pk])
        body = json.dumps({"version": 1, "note": "x" * 2000})
        response = trainer.post(url, body, content_type="application/json")
        assert response.status_code == 400
        assert "too large" in response.json()["detail"]

    @pytest.mark.parametrize(
        ("body", "where"),
        [
            ('{"version": 1, "note": "a\\u0000b"}', "note"),
            ('{"version": 1, "note": "\\ud800"}', "note"),
            ('{"version": 1, "note": ["ok", {"deeper": "\\u001b[31m"}]}', "note[1].deeper"),
            ('{"version": 1, "no\\u0000te": "x"}', "no?te"),
        ],
    )
    def test_it_refuses_control_characters_and_lone_surrogates_in_json(
        self, trainer, world, body, where
    ):
        url = reverse("api-referral-contact", args=[world.referral.pk])
        response = trainer.post(url, body, content_type="application/json")
        assert response.status_code == 400
        detail = response.json()["detail"]
        assert where in detail and "control character" in detail

    def test_it_keeps_newlines_and_tabs_in_text(self, trainer, world):
        url = reverse("api-referral-accept", args=[world.referral.pk])
        body = json.dumps({"version": world.referral.version, "note": "Line one\n\tLine two\r\n"})
        assert trainer.post(url, body, content_type="application/json").status_code == 200

    def test_it_refuses_nan_and_invalid_utf8(self, trainer, world):
        url = reverse("api-referral-contact", args=[world.referral.pk])
        for body in (b'{"version": NaN}', b'{"note": "\xed\xa0\x80"}', b"\xff\xfe{}"):
            response = trainer.post(url, body, content_type="application/json")
            assert response.status_code == 400, body

    def test_it_refuses_a_nul_in_a_form_posted_to_the_api(self, trainer, world):
        url = reverse("api-referral-contact", args=[world.referral.pk])
        response = trainer.post(
            url, "version=1&note=a%00b", content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 400
        assert "'note'" in response.json()["detail"]


# --- 3. NUL and other control characters, anywhere ---------------------------------------------
class ControlCharacterTests:
    @pytest.mark.parametrize("name", ["q", "need", "offer", "postcode"])
    @pytest.mark.parametrize(
        "url_name", ["directory-api-services", "directory-search", "directory-get-online"]
    )
    def test_it_refuses_a_nul_in_a_search_with_a_plain_400(self, client, world, url_name, name):
        response = client.get(f"{reverse(url_name)}?postcode=SK14+1AA&{name}=walk%00ing")
        assert response.status_code == 400
        text = response.content.decode()
        assert f"'{name}'" in text and "remove it" in text
        if url_name.startswith("directory-api"):
            assert response.json()["detail"]
        else:
            assert response["Content-Type"].startswith("text/plain")

    def test_it_refuses_other_control_characters_but_not_tabs_or_newlines(self, client, world):
        base = reverse("directory-search") + "?postcode=SK14+1AA&q="
        assert client.get(base + "walk%1Bing").status_code == 400
        assert client.get(base + "walk%0Aing%09").status_code == 200

    def test_it_refuses_a_nul_in_the_address(self, client, world):
        assert client.get("/api/postcodes/SK14%001AA").status_code == 400
        response = client.get("/openreferral/services/abc%00")
        assert response.status_code == 400
        assert response["Access-Control-Allow-Origin"] == "*"

    def test_it_refuses_a_nul_in_a_parameter_name(self, client, world):
        assert client.get("/search/?post%00code=SK14+1AA").status_code == 400

    def test_it_refuses_a_control_character_in_a_header(self, client, world):
        response = client.get(reverse("home"), HTTP_USER_AGENT="Mozilla\x00")
        assert response.status_code == 400
        assert "User-Agent header" in response.content.decode()

    def test_it_refuses_a_nul_in_a_posted_form(self, client, world):
        service = Service.objects.first()
        url = reverse("directory-report", args=[service.pk])
        response = client.post(url, {"reason": "closed", "details": "Shut\x00"})
        assert response.status_code == 400
        assert "'details'" in response.content.decode()

    def test_it_refuses_a_query_value_longer_than_any_field_takes(self, client, world):
        response = client.get(reverse("directory-api-services") + "?q=" + "x" * 10_000)
        assert response.status_code == 400
        assert "too long" in response.json()["detail"]


class SearchLimitTests:
    def test_it_refuses_over_long_values_of_each_search_parameter(self, client, world):
        for name in ("postcode", "need", "offer", "kind", "language", "day", "time", "q"):
            url = reverse("directory-api-services") + f"?{name}=" + "a" * 500
            response = client.get(url)
            assert response.status_code == 400, name
            assert "too long" in json.dumps(response.json()["errors"][name]), name

    def test_it_refuses_more_needs_than_anyone_chooses(self, client, world):
        needs = "&".join(f"need=need-{i}" for i in range(40))
        response = client.get(reverse("directory-api-services") + "?" + needs)
        assert response.status_code == 400
        assert "at most 30" in response.json()["errors"]["need"][0]

    def test_it_reads_a_repeated_need_once(self, client, world):
        response = client.get(reverse("directory-api-services") + "?" + "&need=loneliness" * 40)
        assert response.status_code == 200

    def test_it_refuses_over_long_open_referral_search_words(self, client, world):
        for url_name in ("openreferral-services", "openreferral-organizations"):
            response = client.get(reverse(url_name) + "?search=" + "a" * 201)
            assert response.status_code == 400
            assert response.json()["errors"]["search"]


# --- 4. Methods a view does not support --------------------------------------------------------
class MethodNotAllowedTests:
    @pytest.mark.parametrize(
        ("method", "url_name"),
        [
            ("post", "home"),
            ("post", "directory-search"),
            ("put", "directory-get-online"),
            ("delete", "directory-shortlist"),
            ("get", "directory-shortlist-add"),
            ("get", "directory-shortlist-clear"),
            ("post", "healthz"),
            ("put", "login"),
            ("delete", "login"),
            ("get", "logout"),
            ("post", "directory-api-services"),
            ("delete", "directory-api-needs"),
        ],
    )
    def test_it_answers_405_to_a_stranger(self, client, world, method, url_name):
        response = getattr(client, method)(reverse(url_name))
        assert response.status_code == 405

    def test_it_answers_405_on_service_pages(self, client, world):
        service = Service.objects.first()
        assert client.post(reverse("directory-service", args=[service.pk])).status_code == 405
        assert client.put(reverse("directory-report", args=[service.pk])).status_code == 405
        sent = reverse("directory-report-sent", args=[service.pk])
        assert client.post(sent).status_code == 405

    @pytest.mark.parametrize(
        "url_name",
        [
            "referrals-accept",
            "referrals-assign",
            "referrals-contact",
            "referrals-engage",
            "referrals-goal-add",
            "referrals-connection-add",
        ],
    )
    def test_it_answers_405_to_get_on_referral_actions(self, world, url_name):
        trainer = signed_in(world.trainer)
        response = trainer.get(reverse(url_name, args=[world.referral.pk]))
        assert response.status_code == 405
        assert response["Allow"] == "POST"

    @pytest.mark.parametrize(
        ("method", "url_name"),
        [
            ("post", "referrals-list"),
            ("post", "referrals-queue"),
            ("delete", "referrals-caseload"),
            ("put", "referrals-new"),
            ("post", "referrals-report"),
            ("delete", "referrals-notifications"),
        ],
    )
    def test_it_answers_405_on_referral_pages(self, world, method, url_name):
        user = world.manager if url_name == "referrals-report" else world.trainer
        if url_name == "referrals-new":
            user = world.clinician
        response = getattr(signed_in(user), method)(reverse(url_name))
        assert response.status_code == 405

    def test_it_answers_405_on_referral_api_endpoints(self, world):
        trainer = signed_in(world.trainer)
        pk = world.referral.pk
        assert trainer.get(reverse("api-referral-accept", args=[pk])).status_code == 405
        assert trainer.delete(reverse("api-referral", args=[pk])).status_code == 405
        assert trainer.put(reverse("api-referrals")).status_code == 405

    @pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
    def test_it_answers_405_with_cors_on_the_open_referral_feed(self, client, world, method):
        for url in ("/openreferral/", "/openreferral/services", "/openreferral/taxonomies/x"):
            response = getattr(client, method)(url)
            assert response.status_code == 405, url
            assert response["Allow"] == "GET, HEAD, OPTIONS"
            assert response["Access-Control-Allow-Origin"] == "*"


# --- The sweep: every URL, every known parameter ----------------------------------------------
# Raw query-string text for each hostile value: an unpaired surrogate can only be sent
# percent-encoded (%ED%A0%80 is one in UTF-8 form), so the query strings are built by hand.
HOSTILE = {
    "nul": "a%00b",
    "long": "x" * 10_000,
    "surrogate": "%ED%A0%80",
    "rtl": quote("\u202eSK14 1AA\u200f\u200b"),
    "accents": quote("é" * 1_000),  # under the middleware's cap: reaches the views
    "digits": quote("١٢٣"),  # int() reads Arabic-Indic digits
    "number": "1e999",
    "control": "%1B%5B31m",
}
ADMIN_SAMPLE = {("get", "accents"), ("post", "surrogate")}
# Every parameter any view reads (search, Open Referral, postcodes, lists, forms, the admin).
PARAMETERS = [
    *("postcode", "lat", "lng", "radius", "need", "offer", "kind", "q", "free", "access"),
    *("age", "language", "open", "day", "time", "page", "page_size", "format", "s"),
    *("service", "next", "status", "search", "full", "taxonomy_term_id", "taxonomy_id"),
    *("organization_id", "minimum_age", "maximum_age", "modified_after", "start_time"),
    *("end_time", "proximity", "per_page", "limit", "outcome", "username", "password"),
    *("reason", "details", "email", "website", "started", "version", "note", "instrument"),
    *("assign_to", "to", "find_teams", "o", "p", "e", "all", "_changelist_filters"),
]
# Which of them each view reads, for sending one at a time (the rest are sent all at once).
READS = {
    "directory-search": ["postcode", "radius", "need", "kind", "free", "open", "q", "page"],
    "directory-get-online": ["postcode", "radius", "offer", "page"],
    "directory-health-trainers": ["postcode", "radius", "page"],
    "directory-shortlist": ["s"],
    "directory-shortlist-print": ["s"],
    "directory-api-services": [
        *("postcode", "lat", "lng", "radius", "need", "offer", "kind", "q", "free"),
        *("access", "age", "language", "open", "day", "time", "page", "page_size", "format"),
    ],
    "openreferral-services": [
        *("full", "taxonomy_term_id", "taxonomy_id", "organization_id", "minimum_age"),
        *("maximum_age", "modified_after", "day", "start_time", "end_time", "search", "page"),
        "per_page",
    ],
    "openreferral-service-at-locations": ["postcode", "proximity", "search", "day", "page"],
    "openreferral-organizations": ["search", "page", "per_page"],
    "openreferral-taxonomy-terms": ["taxonomy_id", "page"],
    "geo-postcodes-nearest": ["lat", "lng", "limit"],
    "api-teams-suggest": ["postcode"],
    "api-referrals": ["status", "need"],
    "referrals-list": ["status", "age", "need", "page"],
    "referrals-close": ["outcome"],
    "login": ["next"],
}
POSTS = {
    "login": ["username", "password", "next"],
    "admin:login": ["username", "password", "next"],
    "api-token": ["username", "password"],
    "directory-report": ["reason", "details", "email", "website", "started"],
    "directory-shortlist-add": ["service", "next"],
    "directory-shortlist-remove": ["service", "next"],
    "referrals-new": ["postcode", "find_teams"],
    "referrals-accept": ["version", "assign_to"],
    "referrals-assign": ["version", "to"],
    "referrals-decline": ["version", "reason"],
    "referrals-close": ["version", "outcome", "note"],
    "referrals-follow-up": [
        *("date_day", "date_month", "date_year", "time", "method", "reached"),
        *("duration_minutes", "notes", "form_token", "happiness", "swemwbs_1"),
        *("pam_score", "pam_level"),
    ],
    "api-referral-accept": ["version", "note", "assign_to"],
    "api-referral-decline": ["version", "reason"],
    "api-referral-close": ["version", "outcome", "note"],
}


def _kwarg_names(pattern) -> list[str]:
    converters = list(getattr(pattern, "converters", {}) or {})
    regex = getattr(pattern, "regex", None)
    return converters or (list(regex.groupindex) if regex is not None else [])


def all_patterns(patterns=None, namespace: str = "", kwargs: tuple = ()) -> dict[str, tuple]:
    """Every named URL in the URLconf (admin:... with its namespace) and its kwargs' names."""
    found = {}
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        names = (*kwargs, *_kwarg_names(pattern.pattern))
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            for name, inner_kwargs in all_patterns(pattern.url_patterns, inner, names).items():
                found.setdefault(name, inner_kwargs)
        elif isinstance(pattern, URLPattern) and pattern.name:
            found.setdefault(f"{namespace}:{pattern.name}" if namespace else pattern.name, names)
    return found


def concrete_urls(world: World) -> dict[str, str]:
    """Each named URL with real ids filled in (the referral, a service); the few the admin
    builds from parts that no value here fits are left out (and counted below)."""
    service = world.team.service
    values = {
        "pk": world.referral.pk,
        "service_id": service.pk,
        "id": service.pk,
        "goal_id": 1,
        "connection_id": 1,
        "postcode": "SK14 1AA",
        "token_id": "0123456789abcde",
        "object_id": "1",
        "app_label": "auth",
        "content_type_id": 1,
    }
    urls = {}
    for name, kwargs in all_patterns().items():
        chosen = {key: values[key] for key in kwargs if key in values}
        if name.startswith("directory-api") and "pk" in chosen:
            chosen["pk"] = service.pk
        try:
            urls[name] = reverse(name, kwargs=chosen)
        except NoReverseMatch:
            continue
    return urls


def _query(names, value: str) -> str:
    return "&".join(f"{name}={value}" for name in names)


def _send(client: Client, method: str, url: str, names, value: str):
    """One request: the parameters in the query string (GET) or the body (POST: JSON under
    /api/, a form elsewhere)."""
    if method == "get":
        return client.get(f"{url}?{_query(names, value)}")
    if url.startswith("/api/"):
        text = value.replace("%00", "\\u0000").replace("%ED%A0%80", "\\ud800")
        body = "{" + ", ".join(f'"{n}": "{text}"' for n in names) + "}"
        return client.post(url, body, content_type="application/json")
    return client.post(url, _query(names, value), content_type="application/x-www-form-urlencoded")


class HostileInputSweepTests:
    """Status below 500 for every URL, parameter and hostile value; failures listed together."""

    def sweep(self, clients: dict, requests) -> list[str]:
        failures = []
        for who, client in clients.items():
            for method, url, names, label in requests:
                try:
                    status = _send(client, method, url, names, HOSTILE[label]).status_code
                except Exception as exc:  # the test client re-raises a view's exception
                    status = f"{type(exc).__name__}: {str(exc)[:80]}"
                if not isinstance(status, int) or status >= 500:
                    failures.append(f"{who} {method.upper()} {url} {names[:3]} {label}: {status}")
        return failures

    def test_it_covers_the_whole_urlconf(self, world):
        urls = concrete_urls(world)
        assert {"directory-search", "api-referrals", "openreferral-services", "login"} <= set(urls)
        assert len(urls) > 60, sorted(set(all_patterns()) - set(urls))

    @pytest.mark.parametrize("role", ["anonymous", "clinician"])
    def test_every_url_survives_every_parameter_at_once(self, world, role):
        clients = {role: signed_in(world.clinician) if role == "clinician" else Client()}
        requests = [
            (method, url, PARAMETERS, label)
            for name, url in concrete_urls(world).items()
            for method in ("get", "post")
            for label in HOSTILE
            # The admin's 90 pages send a stranger or a clinician to its login page before
            # reading anything; two values each are enough (staff are swept below).
            if not name.startswith("admin:") or (method, label) in ADMIN_SAMPLE
        ]
        assert not self.sweep(clients, requests)

    def test_every_parameter_alone_on_the_views_that_read_it(self, world):
        urls = concrete_urls(world)
        clients = {
            "anonymous": Client(),
            "clinician": signed_in(world.clinician),
            "trainer": signed_in(world.trainer),
        }
        requests = [
            (method, urls[name], [param], label)
            for method, table in (("get", READS), ("post", POSTS))
            for name, params in table.items()
            for param in params
            for label in HOSTILE
        ]
        assert not self.sweep(clients, requests)

    def test_the_admin_survives_hostile_searches_by_staff(self, world):
        urls = [url for name, url in concrete_urls(world).items() if name.endswith("changelist")]
        assert urls
        clients = {"admin": signed_in(world.admin)}
        requests = [
            ("get", url, [param], label)
            for url in urls
            for param in ("q", "o", "p", "e")
            for label in ("accents", "surrogate", "rtl", "digits")
        ]
        assert not self.sweep(clients, requests)

    @pytest.mark.parametrize("role", ["anonymous", "clinician"])
    def test_path_parameters_survive_hostile_values(self, world, role):
        client = signed_in(world.clinician) if role == "clinician" else Client()
        prefixes = [
            "/api/postcodes/",
            "/api/auth/tokens/",
            "/api/services/",
            "/api/referrals/",
            "/openreferral/services/",
            "/openreferral/service_at_locations/",
            "/openreferral/organizations/",
            "/openreferral/taxonomies/",
            "/openreferral/taxonomy_terms/",
            "/services/",
            "/referrals/",
            f"/referrals/{world.referral.pk}/goals/",
        ]
        failures = []
        for prefix in prefixes:
            for label, value in HOSTILE.items():
                for suffix in ("", "/"):
                    url = prefix + value[:2000] + suffix
                    response = client.get(url)
                    if response.status_code >= 500:
                        failures.append(f"{url[:80]} {label}: {response.status_code}")
        assert not failures

    def test_uuid_paths_that_do_not_exist_are_404(self, client, world):
        assert client.get(f"/services/{uuid.uuid4()}/").status_code == 404
