import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from referrals.models import (
    SNOMED_DECLINED,
    IllegalMove,
    Notification,
    Referral,
    ReferralEvent,
    StaleReferral,
)
from tests.conftest import run_tasks

S = Referral.Status


def move(referral, to, user):
    version = referral.version
    if to == S.ACCEPTED:
        return referral.accept(by=user, version=version)
    if to == S.DECLINED:
        return referral.decline(by=user, version=version, reason="Full this month")
    if to == S.CONTACTED:
        return referral.contact(by=user, version=version)
    if to == S.ENGAGED:
        return referral.engage(by=user, version=version)
    if to == S.CLOSED:
        return referral.close(by=user, version=version, outcome=Referral.Outcome.GOALS_MET)
    raise AssertionError(to)


PATHS = {
    S.NEW: [],
    S.ACCEPTED: [S.ACCEPTED],
    S.CONTACTED: [S.ACCEPTED, S.CONTACTED],
    S.ENGAGED: [S.ACCEPTED, S.CONTACTED, S.ENGAGED],
    S.DECLINED: [S.DECLINED],
    S.CLOSED: [S.ACCEPTED, S.CLOSED],
}
ALL_MOVES = [(start, to) for start in S for to in S if to != S.NEW]


def bring_to(referral, status, user):
    for step in PATHS[status]:
        move(referral, step, user)
    assert referral.status == status


class MoveTableTests:
    @pytest.mark.parametrize(("start", "to"), ALL_MOVES)
    def test_it_allows_exactly_the_moves_in_the_table(self, world, start, to):
        referral = world.referral
        bring_to(referral, start, world.trainer)
        events_before = ReferralEvent.objects.filter(referral=referral).count()
        version_before = referral.version
        if to in Referral.ALLOWED_MOVES[start]:
            move(referral, to, world.trainer)
            referral.refresh_from_db()
            assert referral.status == to
            assert referral.version == version_before + 1
            assert ReferralEvent.objects.filter(referral=referral).count() == events_before + 1
            last = ReferralEvent.objects.filter(referral=referral).last()
            assert (last.from_status, last.to_status, last.by) == (start, to, world.trainer)
        else:
            with pytest.raises(IllegalMove, match="cannot be"):
                move(referral, to, world.trainer)
            referral.refresh_from_db()
            assert referral.status == start
            assert referral.version == version_before
            assert ReferralEvent.objects.filter(referral=referral).count() == events_before


class WhoMayMoveTests:
    @pytest.mark.parametrize(
        "role",
        ["clinician", "other_clinician", "other_trainer", "editor", "manager", "admin", "outsider"],
    )
    def test_it_refuses_anyone_but_the_team(self, world, role):
        with pytest.raises(PermissionDenied):
            world.referral.accept(by=world.user(role), version=world.referral.version)
        world.referral.refresh_from_db()
        assert world.referral.status == S.NEW

    def test_it_lets_a_lead_assign_to_a_trainer_in_the_team(self, world):
        world.referral.accept(by=world.lead, version=1, assign_to=world.trainer)
        world.referral.refresh_from_db()
        assert world.referral.assigned_to == world.trainer

    def test_it_refuses_a_trainer_assigning_to_someone_else(self, world):
        with pytest.raises(PermissionDenied):
            world.referral.accept(by=world.trainer, version=1, assign_to=world.lead)

    def test_it_refuses_a_lead_assigning_outside_the_team(self, world):
        with pytest.raises(IllegalMove):
            world.referral.accept(by=world.lead, version=1, assign_to=world.other_trainer)

    def test_it_lets_a_lead_reassign_an_accepted_referral(self, world):
        world.referral.accept(by=world.trainer, version=1)
        world.referral.assign(by=world.lead, version=2, to=world.lead)
        world.referral.refresh_from_db()
        assert world.referral.assigned_to == world.lead
        assert world.referral.events.last().kind == ReferralEvent.Kind.ASSIGNED


class StaleVersionTests:
    def test_it_refuses_a_stale_version_and_writes_nothing(self, world):
        world.referral.accept(by=world.trainer, version=1)
        with pytest.raises(StaleReferral, match="changed since you opened it"):
            world.referral.contact(by=world.trainer, version=1)
        world.referral.refresh_from_db()
        assert world.referral.status == S.ACCEPTED
        assert world.referral.events.filter(kind="moved").count() == 1


class ClosingTheLoopTests:
    def test_it_tells_the_referrer_when_accepted(self, world):
        world.referral.accept(by=world.trainer, version=1)
        assert run_tasks()  # the worker sends the email
        note = Notification.objects.get(user=world.clinician)
        assert note.message.startswith("Accepted by Hyde health trainers on ")
        assert note.kind == "accepted"
        assert [m.to for m in mail.outbox] == [["clinician@example.org"]]

    def test_it_tells_the_referrer_why_it_was_declined(self, world):
        world.referral.decline(by=world.trainer, version=1, reason="Outside our area")
        assert run_tasks()  # the worker sends the email
        message = Notification.objects.get(user=world.clinician).message
        assert "Declined by Hyde health trainers" in message
        assert "Reason: Outside our area" in message
        # The reason is free text (it may name the person): the app shows it, the email not.
        assert "Outside our area" not in mail.outbox[0].body
        assert "could not take on a referral you made" in mail.outbox[0].body

    def test_it_refuses_a_decline_without_a_reason(self, world):
        with pytest.raises(IllegalMove, match="reason"):
            world.referral.decline(by=world.trainer, version=1, reason="  ")

    def test_it_tells_the_referrer_the_outcome_and_records_snomed_when_the_person_declined(
        self, world
    ):
        world.referral.accept(by=world.trainer, version=1)
        world.referral.close(by=world.trainer, version=2, outcome=Referral.Outcome.PERSON_DECLINED)
        world.referral.refresh_from_db()
        assert world.referral.outcome_snomed_code == SNOMED_DECLINED
        assert (
            "Outcome: The person declined"
            in Notification.objects.filter(user=world.clinician).first().message
        )

    def test_it_tells_the_referrer_about_contact_but_not_engagement(self, world):
        world.referral.accept(by=world.trainer, version=1)
        world.referral.contact(by=world.trainer, version=2)
        world.referral.engage(by=world.trainer, version=3)
        kinds = list(
            Notification.objects.filter(user=world.clinician)
            .order_by("pk")
            .values_list("kind", flat=True)
        )
        assert kinds == ["accepted", "contacted"]

    def test_it_records_the_referral_snomed_code(self, world):
        assert world.referral.snomed_code == "871731000000106"
        assert world.referral.events.get().kind == ReferralEvent.Kind.CREATED

    def test_it_refuses_closing_without_an_outcome(self, world):
        with pytest.raises(IllegalMove, match="outcome"):
            world.referral.close(by=world.trainer, version=1, outcome="")
