"""Managers see totals only, with small numbers suppressed."""

from django.test import override_settings
from django.urls import reverse

from tests.referrals.factories import make_referral


class ManagerFiguresTests:
    def test_it_suppresses_counts_below_five(self, client, world):
        client.force_login(world.manager)
        html = client.get(reverse("referrals-report")).content.decode()
        assert "fewer than 5" in html
        assert "Referrals: <strong>fewer than 5</strong>" in html

    def test_it_shows_counts_of_five_or_more(self, client, world):
        for _ in range(5):
            make_referral(world.clinician, world.team)
        client.force_login(world.manager)
        response = client.get(reverse("referrals-report"))
        assert response.context["report"]["total"].display == "6"
        by_status = {f.label: f.display for f in response.context["report"]["by_status"]}
        assert by_status["New"] == "6"
        assert by_status["Accepted"] == "fewer than 5"

    def test_it_never_shows_a_patient(self, client, world):
        client.force_login(world.manager)
        html = client.get(reverse("referrals-report")).content.decode()
        patient = world.referral.patient
        assert patient.family_name not in html and patient.nhs_number not in html

    @override_settings(SMALL_NUMBER_THRESHOLD=10)
    def test_it_reads_the_threshold_from_settings(self, client, world):
        for _ in range(5):
            make_referral(world.clinician, world.team)
        client.force_login(world.manager)
        response = client.get(reverse("referrals-report"))
        assert response.context["report"]["total"].display == "fewer than 10"
