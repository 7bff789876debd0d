"""load_demo: the demo directory, then practices, teams, accounts and referrals; twice is safe."""

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from referrals import permissions
from referrals.models import Measure, Patient, Referral, Team, validate_nhs_number
from tests.conftest import add_postcode, rebuild_postcode_areas

# The real postcodes directory/demo.py places its services at (positions from Code-Point Open).
DEMO_POSTCODES = {
    "SK14 1AA": (53.45189, -2.07881),
    "SK14 1NA": (53.44986, -2.07782),
    "SK14 2BZ": (53.45413, -2.09149),
    "SK14 2RB": (53.45129, -2.07429),
    "SK14 3DW": (53.45206, -2.0297),
    "SK14 3LA": (53.45184, -2.04127),
    "SK14 4AB": (53.45796, -2.07088),
    "SK14 4GU": (53.46761, -2.05702),
    "SK14 4PZ": (53.46237, -2.08721),
    "SK14 5GB": (53.43601, -2.07918),
    "SK14 5QE": (53.44366, -2.07066),
    "SK14 6JE": (53.45663, -2.0122),
    "S11 7DA": (53.35369, -1.53193),
    "S11 8DJ": (53.36969, -1.48036),
    "S11 8JL": (53.37099, -1.48829),
    "S11 8RD": (53.36984, -1.49477),
    "S11 8UL": (53.36547, -1.50136),
    "S11 9BX": (53.35676, -1.49631),
    "S7 1AA": (53.36421, -1.48325),
    "S7 1DN": (53.36431, -1.48036),
    "S7 1FQ": (53.35893, -1.48133),
    "S7 1LL": (53.36505, -1.48195),
    "S7 1RJ": (53.35711, -1.48841),
    "S7 2BE": (53.35486, -1.48541),
    "CA1 1AA": (54.89056, -2.94379),
    "CA1 1JN": (54.89292, -2.92643),
    "CA1 2BD": (54.89258, -2.91718),
    "CA1 2JQ": (54.88826, -2.92363),
    "CA1 3DS": (54.8681, -2.89359),
    "CA2 4AA": (54.8853, -2.92378),
    "CA2 5EG": (54.88778, -2.93956),
    "CA2 6AS": (54.88346, -2.9444),
    "CA2 7DP": (54.89093, -2.95744),
    "CA3 8AP": (54.89572, -2.93937),
    "CA3 8JY": (54.89329, -2.93445),
    "CA3 9DZ": (54.90583, -2.93488),
}


class LoadDemoTests:
    @pytest.mark.django_db
    def test_it_loads_the_demo_once_and_changes_nothing_the_second_time(self, monkeypatch):
        for postcode, (lat, lng) in DEMO_POSTCODES.items():
            add_postcode(postcode, lat, lng)
        rebuild_postcode_areas()
        monkeypatch.setenv("DEMO_PASSWORD", "demo-password-for-tests")
        first = StringIO()
        call_command("load_demo", stdout=first)

        assert Team.objects.count() == 3
        assert Referral.objects.count() == 30
        assert set(Referral.objects.values_list("status", flat=True)) == {
            "new",
            "accepted",
            "contacted",
            "engaged",
            "declined",
            "closed",
        }
        assert Measure.objects.exists()
        for patient in Patient.objects.all():
            assert patient.nhs_number.startswith("999")
            validate_nhs_number(patient.nhs_number)
        for place in ("hyde", "sheffield", "carlisle"):
            for role, group in (
                ("clinician", permissions.CLINICIANS),
                ("trainer", permissions.TRAINERS),
                ("lead", permissions.LEADS),
            ):
                user = User.objects.get(username=f"{role}.{place}")
                assert user.groups.filter(name=group).exists()
                assert user.check_password("demo-password-for-tests")
        assert User.objects.get(username="editor").groups.filter(name="Directory editors").exists()
        assert (
            User.objects.get(username="manager").groups.filter(name=permissions.MANAGERS).exists()
        )
        assert User.objects.get(username="admin").is_superuser
        assert "Demo referrals: 30" in first.getvalue()

        counts = (
            Referral.objects.count(),
            Patient.objects.count(),
            User.objects.count(),
            Measure.objects.count(),
        )
        second = StringIO()
        call_command("load_demo", stdout=second)
        assert "already present: nothing changed" in second.getvalue()
        assert "Demo accounts:" in second.getvalue()
        assert counts == (
            Referral.objects.count(),
            Patient.objects.count(),
            User.objects.count(),
            Measure.objects.count(),
        )
