"""Refer yourself (issue 12): a resident asks for a health trainer without a GP. The form's
refusals, the team chosen by postcode, the abuse protection (single-use token, minimum fill
time, honeypot, per-address limits, also across two processes), the confirmation and its email,
and the team seeing the self-referral like any other while nobody else does."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from referrals import self_referral as views
from referrals.models import (
    AccessLog,
    Notification,
    OutgoingEmail,
    Patient,
    Referral,
    SecurityEvent,
)
from tests.conftest import add_postcode, rebuild_postcode_areas, run_tasks
from tests.referrals.factories import make_referral, nhs_number, patient_data

ROOT = Path(__file__).resolve().parents[2]
URL = "/refer-yourself/"
ADDRESS = "203.0.113.9"


@pytest.fixture(autouse=True)
def quick_forms(settings):
    # Each test that cares about the fill time or the limits sets its own.
    settings.SELF_REFERRAL_MIN_SECONDS = 0
    settings.SELF_REFERRALS_PER_HOUR = 100
    settings.SELF_REFERRALS_PER_DAY = 100


def public(address: str = ADDRESS) -> Client:
    return Client(REMOTE_ADDR=address)


def token_from(response) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', response.content.decode())
    assert match, "the form has a token"
    return match.group(1)


def answers(client: Client, **overrides) -> dict:
    """What a person types, with a fresh form's token; ``name=None`` leaves a field out."""
    data = {
        "form_token": token_from(client.get(URL)),
        "website": "",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "date_of_birth_day": "10",
        "date_of_birth_month": "12",
        "date_of_birth_year": "1965",
        "postcode": "SK14 1PW",
        "nhs_number": "",
        "preferred_contact": "phone",
        "phone": "07700 900111",
        "email": "",
        "what_matters": "I feel lonely since I retired.",
        "consent_to_share": "no",
        "consent_to_contact": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def send(client: Client, **overrides):
    return client.post(URL, answers(client, **overrides))


# --- The form -----------------------------------------------------------------------------------
class FormPageTests:
    def test_it_is_public_and_never_kept_by_a_browser(self, client, world):
        response = client.get(URL)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Ask for a health trainer or link worker" in html
        for name in ("given_name", "date_of_birth_day", "postcode", "what_matters", "website"):
            assert f'name="{name}"' in html
        assert "no-store" in response["Cache-Control"]

    def test_it_refuses_other_methods(self, client, world):
        assert client.put(URL).status_code == 405
        assert client.delete(URL).status_code == 405

    def test_each_form_gets_its_own_token(self, client, world):
        assert token_from(client.get(URL)) != token_from(client.get(URL))


REFUSALS = [
    ({"given_name": ""}, "Enter your first name.", "id_given_name"),
    ({"family_name": "   "}, "Enter your last name.", "id_family_name"),
    (
        {"date_of_birth_day": "", "date_of_birth_month": "", "date_of_birth_year": ""},
        "Enter your date of birth",
        "id_date_of_birth_day",
    ),
    (
        {"date_of_birth_month": ""},
        "Your date of birth must include a month",
        "id_date_of_birth_day",
    ),
    (
        {"date_of_birth_day": "", "date_of_birth_year": ""},
        "Your date of birth must include a day and a year",
        "id_date_of_birth_day",
    ),
    (
        {"date_of_birth_day": "31", "date_of_birth_month": "2", "date_of_birth_year": "1990"},
        "Your date of birth must be a real date",
        "id_date_of_birth_day",
    ),
    (
        {"date_of_birth_month": "Dec"},
        "Your date of birth must be a real date, in numbers",
        "id_date_of_birth_day",
    ),
    ({"date_of_birth_year": "65"}, "The year must include 4 numbers", None),
    ({"date_of_birth_year": "2999"}, "Date of birth must be in the past.", None),
    ({"date_of_birth_year": "1850"}, "Enter a date of birth after 1 January 1900", None),
    ({"postcode": ""}, "Enter your postcode, like SK14 1AA.", "id_postcode"),
    ({"postcode": "banana"}, "Enter a full postcode, like SK14 1AA.", "id_postcode"),
    ({"postcode": "SK14"}, "Enter a full postcode, like SK14 1AA.", "id_postcode"),
    ({"postcode": "TR1 1AA"}, "We cannot find this postcode.", "id_postcode"),
    (
        {"nhs_number": "943 476 5918"},
        "Enter your NHS number with 10 digits, like 943 476 5919, or leave it empty",
        "id_nhs_number",
    ),
    ({"nhs_number": "12345"}, "Enter your NHS number with 10 digits", "id_nhs_number"),
    ({"preferred_contact": None}, "Select how the team should contact you.", None),
    (
        {"preferred_contact": "phone", "phone": ""},
        "Enter a phone number for the team to call you on",
        "id_phone",
    ),
    (
        {"preferred_contact": "text", "phone": ""},
        "Enter a phone number for the team to text you on",
        "id_phone",
    ),
    ({"phone": "call me maybe"}, "Enter a phone number, like 07700 900 982", "id_phone"),
    ({"phone": "0161"}, "Enter a phone number, like 07700 900 982", "id_phone"),
    (
        {"preferred_contact": "email", "email": ""},
        "Enter an email address for the team to contact you on",
        "id_email",
    ),
    ({"email": "ada.example.org"}, "Enter an email address in the correct format", "id_email"),
    (
        {"preferred_contact": "letter"},
        "Select how the team should contact you from the list",
        None,
    ),
    (
        {"what_matters": ""},
        "Tell us what you would like help with, in a few words.",
        "id_what_matters",
    ),
    (
        {"what_matters": "x" * 2001},
        "What you would like help with must be 2000 characters or fewer.",
        "id_what_matters",
    ),
    ({"consent_to_share": None}, "Select yes if the team can share your details", None),
    ({"consent_to_contact": None}, "Tick the box to agree that the team can keep", None),
]


class RefusalTests:
    @pytest.mark.parametrize(
        ("overrides", "message", "anchor"),
        REFUSALS,
        ids=[f"{i}-{'-'.join(r[0]) or 'none'}" for i, r in enumerate(REFUSALS)],
    )
    def test_it_says_what_to_fix_and_keeps_what_was_typed(
        self, client, world, overrides, message, anchor
    ):
        overrides = {"given_name": "Ada", **overrides}
        response = send(client, **overrides)
        assert response.status_code == 400
        html = response.content.decode()
        assert "There is a problem" in html
        assert message in html
        if anchor:
            assert f'href="#{anchor}"' in html
        if overrides["given_name"]:
            assert 'value="Ada"' in html  # nothing the person typed is lost
        assert 'value="07700 900111"' in html or "phone" in overrides
        assert Referral.objects.filter(source=Referral.Source.SELF).count() == 0
        assert Patient.objects.filter(team__isnull=False).count() == 0

    def test_the_page_title_says_there_is_an_error(self, client, world):
        html = send(client, given_name="").content.decode()
        assert "<title>Error: Refer yourself" in html

    def test_a_refused_form_can_be_sent_once_put_right(self, client, world):
        data = answers(client, given_name="")
        assert client.post(URL, data).status_code == 400
        data["given_name"] = "Ada"
        assert client.post(URL, data).status_code == 200
        assert Referral.objects.filter(source=Referral.Source.SELF).count() == 1


# --- What is made -------------------------------------------------------------------------------
class CreateTests:
    def test_it_makes_a_self_referral_to_the_team_covering_the_postcode(self, client, world):
        response = send(client, nhs_number="943 476 5919", consent_to_share="yes")
        assert response.status_code == 200
        referral = Referral.objects.get(source=Referral.Source.SELF)
        assert referral.team == world.team
        assert referral.practice is None and referral.referred_by is None
        assert referral.status == Referral.Status.NEW
        assert referral.what_matters == "I feel lonely since I retired."
        assert referral.consent_to_contact and referral.consent_to_share
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", referral.reference)
        patient = referral.patient
        assert patient.team == world.team and patient.practice is None
        assert (patient.given_name, patient.family_name) == ("Ada", "Lovelace")
        assert patient.date_of_birth.isoformat() == "1965-12-10"
        assert patient.nhs_number == "9434765919"
        assert patient.postcode == "SK14 1PW" and patient.point is not None
        assert patient.phone == "07700 900111" and patient.preferred_contact == "phone"
        event = referral.events.get()
        assert event.by is None and event.by_label == "The person (self-referral)"
        assert event.note.startswith("Self-referral to Hyde health trainers")

    def test_the_confirmation_gives_the_reference_and_what_happens_next_only(self, client, world):
        response = send(client)
        referral = Referral.objects.get(source=Referral.Source.SELF)
        html = response.content.decode()
        assert "Your request has been sent" in html
        assert referral.reference in html
        assert "What happens next" in html
        assert "Hyde health trainers will contact you by phone call within 5 working days" in html
        assert "NHS 111" in html and "999" in html
        # Nothing else about the record, and no address to come back to it by.
        assert "Lovelace" not in html and "I feel lonely" not in html
        assert str(referral.pk) not in html
        assert "no-store" in response["Cache-Control"]
        assert "Location" not in response

    def test_it_chooses_the_team_by_the_postcode(self, client, world):
        send(client, postcode="ec1a1bb")
        referral = Referral.objects.get(source=Referral.Source.SELF)
        assert referral.team == world.other_team
        assert referral.patient.postcode == "EC1A 1BB"

    def test_a_postcode_no_team_covers_makes_nothing_and_says_where_to_turn(self, client, world):
        add_postcode("CA1 1RR", 54.8924, -2.9329)
        rebuild_postcode_areas()
        patients = Patient.objects.count()
        response = send(client, postcode="CA1 1RR", email="ada@example.org")
        assert response.status_code == 200
        html = response.content.decode()
        assert "No health trainer team covers CA1 1RR yet" in html
        assert "we have not kept any of your details" in html
        assert "/search/?postcode=CA1%201RR" in html
        assert "NHS 111" in html
        assert not Referral.objects.filter(source=Referral.Source.SELF).exists()
        assert Patient.objects.count() == patients
        assert not OutgoingEmail.objects.exists()

    def test_an_nhs_number_never_joins_or_changes_a_practice_record(self, client, world):
        number = world.referral.patient.nhs_number
        practice_record = Patient.objects.get(practice=world.practice, nhs_number=number)
        before = (practice_record.phone, practice_record.email, practice_record.postcode)
        send(client, nhs_number=number, phone="07700 900999", given_name="Someone")
        practice_record.refresh_from_db()
        assert (practice_record.phone, practice_record.email, practice_record.postcode) == before
        mine = Referral.objects.get(source=Referral.Source.SELF).patient
        assert mine.pk != practice_record.pk and mine.team == world.team

    def test_the_answer_is_the_same_whoever_has_the_nhs_number(self, client, world):
        known = world.referral.patient.nhs_number
        one = send(client, nhs_number=known).content.decode()
        two = send(client, nhs_number=nhs_number()).content.decode()
        strip = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}|csrfmiddlewaretoken[^>]*")
        assert strip.sub("", one) == strip.sub("", two)

    def test_it_emails_a_confirmation_when_given_an_address(self, client, world):
        mail.outbox = []
        send(client, email="ada@example.org")
        referral = Referral.objects.get(source=Referral.Source.SELF)
        email = OutgoingEmail.objects.get()
        assert email.to == "ada@example.org" and email.referral == referral
        assert referral.reference in email.subject and referral.reference in email.body
        assert "within 5 working days" in email.body and "NHS 111" in email.body
        # No health details, nor the person's name, in an inbox that may be shared.
        assert "lonely" not in email.body and "Lovelace" not in email.body
        assert run_tasks() >= 1
        assert [m.to for m in mail.outbox] == [["ada@example.org"]]

    def test_it_sends_no_email_without_an_address(self, client, world):
        html = send(client).content.decode()
        assert not OutgoingEmail.objects.exists()
        assert "email address you gave" not in html

    def test_it_says_plainly_that_no_text_was_sent(self, client, world):
        html = send(client, preferred_contact="text").content.decode()
        assert "We cannot send text messages from this website" in html
        assert Referral.objects.get(source=Referral.Source.SELF).patient.preferred_contact == "text"


