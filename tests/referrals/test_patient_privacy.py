"""A patient's record is seen only by those with a referral for them (issue 8, part 1).

Two practices, one NHS number. The Hyde practice (``world.practice``) has referred Ada; a
clinician at another practice (``world.other_clinician``) types the same NHS number with the
right or the wrong date of birth, by API and by form. What they get back must be exactly what
they would get for an NHS number nobody knows, and Hyde's record must not change.
"""

import difflib
import re
from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from referrals.models import AccessLog, Patient, Referral, SecurityEvent
from tests.referrals.factories import make_referral, nhs_number, patient_data
from tests.referrals.test_idempotency import api_body, form_data

HYDE_DOB = date(1960, 5, 17)
WRONG_DOB = date(1971, 2, 3)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CLOCK = re.compile(r"\b\d{2}:\d{2}\b")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")


@pytest.fixture
def known(world):
    """Hyde's referral for Ada: the details an outsider must never get back."""
    referral = make_referral(
        world.clinician,
        world.team,
        patient=patient_data(
            nhs_number=nhs_number(4242),
            given_name="Ada",
            family_name="Hydeperson",
            date_of_birth=HYDE_DOB,
            phone="07700 900001",
            email="ada.hyde@example.org",
            accessibility_needs="Uses a wheelchair",
            preferred_contact="email",
        ),
    )
    return referral


def outsider_body(world, number: str, born: date) -> dict:
    """What the other practice's clinician types: their own name and contact details."""
    return api_body(
        world,
        team=world.team.pk,
        patient={
            "nhs_number": number,
            "given_name": "Typed",
            "family_name": "Byoutsider",
            "date_of_birth": born.isoformat(),
            "postcode": "SK14 1PW",
            "phone": "07700 900999",
            "email": "typed@example.org",
            "preferred_contact": "phone",
            "accessibility_needs": "",
        },
    )


def refer(client, world, number: str, born: date, *, team=None):
    body = outsider_body(world, number, born)
    if team is not None:
        body["team"] = team.pk
    return client.post(reverse("api-referrals"), body, content_type="application/json")


def normalised(content: bytes) -> str:
    """Ids and clock times differ between any two referrals; nothing else may."""
    text = content.decode()
    text = UUID.sub("<uuid>", text)
    text = TIMESTAMP.sub("<time>", text)
    # The page shows when it was referred to the minute (two referrals can straddle one).
    return CLOCK.sub("<hh:mm>", text)


def snapshot(patient: Patient) -> dict:
    patient.refresh_from_db()
    return {f.attname: getattr(patient, f.attname) for f in Patient._meta.concrete_fields}


class ApiCreateAnswersTheSameTests:
    @pytest.mark.parametrize("born", [HYDE_DOB, WRONG_DOB], ids=["right-dob", "wrong-dob"])
    def test_it_answers_a_known_number_exactly_as_an_unknown_one(self, client, world, known, born):
        before = snapshot(known.patient)
        client.force_login(world.other_clinician)
        unknown = refer(client, world, nhs_number(7777), born)
        existing = refer(client, world, known.patient.nhs_number, born)
        assert (unknown.status_code, existing.status_code) == (201, 201)
        assert normalised(existing.content) == normalised(unknown.content)
        assert existing.json()["patient_name"] == "Typed Byoutsider"
        # Hyde's record is untouched, and Ada's details are nowhere in what came back.
        assert snapshot(known.patient) == before
        for secret in ("Hydeperson", "ada.hyde@example.org", "900001", "wheelchair"):
            assert secret not in existing.content.decode()

    @pytest.mark.parametrize("born", [HYDE_DOB, WRONG_DOB], ids=["right-dob", "wrong-dob"])
    def test_it_shows_the_outsider_only_what_they_typed(self, client, world, known, born):
        client.force_login(world.other_clinician)
        created = refer(client, world, known.patient.nhs_number, born).json()
        detail = client.get(reverse("api-referral", args=[created["id"]]))
        patient = detail.json()["patient"]
        assert (patient["family_name"], patient["phone"], patient["email"]) == (
            "Byoutsider",
            "07700 900999",
            "typed@example.org",
        )
        assert detail.json()["same_person"] == []
        # The outsider viewed their own record, never Hyde's.
        assert not AccessLog.objects.filter(user=world.other_clinician, patient=known.patient)
        assert AccessLog.objects.filter(user=world.other_clinician).count() == 1

    def test_it_logs_a_wrong_date_of_birth_as_a_security_event(self, client, world, known):
        client.force_login(world.other_clinician)
        refer(client, world, known.patient.nhs_number, WRONG_DOB)
        event = SecurityEvent.objects.get()
        assert event.kind == SecurityEvent.Kind.NHS_NUMBER_DOB_MISMATCH
        assert event.user == world.other_clinician
        assert event.ip_address == "127.0.0.1"
        # No patient identity in the log.
        assert known.patient.nhs_number not in event.detail

    def test_it_logs_nothing_for_a_right_date_of_birth_or_a_new_number(self, client, world, known):
        client.force_login(world.other_clinician)
        for number in (known.patient.nhs_number, nhs_number(8888)):
            refer(client, world, number, HYDE_DOB)
        assert not SecurityEvent.objects.exists()

    def test_it_refuses_and_logs_a_mismatch_within_the_practice(self, client, world, known):
        client.force_login(world.clinician)
        response = refer(client, world, known.patient.nhs_number, WRONG_DOB)
        assert response.status_code == 400
        assert (
            "Your practice has already referred this NHS number"
            in (response.json()["date_of_birth"][0])
        )
        assert SecurityEvent.objects.filter(user=world.clinician).count() == 1
        assert Referral.objects.filter(patient=known.patient).count() == 1


