"""The referrals API: moves with versions, conflicts, validation, follow-ups and events."""

import pytest
from django.urls import reverse
from django.utils import timezone

from referrals.models import FollowUp, Measure, Referral
from tests.referrals.factories import minutes_ago
from tests.referrals.test_idempotency import api_body


@pytest.fixture
def trainer_client(client, world):
    client.force_login(world.trainer)
    return client


def post(client, name, referral, body):
    return client.post(reverse(name, args=[referral.pk]), body, content_type="application/json")


class ApiMoveTests:
    def test_it_walks_a_referral_from_new_to_closed(self, trainer_client, world):
        r = world.referral
        assert (
            post(trainer_client, "api-referral-accept", r, {"version": 1}).json()["status"]
            == "accepted"
        )
        assert (
            post(trainer_client, "api-referral-contact", r, {"version": 2}).json()["status"]
            == "contacted"
        )
        assert (
            post(trainer_client, "api-referral-engage", r, {"version": 3}).json()["status"]
            == "engaged"
        )
        body = post(
            trainer_client, "api-referral-close", r, {"version": 4, "outcome": "goals_met"}
        ).json()
        assert (body["status"], body["version"], body["outcome"]) == ("closed", 5, "goals_met")
        events = trainer_client.get(reverse("api-referral-events", args=[r.pk])).json()
        assert [(e["from_status"], e["to_status"]) for e in events] == [
            ("", "new"),
            ("new", "accepted"),
            ("accepted", "contacted"),
            ("contacted", "engaged"),
            ("engaged", "closed"),
        ]
        assert events[1]["by"] == "trainer"

    def test_it_answers_a_stale_version_with_409_and_changes_nothing(self, trainer_client, world):
        post(trainer_client, "api-referral-accept", world.referral, {"version": 1})
        response = post(
            trainer_client, "api-referral-decline", world.referral, {"version": 1, "reason": "x"}
        )
        assert response.status_code == 409
        assert response.json()["code"] == "stale_version"
        assert "changed since you opened it" in response.json()["detail"]
        assert response.json()["version"] == 2
        world.referral.refresh_from_db()
        assert world.referral.status == "accepted" and world.referral.decline_reason == ""

    def test_it_answers_an_illegal_move_with_409(self, trainer_client, world):
        response = post(trainer_client, "api-referral-engage", world.referral, {"version": 1})
        assert response.status_code == 409
        assert response.json()["code"] == "illegal_move"
        assert "cannot be engaged" in response.json()["detail"]

    def test_it_needs_a_version(self, trainer_client, world):
        response = post(trainer_client, "api-referral-accept", world.referral, {})
        assert response.status_code == 400
        assert "version" in response.json()

    def test_it_needs_a_reason_to_decline_and_an_outcome_to_close(self, trainer_client, world):
        assert (
            post(trainer_client, "api-referral-decline", world.referral, {"version": 1}).status_code
            == 400
        )
        assert (
            post(
                trainer_client,
                "api-referral-close",
                world.referral,
                {"version": 1, "outcome": "bored"},
            ).status_code
            == 400
        )

    def test_it_lets_a_lead_assign_on_accept(self, client, world):
        client.force_login(world.lead)
        body = post(
            client,
            "api-referral-accept",
            world.referral,
            {"version": 1, "assign_to": world.trainer.pk},
        ).json()
        assert body["assigned_to"] == "trainer"

    def test_it_refuses_a_trainer_assigning_to_someone_else(self, trainer_client, world):
        response = post(
            trainer_client,
            "api-referral-accept",
            world.referral,
            {"version": 1, "assign_to": world.lead.pk},
        )
        assert response.status_code == 403


class ApiCreateValidationTests:
    @pytest.fixture
    def clinician_client(self, client, world):
        client.force_login(world.clinician)
        return client

    def create(self, client, body):
        return client.post(reverse("api-referrals"), body, content_type="application/json")

    def test_it_refuses_an_invalid_nhs_number(self, clinician_client, world):
        body = api_body(world)
        body["patient"]["nhs_number"] = "9434765918"
        response = self.create(clinician_client, body)
        assert response.status_code == 400
        assert "not a valid NHS number" in str(response.json()["patient"]["nhs_number"])

    def test_it_refuses_without_consent_to_contact(self, clinician_client, world):
        response = self.create(clinician_client, api_body(world, consent_to_contact=False))
        assert response.status_code == 400
        assert "consent_to_contact" in response.json()

    def test_it_refuses_without_needs_or_with_an_unknown_need(self, clinician_client, world):
        assert "needs" in self.create(clinician_client, api_body(world, needs=[])).json()
        assert "needs" in self.create(clinician_client, api_body(world, needs=["astrology"])).json()

    def test_it_refuses_a_malformed_postcode(self, clinician_client, world):
        body = api_body(world)
        body["patient"]["postcode"] = "NOT A CODE"
        assert "postcode" in self.create(clinician_client, body).json()["patient"]

    def test_it_refuses_an_email_preference_without_an_email(self, clinician_client, world):
        body = api_body(world)
        body["patient"]["email"] = ""
        assert self.create(clinician_client, body).status_code == 400

    def test_it_refuses_a_practice_that_is_not_yours(self, clinician_client, world):
        response = self.create(
            clinician_client, api_body(world, practice=world.other_practice.ods_code)
        )
        assert response.status_code == 400 and "practice" in response.json()
        assert Referral.objects.count() == 1


