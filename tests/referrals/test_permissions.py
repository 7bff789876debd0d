"""The permission matrix: every page and endpoint x every role, anonymous, and a clinician and a
trainer from another practice and team. Each cell is asserted."""

import pytest
from django.urls import reverse
from knox.models import AuthToken

from tests.referrals.factories import minutes_ago
from tests.referrals.test_contacts import contact as follow_up_form

ROLES = [
    "anonymous",
    "clinician",
    "trainer",
    "lead",
    "other_clinician",
    "other_trainer",
    "editor",
    "manager",
    "admin",
    "outsider",
]
LOGIN = "login"  # a redirect to the sign-in page


def expect(default, **cells):
    """Expected status per role: ``default`` for the roles not named."""
    return {role: cells.get(role, default) for role in ROLES}


# Who sees a referral list at all: clinicians and trainers; others are refused outright.
CARE_LIST = expect(
    403,
    anonymous=LOGIN,
    clinician=200,
    trainer=200,
    lead=200,
    other_clinician=200,
    other_trainer=200,
)
TRAINER_PAGE = expect(403, anonymous=LOGIN, trainer=200, lead=200, other_trainer=200)
CLINICIAN_PAGE = expect(403, anonymous=LOGIN, clinician=200, other_clinician=200)
# One referral: its practice and team see it; other care staff get a 404; everyone else a 403.
SEE_ONE = expect(
    403,
    anonymous=LOGIN,
    clinician=200,
    trainer=200,
    lead=200,
    other_clinician=404,
    other_trainer=404,
)
ACT_FORM = expect(
    403, anonymous=LOGIN, trainer=200, lead=200, other_clinician=404, other_trainer=404
)
ACT_POST = expect(
    403, anonymous=LOGIN, trainer=302, lead=302, other_clinician=404, other_trainer=404
)
ANY_USER = expect(200, anonymous=LOGIN)
SHOW_ONLY = expect(
    403,
    anonymous=LOGIN,
    clinician=405,
    trainer=405,
    lead=405,
    other_clinician=405,
    other_trainer=405,
)
MANAGERS = expect(403, anonymous=LOGIN, manager=200, admin=200)

PAGES = [
    ("GET", "referrals-list", False, {}, CARE_LIST),
    ("GET", "referrals-new", False, {}, CLINICIAN_PAGE),
    ("GET", "referrals-queue", False, {}, TRAINER_PAGE),
    ("GET", "referrals-caseload", False, {}, TRAINER_PAGE),
    ("GET", "referrals-detail", True, {}, SEE_ONE),
    ("GET", "referrals-timeline", True, {}, SEE_ONE),
    ("GET", "referrals-measures", True, {}, SEE_ONE),
    ("GET", "referrals-decline", True, {}, ACT_FORM),
    ("GET", "referrals-close", True, {}, ACT_FORM),
    ("GET", "referrals-follow-up", True, {}, ACT_FORM),
    ("POST", "referrals-accept", True, {"version": 1}, ACT_POST),
    ("POST", "referrals-decline", True, {"version": 1, "reason": "Full"}, ACT_POST),
    ("POST", "referrals-close", True, {"version": 1, "outcome": "moved_away"}, ACT_POST),
    ("POST", "referrals-contact", True, {"version": 1}, ACT_POST),
    ("POST", "referrals-engage", True, {"version": 1}, ACT_POST),
    (
        "POST",
        "referrals-follow-up",
        True,
        lambda world: follow_up_form(reached="no", pam_score="48.5", pam_level="2"),
        ACT_POST,
    ),
    ("POST", "referrals-goal-add", True, {"goal-text": "Walk daily"}, ACT_POST),
    # Measures are recorded with a contact (the follow-up page); the measures page only shows.
    ("POST", "referrals-measures", True, {"instrument": "pam"}, SHOW_ONLY),
    ("GET", "referrals-notifications", False, {}, ANY_USER),
    ("GET", "referrals-report", False, {}, MANAGERS),
]


def _client_for(client, world, role):
    user = world.user(role)
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "name", "with_pk", "data", "expected"),
    PAGES,
    ids=[f"{m} {n}" for m, n, *_ in PAGES],
)
class PagePermissionTests:
    def test_it_answers_each_role_as_the_matrix_says(
        self, client, world, role, method, name, with_pk, data, expected
    ):
        url = reverse(name, args=[world.referral.pk] if with_pk else [])
        client = _client_for(client, world, role)
        response = (
            client.get(url)
            if method == "GET"
            else client.post(url, data(world) if callable(data) else data)
        )
        want = expected[role]
        if want == LOGIN:
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))
        else:
            assert response.status_code == want
            if want == 302:
                assert response["Location"].startswith(f"/referrals/{world.referral.pk}/")


class RefusedMethodTests:
    @pytest.mark.parametrize(
        "name", ["referrals-accept", "referrals-contact", "referrals-engage", "referrals-goal-add"]
    )
    def test_it_refuses_get_on_an_action(self, client, world, name):
        client.force_login(world.trainer)
        assert client.get(reverse(name, args=[world.referral.pk])).status_code == 405

    def test_it_refuses_post_to_the_referral_page(self, client, world):
        client.force_login(world.trainer)
        assert client.post(reverse("referrals-detail", args=[world.referral.pk])).status_code == 405

    def test_it_refuses_logout_by_get(self, client, world):
        client.force_login(world.trainer)
        assert client.get(reverse("logout")).status_code == 405


