"""X-Forwarded-For is believed only from a trusted proxy, and then read from the right."""

import os
import subprocess
import sys
from pathlib import Path

from django.test import RequestFactory, override_settings

from config.clientip import client_ip

ROOT = Path(__file__).resolve().parents[1]


def request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


class ClientIpTests:
    def test_it_ignores_x_forwarded_for_when_no_proxy_is_trusted(self):
        assert client_ip(request("198.51.100.9", "203.0.113.7")) == "198.51.100.9"

    @override_settings(TRUSTED_PROXIES=["10.0.0.1"])
    def test_it_ignores_x_forwarded_for_from_an_address_that_is_not_a_trusted_proxy(self):
        assert client_ip(request("198.51.100.9", "203.0.113.7")) == "198.51.100.9"

    @override_settings(TRUSTED_PROXIES=["10.0.0.1"])
    def test_it_reads_the_client_from_a_trusted_proxy(self):
        assert client_ip(request("10.0.0.1", "203.0.113.7")) == "203.0.113.7"

    @override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
    def test_it_takes_the_right_most_address_that_is_not_a_proxy(self):
        # The client wrote "1.2.3.4" itself; our proxies appended the rest.
        forwarded = "1.2.3.4, 203.0.113.7, 10.0.0.5"
        assert client_ip(request("10.0.0.1", forwarded)) == "203.0.113.7"

    @override_settings(TRUSTED_PROXIES=["10.0.0.0/8", "2001:db8::/32"])
    def test_it_understands_ipv6_and_ipv4_mapped_addresses(self):
        assert client_ip(request("2001:db8::1", "2001:db8:ffff::2, 2a00:1450::1")) == "2a00:1450::1"
        assert client_ip(request("10.0.0.1", "::ffff:203.0.113.7")) == "203.0.113.7"

    @override_settings(TRUSTED_PROXIES=["10.0.0.1"])
    def test_it_stops_at_an_address_it_cannot_read(self):
        assert client_ip(request("10.0.0.1", "203.0.113.7, not-an-address")) == "10.0.0.1"
        assert client_ip(request("10.0.0.1", "")) == "10.0.0.1"

    def test_it_has_no_address_for_a_unix_socket(self):
        assert client_ip(request("")) is None


class TrustedProxiesSettingTests:
    def test_it_refuses_a_proxy_it_cannot_read(self):
        result = subprocess.run(
            [sys.executable, "-c", "import config.settings"],
            cwd=ROOT,
            env={**os.environ, "TRUSTED_PROXIES": "10.0.0.1, proxy.example"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        assert "TRUSTED_PROXIES must be comma-separated IP addresses" in result.stderr

    def test_it_takes_addresses_and_networks(self):
        result = subprocess.run(
            [sys.executable, "-c", "import config.settings as s; print(s.TRUSTED_PROXIES)"],
            cwd=ROOT,
            env={**os.environ, "TRUSTED_PROXIES": "10.0.0.1, 10.1.0.0/16, 2001:db8::/32"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
