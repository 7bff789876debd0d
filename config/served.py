"""The app served as `make run` serves it (gunicorn, 2 workers, production settings with
DEBUG off) on a loopback port: for the HTTP benchmark (bench_http) and the long fuzz
(tests/test_api_contract.py), which must measure and attack what is deployed."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(settings_dict: dict, name: str | None = None, scheme: str = "postgis") -> str:
    """The URL of a database on the same server as ``settings_dict`` (DATABASE_URL form)."""
    user = quote(settings_dict["USER"] or "", safe="")
    password = quote(settings_dict["PASSWORD"] or "", safe="")
    auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = settings_dict["HOST"] or "localhost"
    port = settings_dict["PORT"] or 5432
    return f"{scheme}://{auth}{host}:{port}/{quote(name or settings_dict['NAME'], safe='')}"


def production_env(database: str) -> dict:
    """Production settings for a server on loopback, on the database at URL ``database``."""
    return {
        **os.environ,
        "DATABASE_URL": database,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback: no redirect to HTTPS, cookies not HTTPS-only.
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "EMAIL_BACKEND_ALLOW_CONSOLE": "true",
    }


@contextmanager
def served(env: dict, log_path: Path, *, start_timeout_s: float = 60) -> Iterator[str]:
    """gunicorn with ``env`` until the block ends; yields its base URL once /healthz answers.
    The server has a session of its own and is stopped as a group, also on an error."""
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    bind = ["--bind", f"127.0.0.1:{port}", "--workers", "2"]
    timeouts = ["--timeout", "30", "--graceful-timeout", "5"]
    with _process([gunicorn, "config.wsgi", *bind, *timeouts], env, log_path) as server:
        base = f"http://127.0.0.1:{port}"
        _wait_for(server, base, start_timeout_s, log_path)
        yield base


@contextmanager
def worker(env: dict, log_path: Path, *args: str) -> Iterator[subprocess.Popen]:
    """`manage.py worker` with ``env`` until the block ends (in a session of its own, so a test
    can kill it as a crash would: ``os.killpg(process.pid, signal.SIGKILL)``)."""
    command = [sys.executable, "manage.py", "worker", "--no-reload", "--no-startup-delay", *args]
    with _process(command, env, log_path) as process:
        yield process


@contextmanager
def _process(command: list[str], env: dict, log_path: Path) -> Iterator[subprocess.Popen]:
    """``command`` in the project folder, in a session of its own, logging to ``log_path``;
    stopped as a group when the block ends, also on an error."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            _stop(process)


def _wait_for(server: subprocess.Popen, base: str, timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urlopen(f"{base}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not start:\n{log_path.read_text()[-3000:]}")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
