"""Creating twice by accident makes one referral: form token and API Idempotency-Key."""

from datetime import date

from django.urls import reverse

from referrals.models import Patient, Referral
from tests.referrals.factories import nhs_number


def date_boxes(born) -> dict:
    """A date of birth as the form's three boxes, from a date or "dd/mm/yyyy"."""
    day, month, year = (
        (born.day, born.month, born.year) if isinstance(born, date) else born.split("/")
    )
    return {
        "date_of_birth_day": str(day),
        "date_of_birth_month": str(month),
        "date_of_birth_year": str(year),
    }


def form_data(world, **overrides):
    """The referral form filled in, as a browser sends it (``date_of_birth`` may be given as a
    date or "dd/mm/yyyy": it is sent as the three boxes)."""
    born = overrides.pop("date_of_birth", "10/12/1965")
    data = {
        "form_token": "token-123",
        "practice": world.practice.pk,
        "nhs_number": "943 476 5919",
        "given_name": "Ada",
        "family_name": "Lovelace",
        **date_boxes(born),
        "postcode": "sk14 1pw",
        "phone": "07700 900111",
        "email": "",
        "preferred_contact": "phone",
        "preferred_language": "English",
        "needs": ["loneliness", "physical-activity"],
        "what_matters": "Getting out more",
        "urgency": "routine",
        "consent_to_contact": "on",
        "consent_to_share": "yes",
        "team": world.team.pk,
    }
    data.update(overrides)
    return data


def api_body(world, **overrides):
    body = {
        "patient": {
            "nhs_number": "9434765919",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "date_of_birth": "1965-12-10",
            "postcode": "SK14 1PW",
            "phone": "07700 900111",
            "email": "ada@example.org",
            "preferred_contact": "email",
        },
        "needs": ["loneliness"],
        "what_matters": "Company",
        "urgency": "soon",
        "consent_to_contact": True,
        "consent_to_share": True,
        "team": world.team.pk,
    }
    body.update(overrides)
    return body


class FormDoubleSubmitTests:
    def test_it_makes_one_referral_from_two_identical_submits(self, client, world):
        client.force_login(world.clinician)
        first = client.post(reverse("referrals-new"), form_data(world))
        second = client.post(reverse("referrals-new"), form_data(world), follow=True)
        referral = Referral.objects.get(patient__nhs_number="9434765919")
        assert first.status_code == 302
        sent = reverse("referrals-sent", args=[referral.pk])
        # Both submits answer with the confirmation (the browser shows the second's answer).
        assert first["Location"] == sent
        assert second.redirect_chain[0][0] == sent
        assert "already sent" in second.content.decode()
        assert Referral.objects.filter(patient__nhs_number="9434765919").count() == 1

    def test_it_makes_two_referrals_from_two_separate_forms(self, client, world):
        client.force_login(world.clinician)
        client.post(reverse("referrals-new"), form_data(world, form_token="a"))
        client.post(reverse("referrals-new"), form_data(world, form_token="b"))
        assert Referral.objects.filter(patient__nhs_number="9434765919").count() == 2
        # One patient per NHS number: the second referral found the first patient.
        assert Patient.objects.filter(nhs_number="9434765919").count() == 1

    def test_it_gives_each_new_form_its_own_token(self, client, world):
        client.force_login(world.clinician)
        one = client.get(reverse("referrals-new")).context["form"]["form_token"].value()
        two = client.get(reverse("referrals-new")).context["form"]["form_token"].value()
        assert one and two and one != two


class ApiIdempotencyKeyTests:
    def test_it_answers_a_retry_with_the_first_referral(self, client, world):
        client.force_login(world.clinician)
        url = reverse("api-referrals")
        first = client.post(
            url, api_body(world), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
        )
        second = client.post(
            url, api_body(world), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
        )
        assert first.status_code == 201
        assert second.status_code == 200
        assert second["Idempotent-Replayed"] == "true"
        assert first.json()["id"] == second.json()["id"]
        assert Referral.objects.filter(patient__nhs_number="9434765919").count() == 1

    def test_it_makes_two_without_a_key(self, client, world):
        client.force_login(world.clinician)
        url = reverse("api-referrals")
        client.post(url, api_body(world), content_type="application/json")
        client.post(url, api_body(world), content_type="application/json")
        assert Referral.objects.filter(patient__nhs_number="9434765919").count() == 2

    def test_it_keeps_keys_apart_between_referrers(self, client, world):
        url = reverse("api-referrals")
        client.force_login(world.clinician)
        client.post(
            url, api_body(world), content_type="application/json", HTTP_IDEMPOTENCY_KEY="same"
        )
        client.force_login(world.other_clinician)
        response = client.post(
            url, api_body(world), content_type="application/json", HTTP_IDEMPOTENCY_KEY="same"
        )
        assert response.status_code == 201
        assert Referral.objects.filter(patient__nhs_number="9434765919").count() == 2

    def test_it_answers_201_with_id_status_and_version(self, client, world):
        client.force_login(world.clinician)
        response = client.post(
            reverse("api-referrals"), api_body(world), content_type="application/json"
        )
        body = response.json()
        assert response.status_code == 201
        assert body["status"] == "new" and body["version"] == 1
        referral = Referral.objects.get(pk=body["id"])
        assert referral.snomed_code == "871731000000106"
        assert referral.patient.preferred_contact == "email"
        assert [n.code for n in referral.needs.all()] == ["loneliness"]
        # The create answer carries no patient details (those are read, and logged, by detail).
        assert "patient" not in body

    def test_it_does_not_need_the_key_to_be_unique_per_patient(self, client, world):
        client.force_login(world.clinician)
        url = reverse("api-referrals")
        body = api_body(world)
        body["patient"]["nhs_number"] = nhs_number()
        a = client.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="x1")
        b = client.post(
            url, api_body(world), content_type="application/json", HTTP_IDEMPOTENCY_KEY="x2"
        )
        assert (a.status_code, b.status_code) == (201, 201)