# --- Abuse protection ---------------------------------------------------------------------------
class TokenTests:
    def test_a_replay_makes_nothing_new_and_shows_the_same_confirmation(self, client, world):
        data = answers(client)
        first = client.post(URL, data)
        reference = Referral.objects.get(source=Referral.Source.SELF).reference
        again = client.post(URL, data)
        assert again.status_code == 200
        assert reference in again.content.decode()
        assert Referral.objects.filter(source=Referral.Source.SELF).count() == 1
        assert first.status_code == 200

    def test_a_replay_from_another_browser_learns_nothing(self, client, world):
        data = answers(client)
        client.post(URL, data)
        reference = Referral.objects.get(source=Referral.Source.SELF).reference
        other = public("198.51.100.20").post(URL, data)
        assert other.status_code == 409
        html = other.content.decode()
        assert "This request has already been sent" in html
        assert reference not in html and "Hyde" not in html
        assert Referral.objects.filter(source=Referral.Source.SELF).count() == 1

    def test_the_database_stops_a_replay_the_cache_forgot(self, client, world):
        data = answers(client)
        client.post(URL, data)
        cache.clear()  # say the cache was flushed or its entry culled
        again = public("198.51.100.21").post(URL, data)
        assert again.status_code == 409
        assert Referral.objects.filter(source=Referral.Source.SELF).count() == 1

    @pytest.mark.parametrize("token", ["", "not-a-token", "eyJuIjoiYSIsInQiOjB9:forged:sig"])
    def test_a_missing_or_forged_token_is_refused_with_a_new_one(self, client, world, token):
        response = send(client, form_token=token)
        assert response.status_code == 400
        html = response.content.decode()
        assert "This page was open for a long time" in html
        assert 'value="Ada"' in html
        assert token_from(response) not in ("", token)
        assert not Referral.objects.filter(source=Referral.Source.SELF).exists()
        # The new token works.
        data = answers(client)
        data["form_token"] = token_from(response)
        assert client.post(URL, data).status_code == 200

    def test_a_token_older_than_a_day_is_refused(self, client, world, monkeypatch):
        data = answers(client)
        real = views.time.time
        monkeypatch.setattr(views.time, "time", lambda: real() + 25 * 3600)
        # signing's max_age uses time.time too, through its own import
        import django.core.signing as signing

        monkeypatch.setattr(signing.time, "time", lambda: real() + 25 * 3600)
        response = client.post(URL, data)
        assert response.status_code == 400
        assert "This page was open for a long time" in response.content.decode()

    def test_a_form_sent_too_quickly_is_refused_and_kept(self, client, world, settings):
        settings.SELF_REFERRAL_MIN_SECONDS = 60
        data = answers(client)
        response = client.post(URL, data, REMOTE_ADDR=ADDRESS)
        assert response.status_code == 400
        html = response.content.decode()
        assert "Your request was sent very quickly" in html
        assert 'value="Ada"' in html and "I feel lonely since I retired." in html
        assert not Referral.objects.filter(source=Referral.Source.SELF).exists()
        event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.SELF_REFERRAL_REFUSED)
        assert event.ip_address == "127.0.0.1" or event.ip_address == ADDRESS
        assert "after it was shown" in event.detail and "Ada" not in event.detail
        # Sent again once the time has passed (here: once the minimum is lowered): it goes.
        settings.SELF_REFERRAL_MIN_SECONDS = 0
        assert client.post(URL, data).status_code == 200
        assert Referral.objects.filter(source=Referral.Source.SELF).count() == 1

    def test_the_honeypot_refuses_and_keeps_what_a_person_typed(self, client, world):
        response = send(client, website="https://spam.example")
        assert response.status_code == 400
        html = response.content.decode()
        assert "We could not send your request" in html
        assert 'value="Ada"' in html
        assert 'value="https://spam.example"' not in html
        assert not Referral.objects.filter(source=Referral.Source.SELF).exists()
        assert SecurityEvent.objects.filter(
            kind=SecurityEvent.Kind.SELF_REFERRAL_REFUSED, detail__contains="hidden field"
        ).exists()

    def test_a_form_that_failed_to_save_is_not_taken_for_a_replay(self, client, world, monkeypatch):
        from referrals import services

        data = answers(client)
        real = services.referral_create

        def down(**kwargs):
            raise RuntimeError("something failed while saving")

        monkeypatch.setattr(services, "referral_create", down)
        with pytest.raises(RuntimeError):
            client.post(URL, data)
        monkeypatch.setattr(services, "referral_create", real)
        assert client.post(URL, data).status_code == 200
        assert Referral.objects.filter(source=Referral.Source.SELF).count() == 1

    def test_refusals_are_logged_once_an_hour_per_address(self, world):
        client = public()
        for _ in range(5):
            send(client, website="spam")
        assert SecurityEvent.objects.filter(ip_address=ADDRESS).count() == 1