class FormCreateAnswersTheSameTests:
    @pytest.mark.parametrize("born", ["17/05/1960", "03/02/1971"], ids=["right-dob", "wrong-dob"])
    def test_it_shows_the_form_user_only_what_they_typed(self, client, world, known, born):
        before = snapshot(known.patient)
        client.force_login(world.other_clinician)
        pages = []
        for token, number in (("t1", nhs_number(6666)), ("t2", known.patient.nhs_number)):
            data = form_data(
                world,
                form_token=token,
                practice=world.other_practice.pk,
                nhs_number=number,
                family_name="Byoutsider",
                date_of_birth=born,
            )
            response = client.post(reverse("referrals-new"), data)
            assert response.status_code == 302
            page = client.get(response["Location"])
            text = page.content.decode()
            text = text.replace(
                Patient.objects.get(
                    nhs_number=number, practice=world.other_practice
                ).nhs_number_display,
                "<nhs>",
            )
            text = re.sub(r'nonce="[^"]+"', "", text)
            text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
            pages.append(normalised(text.encode()))
        diff = list(difflib.unified_diff(pages[0].splitlines(), pages[1].splitlines(), n=0))
        assert pages[0] == pages[1], "\n".join(diff[:20])
        assert "Hydeperson" not in pages[1] and "ada.hyde@example.org" not in pages[1]
        assert snapshot(known.patient) == before
        assert not AccessLog.objects.filter(user=world.other_clinician, patient=known.patient)


class ReceivingTeamSeesOnePersonTests:
    def test_it_tells_the_team_that_two_practices_referred_the_same_person(
        self, client, world, known
    ):
        client.force_login(world.other_clinician)
        theirs = refer(client, world, known.patient.nhs_number, HYDE_DOB).json()
        client.force_login(world.trainer)
        same = client.get(reverse("api-referral", args=[known.pk])).json()["same_person"]
        assert [(row["id"], row["practice"], row["match"]) for row in same] == [
            (theirs["id"], world.other_practice.ods_code, "same")
        ]
        page = client.get(reverse("referrals-detail", args=[known.pk])).content.decode()
        assert "Other referrals for this person" in page and theirs["id"][:8] in page

    def test_it_asks_the_team_to_check_when_the_dates_of_birth_differ(self, client, world, known):
        client.force_login(world.other_clinician)
        theirs = refer(client, world, known.patient.nhs_number, WRONG_DOB).json()
        client.force_login(world.trainer)
        same = client.get(reverse("api-referral", args=[theirs["id"]])).json()["same_person"]
        assert [(row["id"], row["match"]) for row in same] == [(str(known.pk), "check")]

    def test_it_never_shows_a_referrer_the_other_practice_referral(self, client, world, known):
        client.force_login(world.other_clinician)
        refer(client, world, known.patient.nhs_number, HYDE_DOB)
        client.force_login(world.clinician)
        assert client.get(reverse("api-referral", args=[known.pk])).json()["same_person"] == []
        page = client.get(reverse("referrals-detail", args=[known.pk])).content.decode()
        assert "Other referrals for this person" not in page

    def test_it_hides_a_referral_to_another_team(self, client, world, known):
        client.force_login(world.other_clinician)
        refer(client, world, known.patient.nhs_number, HYDE_DOB, team=world.other_team)
        client.force_login(world.trainer)
        assert client.get(reverse("api-referral", args=[known.pk])).json()["same_person"] == []


class SamePracticeUpdatesItsOwnRecordTests:
    def test_it_keeps_one_record_per_practice_and_updates_only_its_own(self, client, world, known):
        client.force_login(world.clinician)
        assert refer(client, world, known.patient.nhs_number, HYDE_DOB).status_code == 201
        known.patient.refresh_from_db()
        # The practice's own newest contact details replace its older ones; the name it first
        # recorded stays (a new referral is not a change of name).
        assert (known.patient.phone, known.patient.family_name) == ("07700 900999", "Hydeperson")
        assert Patient.objects.filter(nhs_number=known.patient.nhs_number).count() == 1


