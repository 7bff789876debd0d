import socket
import time

import psycopg2
import pytest
from django.db import connection
from django.urls import reverse

from geo.models import PostcodeLoad


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HealthzTests:
    def test_it_answers_200_with_the_number_of_postcodes(self, client, gazetteer):
        response = client.get(reverse("healthz"))

        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok", "postcodes": 3}

    def test_it_reports_what_the_last_load_loaded(self, client, gazetteer):
        PostcodeLoad.objects.create(
            source="test", rows_loaded=1_739_034, rows_skipped=964, seconds=1
        )

        response = client.get(reverse("healthz"))

        assert response.json()["postcodes"] == 1_739_034

    def test_it_is_never_cached(self, client, gazetteer):
        response = client.get(reverse("healthz"))

        assert "no-cache" in response["Cache-Control"]

    def test_it_refuses_a_post(self, client, db):
        assert client.post(reverse("healthz")).status_code == 405


@pytest.mark.django_db(transaction=True)
class HealthzDatabaseDownTests:
    def test_it_answers_503_quickly_while_the_database_is_unreachable(self, client):
        port = connection.settings_dict["PORT"]
        try:
            connection.settings_dict["PORT"] = str(closed_port())
            connection.close()

            started = time.perf_counter()
            response = client.get(reverse("healthz"))
            elapsed = time.perf_counter() - started

            assert response.status_code == 503
            assert response.json()["database"] == "unreachable"
            assert elapsed < 2
            # Still down: still a 503, not a 500 from a half-open connection.
            assert client.get(reverse("healthz")).status_code == 503
        finally:
            connection.settings_dict["PORT"] = port
            connection.close()

    def test_it_recovers_by_itself_when_the_database_comes_back(self, client):
        port = connection.settings_dict["PORT"]
        try:
            connection.settings_dict["PORT"] = str(closed_port())
            connection.close()
            assert client.get(reverse("healthz")).status_code == 503

            connection.settings_dict["PORT"] = port  # the database is back; nothing else is done

            response = client.get(reverse("healthz"))
            assert response.status_code == 200
            assert response.json()["database"] == "ok"
        finally:
            connection.settings_dict["PORT"] = port
            connection.close()

    def test_it_recovers_when_the_database_drops_an_open_connection(self, client):
        """A restarted server kills the connections the app holds open (CONN_MAX_AGE)."""
        assert client.get(reverse("healthz")).status_code == 200
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        params = connection.get_connection_params()
        with psycopg2.connect(**params) as other, other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        other.close()

        try:
            assert client.get(reverse("healthz")).status_code == 503
            assert client.get(reverse("healthz")).status_code == 200
        finally:
            connection.close()  # so a failure here cannot break the test database's teardown