class LimitTests:
    def test_it_refuses_past_the_hourly_limit_per_address_and_keeps_the_form(self, world, settings):
        settings.SELF_REFERRALS_PER_HOUR = 2
        client = public()
        assert [send(client).status_code for _ in range(2)] == [200, 200]
        data = answers(client, given_name="Grace")
        refused = client.post(URL, data)
        assert refused.status_code == 429
        assert 1 <= int(refused["Retry-After"]) <= 3600
        html = refused.content.decode()
        assert "several requests from your connection" in html
        assert 'value="Grace"' in html
        assert Referral.objects.filter(source=Referral.Source.SELF).count() == 2
        assert SecurityEvent.objects.filter(
            kind=SecurityEvent.Kind.RATE_LIMITED, ip_address=ADDRESS, user=None
        ).exists()
        # Another address is not held back by this one.
        assert send(public("198.51.100.7")).status_code == 200
        # The refused form was not used up: once allowed again, the same form sends.
        settings.SELF_REFERRALS_PER_HOUR = 10
        assert client.post(URL, data).status_code == 200
        assert Referral.objects.filter(patient__given_name="Grace").count() == 1

    def test_it_refuses_past_the_daily_limit(self, world, settings):
        settings.SELF_REFERRALS_PER_DAY = 1
        client = public()
        assert send(client).status_code == 200
        assert send(client).status_code == 429

    def test_failed_checks_do_not_use_up_the_limit(self, world, settings):
        settings.SELF_REFERRALS_PER_HOUR = 1
        client = public()
        for _ in range(3):
            assert send(client, given_name="").status_code == 400
        assert send(client).status_code == 200


