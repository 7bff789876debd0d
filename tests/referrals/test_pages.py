"""The referral pages, as a clinician and a trainer use them (no JavaScript involved)."""

import re
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from referrals.models import Connection, FollowUp, Goal, Measure, Notification, Referral
from tests.referrals.factories import make_referral
from tests.referrals.test_contacts import contact as follow_up_form
from tests.referrals.test_idempotency import form_data


def detail(referral):
    return reverse("referrals-detail", args=[referral.pk])


class NewReferralPageTests:
    @pytest.fixture
    def clinician_client(self, client, world):
        client.force_login(world.clinician)
        return client

    def test_it_suggests_teams_for_the_postcode_without_saving(self, clinician_client, world):
        data = form_data(world, find_teams="1")
        del data["team"]
        response = clinician_client.post(reverse("referrals-new"), data)
        html = response.content.decode()
        assert response.status_code == 200
        assert "Teams covering SK14 1PW, nearest first" in html
        assert "Hyde health trainers: base" in html and "1 open case (capacity" in html
        assert "City health trainers (does not cover their postcode)" in html
        assert "There is a problem" not in html
        # What was typed is kept, and the nearest covering team is chosen.
        team = response.context["form"]["team"]
        assert str(team.value()) == str(world.team.pk)
        assert f'value="{world.team.pk}" id="id_team_0" class="radios__input" checked' in html
        assert 'name="nhs_number" value="943 476 5919"' in html
        assert 'name="date_of_birth_year" value="1965"' in html
        assert 'name="form_token" value="token-123"' in html
        assert Referral.objects.count() == 1

    def test_it_makes_a_referral_and_says_what_happens_next(self, clinician_client, world):
        response = clinician_client.post(reverse("referrals-new"), form_data(world), follow=True)
        referral = Referral.objects.get(patient__nhs_number="9434765919")
        html = response.content.decode()
        assert response.redirect_chain[-1][0] == reverse("referrals-sent", args=[referral.pk])
        assert "Referral sent" in html and "Ada Lovelace has been referred to Hyde health" in html
        assert (referral.status, referral.practice, referral.referred_by) == (
            "new",
            world.practice,
            world.clinician,
        )
        assert referral.consent_to_share is True
        assert referral.patient.postcode == "SK14 1PW"
        assert referral.patient.date_of_birth.isoformat() == "1965-12-10"
        page = clinician_client.get(referral.get_absolute_url()).content.decode()
        assert "943 476 5919" in page

    def test_it_links_each_error_in_the_summary_to_its_field(self, clinician_client, world):
        data = form_data(world, nhs_number="9434765918")
        for field in ("needs", "team", "consent_to_contact", "consent_to_share"):
            del data[field]
        response = clinician_client.post(reverse("referrals-new"), data)
        html = response.content.decode()
        assert "<title>Error: New referral" in html
        assert 'role="alert"' in html
        for anchor in (
            "#id_nhs_number",
            "#id_needs_0",
            "#id_team_0",
            "#id_consent_to_contact",
            "#id_consent_to_share_0",
        ):
            assert f'href="{anchor}"' in html, anchor
        assert 'aria-invalid="true"' in html
        assert Referral.objects.count() == 1

    def test_it_asks_for_a_phone_number_when_they_prefer_calls(self, clinician_client, world):
        response = clinician_client.post(reverse("referrals-new"), form_data(world, phone=""))
        assert "Enter a phone number" in response.content.decode()


class ReferralPageTests:
    def test_it_offers_actions_to_the_team_only(self, client, world):
        client.force_login(world.trainer)
        assert "Accept</button>" in client.get(detail(world.referral)).content.decode()
        client.force_login(world.clinician)
        html = client.get(detail(world.referral)).content.decode()
        assert "Accept</button>" not in html and "What next" not in html
        assert "New" in html and "See the timeline" in html

    def test_it_refuses_a_stale_version_with_a_clear_message(self, client, world):
        client.force_login(world.trainer)
        world.referral.accept(by=world.lead, version=1)
        response = client.post(
            reverse("referrals-contact", args=[world.referral.pk]), {"version": 1}, follow=True
        )
        assert "This referral changed since you opened it" in response.content.decode()
        world.referral.refresh_from_db()
        assert world.referral.status == "accepted" and world.referral.version == 2

    def test_it_refuses_an_illegal_move_with_a_message(self, client, world):
        client.force_login(world.trainer)
        response = client.post(
            reverse("referrals-engage", args=[world.referral.pk]), {"version": 1}, follow=True
        )
        assert "A referral that is new cannot be engaged." in response.content.decode()

    def test_it_accepts_from_the_queue(self, client, world):
        client.force_login(world.trainer)
        response = client.post(
            reverse("referrals-accept", args=[world.referral.pk]), {"version": 1}, follow=True
        )
        assert "Referral accepted. The referrer has been told." in response.content.decode()
        world.referral.refresh_from_db()
        assert world.referral.assigned_to == world.trainer

    def test_it_declines_with_a_reason_and_shows_errors_without_one(self, client, world):
        client.force_login(world.trainer)
        url = reverse("referrals-decline", args=[world.referral.pk])
        empty = client.post(url, {"version": 1, "reason": ""})
        assert 'href="#id_reason"' in empty.content.decode()
        client.post(url, {"version": 1, "reason": "Outside our area"})
        world.referral.refresh_from_db()
        assert (world.referral.status, world.referral.decline_reason) == (
            "declined",
            "Outside our area",
        )

    def test_it_closes_with_an_outcome(self, client, world):
        client.force_login(world.trainer)
        url = reverse("referrals-close", args=[world.referral.pk])
        preset = client.get(url + "?outcome=could_not_contact").content.decode()
        assert re.search(r'<input[^>]*value="could_not_contact"[^>]*checked', preset)
        client.post(url, {"version": 1, "outcome": "moved_away", "note": "To Leeds"})
        world.referral.refresh_from_db()
        assert (world.referral.status, world.referral.outcome) == ("closed", "moved_away")

    def test_it_shows_the_timeline(self, client, world):
        world.referral.accept(by=world.trainer, version=1)
        client.force_login(world.clinician)
        html = client.get(reverse("referrals-timeline", args=[world.referral.pk])).content.decode()
        assert "Referred" in html and "New to accepted" in html and "by trainer" in html