class ReferralRateLimitTests:
    def test_it_refuses_too_many_referrals_a_minute_with_retry_after(self, client, world, settings):
        settings.REFERRALS_PER_MINUTE = 3
        client.force_login(world.clinician)
        answers = [refer(client, world, nhs_number(9100 + i), HYDE_DOB) for i in range(5)]
        assert [a.status_code for a in answers] == [201, 201, 201, 429, 429]
        assert 1 <= int(answers[3]["Retry-After"]) <= 60
        assert "referrals in a short time" in answers[3].json()["detail"]
        assert Referral.objects.filter(referred_by=world.clinician).count() == 1 + 3
        # Logged once per window, not once per refused request.
        assert SecurityEvent.objects.filter(kind="rate_limited").count() == 1

    def test_it_counts_each_clinician_separately(self, client, world, settings):
        settings.REFERRALS_PER_MINUTE = 1
        for user in (world.clinician, world.other_clinician):
            client.force_login(user)
            response = refer(client, world, nhs_number(), HYDE_DOB)
            assert response.status_code == 201

    def test_it_limits_the_form_too(self, client, world, settings):
        settings.REFERRALS_PER_MINUTE = 1
        client.force_login(world.clinician)
        ok = client.post(reverse("referrals-new"), form_data(world, form_token="a"))
        refused = client.post(
            reverse("referrals-new"), form_data(world, form_token="b", nhs_number=nhs_number())
        )
        assert ok.status_code == 302
        assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1


class PatientPagesAreNotCachedTests:
    def test_it_sends_no_store_on_patient_pages_and_api(self, client, world):
        client.force_login(world.trainer)
        for url in (
            reverse("referrals-detail", args=[world.referral.pk]),
            reverse("referrals-list"),
            reverse("referrals-queue"),
            reverse("api-referral", args=[world.referral.pk]),
            reverse("api-referrals"),
        ):
            response = client.get(url)
            assert response.status_code == 200, url
            assert "no-store" in response["Cache-Control"], url


@pytest.mark.django_db(transaction=True)
class SplitSharedPatientsMigrationTests:
    def test_it_gives_each_referring_practice_its_own_copy(self):
        executor = MigrationExecutor(connection)
        before = [("referrals", "0003_accesslog_append_only")]
        after = [("referrals", "0006_patient_practice_required")]
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        User = old.get_model("auth", "User")
        Practice = old.get_model("referrals", "Practice")
        Patient_ = old.get_model("referrals", "Patient")
        Referral_ = old.get_model("referrals", "Referral")
        Team_ = old.get_model("referrals", "Team")
        Org = old.get_model("directory", "Organization")
        Service = old.get_model("directory", "Service")
        try:
            user = User.objects.create(username="migrating-clinician")
            hyde = Practice.objects.create(name="Hyde", ods_code="P89001")
            barts = Practice.objects.create(name="Barts", ods_code="F83001")
            service = Service.objects.create(
                organization=Org.objects.create(name="Org"),
                name="Trainers",
                kind="health_trainer_service",
            )
            team = Team_.objects.create(name="Trainers", service=service)
            shared = Patient_.objects.create(
                nhs_number="9434765919",
                given_name="Ada",
                family_name="Shared",
                date_of_birth=date(1960, 5, 17),
                phone="07700 900001",
            )
            Patient_.objects.create(
                nhs_number="9434765870",
                given_name="No",
                family_name="Referral",
                date_of_birth=date(1970, 1, 1),
            )
            common = {
                "referred_by": user,
                "team": team,
                "consent_to_contact": True,
                "consent_to_share": True,
            }
            first = Referral_.objects.create(patient=shared, practice=hyde, **common)
            second = Referral_.objects.create(patient=shared, practice=barts, **common)
            executor = MigrationExecutor(connection)
            executor.migrate(after)
            new = executor.loader.project_state(after).apps
            Patient_ = new.get_model("referrals", "Patient")
            Referral_ = new.get_model("referrals", "Referral")
            first = Referral_.objects.get(pk=first.pk)
            second = Referral_.objects.get(pk=second.pk)
            assert first.patient_id == shared.pk and first.patient.practice_id == hyde.pk
            assert second.patient_id != shared.pk and second.patient.practice_id == barts.pk
            assert (second.patient.family_name, second.patient.phone) == ("Shared", "07700 900001")
            # A patient no referral reaches is removed (least data).
            assert list(Patient_.objects.values_list("nhs_number", flat=True).distinct()) == [
                "9434765919"
            ]
        finally:
            MigrationExecutor(connection).migrate(
                MigrationExecutor(connection).loader.graph.leaf_nodes()
            )


class SecurityEventAdminTests:
    def test_it_shows_security_events_read_only_to_the_superuser(self, client, world, known):
        client.force_login(world.other_clinician)
        refer(client, world, known.patient.nhs_number, WRONG_DOB)
        event = SecurityEvent.objects.get()
        client.force_login(world.admin)
        listing = client.get(reverse("admin:referrals_securityevent_changelist"))
        assert listing.status_code == 200
        assert "other_clinician" in listing.content.decode()
        change = client.post(
            reverse("admin:referrals_securityevent_change", args=[event.pk]), {"detail": "edited"}
        )
        assert change.status_code == 403
        event.refresh_from_db()
        assert event.detail != "edited"

    def test_it_hides_security_events_from_a_directory_editor(self, client, world):
        client.force_login(world.editor)
        response = client.get(reverse("admin:referrals_securityevent_changelist"))
        assert response.status_code in (302, 403)
