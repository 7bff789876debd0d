"""The referral list as a clinician uses it: search by name or NHS number, filters, and rows
that say who, the status and how long in it, and the next step (issue 9, section 5). Also the
team queue and the caseload, which share the rows."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from referrals.models import (
    NextStep,
    PracticeMembership,
    Referral,
    TeamMembership,
    working_days_after,
)
from tests.referrals.factories import make_practice, make_referral, nhs_number, patient_data

LIST = "referrals-list"


def listed(client, **query) -> set:
    response = client.get(reverse(LIST), query)
    assert response.status_code == 200
    return {referral.pk for referral in response.context["page"].object_list}


@pytest.fixture
def people(world):
    """Three more of the Hyde practice's referrals, and one of Barts' with the same name."""
    ada = world.referral  # Ada Example
    grace = make_referral(
        world.clinician,
        world.team,
        patient=patient_data(nhs_number="9434765919", given_name="Grace", family_name="Hopper"),
        needs=("money-debt",),
    )
    lovelace = make_referral(
        world.clinician,
        world.team,
        patient=patient_data(given_name="Ada", family_name="Lovelace"),
    )
    elsewhere = make_referral(
        world.other_clinician,
        world.other_team,
        patient=patient_data(nhs_number=nhs_number(4242), given_name="Ada", family_name="Lovelace"),
    )
    return {"ada": ada, "grace": grace, "lovelace": lovelace, "elsewhere": elsewhere}


class SearchTests:
    def test_it_finds_by_part_of_a_name_in_any_case(self, client, world, people):
        client.force_login(world.clinician)
        assert listed(client, q="love") == {people["lovelace"].pk}
        assert listed(client, q="GRA") == {people["grace"].pk}
        assert listed(client, q="ada") == {people["ada"].pk, people["lovelace"].pk}

    def test_it_finds_by_a_full_name_matching_both_parts(self, client, world, people):
        client.force_login(world.clinician)
        assert listed(client, q="Ada Lovelace") == {people["lovelace"].pk}
        assert listed(client, q="  ada   lovelace ") == {people["lovelace"].pk}
        assert listed(client, q="Ada Hopper") == set()

    def test_it_finds_by_nhs_number_with_or_without_spaces(self, client, world, people):
        client.force_login(world.clinician)
        assert listed(client, q="943 476 5919") == {people["grace"].pk}
        assert listed(client, q="9434765919") == {people["grace"].pk}
        assert listed(client, q="943-476-5919") == {people["grace"].pk}
        assert listed(client, q="1234567890") == set()

    def test_it_never_finds_another_practices_patients(self, client, world, people):
        # Barts' Ada Lovelace, by name or by her NHS number, is not found from Hyde...
        client.force_login(world.clinician)
        theirs = people["elsewhere"].patient
        assert people["elsewhere"].pk not in listed(client, q="Ada Lovelace")
        assert listed(client, q=theirs.nhs_number_display) == set()
        page = client.get(reverse(LIST), {"q": theirs.nhs_number}).content.decode()
        assert theirs.nhs_number_display not in page and "No referrals match" in page
        # ...and Barts finds only its own.
        client.force_login(world.other_clinician)
        assert listed(client, q="Ada Lovelace") == {people["elsewhere"].pk}
        assert listed(client, q="Grace") == set()

    def test_it_says_how_many_match(self, client, world, people):
        client.force_login(world.clinician)
        html = client.get(reverse(LIST), {"q": "ada"}).content.decode()
        assert "<strong>2</strong> referrals match." in html
        html = client.get(reverse(LIST), {"q": "grace"}).content.decode()
        assert "<strong>1</strong> referral matches." in html
        html = client.get(reverse(LIST)).content.decode()
        assert "<strong>3</strong> referrals." in html

    def test_it_refuses_an_overlong_search_with_a_message(self, client, world, people):
        client.force_login(world.clinician)
        response = client.get(reverse(LIST), {"q": "x" * 101})
        html = response.content.decode()
        assert response.status_code == 200
        assert "There is a problem" in html
        assert "must be 100 characters or fewer" in html
        assert list(response.context["page"].object_list) == []


class FilterTests:
    def test_each_filter_narrows_the_list(self, client, world, people):
        Referral.objects.filter(pk=people["grace"].pk).update(
            created_at=timezone.now() - timedelta(days=20)
        )
        people["lovelace"].accept(by=world.trainer, version=1)
        client.force_login(world.clinician)
        everyone = {people["ada"].pk, people["grace"].pk, people["lovelace"].pk}
        assert listed(client) == everyone
        assert listed(client, status="accepted") == {people["lovelace"].pk}
        assert listed(client, status="new") == {people["ada"].pk, people["grace"].pk}
        assert listed(client, status="open") == everyone
        assert listed(client, age="14") == {people["grace"].pk}
        assert listed(client, need="money-debt") == {people["grace"].pk}
        # Search and filters together.
        assert listed(client, q="ada", status="new") == {people["ada"].pk}

    def test_a_bad_filter_value_is_a_message_not_a_500(self, client, world, people):
        client.force_login(world.clinician)
        response = client.get(reverse(LIST), {"status": "dropped", "need": "nonsense"})
        html = response.content.decode()
        assert response.status_code == 200
        assert "Select the status from the list" in html
        assert "Select the need from the list" in html
        assert "There is a problem" in html

    def test_a_clinician_in_one_practice_gets_no_practice_filter(self, client, world, people):
        client.force_login(world.clinician)
        form = client.get(reverse(LIST)).context["form"]
        assert "practice" not in form.fields

    def test_a_clinician_in_two_practices_filters_by_practice(self, client, world, people):
        PracticeMembership.objects.create(practice=world.other_practice, user=world.clinician)
        client.force_login(world.clinician)
        html = client.get(reverse(LIST)).content.decode()
        assert 'name="practice"' in html
        assert people["elsewhere"].pk in listed(client)
        assert listed(client, practice=world.other_practice.pk) == {people["elsewhere"].pk}
        # A practice they do not belong to is refused, not used.
        third = make_practice("Third Surgery", "Y00001")
        response = client.get(reverse(LIST), {"practice": third.pk})
        assert "There is a problem" in response.content.decode()

    def test_a_trainer_in_two_teams_filters_by_team(self, client, world, people):
        TeamMembership.objects.create(team=world.other_team, user=world.trainer)
        client.force_login(world.trainer)
        assert people["elsewhere"].pk in listed(client)
        assert listed(client, team=world.other_team.pk) == {people["elsewhere"].pk}
        assert people["elsewhere"].pk not in listed(client, team=world.team.pk)

    def test_the_filters_are_a_plain_get_form_that_collapses(self, client, world, people):
        client.force_login(world.clinician)
        html = client.get(reverse(LIST)).content.decode()
        assert 'method="get"' in html
        assert '<details class="filters">' in html  # closed with nothing chosen
        assert html.count('class="button"') == 1 and ">Apply filters</button>" in html
        for label in ("Search by name or NHS number", "Status", "Referred", "Need"):
            assert f">{label}</label>" in html, label
        html = client.get(reverse(LIST), {"status": "new"}).content.decode()
        assert '<details class="filters" open>' in html and "(1 chosen)" in html
        assert ">Clear<" in html


class RowTests:
    def test_each_row_says_who_the_status_how_long_and_what_next(self, client, world, people):
        client.force_login(world.clinician)
        html = client.get(reverse(LIST), {"q": "grace"}).content.decode()
        grace = people["grace"]
        assert "Grace Hopper" in html
        assert "NHS number 943 476 5919" in html
        assert f"Age {grace.patient.age()}" in html
        assert "status--new" in html
        due = grace.accept_by()
        assert f"Team to accept or decline by {due:%-d %B %Y}" in html
        assert 'class="table table--responsive referral-rows"' in html
        assert '<span class="table__heading" aria-hidden="true">Next step </span>' in html

    def test_the_list_makes_a_bounded_number_of_queries(self, client, world, people):
        client.force_login(world.clinician)
        client.get(reverse(LIST))
        with CaptureQueriesContext(connection) as few:
            client.get(reverse(LIST))
        for _ in range(6):
            make_referral(world.clinician, world.team, patient=patient_data())
        with CaptureQueriesContext(connection) as many:
            client.get(reverse(LIST))
        assert len(many) == len(few)

    def test_the_queue_and_caseload_show_the_same_rows(self, client, world, people):
        client.force_login(world.trainer)
        html = client.get(reverse("referrals-queue")).content.decode()
        assert "NHS number 943 476 5919" in html and "Team to accept or decline by" in html
        assert 'class="table table--responsive referral-rows"' in html
        assert ">Accept<span" in html
        people["grace"].accept(by=world.trainer, version=1)
        html = client.get(reverse("referrals-caseload")).content.decode()
        assert "Grace Hopper" in html and "First contact with the person by" in html
        assert 'class="table table--responsive referral-rows"' in html


class NextStepTests:
    """``Referral.next_step``: one rule for every list."""

    @pytest.fixture
    def referral(self, world):
        return world.referral

    @override_settings(REFERRAL_CHASE_AFTER_DAYS=7, REFERRAL_DECLINE_AFTER_DAYS=14)
    def test_new_is_the_team_accepting_or_declining_by_the_chase_date(self, referral):
        made = timezone.localdate(referral.created_at)
        step = referral.next_step()
        assert step == NextStep("Team to accept or decline", due=made + timedelta(days=7))
        assert str(step) == f"Team to accept or decline by {made + timedelta(days=7):%-d %B %Y}"

    @override_settings(REFERRAL_CHASE_AFTER_DAYS=7, REFERRAL_DECLINE_AFTER_DAYS=14)
    def test_new_past_the_chase_date_is_overdue_and_says_when_it_is_declined(self, referral):
        later = referral.created_at + timedelta(days=9)
        step = referral.next_step(now=later)
        made = timezone.localdate(referral.created_at)
        assert step.overdue and step.due == made + timedelta(days=7)
        assert step.declines_on == made + timedelta(days=14)

    @override_settings(SELF_REFERRAL_CONTACT_WORKING_DAYS=5)
    def test_accepted_is_first_contact_within_the_working_days(self, referral, world):
        referral.accept(by=world.trainer, version=1)
        step = referral.next_step()
        accepted = timezone.localdate(referral.status_changed_at)
        assert step.text == "First contact with the person"
        assert step.due == working_days_after(accepted, 5)
        assert not step.overdue
        assert referral.next_step(now=referral.status_changed_at + timedelta(days=30)).overdue

    def test_contacted_is_agreeing_goals(self, referral, world):
        referral.accept(by=world.trainer, version=1)
        Referral.objects.filter(pk=referral.pk).update(status="contacted")
        referral.refresh_from_db()
        assert referral.next_step() == NextStep("Agree goals with the person")

    def test_engaged_is_the_outcome_when_the_work_ends(self, referral):
        Referral.objects.filter(pk=referral.pk).update(status="engaged")
        referral.refresh_from_db()
        assert referral.next_step() == NextStep("Outcome when the work ends")

    def test_declined_gives_the_reason(self, referral, world):
        referral.decline(by=world.trainer, version=1, reason="Outside our area")
        assert referral.next_step() == NextStep("Declined: Outside our area")

    def test_closed_gives_the_outcome(self, referral, world):
        referral.close(by=world.trainer, version=1, outcome="moved_away")
        assert referral.next_step() == NextStep("Closed: Moved away")

    def test_working_days_skip_the_weekend(self):
        friday = date(2026, 11, 27)
        assert working_days_after(friday, 1) == date(2026, 11, 30)  # Monday
        assert working_days_after(friday, 5) == date(2026, 12, 4)
        assert working_days_after(date(2026, 11, 30), 0) == date(2026, 11, 30)


def self_referral(world):
    from referrals.services import referral_create

    referral, _ = referral_create(
        by=None,
        practice=None,
        patient=patient_data(nhs_number="", given_name="Sam", family_name="Self"),
        needs=[],
        team=world.team,
        consent_to_contact=True,
        consent_to_share=False,
        rate_limit=False,
        source=Referral.Source.SELF,
    )
    return referral


def test_a_self_referral_without_an_nhs_number_says_so(client, world):
    self_referral(world)
    client.force_login(world.trainer)
    html = client.get(reverse("referrals-queue")).content.decode()
    assert "Sam Self" in html and "No NHS number given" in html


def test_the_team_finds_a_self_referral_by_the_reference_the_person_quotes(client, world):
    referral = self_referral(world)
    typed = referral.reference.replace("-", " ").lower()  # "7kq3 m9xd", as read out
    client.force_login(world.trainer)
    assert listed(client, q=typed) == {referral.pk}
    assert listed(client, q=referral.reference) == {referral.pk}
    # The referrer's side cannot see self-referrals at all, reference or not.
    client.force_login(world.clinician)
    assert listed(client, q=referral.reference) == set()
