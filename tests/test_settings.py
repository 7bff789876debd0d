"""Settings come from the environment, and production-unsafe combinations refuse to start."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def import_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import config.settings as s; print(s.DEBUG, s.DATABASES['default']['NAME'])",
        ],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


class SettingsTests:
    def test_it_refuses_to_start_with_debug_off_and_no_secret(self):
        result = import_settings(DEBUG="false")
        assert result.returncode != 0
        assert "SECRET_KEY" in result.stderr

    def test_it_refuses_a_short_secret_in_production(self):
        result = import_settings(DEBUG="false", SECRET_KEY="short")
        assert result.returncode != 0
        assert "SECRET_KEY" in result.stderr

    def test_it_starts_in_production_with_a_real_secret(self):
        result = import_settings(
            DEBUG="false",
            SECRET_KEY="x" * 50,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("False")

    def test_it_refuses_a_debug_value_it_does_not_understand(self):
        result = import_settings(DEBUG="maybe")
        assert result.returncode != 0
        assert "DEBUG must be true or false" in result.stderr

    def test_it_takes_the_database_from_database_url(self):
        result = import_settings(DATABASE_URL="postgis://u:p@db.example:5433/elsewhere")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[1] == "elsewhere"

    def test_it_refuses_a_database_that_is_not_postgis(self):
        result = import_settings(DATABASE_URL="sqlite:///tmp/x.db")
        assert result.returncode != 0
        assert "postgis://" in result.stderr
