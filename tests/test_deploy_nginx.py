"""deploy/: the nginx site nginx accepts once filled in, an environment file that lists every
setting the app reads, and systemd units that run commands that exist.

The whole setup (two app servers, a worker, load) is `make deploy-check`; these are the quick
parts of it that the test suite can hold. The nginx tests skip where nginx is not installed.
"""

import re
import shutil
import subprocess
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import pytest
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def deploy_check():
    """bin/deploy-check as a module (it has no .py suffix), for its nginx helpers."""
    loader = SourceFileLoader("deploy_check", str(ROOT / "bin" / "deploy-check"))
    module = module_from_spec(spec_from_loader("deploy_check", loader))
    loader.exec_module(module)
    return module


def settings_read_from_environment() -> set[str]:
    text = (ROOT / "config" / "settings.py").read_text()
    names = set(re.findall(r"env_(?:str|bool|int|list)\(\s*\"([A-Z0-9_]+)\"", text))
    # The library paths are read in a loop, by name.
    names |= set(re.findall(r"\(\"[A-Z_]+\", \"([A-Z_]+_LIBRARY_PATH)\"", text))
    return names


class EnvironmentFileTests:
    def test_it_lists_every_setting_the_app_reads(self):
        listed = (DEPLOY / "flourish.env.example").read_text()
        names = settings_read_from_environment()
        assert {"SECRET_KEY", "DATABASE_URL", "GDAL_LIBRARY_PATH"} <= names  # the reader works
        missing = sorted(n for n in names if not re.search(rf"\b{n}\b", listed))
        assert missing == [], f"add these to deploy/flourish.env.example: {missing}"

    def test_it_sets_what_production_requires(self):
        lines = (DEPLOY / "flourish.env.example").read_text().splitlines()
        set_here = {line.split("=", 1)[0] for line in lines if re.match(r"[A-Z_]+=", line)}
        for name in ("DEBUG", "SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "TRUSTED_PROXIES"):
            assert name in set_here
        assert "DEBUG=false" in lines


class SystemdUnitTests:
    def test_each_unit_runs_a_command_that_exists(self):
        commands = get_commands()
        units = sorted((DEPLOY / "systemd").glob("*.service"))
        assert {u.name for u in units} >= {"flourish-web.service", "flourish-worker.service"}
        for unit in units:
            text = unit.read_text()
            assert "EnvironmentFile=/etc/flourish/flourish.env" in text, unit.name
            assert "User=flourish" in text and "NoNewPrivileges=yes" in text, unit.name
            for command in re.findall(r"manage\.py (\w+)", text):
                assert command in commands, f"{unit.name} runs manage.py {command}"

    def test_the_web_unit_binds_where_the_env_file_says(self):
        unit = (DEPLOY / "systemd" / "flourish-web.service").read_text()
        env = (DEPLOY / "flourish.env.example").read_text()
        for name in re.findall(r"\$\{(\w+)\}", unit):
            assert re.search(rf"^{name}=\S", env, re.M), f"{name} is not set in the env file"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_reads_every_line_of_the_units(tmp_path):
    """Every key known to systemd (a misspelt hardening option would be silently ignored)."""
    for unit in sorted((DEPLOY / "systemd").iterdir()):
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text())
        result = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(copy)], capture_output=True, text=True
        )
        complaints = [
            line
            for line in (result.stdout + result.stderr).splitlines()
            # The checkout is not installed at /srv/flourish/app on this machine.
            if line.strip() and "/srv/flourish/app/.venv/bin/" not in line
        ]
        assert complaints == [], f"{unit.name}: {complaints}"


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (bin/setup installs it)")
class NginxSiteTests:
    def filled(self, tmp_path, **overrides) -> Path:
        check = deploy_check()
        cert, key = check.make_certificate(tmp_path)
        (tmp_path / "logs").mkdir()
        (tmp_path / "temp").mkdir()
        values = {
            "SERVER_NAME": "flourish.example.nhs.uk",
            "HTTP_LISTEN": "127.0.0.1:8080",
            "HTTPS_LISTEN": "127.0.0.1:8443",
            "TLS_CERTIFICATE": str(cert),
            "TLS_CERTIFICATE_KEY": str(key),
            "UPSTREAM_SERVERS": "server 127.0.0.1:8001; server 127.0.0.1:8002;",
            "STATIC_ROOT": str(tmp_path / "static"),
            "LOG_DIR": str(tmp_path / "logs"),
            **overrides,
        }
        site = tmp_path / "flourish.conf"
        site.write_text(check.fill_site(values))
        conf = tmp_path / "nginx.conf"
        conf.write_text(check.nginx_main_conf(tmp_path, site))
        return conf

    def nginx_test(self, tmp_path, conf: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "err.log")],
            capture_output=True,
            text=True,
        )

    def test_nginx_accepts_the_site_filled_in(self, tmp_path):
        result = self.nginx_test(tmp_path, self.filled(tmp_path))
        assert result.returncode == 0, result.stderr
        assert "test is successful" in result.stderr

    def test_nginx_refuses_a_wrong_value(self, tmp_path):
        """The test above can fail: nginx -t really reads the file."""
        conf = self.filled(tmp_path, TLS_CERTIFICATE=str(tmp_path / "missing.pem"))
        result = self.nginx_test(tmp_path, conf)
        assert result.returncode != 0
        assert "missing.pem" in result.stderr

    def test_a_placeholder_left_unfilled_is_refused(self, tmp_path):
        check = deploy_check()
        with pytest.raises(check.CheckFailed, match="@STATIC_ROOT@"):
            check.fill_site({"SERVER_NAME": "x"})

    def test_every_placeholder_is_explained_at_the_top(self):
        text = (DEPLOY / "nginx" / "flourish.conf").read_text()
        header = "".join(line for line in text.splitlines(True) if line.startswith("#"))
        used = set(re.findall(r"@[A-Z_]+@", "".join(
            line for line in text.splitlines(True) if not line.startswith("#")
        )))  # fmt: skip
        assert used and all(f"#   {p}" in header for p in used)