class ListContentTests:
    @pytest.mark.parametrize("role", ["other_clinician", "other_trainer"])
    def test_it_does_not_list_another_practices_or_teams_referral(self, client, world, role):
        client.force_login(world.user(role))
        response = client.get(reverse("referrals-list"))
        assert world.referral.patient.name not in response.content.decode()

    @pytest.mark.parametrize("role", ["clinician", "trainer", "lead"])
    def test_it_lists_the_referral_for_its_practice_and_team(self, client, world, role):
        client.force_login(world.user(role))
        assert world.referral.patient.name in client.get(reverse("referrals-list")).content.decode()


# --- API -------------------------------------------------------------------------------------
API_LIST = expect(
    403, anonymous=401, clinician=200, trainer=200, lead=200, other_clinician=200, other_trainer=200
)
API_CREATE = expect(403, anonymous=401, clinician=201, other_clinician=201)
API_SEE_ONE = expect(
    403, anonymous=401, clinician=200, trainer=200, lead=200, other_clinician=404, other_trainer=404
)
API_ACT = expect(403, anonymous=401, trainer=200, lead=200, other_clinician=404, other_trainer=404)
API_FOLLOW_UP = expect(
    403, anonymous=401, trainer=201, lead=201, other_clinician=404, other_trainer=404
)
API_SUGGEST = expect(
    403, anonymous=401, clinician=200, trainer=200, lead=200, other_clinician=200, other_trainer=200
)


def _create_body(world):
    from tests.referrals.factories import nhs_number

    return {
        "patient": {
            "nhs_number": nhs_number(),
            "given_name": "Bo",
            "family_name": "Example",
            "date_of_birth": "1970-01-02",
            "postcode": "SK14 1PW",
            "phone": "07700 900999",
            "preferred_contact": "phone",
        },
        "needs": ["loneliness"],
        "what_matters": "Company",
        "urgency": "routine",
        "consent_to_contact": True,
        "consent_to_share": False,
        "team": world.team.pk,
    }


API = [
    ("GET", "api-referrals", False, None, API_LIST),
    ("POST", "api-referrals", False, _create_body, API_CREATE),
    ("GET", "api-referral", True, None, API_SEE_ONE),
    ("POST", "api-referral-accept", True, {"version": 1}, API_ACT),
    ("POST", "api-referral-decline", True, {"version": 1, "reason": "Full"}, API_ACT),
    ("POST", "api-referral-close", True, {"version": 1, "outcome": "moved_away"}, API_ACT),
    ("POST", "api-referral-contact-after-accept", True, None, API_ACT),
    ("POST", "api-referral-engage-after-contact", True, None, API_ACT),
    ("GET", "api-referral-follow-ups", True, None, API_SEE_ONE),
    (
        "POST",
        "api-referral-follow-ups",
        True,
        lambda world: {"at": minutes_ago(5), "method": "phone", "reached": False},
        API_FOLLOW_UP,
    ),
    ("GET", "api-referral-events", True, None, API_SEE_ONE),
    ("GET", "api-teams-suggest", False, None, API_SUGGEST),
]


def _prepare(world, name):
    """Bring the referral to where the action is allowed; returns (url name, body)."""
    if name == "api-referral-contact-after-accept":
        world.referral.accept(by=world.trainer, version=1)
        return "api-referral-contact", {"version": 2}
    if name == "api-referral-engage-after-contact":
        world.referral.accept(by=world.trainer, version=1)
        world.referral.contact(by=world.trainer, version=2)
        return "api-referral-engage", {"version": 3}
    return name, None


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "name", "with_pk", "data", "expected"), API, ids=[f"{m} {n}" for m, n, *_ in API]
)
class ApiPermissionTests:
    def test_it_answers_each_role_as_the_matrix_says(
        self, client, world, role, method, name, with_pk, data, expected
    ):
        name, prepared = _prepare(world, name)
        body = prepared or (data(world) if callable(data) else data)
        url = reverse(name, args=[world.referral.pk] if with_pk else [])
        if name == "api-teams-suggest":
            url += "?postcode=SK14+1AA"
        client = _client_for(client, world, role)
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, body, content_type="application/json")
        assert response.status_code == expected[role], response.content
        if role == "anonymous":
            assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("role", [role for role in ROLES if role != "anonymous"])
@pytest.mark.parametrize(
    ("method", "name", "with_pk", "data", "expected"), API, ids=[f"{m} {n}" for m, n, *_ in API]
)
class ApiTokenPermissionTests:
    def test_it_answers_the_same_with_a_token(
        self, client, world, role, method, name, with_pk, data, expected
    ):
        _, token = AuthToken.objects.create(user=world.user(role))
        name, prepared = _prepare(world, name)
        body = prepared or (data(world) if callable(data) else data)
        url = reverse(name, args=[world.referral.pk] if with_pk else [])
        if name == "api-teams-suggest":
            url += "?postcode=SK14+1AA"
        headers = {"HTTP_AUTHORIZATION": f"Token {token}"}
        if method == "GET":
            response = client.get(url, **headers)
        else:
            response = client.post(url, body, content_type="application/json", **headers)
        assert response.status_code == expected[role], response.content
