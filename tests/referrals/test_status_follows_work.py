"""Status follows the work (issue 9 s3) and the plan's changes are events under the lock (s7):
a first goal engages the referral in one submit, goals and connections refuse a stale version
and write an event, the referral page offers one primary action per state, and three
unanswered attempts lead to a close form with "could not contact" chosen."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from directory.models import Service
from referrals.models import (
    Connection,
    FollowUp,
    Goal,
    IllegalMove,
    Notification,
    Referral,
    ReferralEvent,
    StaleReferral,
)
from tests.referrals.factories import make_service

S = Referral.Status


def accepted(world) -> Referral:
    world.referral.accept(by=world.trainer, version=world.referral.version)
    return world.referral


def moves(referral) -> list[tuple[str, str]]:
    return list(
        referral.events.filter(kind=ReferralEvent.Kind.MOVED)
        .order_by("at", "pk")
        .values_list("from_status", "to_status")
    )


def walk(name="Hyde walks") -> Service:
    return make_service(
        name, lat=53.452, lng=-2.078, kind=Service.Kind.COMMUNITY_ASSET, needs=["loneliness"]
    )


def detail(referral) -> str:
    return reverse("referrals-detail", args=[referral.pk])


def primary_buttons(html: str) -> list[str]:
    """The green buttons on a page (class "button" with no modifier), by their text."""
    found = re.findall(r'class="button"[^>]*>(.*?)</(?:a|button)>', html, flags=re.S)
    return [re.sub(r"<[^>]+>", "", text).strip() for text in found]


class FirstGoalTests:
    def test_it_moves_contacted_to_engaged_with_one_event(self, world):
        referral = accepted(world)
        referral.contact(by=world.trainer, version=referral.version)
        before = referral.events.count()
        goal = referral.add_goal(by=world.trainer, version=referral.version, text="Walk daily")
        referral.refresh_from_db()
        assert referral.status == S.ENGAGED
        assert moves(referral)[-1] == ("contacted", "engaged")
        new = list(referral.events.order_by("pk")[before:].values_list("kind", flat=True))
        assert new == ["goal", "moved"]  # the goal, then one move
        assert (goal.text, goal.by, goal.status) == ("Walk daily", world.trainer, "agreed")

    def test_from_accepted_it_goes_through_contacted_and_tells_the_referrer(self, world):
        referral = accepted(world)
        referral.add_goal(by=world.trainer, version=referral.version, text="Join a choir")
        referral.refresh_from_db()
        assert referral.status == S.ENGAGED
        assert moves(referral) == [
            ("new", "accepted"),
            ("accepted", "contacted"),
            ("contacted", "engaged"),
        ]
        kinds = Notification.objects.filter(user=world.clinician).values_list("kind", flat=True)
        assert sorted(kinds) == ["accepted", "contacted"]

    def test_a_second_goal_does_not_move_an_engaged_referral(self, world):
        referral = accepted(world)
        referral.add_goal(by=world.trainer, version=referral.version, text="Walk daily")
        moved = len(moves(referral))
        referral.add_goal(by=world.trainer, version=referral.version, text="Sleep better")
        assert len(moves(referral)) == moved
        assert referral.goals.count() == 2

    def test_one_submit_on_the_page_adds_the_goal_and_engages(self, client, world):
        referral = accepted(world)
        client.force_login(world.trainer)
        response = client.post(
            reverse("referrals-goal-add", args=[referral.pk]),
            {"goal-text": "Walk to the shops", "goal-version": referral.version},
            follow=True,
        )
        referral.refresh_from_db()
        assert referral.status == S.ENGAGED
        assert "The referral is now engaged" in response.content.decode()

    def test_it_refuses_a_goal_on_a_new_referral(self, world):
        with pytest.raises(IllegalMove, match="Accept the referral"):
            world.referral.add_goal(by=world.trainer, version=1, text="Walk daily")
        assert not Goal.objects.exists()

    def test_it_refuses_an_empty_goal_naming_the_field(self, world):
        referral = accepted(world)
        with pytest.raises(ValidationError) as caught:
            referral.add_goal(by=world.trainer, version=referral.version, text="   ")
        assert "text" in caught.value.message_dict

    def test_it_refuses_someone_outside_the_team(self, world):
        referral = accepted(world)
        with pytest.raises(PermissionDenied):
            referral.add_goal(by=world.other_trainer, version=referral.version, text="x")
        assert not Goal.objects.exists()


class StalePlanTests:
    def test_a_goal_from_a_stale_page_is_refused_and_nothing_written(self, world):
        referral = accepted(world)
        seen = referral.version
        referral.contact(by=world.trainer, version=seen)  # a colleague, meanwhile
        events = referral.events.count()
        with pytest.raises(StaleReferral):
            referral.add_goal(by=world.trainer, version=seen, text="Walk daily")
        assert not Goal.objects.exists()
        assert referral.events.count() == events

    def test_a_stale_goal_on_the_page_says_so_and_keeps_the_text(self, client, world):
        referral = accepted(world)
        seen = referral.version
        referral.contact(by=world.lead, version=seen)
        client.force_login(world.trainer)
        response = client.post(
            reverse("referrals-goal-add", args=[referral.pk]),
            {"goal-text": "Cook a meal each week", "goal-version": seen},
            follow=True,
        )
        html = response.content.decode()
        assert "changed since you opened it" in html
        assert not Goal.objects.exists()
        # Nothing typed is lost: the goal is back in its box, with the new version.
        box = re.search(r"<textarea[^>]*name=\"goal-text\"[^>]*>(.*?)</textarea>", html, re.S)
        assert box and box.group(1).strip() == "Cook a meal each week"
        referral.refresh_from_db()
        assert f'name="goal-version" value="{referral.version}"' in html

    def test_a_goal_status_change_writes_an_event_and_refuses_a_stale_version(self, world):
        referral = accepted(world)
        goal = referral.add_goal(by=world.trainer, version=referral.version, text="Walk daily")
        seen = referral.version
        referral.set_goal_status(
            by=world.trainer, version=seen, goal_id=goal.pk, status=Goal.Status.ACHIEVED
        )
        event = referral.events.order_by("pk").last()
        assert (event.kind, event.by) == ("goal", world.trainer)
        assert "agreed to achieved" in event.note
        with pytest.raises(StaleReferral):
            referral.set_goal_status(
                by=world.trainer, version=seen, goal_id=goal.pk, status=Goal.Status.DROPPED
            )
        goal.refresh_from_db()
        assert goal.status == Goal.Status.ACHIEVED

    def test_a_connection_writes_events_and_refuses_a_stale_version(self, world):
        referral = accepted(world)
        service = walk()
        seen = referral.version
        connection = referral.add_connection(by=world.trainer, version=seen, service=service)
        event = referral.events.order_by("pk").last()
        assert (event.kind, event.note) == ("connection", "Hyde walks: suggested.")
        assert referral.version == seen + 1
        with pytest.raises(StaleReferral):
            referral.set_connection_status(
                by=world.trainer, version=seen, connection_id=connection.pk, status="attended"
            )
        referral.set_connection_status(
            by=world.trainer,
            version=referral.version,
            connection_id=connection.pk,
            status="attended",
        )
        connection.refresh_from_db()
        assert connection.status == Connection.Status.ATTENDED
        assert referral.events.order_by("pk").last().note == "Hyde walks: attended."

    def test_a_stale_connection_on_the_page_is_refused_with_a_message(self, client, world):
        referral = accepted(world)
        service = walk()
        seen = referral.version
        referral.contact(by=world.lead, version=seen)
        client.force_login(world.trainer)
        response = client.post(
            reverse("referrals-connection-add", args=[referral.pk]),
            {"service": service.pk, "status": "suggested", "version": seen},
            follow=True,
        )
        assert "changed since you opened it" in response.content.decode()
        assert not Connection.objects.exists()

    def test_it_refuses_referring_a_person_who_did_not_agree_to_share(self, world):
        referral = accepted(world)
        Referral.objects.filter(pk=referral.pk).update(consent_to_share=False)
        referral.refresh_from_db()
        with pytest.raises(ValidationError, match="not agreed to share"):
            referral.add_connection(
                by=world.trainer, version=referral.version, service=walk(), status="referred"
            )
        assert not Connection.objects.exists()

    def test_it_refuses_the_same_service_twice(self, world):
        referral = accepted(world)
        service = walk()
        referral.add_connection(by=world.trainer, version=referral.version, service=service)
        with pytest.raises(ValidationError, match="already one of the person's connections"):
            referral.add_connection(by=world.trainer, version=referral.version, service=service)

    def test_a_closed_referrals_plan_no_longer_changes(self, world):
        referral = accepted(world)
        goal = referral.add_goal(by=world.trainer, version=referral.version, text="Walk daily")
        referral.close(by=world.trainer, version=referral.version, outcome="goals_met")
        with pytest.raises(IllegalMove, match="closed"):
            referral.set_goal_status(
                by=world.trainer, version=referral.version, goal_id=goal.pk, status="achieved"
            )

    def test_a_clinician_cannot_change_the_plan(self, client, world):
        referral = accepted(world)
        client.force_login(world.clinician)
        response = client.post(
            reverse("referrals-goal-add", args=[referral.pk]),
            {"goal-text": "Walk daily", "goal-version": referral.version},
        )
        assert response.status_code == 403
        assert not Goal.objects.exists()

    def test_another_referrals_connection_is_a_404(self, client, world):
        from tests.referrals.factories import make_referral

        other = make_referral(
            world.other_clinician, world.other_team, practice=world.other_practice
        )
        other.accept(by=world.other_trainer, version=1)
        connection = other.add_connection(by=world.other_trainer, version=2, service=walk())
        referral = accepted(world)
        client.force_login(world.trainer)
        response = client.post(
            reverse("referrals-connection-update", args=[referral.pk, connection.pk]),
            {"status": "attended", "version": referral.version},
        )
        assert response.status_code == 404
        connection.refresh_from_db()
        assert connection.status == "suggested"


class WhatNextTests:
    @pytest.mark.parametrize(
        ("path", "primary"),
        [
            ([], ["Accept"]),
            (["accept"], ["Log a contact"]),
            (["accept", "contact"], ["Agree a goal"]),
            (["accept", "contact", "engage"], ["Log a contact"]),
        ],
    )
    def test_it_shows_one_primary_action_for_the_state(self, client, world, path, primary):
        referral = world.referral
        for step in path:
            getattr(referral, step)(by=world.trainer, version=referral.version)
        client.force_login(world.trainer)
        html = client.get(detail(referral)).content.decode()
        actions = html.split('id="actions-heading"')[1].split("</section>")[0]
        assert primary_buttons(actions) == primary

    def test_marking_contacted_or_engaged_by_hand_is_secondary(self, client, world):
        referral = accepted(world)
        client.force_login(world.trainer)
        html = client.get(detail(referral)).content.decode()
        assert "Mark as contacted" in html
        assert "Mark as contacted" not in primary_buttons(html)


class CouldNotContactTests:
    def _three_unanswered(self, world):
        referral = accepted(world)
        for day in (3, 2, 1):
            FollowUp.objects.create(
                referral=referral,
                at=timezone.now() - timedelta(hours=day),
                method="phone",
                reached=False,
                by=world.trainer,
            )
        return referral

    def test_three_unanswered_attempts_offer_could_not_contact(self, client, world):
        referral = self._three_unanswered(world)
        client.force_login(world.trainer)
        html = client.get(detail(referral)).content.decode()
        assert "3 attempts without reaching the person" in html
        close = reverse("referrals-close", args=[referral.pk])
        assert f'href="{close}?outcome=could_not_contact"' in html
        assert primary_buttons(html.split('id="actions-heading"')[1].split("</section>")[0]) == [
            'Close as "could not contact"'
        ]

    def test_two_do_not(self, client, world):
        referral = self._three_unanswered(world)
        referral.follow_ups.order_by("at").first().delete()
        client.force_login(world.trainer)
        html = client.get(detail(referral)).content.decode()
        assert "?outcome=could_not_contact" not in html

    def test_the_close_form_preselects_could_not_contact(self, client, world):
        referral = self._three_unanswered(world)
        client.force_login(world.trainer)
        url = reverse("referrals-close", args=[referral.pk]) + "?outcome=could_not_contact"
        html = client.get(url).content.decode()
        radio = re.search(r'<input[^>]*value="could_not_contact"[^>]*>', html).group(0)
        assert "checked" in radio
        assert "Could not contact after three attempts" in html.split('id="preview-heading"')[1]
        client.post(
            reverse("referrals-close", args=[referral.pk]),
            {"version": referral.version, "outcome": "could_not_contact", "action": "close"},
        )
        referral.refresh_from_db()
        assert (referral.status, referral.outcome) == ("closed", "could_not_contact")

    def test_an_outcome_that_is_not_one_is_not_preselected(self, client, world):
        referral = accepted(world)
        client.force_login(world.trainer)
        url = reverse("referrals-close", args=[referral.pk]) + "?outcome=<script>"
        html = client.get(url).content.decode()
        assert "checked" not in html
        assert "<script>" not in html.split("<main")[1].split("</main>")[0].replace(
            '<script src="', ""
        )