class FollowUpPageTests:
    """More in test_contacts.py: the contact and its measures in one form."""

    def test_it_suggests_closing_after_three_unanswered_attempts(self, client, world):
        client.force_login(world.trainer)
        url = reverse("referrals-follow-up", args=[world.referral.pk])
        for _ in (1, 2, 3):
            response = client.post(url, follow_up_form(reached="no"), follow=True)
        assert "3 attempts without reaching the person" in response.content.decode()
        assert "?outcome=could_not_contact" in response.content.decode()
        assert FollowUp.objects.filter(referral=world.referral, reached=False).count() == 3

    def test_it_resets_the_count_when_the_person_is_reached(self, client, world):
        for day, reached in ((1, False), (2, False), (3, True), (4, False)):
            FollowUp.objects.create(
                referral=world.referral,
                at=timezone.now() - timedelta(days=10 - day),
                method="phone",
                reached=reached,
                by=world.trainer,
            )
        assert world.referral.unanswered_attempts() == 1
        assert not world.referral.suggests_could_not_contact()

    def test_it_refuses_a_contact_in_the_future(self, client, world):
        client.force_login(world.trainer)
        future = timezone.localtime() + timedelta(days=2)
        response = client.post(
            reverse("referrals-follow-up", args=[world.referral.pk]),
            follow_up_form(
                date_day=str(future.day), date_month=str(future.month), date_year=str(future.year)
            ),
        )
        assert 'href="#id_date_day"' in response.content.decode()
        assert not FollowUp.objects.exists()


class MeasuresPageTests:
    def test_it_records_measures_and_shows_first_latest_and_change(self, client, world):
        # Referred in January 2026: contacts, and the measures taken at them, from then on.
        Referral.objects.filter(pk=world.referral.pk).update(
            created_at=timezone.make_aware(datetime(2026, 1, 2, 9, 0))
        )
        client.force_login(world.trainer)
        url = reverse("referrals-follow-up", args=[world.referral.pk])
        on = {"date_month": "1", "date_year": "2026", "time": "10:00"}
        items = {f"swemwbs_{n}": "2" for n in range(1, 7)}
        client.post(url, follow_up_form(date_day="5", **on, **items, swemwbs_7="6"))  # 18
        client.post(
            url,
            follow_up_form(
                date_day="5",
                **on,
                life_satisfaction="4",
                worthwhile="5",
                happiness="3",
                anxiety="8",
            ),
        )
        client.post(
            url,
            follow_up_form(
                date_day="5", date_month="2", date_year="2026", time="10:00", **items, swemwbs_7="5"
            ),
        )
        # The first SWEMWBS had an item of 6: refused, nothing saved from that form.
        assert Measure.objects.filter(referral=world.referral).count() == 2
        client.post(url, follow_up_form(date_day="4", **on, **items, swemwbs_7="3"))  # 15
        sections = {
            s["key"]: s for s in client.get(detail(world.referral)).context["measure_summary"]
        }
        total = next(r for r in sections["swemwbs"]["rows"] if r["field"] == "swemwbs_total")
        assert (total["change"].first, total["change"].latest, total["change"].change) == (
            15,
            17,
            2,
        )
        anxiety = next(r for r in sections["ons4"]["rows"] if r["field"] == "anxiety")
        assert anxiety["change"].change is None and anxiety["better"] == "Lower is better"

    def test_it_refuses_an_item_out_of_range_with_an_error_summary(self, client, world):
        client.force_login(world.trainer)
        response = client.post(
            reverse("referrals-follow-up", args=[world.referral.pk]),
            follow_up_form(**{f"swemwbs_{n}": "3" for n in range(1, 7)}, swemwbs_7="40"),
        )
        html = response.content.decode()
        assert 'href="#id_swemwbs_7"' in html
        assert not Measure.objects.exists()

    def test_it_refuses_a_clinician_recording_measures(self, client, world):
        client.force_login(world.clinician)
        response = client.post(
            reverse("referrals-follow-up", args=[world.referral.pk]),
            follow_up_form(pam_score="50", pam_level="2"),
        )
        assert response.status_code == 403
        assert not Measure.objects.exists()


