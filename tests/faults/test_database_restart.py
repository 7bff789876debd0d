"""`make faults`: the database restarted under the app while searches and referral moves are in
flight. The app is served as deployed (gunicorn, DEBUG off) with a worker, on a PostgreSQL
cluster of this test's own (so stopping it disturbs nothing else), seeded with the demo.

Shown: every answer during the outage is a 503 (never a 500, never a traceback); the app
answers again by itself within 5 s of the database returning; no committed move is lost or
duplicated (referrals are created with Idempotency-Keys and retried on 503, as a client should).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import psycopg2
import pytest

from config.served import ROOT, free_port, production_env, served, worker

pytestmark = pytest.mark.skipif(
    not os.environ.get("FLOURISH_FAULTS"),
    reason="run by `make faults`: it starts and restarts a PostgreSQL cluster of its own",
)

PGBIN = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))
DEMO_PASSWORD = "faults-demo-password-42"
SEED = """
from tests.conftest import add_postcode, rebuild_postcode_areas
from tests.referrals.test_load_demo import DEMO_POSTCODES
for postcode, (lat, lng) in DEMO_POSTCODES.items():
    add_postcode(postcode, lat, lng)
rebuild_postcode_areas()
"""


def as_owner(*command: str, **kwargs) -> subprocess.CompletedProcess:
    """PostgreSQL refuses to run as root: as root, its cluster belongs to `postgres`."""
    if os.geteuid() == 0:
        command = ("runuser", "-u", "postgres", "--", *command)
    return subprocess.run(command, check=True, capture_output=True, text=True, cwd="/", **kwargs)


class Cluster:
    def __init__(self):
        self.home = Path(tempfile.mkdtemp(prefix="flourish-faults-", dir="/tmp"))
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres", "postgres")
        self.data = self.home / "data"
        self.port = free_port()
        self.url = f"postgis://postgres@127.0.0.1:{self.port}/flourish_faults"
        as_owner(str(PGBIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        self.start()

    def start(self):
        as_owner(
            str(PGBIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.home / "postgres.log"),
            "-o",
            f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1",
            "-w",
            "start",
        )

    def stop(self):
        as_owner(str(PGBIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def connect(self, name="flourish_faults"):
        return psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=name)

    def destroy(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.home, ignore_errors=True)


def manage(env, *args):
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


@pytest.fixture(scope="module")
def cluster():
    made = Cluster()
    try:
        admin = made.connect("postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("CREATE DATABASE flourish_faults")
        admin.close()
        env = production_env(made.url) | {"DEMO_PASSWORD": DEMO_PASSWORD}
        manage(env, "migrate", "--noinput")
        manage(env, "createcachetable")
        manage(env, "shell", "-c", SEED)
        manage(env, "load_demo")
        yield made
    finally:
        made.destroy()


class Client:
    """A small HTTP client that records every answer (or failure to answer)."""

    def __init__(self, base: str):
        self.base = base
        self.answers: list[tuple[float, str, int | str, str]] = []
        self.lock = threading.Lock()

    def call(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        request = Request(self.base + path, data=data, method=method, headers=headers or {})
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urlopen(request, timeout=30) as answer:
                status, text = answer.status, answer.read().decode()
        except HTTPError as error:
            status, text = error.code, error.read().decode()
        except (URLError, ConnectionError, TimeoutError) as error:
            status, text = f"no answer: {error}", ""
        with self.lock:
            self.answers.append((time.monotonic(), path.split("?")[0], status, text))
        return status, (json.loads(text) if text.startswith("{") else text)


def token_for(client: Client, username: str) -> dict:
    status, body = client.call(
        "POST", "/api/auth/token/", {"username": username, "password": DEMO_PASSWORD}
    )
    assert status == 200, body
    return {"Authorization": f"Token {body['token']}"}


def referral_body(team_id: int, n: int) -> dict:
    # 999 000 00xx: the demo's range of NHS numbers (never issued), with a valid check digit.
    from tests.referrals.factories import nhs_number

    return {
        "patient": {
            "nhs_number": nhs_number(9000 + n),
            "given_name": "Faults",
            "family_name": f"Test{n}",
            "date_of_birth": "1970-01-01",
            "postcode": "SK14 1AA",
            "phone": "07700 900123",
            "preferred_contact": "phone",
        },
        "needs": ["loneliness"],
        "what_matters": "Company",
        "urgency": "soon",
        "consent_to_contact": True,
        "consent_to_share": True,
        "team": team_id,
    }


class DatabaseRestartTests:
    def test_searches_and_moves_survive_a_database_restart(self, cluster, tmp_path):
        env = production_env(cluster.url) | {
            "DATABASE_CONNECT_TIMEOUT": "2",
            "REFERRALS_PER_MINUTE": "1000",
            "REFERRALS_PER_DAY": "10000",
        }
        with cluster.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM referrals_team WHERE name = 'Hyde Health Trainers'")
            (team_id,) = cur.fetchone()
        with served(env, tmp_path / "web.log") as base, worker(env, tmp_path / "worker.log"):
            client = Client(base)
            clinician = token_for(client, "clinician.hyde")
            trainer = token_for(client, "trainer.hyde")
            stop = threading.Event()
            outcomes: dict[str, dict] = {}

            def search():
                while not stop.is_set():
                    client.call("GET", "/api/services/?postcode=SK14%201AA")
                    client.call("GET", "/search/?postcode=SK14+1AA")
                    time.sleep(0.05)

            def refer_and_accept():
                n = 0
                while not stop.is_set():
                    n += 1
                    key = str(uuid.uuid4())
                    while True:  # a client retries a 503 with the same key, as documented
                        status, body = client.call(
                            "POST",
                            "/api/referrals/",
                            referral_body(team_id, n),
                            clinician | {"Idempotency-Key": key},
                        )
                        if status in (200, 201) or stop.is_set():
                            break
                        assert status == 503 or str(status).startswith("no answer"), body
                        time.sleep(0.3)
                    if status not in (200, 201):
                        break
                    outcomes[key] = {"id": body["id"], "accepted": False}
                    while not stop.is_set():
                        status, answer = client.call(
                            "POST",
                            f"/api/referrals/{body['id']}/accept/",
                            {"version": body["version"]},
                            trainer,
                        )
                        if status == 200:
                            outcomes[key]["accepted"] = True
                            break
                        if status == 409:  # it was accepted before the answer was lost
                            assert answer["status"] == "accepted", answer
                            outcomes[key]["accepted"] = True
                            break
                        assert status == 503 or str(status).startswith("no answer"), answer
                        time.sleep(0.3)

            threads = [threading.Thread(target=search), threading.Thread(target=refer_and_accept)]
            for thread in threads:
                thread.start()
            time.sleep(3)
            down_at = time.monotonic()
            cluster.stop()
            time.sleep(5)
            cluster.start()
            up_at = time.monotonic()
            time.sleep(8)
            stop.set()
            for thread in threads:
                thread.join(60)

        answers = client.answers
        during = [a for a in answers if down_at < a[0] < up_at]
        statuses = {a[2] for a in answers}
        assert 500 not in statuses, [a for a in answers if a[2] == 500][:3]
        assert not any("Traceback" in a[3] for a in answers)
        assert not [a for a in answers if str(a[2]).startswith("no answer")], "gunicorn stayed up"
        assert during and {a[2] for a in during} <= {503, 200, 201}, {a[2] for a in during}
        assert 503 in {a[2] for a in during}, "the outage was seen"
        back = [a for a in answers if a[0] > up_at and a[1] == "/api/services/" and a[2] == 200]
        assert back and back[0][0] - up_at < 5, "answers again within 5 s of the database"

        with cluster.connect() as conn, conn.cursor() as cur:
            for key, outcome in outcomes.items():
                cur.execute(
                    "SELECT id::text FROM referrals_referral WHERE idempotency_key = %s",
                    [f"api:{key}"],
                )
                assert cur.fetchall() == [(outcome["id"],)], f"one referral for {key}"
                cur.execute(
                    "SELECT count(*) FROM referrals_referralevent WHERE referral_id = %s "
                    "AND to_status = 'accepted'",
                    [outcome["id"]],
                )
                assert cur.fetchone()[0] == (1 if outcome["accepted"] else 0)
        assert len(outcomes) >= 5, "moves were in flight throughout"
        print(
            f"\n{len(answers)} requests; {sum(a[2] == 503 for a in answers)} answered 503 "
            f"during the {up_at - down_at:.1f} s outage; first search answered "
            f"{back[0][0] - up_at:.2f} s after the database returned; {len(outcomes)} "
            f"referrals created and {sum(o['accepted'] for o in outcomes.values())} accepted, "
            f"each once."
        )
