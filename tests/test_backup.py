"""make backup / make restore: a dump taken in one snapshot, restored into a new database and
checked against its manifest, with nothing lost (referrals, events, follow-ups, measures,
access-log rows)."""

from io import StringIO
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from config.backup import _params
from referrals.models import AccessLog, FollowUp, Measure, Referral, ReferralEvent
from tests.conftest import add_postcode, rebuild_postcode_areas
from tests.referrals.test_load_demo import DEMO_POSTCODES

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def restored_names():
    """Databases the test restores into, dropped afterwards whatever happens."""
    names: list[str] = []
    yield names
    admin = psycopg2.connect(**_params())
    admin.autocommit = True
    with admin.cursor() as cur:
        for name in names:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def records(monkeypatch):
    for postcode, (lat, lng) in DEMO_POSTCODES.items():
        add_postcode(postcode, lat, lng)
    rebuild_postcode_areas()
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-for-tests")
    call_command("load_demo", stdout=StringIO())
    referral = Referral.objects.order_by("created_at").first()
    viewer = User.objects.get(username="trainer.hyde")
    for path in ("/referrals/one", "/api/referrals/one"):
        AccessLog.objects.create(
            user=viewer, patient=referral.patient, referral=referral, path=path, channel="api"
        )
    assert FollowUp.objects.exists() and Measure.objects.exists()
    return referral


def rows(name: str, sql: str) -> list[tuple]:
    conn = psycopg2.connect(**_params(name))
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


EVERYTHING = {
    "referrals_referral": "SELECT id, status, patient_id, team_id FROM referrals_referral",
    "referrals_referralevent": (
        "SELECT id, referral_id, kind, from_status, to_status, at FROM referrals_referralevent"
    ),
    "referrals_followup": "SELECT id, referral_id, at, reached, notes FROM referrals_followup",
    "referrals_measure": (
        "SELECT id, referral_id, instrument, swemwbs_total, pam_score FROM referrals_measure"
    ),
    "referrals_accesslog": "SELECT id, user_id, patient_id, referral_id, at FROM referrals_accesslog",
    "referrals_patient": "SELECT id, nhs_number, given_name, family_name FROM referrals_patient",
}


class BackupRestoreTests:
    def test_a_backup_restores_into_a_new_database_with_nothing_lost(
        self, records, tmp_path, restored_names
    ):
        source = settings.DATABASES["default"]["NAME"]
        before = {table: sorted(rows(source, sql)) for table, sql in EVERYTHING.items()}

        out = StringIO()
        call_command("backup", output=str(tmp_path), stdout=out)
        dump = next(tmp_path.glob("*.dump"))
        assert "sha256" in out.getvalue() and str(dump) in out.getvalue()
        assert dump.with_suffix(".json").exists()
        assert not list(tmp_path.glob("*.partial"))

        # Written after the backup: in the live database, not in the restore.
        ReferralEvent.objects.create(
            referral=records, kind="reminded", from_status=records.status, to_status=records.status
        )

        target = f"{source}_restore_check"
        restored_names.append(target)
        out = StringIO()
        call_command("restore", str(dump), database=target, stdout=out)
        report = out.getvalue()
        assert "Restored and verified" in report
        assert "latest referral_events: 10 of 10 present and unchanged" in report
        assert "latest access_log: 2 of 2 present and unchanged" in report

        after = {table: sorted(rows(target, sql)) for table, sql in EVERYTHING.items()}
        assert after == before
        assert all(after[table] for table in EVERYTHING), "every kind of record was backed up"
        assert len(rows(source, EVERYTHING["referrals_referralevent"])) == (
            len(after["referrals_referralevent"]) + 1
        )

    def test_a_damaged_dump_is_refused_before_anything_is_created(
        self, records, tmp_path, restored_names
    ):
        call_command("backup", output=str(tmp_path), stdout=StringIO())
        dump = next(tmp_path.glob("*.dump"))
        data = bytearray(dump.read_bytes())
        data[len(data) // 2] ^= 0xFF
        dump.write_bytes(bytes(data))
        target = f"{settings.DATABASES['default']['NAME']}_restore_damaged"
        restored_names.append(target)

        with pytest.raises(CommandError, match="does not match the checksum"):
            call_command("restore", str(dump), database=target, stdout=StringIO())
        assert not rows("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{target}'")

    def test_refusals_say_how_to_fix_them(self, tmp_path):
        with pytest.raises(CommandError, match="does not exist"):
            call_command("restore", str(tmp_path / "nothing.dump"), stdout=StringIO())
        lonely = tmp_path / "lonely.dump"
        lonely.write_bytes(b"PGDMP")
        with pytest.raises(CommandError, match="manifest written with the dump"):
            call_command("restore", str(lonely), stdout=StringIO())
        with pytest.raises(CommandError, match="not a usable database name"):
            call_command("restore", str(lonely), database="Robert'); DROP", stdout=StringIO())

    def test_a_restore_never_overwrites_an_existing_database(self, tmp_path):
        call_command("backup", output=str(tmp_path), stdout=StringIO())
        dump = next(tmp_path.glob("*.dump"))
        current = settings.DATABASES["default"]["NAME"]
        with pytest.raises(CommandError, match="already exists"):
            call_command("restore", str(dump), database=current, stdout=StringIO())
        assert Path(dump).exists()