class PlanAndConnectionTests:
    def test_it_adds_and_updates_a_goal(self, client, world):
        world.referral.accept(by=world.trainer, version=1)
        client.force_login(world.trainer)
        client.post(
            reverse("referrals-goal-add", args=[world.referral.pk]),
            {"goal-text": "Walk to the shops", "goal-version": 2},
        )
        goal = Goal.objects.get()
        world.referral.refresh_from_db()
        client.post(
            reverse("referrals-goal-update", args=[world.referral.pk, goal.pk]),
            {"status": "achieved", "version": world.referral.version},
        )
        goal.refresh_from_db()
        assert (goal.text, goal.status, goal.by) == ("Walk to the shops", "achieved", world.trainer)

    def test_it_offers_nearby_services_for_the_needs_and_connects_one(self, client, world):
        from directory.models import Service
        from tests.referrals.factories import make_service

        walk = make_service(
            "Hyde walks",
            lat=53.452,
            lng=-2.078,
            kind=Service.Kind.COMMUNITY_ASSET,
            needs=["loneliness"],
        )
        make_service(
            "Hyde debt advice",
            lat=53.452,
            lng=-2.078,
            kind=Service.Kind.COMMUNITY_ASSET,
            needs=["money-debt"],
        )
        world.referral.accept(by=world.trainer, version=1)
        client.force_login(world.trainer)
        nearby = client.get(detail(world.referral)).context["nearby"]
        assert [s.name for s in nearby] == ["Hyde walks"]
        client.post(
            reverse("referrals-connection-add", args=[world.referral.pk]),
            {"service": walk.pk, "status": "suggested", "version": 2},
        )
        connection = Connection.objects.get()
        client.post(
            reverse("referrals-connection-update", args=[world.referral.pk, connection.pk]),
            {"status": "attended", "version": 3},
        )
        connection.refresh_from_db()
        assert connection.status == "attended"
        assert client.get(detail(world.referral)).context["nearby"] == []

    def test_it_refuses_to_touch_another_referrals_goal(self, client, world):
        other = make_referral(
            world.other_clinician, world.other_team, practice=world.other_practice
        )
        goal = Goal.objects.create(referral=other, text="x", by=world.other_trainer)
        world.referral.accept(by=world.trainer, version=1)
        client.force_login(world.trainer)
        response = client.post(
            reverse("referrals-goal-update", args=[world.referral.pk, goal.pk]),
            {"status": "dropped", "version": 2},
        )
        assert response.status_code == 404
        goal.refresh_from_db()
        assert goal.status == "agreed"


class ListPageTests:
    def test_it_filters_by_status_age_and_need(self, client, world):
        old = make_referral(world.clinician, world.team, needs=("money-debt",))
        Referral.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=20))
        world.referral.accept(by=world.trainer, version=1)
        client.force_login(world.clinician)
        url = reverse("referrals-list")

        def listed(query):
            return {r.pk for r in client.get(url, query).context["page"].object_list}

        assert listed({}) == {world.referral.pk, old.pk}
        assert listed({"status": "accepted"}) == {world.referral.pk}
        assert listed({"status": "open"}) == {world.referral.pk, old.pk}
        assert listed({"age": "14"}) == {old.pk}
        assert listed({"need": "money-debt"}) == {old.pk}

    def test_it_shows_the_queue_oldest_first_with_waiting_time(self, client, world):
        old = make_referral(world.clinician, world.team)
        Referral.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=9))
        client.force_login(world.trainer)
        response = client.get(reverse("referrals-queue"))
        assert [r.pk for r in response.context["referrals"]] == [old.pk, world.referral.pk]
        assert "1\xa0week, 2\xa0days" in response.content.decode()
        assert "over a week" in response.content.decode()

    def test_it_shows_my_caseload(self, client, world):
        world.referral.accept(by=world.lead, version=1, assign_to=world.trainer)
        client.force_login(world.trainer)
        assert list(client.get(reverse("referrals-caseload")).context["referrals"]) == [
            world.referral
        ]
        client.force_login(world.lead)
        assert list(client.get(reverse("referrals-caseload")).context["referrals"]) == []


class NotificationPageTests:
    def test_it_shows_the_referrer_the_message_back_and_marks_it_read(self, client, world):
        world.referral.accept(by=world.trainer, version=1)
        client.force_login(world.clinician)
        html = client.get(reverse("referrals-notifications")).content.decode()
        assert "Accepted by Hyde health trainers" in html
        client.post(reverse("referrals-notifications"))
        assert not Notification.objects.filter(user=world.clinician, read_at__isnull=True).exists()
