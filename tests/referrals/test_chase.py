"""chase_referrals: remind the team on day 7, decline on day 14, safe to run every hour."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import override_settings

from referrals.models import Notification, Referral, ReferralEvent
from referrals.services import chase_referrals
from tests.conftest import run_tasks


@pytest.fixture
def referred(world):
    return world.referral, world.referral.created_at


def team_notes(world):
    return Notification.objects.filter(user__in=[world.trainer, world.lead])


class ChaseReferralsTests:
    def test_it_does_nothing_on_day_6(self, world, referred):
        referral, start = referred
        result = chase_referrals(now=start + timedelta(days=6, hours=23))
        assert (result.reminded, result.declined) == ([], [])
        referral.refresh_from_db()
        assert referral.status == "new" and referral.reminded_at is None
        assert not team_notes(world).exists()

    def test_it_reminds_the_team_on_day_7(self, world, referred):
        referral, start = referred
        world.team.email = "hyde-team@example.org"
        world.team.save()
        result = chase_referrals(now=start + timedelta(days=7))
        assert run_tasks()  # the worker sends the email
        assert result.reminded == [referral]
        referral.refresh_from_db()
        assert referral.status == "new"
        assert referral.reminded_at == start + timedelta(days=7)
        assert set(team_notes(world).values_list("user__username", flat=True)) == {
            "trainer",
            "lead",
        }
        assert "waited 7 days" in team_notes(world).first().message
        assert referral.events.last().kind == ReferralEvent.Kind.REMINDED
        assert ["hyde-team@example.org"] in [m.to for m in mail.outbox]
        # Not the referrer: only the team is reminded.
        assert not Notification.objects.filter(user=world.clinician).exists()

    def test_it_reminds_once_when_run_every_hour(self, world, referred):
        referral, start = referred
        for hour in range(0, 24 * 6, 1):
            chase_referrals(now=start + timedelta(days=7, hours=hour))
        assert referral.events.filter(kind=ReferralEvent.Kind.REMINDED).count() == 1
        assert Notification.objects.filter(user=world.trainer).count() == 1

    def test_it_does_not_decline_on_day_13(self, world, referred):
        referral, start = referred
        chase_referrals(now=start + timedelta(days=7))
        result = chase_referrals(now=start + timedelta(days=13, hours=23))
        assert result.declined == []
        referral.refresh_from_db()
        assert referral.status == "new"

    def test_it_declines_on_day_14_and_tells_the_referrer(self, world, referred):
        referral, start = referred
        result = chase_referrals(now=start + timedelta(days=14))
        assert run_tasks()  # the worker sends the email
        assert result.declined == [referral]
        referral.refresh_from_db()
        assert referral.status == "declined"
        assert referral.decline_reason == "Not picked up in time"
        event = referral.events.filter(kind="moved").get()
        assert (event.by, event.from_status, event.to_status) == (None, "new", "declined")
        assert "Not picked up in time" in Notification.objects.get(user=world.clinician).message
        # The email says only that there is news, and links to the message (no reason text).
        assert any(
            "could not take on a referral you made" in m.body and "/notifications/" in m.body
            for m in mail.outbox
            if m.to == ["clinician@example.org"]
        )

    def test_it_declines_once_when_run_again(self, world, referred):
        referral, start = referred
        chase_referrals(now=start + timedelta(days=14))
        result = chase_referrals(now=start + timedelta(days=14, hours=1))
        assert result.declined == []
        assert referral.events.filter(kind="moved").count() == 1

    def test_it_leaves_a_picked_up_referral_alone(self, world, referred):
        referral, start = referred
        referral.accept(by=world.trainer, version=1)
        result = chase_referrals(now=start + timedelta(days=30))
        assert (result.reminded, result.declined) == ([], [])
        referral.refresh_from_db()
        assert referral.status == "accepted"

    @override_settings(REFERRAL_CHASE_AFTER_DAYS=2, REFERRAL_DECLINE_AFTER_DAYS=3)
    def test_it_reads_the_periods_from_settings(self, world, referred):
        referral, start = referred
        assert chase_referrals(now=start + timedelta(days=2)).reminded == [referral]
        assert chase_referrals(now=start + timedelta(days=3)).declined == [referral]

    def test_it_runs_as_a_command(self, world, referred, capsys):
        referral, start = referred
        Referral.objects.filter(pk=referral.pk).update(created_at=start - timedelta(days=15))
        call_command("chase_referrals")
        assert "declined 1" in capsys.readouterr().out
        referral.refresh_from_db()
        assert referral.status == "declined"
