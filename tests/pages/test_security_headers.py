"""Every page sends the security headers, and no page needs an inline script or handler."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(directory):
    return [
        reverse("home"),
        reverse("directory-search") + "?postcode=SK14+1AA",
        reverse("directory-search") + "?postcode=nonsense",
        reverse("directory-service", args=[directory.walking.pk]),
        reverse("directory-report", args=[directory.walking.pk]),
        reverse("directory-get-online") + "?postcode=SK14+1AA",
        reverse("directory-health-trainers") + "?postcode=SK14+1AA",
        reverse("directory-shortlist") + f"?s={directory.walking.pk}",
        reverse("directory-shortlist-print") + f"?s={directory.walking.pk}",
    ]


class SecurityHeaderTests:
    def test_every_page_sends_a_strict_content_security_policy(self, client, pages):
        for url in pages:
            response = client.get(url)
            csp = response["Content-Security-Policy"]
            # A nonce appears only when a page has an inline script; these pages have none.
            assert re.search(r"script-src 'self'( 'nonce-[^']+')?;", csp), url
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, url
            assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp, url
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["X-Frame-Options"] == "DENY"
            assert response["Referrer-Policy"] == "same-origin"

    def test_no_page_has_inline_scripts_styles_or_event_handlers(self, client, pages):
        for url in pages:
            html = client.get(url).content.decode()
            assert not re.search(r"\son[a-z]+\s*=", html), url
            assert not re.search(r"\sstyle\s*=", html), url
            assert "<style" not in html, url
            for tag in re.findall(r"<script[^>]*>", html):
                assert 'src="/static/' in tag or 'type="application/json"' in tag, (url, tag)