class ApiFollowUpTests:
    def test_it_logs_a_contact_with_measures(self, trainer_client, world):
        today = timezone.localdate().isoformat()
        body = {
            "at": minutes_ago(5),
            "method": "face_to_face",
            "reached": True,
            "duration_minutes": 40,
            "notes": "Met at the library.",
            "measures": [
                {"instrument": "swemwbs", "taken_on": today, "swemwbs_total": 21},
                {"instrument": "pam", "taken_on": today, "pam_level": 2, "pam_score": 51},
            ],
        }
        response = post(trainer_client, "api-referral-follow-ups", world.referral, body)
        assert response.status_code == 201, response.content
        assert len(response.json()["measures"]) == 2
        assert FollowUp.objects.get().by == world.trainer
        assert Measure.objects.filter(referral=world.referral).count() == 2
        listed = trainer_client.get(
            reverse("api-referral-follow-ups", args=[world.referral.pk])
        ).json()
        assert listed[0]["notes"] == "Met at the library."

    @pytest.mark.parametrize(
        "measure",
        [
            {"instrument": "swemwbs", "taken_on": "2026-01-05", "swemwbs_total": 36},
            {"instrument": "swemwbs", "taken_on": "2026-01-05", "swemwbs_total": 6},
            {"instrument": "pam", "taken_on": "2026-01-05", "pam_level": 5, "pam_score": 50},
            {"instrument": "pam", "taken_on": "2026-01-05", "pam_level": 2, "pam_score": 101},
            {
                "instrument": "ons4",
                "taken_on": "2026-01-05",
                "life_satisfaction": 11,
                "worthwhile": 5,
                "happiness": 5,
                "anxiety": 5,
            },
            {
                "instrument": "ons4",
                "taken_on": "2026-01-05",
                "life_satisfaction": 5,
                "worthwhile": 5,
                "happiness": 5,
            },
        ],
    )
    def test_it_refuses_a_measure_out_of_range(self, trainer_client, world, measure):
        body = {
            "at": minutes_ago(5),
            "method": "phone",
            "reached": True,
            "measures": [measure],
        }
        response = post(trainer_client, "api-referral-follow-ups", world.referral, body)
        assert response.status_code == 400
        assert FollowUp.objects.count() == 0

    def test_it_suggests_closing_after_three_unanswered_attempts(self, trainer_client, world):
        answers = [
            post(
                trainer_client,
                "api-referral-follow-ups",
                world.referral,
                {"at": minutes_ago(10 - day), "method": "phone", "reached": False},
            ).json()
            for day in (1, 2, 3)
        ]
        assert [a["suggest_closing_could_not_contact"] for a in answers] == [False, False, True]


class TeamSuggestApiTests:
    def test_it_lists_teams_covering_the_postcode_with_distance_and_load(
        self, trainer_client, world
    ):
        body = trainer_client.get(reverse("api-teams-suggest") + "?postcode=sk141aa").json()
        assert body["postcode"] == "SK14 1AA"
        assert body["teams"] == [
            {
                "id": world.team.pk,
                "name": "Hyde health trainers",
                "distance_m": body["teams"][0]["distance_m"],
                "open_cases": 1,
                "capacity": 40,
            }
        ]
        assert 0 < body["teams"][0]["distance_m"] < 1000

    def test_it_refuses_a_malformed_postcode_with_400(self, trainer_client, world):
        response = trainer_client.get(reverse("api-teams-suggest") + "?postcode=banana")
        assert response.status_code == 400
        assert "postcode" in response.json()

    def test_it_answers_404_for_an_unknown_postcode(self, trainer_client, world):
        assert (
            trainer_client.get(reverse("api-teams-suggest") + "?postcode=BT1+1AA").status_code
            == 404
        )


class ApiSchemaTests:
    def test_it_documents_every_referral_endpoint(self, client, db):
        schema = client.get(reverse("api-schema") + "?format=json").json()
        for path in [
            "/api/auth/token/",
            "/api/referrals/",
            "/api/referrals/{id}/",
            "/api/referrals/{id}/accept/",
            "/api/referrals/{id}/decline/",
            "/api/referrals/{id}/contact/",
            "/api/referrals/{id}/engage/",
            "/api/referrals/{id}/close/",
            "/api/referrals/{id}/follow-ups/",
            "/api/referrals/{id}/events/",
            "/api/teams/suggest/",
        ]:
            assert path in schema["paths"], path
        assert "409" in schema["paths"]["/api/referrals/{id}/accept/"]["post"]["responses"]
