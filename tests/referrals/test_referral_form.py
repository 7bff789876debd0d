"""The clinician's referral form on the design system (issue 9, section 5) and the rules it
shares with the API (section 7): date of birth as three boxes with NHS.UK's messages, the
contact-method rule from one place, services near the postcode for the needs, one referral per
form, and a confirmation that says what happens next and when."""

import re
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from directory.models import Service
from referrals import models
from referrals.models import Referral
from tests.referrals.factories import make_service
from tests.referrals.test_idempotency import api_body, form_data

NEW = "referrals-new"


@pytest.fixture
def clinician(client, world):
    client.force_login(world.clinician)
    return client


def errors_of(response) -> list[str]:
    """The error summary's messages, in order."""
    form = response.context["form"]
    return [message for _anchor, message in form.error_links()]


def summary_links(html: str) -> list[str]:
    return re.findall(r'<li><a href="#([^"]+)">', html)


class DateOfBirthTests:
    def test_it_is_three_boxes(self, clinician):
        html = clinician.get(reverse(NEW)).content.decode()
        for part in ("day", "month", "year"):
            assert f'name="date_of_birth_{part}"' in html, part
        assert 'type="date"' not in html
        assert "<legend" in html and ">Date of birth</legend>" in html

    @pytest.mark.parametrize(
        ("boxes", "message"),
        [
            (("", "", ""), "Enter the patient's date of birth"),
            (("10", "", "1965"), "The patient's date of birth must include a month"),
            (("31", "2", "1965"), "The patient's date of birth must be a real date"),
            (
                ("ten", "12", "1965"),
                "The patient's date of birth must be a real date, in numbers, like 27 3 2024",
            ),
            (("10", "12", "2999"), "Date of birth must be in the past."),
            (("10", "12", "1850"), "Enter a date of birth after 1 January 1900."),
        ],
        ids=["missing", "no-month", "not-real", "not-numbers", "future", "too-early"],
    )
    def test_it_explains_each_mistake(self, clinician, world, boxes, message):
        day, month, year = boxes
        data = form_data(world)
        data.update(date_of_birth_day=day, date_of_birth_month=month, date_of_birth_year=year)
        response = clinician.post(reverse(NEW), data)
        html = response.content.decode()
        assert response.status_code == 200
        assert errors_of(response) == [message]
        assert "id_date_of_birth_day" in summary_links(html)
        assert "This field is required" not in html
        assert Referral.objects.count() == 1  # the world's own

    def test_a_future_date_is_refused_the_same_by_the_api(self, clinician, world):
        body = api_body(world)
        body["patient"]["date_of_birth"] = (timezone.localdate() + timedelta(days=1)).isoformat()
        response = clinician.post(reverse("api-referrals"), body, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["patient"]["date_of_birth"] == ["Date of birth must be in the past."]


class MessagesTests:
    def test_an_empty_form_names_every_field_it_needs(self, clinician, world):
        response = clinician.post(reverse(NEW), {"form_token": "t", "practice": world.practice.pk})
        html = response.content.decode()
        messages = errors_of(response)
        for expected in (
            "Enter the patient's NHS number",
            "Enter the patient's first name",
            "Enter the patient's last name",
            "Enter the patient's date of birth",
            "Enter the patient's postcode",
            "Select how they would like to be contacted",
            "Select at least one thing they would like help with",
            "Select how soon they need support",
            "Confirm the person agreed to this referral and to being contacted",
            "Select whether their details may be shared with community services",
            "Select a team",
        ):
            assert expected in messages, expected
        assert "This field is required" not in html
        assert "<title>Error: New referral" in html

    def test_no_radio_is_chosen_before_the_person_chooses(self, clinician):
        html = clinician.get(reverse(NEW)).content.decode()
        assert "Select an option" not in html
        assert not re.search(r'type="radio"[^>]*checked', html)

    def test_the_interpreter_is_its_own_question(self, clinician, world):
        html = clinician.get(reverse(NEW)).content.decode()
        assert ">Do they need an interpreter?</legend>" in html
        assert 'name="interpreter_needed" value="yes"' in html
        clinician.post(reverse(NEW), form_data(world, interpreter_needed="yes"))
        assert Referral.objects.get(patient__nhs_number="9434765919").patient.interpreter_needed

    def test_one_primary_action_and_find_as_a_secondary_button(self, clinician):
        html = clinician.get(reverse(NEW)).content.decode()
        assert re.findall(r'class="button">([^<]+)</button>', html) == ["Send referral"]
        assert (
            'class="button button--secondary">Find teams and services for this postcode</button>'
            in html
        )


class ContactMethodTests:
    """One rule (``models.validate_contact_method``), one wording, for the form and the API."""

    @pytest.mark.parametrize(
        ("method", "blank", "message"),
        [
            ("phone", "phone", models.CONTACT_NEEDS_PHONE),
            ("text", "phone", models.CONTACT_NEEDS_PHONE),
            ("email", "email", models.CONTACT_NEEDS_EMAIL),
        ],
    )
    def test_the_form_and_the_api_refuse_it_with_the_same_words(
        self, clinician, world, method, blank, message
    ):
        page = clinician.post(
            reverse(NEW), form_data(world, preferred_contact=method, **{blank: ""})
        )
        assert page.context["form"].errors[blank] == [message]
        body = api_body(world)
        body["patient"].update(preferred_contact=method, **{blank: ""})
        api = clinician.post(reverse("api-referrals"), body, content_type="application/json")
        assert api.status_code == 400
        assert api.json()["patient"][blank] == [message]
        assert not Referral.objects.filter(patient__nhs_number="9434765919").exists()

    def test_a_letter_needs_neither(self, clinician, world):
        response = clinician.post(
            reverse(NEW), form_data(world, preferred_contact="letter", phone="", email="")
        )
        assert response.status_code == 302

    def test_the_model_keeps_the_rule_for_every_other_way_in(self, world):
        from django.core.exceptions import ValidationError

        patient = world.referral.patient
        patient.preferred_contact = "email"
        patient.email = ""
        with pytest.raises(ValidationError) as refused:
            patient.full_clean(validate_unique=False, validate_constraints=False)
        assert refused.value.message_dict["email"] == [models.CONTACT_NEEDS_EMAIL]


class NearbyServicesTests:
    @pytest.fixture
    def places(self, world):
        near = make_service(
            "Hyde walking group",
            lat=53.4512,
            lng=-2.0700,
            kind=Service.Kind.COMMUNITY_ASSET,
            needs=["loneliness"],
        )
        nearer = make_service(
            "Hyde lunch club",
            lat=53.4501,
            lng=-2.0697,
            kind=Service.Kind.COMMUNITY_ASSET,
            needs=["loneliness"],
        )
        other_need = make_service(
            "Hyde debt advice",
            lat=53.4500,
            lng=-2.0696,
            kind=Service.Kind.COMMUNITY_ASSET,
            needs=["money-debt"],
        )
        far = make_service(
            "London lunch club",
            lat=51.5246,
            lng=-0.1100,
            kind=Service.Kind.COMMUNITY_ASSET,
            needs=["loneliness"],
        )
        return {"near": near, "nearer": nearer, "other_need": other_need, "far": far}

    def find(self, client, world, **overrides):
        data = form_data(world, **{"find_teams": "1", "needs": ["loneliness"], **overrides})
        return client.post(reverse(NEW), data)

    def test_it_lists_services_near_the_postcode_for_the_needs_nearest_first(
        self, clinician, world, places
    ):
        response = self.find(clinician, world)
        field = response.context["form"].fields["services_in_mind"]
        names = [label.split(",")[0] for _pk, label in field.choices]
        assert names == ["Hyde lunch club", "Hyde walking group"]
        html = response.content.decode()
        assert re.search(r"Hyde lunch club, [^<,]*miles[^<,]* away", html), re.findall(
            r"Hyde lunch club[^<]*", html
        )
        assert 'type="checkbox" name="services_in_mind"' in html
        assert "London lunch club" not in html and "Hyde debt advice" not in html
        # Never the health-trainer teams' own listings, never a multi-select of everything.
        assert (
            "Hyde health trainers," not in html
            and "<select" not in html.split("services_in")[1][:200]
        )

    def test_a_different_need_lists_its_own_services(self, clinician, world, places):
        response = self.find(clinician, world, needs=["money-debt"])
        field = response.context["form"].fields["services_in_mind"]
        assert [pk for pk, _label in field.choices] == [places["other_need"].pk]

    def test_without_a_postcode_it_asks_for_one_instead_of_listing_everything(
        self, clinician, places
    ):
        response = clinician.get(reverse(NEW))
        html = response.content.decode()
        assert "Enter the postcode to see services near them." in html
        assert response.context["form"].fields["services_in_mind"].choices == []
        assert "Hyde lunch club" not in html

    def test_a_postcode_it_cannot_find_is_said_not_a_500(self, clinician, world, places):
        response = self.find(clinician, world, postcode="M1 1AA")
        assert response.status_code == 200
        assert "We could not find this postcode" in response.content.decode()
        response = self.find(clinician, world, postcode="nonsense")
        assert response.status_code == 200

    def test_a_chosen_service_is_kept_and_sent(self, clinician, world, places):
        chosen = str(places["near"].pk)
        response = self.find(clinician, world, services_in_mind=[chosen])
        html = response.content.decode()
        assert re.search(rf'value="{chosen}"[^>]*checked', html)
        clinician.post(
            reverse(NEW), form_data(world, needs=["loneliness"], services_in_mind=[chosen])
        )
        referral = Referral.objects.get(patient__nhs_number="9434765919")
        assert list(referral.services_in_mind.all()) == [places["near"]]


class KeptTests:
    def test_everything_typed_is_kept_across_errors(self, clinician, world):
        data = form_data(world, interpreter_needed="yes", accessibility_needs="Large print")
        del data["consent_to_share"]
        response = clinician.post(reverse(NEW), data)
        html = response.content.decode()
        assert errors_of(response) == [
            "Select whether their details may be shared with community services"
        ]
        for kept in (
            'name="date_of_birth_day" value="10"',
            'name="date_of_birth_month" value="12"',
            'name="date_of_birth_year" value="1965"',
            'name="nhs_number" value="943 476 5919"',
            'name="form_token" value="token-123"',
        ):
            assert kept in html, kept
        assert re.search(r'name="interpreter_needed" value="yes"[^>]*checked', html)
        assert re.search(r'name="needs" value="loneliness"[^>]*checked', html)
        assert re.search(r'name="consent_to_contact"[^>]*checked', html)
        assert "Large print</textarea>" in html

    def test_a_duplicate_submit_makes_one_referral(self, clinician, world):
        clinician.post(reverse(NEW), form_data(world))
        clinician.post(reverse(NEW), form_data(world))
        assert Referral.objects.filter(patient__nhs_number="9434765919").count() == 1


class ConfirmationTests:
    @override_settings(
        REFERRAL_CHASE_AFTER_DAYS=5,
        REFERRAL_DECLINE_AFTER_DAYS=10,
        SELF_REFERRAL_CONTACT_WORKING_DAYS=3,
    )
    def test_it_says_what_happens_next_and_when(self, clinician, world):
        response = clinician.post(reverse(NEW), form_data(world), follow=True)
        referral = Referral.objects.get(patient__nhs_number="9434765919")
        assert response.redirect_chain == [(reverse("referrals-sent", args=[referral.pk]), 302)]
        html = response.content.decode()
        made = timezone.localdate(referral.created_at)
        accept_by = made + timedelta(days=5)
        assert '<div class="panel panel--confirmation">' in html
        assert "Ada Lovelace has been referred to Hyde health trainers." in html
        assert (
            f"Hyde health trainers will accept or decline the referral by "
            f"{accept_by:%A %-d %B %Y} (within 5 days)" in html
        )
        assert "declined automatically" in html and f"{made + timedelta(days=10):%-d %B %Y}" in html
        assert "they will contact Ada by phone within 3 working days" in html
        assert "You will get a message at each step" in html
        assert "The email has no patient details in it" in html  # the clinician has an address
        assert f'href="{referral.get_absolute_url()}"' in html
        assert f'href="{reverse(NEW)}">Make another referral</a>' in html

    def test_it_is_only_for_those_who_may_see_the_referral(self, client, world):
        url = reverse("referrals-sent", args=[world.referral.pk])
        client.force_login(world.other_clinician)
        assert client.get(url).status_code == 404
        client.force_login(world.trainer)
        assert client.get(url).status_code == 200
