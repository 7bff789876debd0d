"""Production settings pass Django's own deployment check, and refuse mail that goes nowhere."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMTP = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE = "django.core.mail.backends.console.EmailBackend"

# Settings a deployment might have in its environment, removed so each test states its own.
PRODUCTION_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "EMAIL_BACKEND",
    "EMAIL_BACKEND_ALLOW_CONSOLE",
    "EMAIL_HOST",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_COOKIES",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_VARIABLES}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(**env: str) -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50)[:50],
        "EMAIL_BACKEND": SMTP,
        "EMAIL_HOST": "smtp.example.org",
        **env,
    }


class DeployCheckTests:
    def test_it_passes_the_deployment_check_with_production_settings(self):
        result = manage("check", "--deploy", "--fail-level", "WARNING", **production())
        assert result.returncode == 0, result.stdout + result.stderr
        assert "System check identified no issues" in result.stdout
        assert "WARNINGS" not in result.stderr + result.stdout

    def test_it_turns_on_https_redirect_hsts_and_the_proxy_header_in_production(self):
        result = manage(
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, "
            "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_PROXY_SSL_HEADER)",
            **production(),
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == ("True 31536000 True ('HTTP_X_FORWARDED_PROTO', 'https')")

    def test_it_lets_a_deployment_turn_each_https_setting_off(self):
        result = manage(
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, "
            "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)",
            **production(
                SECURE_SSL_REDIRECT="false",
                SECURE_HSTS_SECONDS="0",
                SECURE_PROXY_SSL_HEADER="off",
            ),
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "False 0 None"

    def test_it_refuses_to_start_in_production_with_the_console_email_backend(self):
        result = manage("check", **production(EMAIL_BACKEND=CONSOLE))
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr
        assert "referrers would never hear back" in result.stderr
        assert f"set EMAIL_BACKEND={SMTP} with EMAIL_HOST" in result.stderr

    def test_it_refuses_to_start_in_production_when_no_email_backend_is_set(self):
        env = production()
        del env["EMAIL_BACKEND"]
        result = manage("check", **env)
        assert result.returncode != 0
        assert "EMAIL_BACKEND" in result.stderr

    def test_it_keeps_plain_http_and_console_email_in_development(self):
        result = manage(
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, "
            "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, s.MAILERS['default']['BACKEND'])",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"False 0 None {CONSOLE}"