def post_in_another_process(posts: list[dict], address: str) -> list[int]:
    """Send the form from a separate Python process (as a second gunicorn worker would be),
    against the test database and its cache table; returns each answer's status code. Each
    post is the answers to send; without a ``form_token`` the process opens the form first."""
    db = connection.settings_dict
    url = f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    script = (
        "import django, json, re, sys; django.setup()\n"
        "from django.conf import settings\n"
        "from django.test.utils import setup_test_environment\n"
        "setup_test_environment()\n"
        "settings.SELF_REFERRAL_MIN_SECONDS = 0\n"
        "settings.SELF_REFERRALS_PER_HOUR = 3\n"
        "settings.SELF_REFERRALS_PER_DAY = 100\n"
        "from django.test import Client\n"
        "client = Client(REMOTE_ADDR=sys.argv[2])\n"
        "codes = []\n"
        "for data in json.loads(sys.argv[1]):\n"
        "    if 'form_token' not in data:\n"
        "        page = client.get('/refer-yourself/').content.decode()\n"
        '        data[\'form_token\'] = re.search(r\'name="form_token" value="([^"]+)"\', page)[1]\n'
        "    codes.append(client.post('/refer-yourself/', data).status_code)\n"
        "print(json.dumps(codes))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(posts), address],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": url,
            "CACHE_URL": "",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
class AcrossProcessesTests:
    """The limits and the single-use token hold across processes: they live in the shared
    cache (the database cache table here) and the database, not in one process's memory."""

    def test_the_per_address_limit_is_one_count_across_two_processes(self, world, settings):
        settings.SELF_REFERRALS_PER_HOUR = 3
        client = public()
        assert [send(client).status_code for _ in range(2)] == [200, 200]
        person = {k: v for k, v in answers(client).items() if k != "form_token"}
        # The other process sends two: the first is the address's third (allowed), the second
        # its fourth (refused), because both processes count in one place.
        assert post_in_another_process([dict(person), dict(person)], ADDRESS) == [200, 429]
        assert send(client).status_code == 429
        assert Referral.objects.filter(source=Referral.Source.SELF).count() == 3
        # Another address, in the other process, is not held back.
        assert post_in_another_process([dict(person)], "198.51.100.30") == [200]

    def test_a_token_used_in_one_process_is_refused_in_another(self, world):
        data = answers(public())
        assert public().post(URL, data).status_code == 200
        assert post_in_another_process([data], "198.51.100.31") == [409]
        assert Referral.objects.filter(source=Referral.Source.SELF).count() == 1


# --- The team sees it; nobody else does ---------------------------------------------------------
@pytest.fixture
def self_referral(world) -> Referral:
    send(public(), email="ada@example.org")
    return Referral.objects.get(source=Referral.Source.SELF)


class TeamTests:
    def test_the_queue_shows_it_with_its_source(self, client, world, self_referral):
        client.force_login(world.trainer)
        html = client.get(reverse("referrals-queue")).content.decode()
        assert "Ada Lovelace" in html and "Self-referral" in html
        assert self_referral.get_absolute_url() in html

    def test_the_list_shows_where_each_came_from(self, client, world, self_referral):
        client.force_login(world.trainer)
        html = client.get(reverse("referrals-list")).content.decode()
        assert "Self-referral" in html and "Hyde Health Centre" in html

    def test_the_referral_page_shows_it_and_logs_the_view(self, client, world, self_referral):
        client.force_login(world.trainer)
        response = client.get(self_referral.get_absolute_url())
        assert response.status_code == 200
        html = response.content.decode()
        assert self_referral.reference in html
        assert "a self-referral, by the person on the public form" in html
        assert "Not given" in html  # no NHS number
        log = AccessLog.objects.get(referral=self_referral)
        assert log.user == world.trainer and log.patient == self_referral.patient

    def test_the_timeline_and_the_api_answer(self, client, world, self_referral):
        client.force_login(world.trainer)
        timeline = client.get(reverse("referrals-timeline", args=[self_referral.pk]))
        assert timeline.status_code == 200
        assert "from Self-referral" in timeline.content.decode()
        assert "The person (self-referral)" in timeline.content.decode()
        detail = client.get(f"/api/referrals/{self_referral.pk}/")
        assert detail.status_code == 200
        body = detail.json()
        assert body["source"] == "self" and body["practice"] is None
        assert body["reference"] == self_referral.reference
        assert body["patient"]["nhs_number"] == ""
        listed = client.get("/api/referrals/").json()
        rows = listed["results"] if isinstance(listed, dict) else listed
        assert {"self", "clinician"} <= {row["source"] for row in rows}

    def test_fhir_answers_a_404_not_an_error(self, client, world, self_referral):
        client.force_login(world.trainer)
        for kind in ("ServiceRequest", "Bundle", "Task"):
            response = client.get(f"/fhir/{kind}/{self_referral.pk}")
            assert response.status_code == 404, kind
            assert response.json()["resourceType"] == "OperationOutcome"
        search = client.get(f"/fhir/Task?focus=ServiceRequest/{self_referral.pk}")
        assert search.status_code == 200 and search.json()["total"] == 0

    def test_the_team_works_it_without_telling_anyone(self, client, world, self_referral):
        client.force_login(world.trainer)
        self_referral.accept(by=world.trainer, version=self_referral.version)
        self_referral.close(
            by=world.trainer, version=self_referral.version, outcome=Referral.Outcome.GOALS_MET
        )
        assert self_referral.status == Referral.Status.CLOSED
        assert not Notification.objects.filter(referral=self_referral).exists()
        # Only the confirmation was ever emailed to the person.
        assert OutgoingEmail.objects.filter(referral=self_referral).count() == 1
        assert client.get(self_referral.get_absolute_url()).status_code == 200

    def test_one_not_picked_up_is_declined_by_the_chase_quietly(self, world, self_referral):
        from datetime import timedelta

        from django.utils import timezone

        event = self_referral.decline_unpicked(now=timezone.now() + timedelta(days=15))
        assert event is not None
        self_referral.refresh_from_db()
        assert self_referral.status == Referral.Status.DECLINED
        assert not Notification.objects.filter(referral=self_referral).exists()

    def test_same_person_finds_the_practice_referral_by_nhs_number(self, client, world):
        number = world.referral.patient.nhs_number
        send(
            public(),
            nhs_number=number,
            date_of_birth_day="1",
            date_of_birth_month="1",
            date_of_birth_year="1970",
        )
        mine = Referral.objects.get(source=Referral.Source.SELF)
        found = mine.same_person(world.trainer)
        assert [r.pk for r in found["same"] + found["check"]] == [world.referral.pk]
        client.force_login(world.trainer)
        html = client.get(world.referral.get_absolute_url()).content.decode()
        assert "from Self-referral" in html

    def test_no_nhs_number_matches_no_one(self, world):
        send(public())
        send(public("198.51.100.8"), given_name="Grace")
        for referral in Referral.objects.filter(source=Referral.Source.SELF):
            assert referral.same_person(world.trainer) == {"same": [], "check": []}


class NobodyElseTests:
    @pytest.mark.parametrize(
        "role", ["other_trainer", "clinician", "other_clinician", "manager", "editor", "outsider"]
    )
    def test_nobody_outside_the_team_sees_it(self, client, world, self_referral, role):
        client.force_login(world.user(role))
        response = client.get(self_referral.get_absolute_url())
        assert response.status_code in (403, 404)
        assert client.get(f"/api/referrals/{self_referral.pk}/").status_code in (403, 404)
        assert not AccessLog.objects.filter(referral=self_referral).exists()

    def test_it_is_not_in_a_clinician_list_or_the_other_team_queue(
        self, client, world, self_referral
    ):
        client.force_login(world.clinician)
        assert "Ada Lovelace" not in client.get(reverse("referrals-list")).content.decode()
        client.force_login(world.other_trainer)
        assert "Ada Lovelace" not in client.get(reverse("referrals-queue")).content.decode()

    def test_anonymous_people_are_sent_to_sign_in(self, client, world, self_referral):
        response = client.get(self_referral.get_absolute_url())
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    def test_a_clinician_referral_is_unchanged(self, world):
        referral = make_referral(world.clinician, world.team, patient=patient_data())
        assert referral.source == Referral.Source.CLINICIAN and referral.reference is None
        assert referral.from_label == "Hyde Health Centre"


class ModelRuleTests:
    def test_the_database_refuses_a_self_referral_with_a_practice(self, world):
        from django.db import IntegrityError, transaction

        with pytest.raises(IntegrityError), transaction.atomic():
            Referral.objects.filter(pk=world.referral.pk).update(source=Referral.Source.SELF)

    def test_the_database_refuses_a_practice_record_without_an_nhs_number(self, world):
        from django.db import IntegrityError, transaction

        with pytest.raises(IntegrityError), transaction.atomic():
            Patient.objects.filter(pk=world.referral.patient_id).update(nhs_number="")


# --- In a browser -------------------------------------------------------------------------------
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
SCRIPTS = re.compile(r"/static/.*\.js$")
EXTERNAL = re.compile(r"^https?://(?!127\.0\.0\.1|localhost)")


def scan(page, what: str) -> None:
    """axe-core over the page as shown (it runs even with the site's own scripts blocked)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{what}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in bad
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
class BrowserJourneyTests:
    @pytest.mark.parametrize(
        ("viewport", "js"),
        [("phone", True), ("phone", False), ("desktop", True), ("desktop", False)],
        ids=["phone-js", "phone-nojs", "desktop-js", "desktop-nojs"],
    )
    def test_a_resident_refers_themselves(self, browser, live_server, world, viewport, js):
        from playwright.sync_api import expect

        context = browser.new_context(viewport=VIEWPORTS[viewport], base_url=live_server.url)
        context.route(EXTERNAL, lambda route: route.abort())
        if not js:
            context.route(SCRIPTS, lambda route: route.abort())
        page = context.new_page()
        page.goto(URL)
        scan(page, "refer yourself")
        with page.expect_navigation():
            page.get_by_role("button", name="Send my request").click()
        expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
        scan(page, "refer yourself with errors")
        page.get_by_role("link", name="Enter your first name.").click()
        expect(page.get_by_label("First name")).to_be_focused()
        page.get_by_label("First name").fill("Ada")
        page.get_by_label("Last name").fill("Lovelace")
        page.get_by_label("Day", exact=True).fill("10")
        page.get_by_label("Month", exact=True).fill("12")
        page.get_by_label("Year", exact=True).fill("1965")
        page.get_by_label("Your postcode").fill("SK14 1PW")
        page.get_by_label("Phone call").check()
        page.get_by_label("Phone number").fill("07700 900111")
        page.get_by_label("What would you like help with?").fill("Getting out more.")
        page.get_by_role("group", name="Can the team share").get_by_label("No").check()
        page.get_by_label("I agree that the health trainer team").check()
        page.get_by_role("button", name="Send my request").click()
        expect(page.get_by_role("heading", name="Your request has been sent")).to_be_visible()
        scan(page, "confirmation")
        referral = Referral.objects.get(source=Referral.Source.SELF)
        expect(page.get_by_text(referral.reference)).to_be_visible()
        assert referral.team == world.team
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        context.close()

    def test_the_team_finds_it_in_the_queue(self, browser, live_server, world):
        from playwright.sync_api import expect

        from tests.referrals.factories import PASSWORD

        send(public(), email="ada@example.org")
        context = browser.new_context(viewport=VIEWPORTS["phone"], base_url=live_server.url)
        context.route(SCRIPTS, lambda route: route.abort())
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill("trainer")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(reverse("referrals-queue"))
        expect(page.get_by_text("Self-referral")).to_be_visible()
        scan(page, "queue with a self-referral")
        page.get_by_role("link", name="Ada Lovelace").click()
        expect(page.get_by_role("heading", name="Referral for Ada Lovelace")).to_be_visible()
        scan(page, "self-referral page")
        context.close()
