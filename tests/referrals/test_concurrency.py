"""Two people act on one referral at the same moment, on two real database connections."""

import threading

import pytest
from django.db import connection

from referrals.models import Referral, ReferralEvent, StaleReferral


def race(*moves):
    """Run each move in its own thread (its own connection), released together by a barrier."""
    barrier = threading.Barrier(len(moves))
    outcomes = [None] * len(moves)

    def run(index, move):
        try:
            referral = Referral.objects.get(pk=move[0])  # both read version 1 first
            barrier.wait(timeout=10)
            move[1](referral)
            outcomes[index] = "won"
        except StaleReferral as error:
            outcomes[index] = str(error)
        except Exception as error:  # pragma: no cover - shown in the assertion
            outcomes[index] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, m)) for i, m in enumerate(moves)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


# Real transactions on two connections. The flush afterwards empties the tables; the world
# fixture reinstalls the needs vocabulary it relies on, so order does not matter.
@pytest.mark.django_db(transaction=True)
class ConcurrentMoveTests:
    def test_it_lets_exactly_one_of_two_concurrent_moves_win(self, world):
        pk = world.referral.pk
        outcomes = race(
            (pk, lambda r: r.accept(by=world.trainer, version=r.version)),
            (pk, lambda r: r.decline(by=world.lead, version=r.version, reason="Full")),
        )
        assert sorted(outcomes, key=lambda o: o != "won") == [
            "won",
            "This referral changed since you opened it. Check it again and retry.",
        ]
        referral = Referral.objects.get(pk=pk)
        assert referral.version == 2
        assert ReferralEvent.objects.filter(referral=referral, kind="moved").count() == 1
        assert referral.status in {"accepted", "declined"}

    def test_it_lets_only_one_of_two_identical_accepts_win(self, world):
        pk = world.referral.pk
        outcomes = race(
            (pk, lambda r: r.accept(by=world.trainer, version=r.version)),
            (pk, lambda r: r.accept(by=world.lead, version=r.version)),
        )
        assert outcomes.count("won") == 1
        assert ReferralEvent.objects.filter(referral_id=pk, kind="moved").count() == 1

    def test_it_adds_a_new_patient_once_when_two_referrals_race(self, world):
        """Two clinicians of one practice refer the same new person at the same moment: the
        practice ends up with one record of them (and another practice would have its own)."""
        from referrals import permissions
        from referrals.models import Patient
        from tests.referrals.factories import make_referral, make_user, patient_data

        colleague = make_user("colleague", permissions.CLINICIANS, practice=world.practice)
        data = patient_data(nhs_number="9434765919")
        barrier = threading.Barrier(2)
        made = []

        def refer(user):
            try:
                barrier.wait(timeout=10)
                made.append(make_referral(user, world.team, patient=dict(data)))
            finally:
                connection.close()

        threads = [
            threading.Thread(target=refer, args=(world.clinician,)),
            threading.Thread(target=refer, args=(colleague,)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(made) == 2
        assert Patient.objects.filter(nhs_number="9434765919").count() == 1
        assert Referral.objects.filter(patient__nhs_number="9434765919").count() == 2
