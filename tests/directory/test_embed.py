"""The widget any practice can paste (issue 12, part 3): /embed/ builds it, /embed/widget/ is
the page inside the frame. Framing allowed for the widget only, no cookies, the search's own
parameters and results, and a clear message for a widget set up wrong."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from directory import vocabularies
from directory.models import Service, Taxonomy, TaxonomyTerm
from tests.directory.conftest import make_service

pytestmark = pytest.mark.django_db

WIDGET = "/embed/widget/"


@pytest.fixture
def hyde(places):
    vocabularies.install(Taxonomy, TaxonomyTerm)
    return {
        "walks": make_service("Hyde Health Walks", at="SK14 1PW", needs=["physical-activity"]),
        "money": make_service("Money Advice Hyde", at="SK14 1AA", needs=["money-debt"]),
        "online": make_service(
            "Hyde Library Online Centre",
            at="SK14 1AA",
            kind=Service.Kind.ONLINE_CENTRE,
            needs=["digital-skills"],
        ),
        "trainers": make_service(
            "Tameside Health Trainers",
            at="SK15 1AA",
            kind=Service.Kind.HEALTH_TRAINER_SERVICE,
            districts=["SK14"],
            needs=["physical-activity"],
        ),
    }


def names(response) -> list[str]:
    return [
        # The results page numbers its results ("1. "), for screen readers; the widget does not.
        re.sub(r"^\d+\. ", "", html.unescape(re.sub(r"<[^>]+>", "", name)).strip())
        for name in re.findall(
            r'class="result__title"><a [^>]*>(.*?)</a>', response.content.decode()
        )
    ]


class WidgetHeaderTests:
    def test_it_may_be_framed_by_any_site(self, client, hyde):
        response = client.get(WIDGET + "?postcode=SK14+1AA")
        assert response.status_code == 200
        assert "frame-ancestors *" in response["Content-Security-Policy"]
        assert "X-Frame-Options" not in response
        # The rest of the policy is the site's: no inline script, no plugins.
        assert "object-src 'none'" in response["Content-Security-Policy"]
        assert "unsafe-inline" not in response["Content-Security-Policy"]

    def test_its_framers_can_be_limited_by_a_setting(self, client, hyde, settings):
        settings.EMBED_FRAME_ANCESTORS = ["https://*.nhs.uk", "https://practice.example"]
        response = client.get(WIDGET)
        assert (
            "frame-ancestors https://*.nhs.uk https://practice.example"
            in response["Content-Security-Policy"]
        )

    @pytest.mark.parametrize(
        "url",
        ["/embed/", "/", "/search/?postcode=SK14+1AA", "/shortlist/", "/get-online/"],
    )
    def test_every_other_page_still_refuses_to_be_framed(self, client, hyde, url):
        response = client.get(url)
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], url
        assert response["X-Frame-Options"] == "DENY", url

    def test_it_only_answers_get(self, client, hyde):
        assert client.post(WIDGET, {"postcode": "SK14 1AA"}).status_code == 405


class WidgetCookieTests:
    @pytest.mark.parametrize(
        "query",
        ["", "?postcode=SK14+1AA", "?postcode=nonsense", "?kind=online_centre", "?kind=bogus"],
    )
    def test_it_sets_no_cookie(self, client, hyde, query):
        response = client.get(WIDGET + query)
        assert "Set-Cookie" not in str(response.serialize_headers())
        assert not response.cookies
        assert "csrfmiddlewaretoken" not in response.content.decode()

    def test_it_neither_refreshes_nor_ends_a_visitors_own_session(self, client, hyde):
        # A signed-in person (the builder's preview is on this site) keeps their session as it
        # was: the widget neither sends it again (SESSION_SAVE_EVERY_REQUEST) nor deletes it.
        user = get_user_model().objects.create_user("someone", password="x-long-password-1")
        client.force_login(user)
        client.post("/shortlist/add/", {"service": str(hyde["walks"].pk)})
        session_key = client.cookies["sessionid"].value
        response = client.get(WIDGET + "?postcode=SK14+1AA")
        assert not response.cookies
        assert "Add to shortlist" not in response.content.decode()
        # The session is still there and still theirs.
        page = client.get("/shortlist/")
        assert client.cookies["sessionid"].value == session_key
        assert "Hyde Health Walks" in page.content.decode()


class WidgetChoiceTests:
    def test_all_support_lists_every_kind_nearest_first(self, client, hyde):
        response = client.get(WIDGET + "?postcode=SK14+1AA")
        found = names(response)
        # Two at SK14 1AA itself, then the walk 650 m away, then the trainers by their area.
        assert set(found[:2]) == {"Money Advice Hyde", "Hyde Library Online Centre"}
        assert found[2] == "Hyde Health Walks"
        assert "Tameside Health Trainers" in names(response)

    def test_online_centres_only(self, client, hyde):
        response = client.get(WIDGET + "?kind=online_centre&postcode=SK14+1AA")
        assert names(response) == ["Hyde Library Online Centre"]

    def test_health_trainers_only(self, client, hyde):
        response = client.get(WIDGET + "?kind=health_trainer_service&postcode=SK14+1AA")
        assert names(response) == ["Tameside Health Trainers"]

    def test_chosen_needs_only(self, client, hyde):
        response = client.get(WIDGET + "?need=money-debt&need=digital-skills&postcode=SK14+1AA")
        assert sorted(names(response)) == ["Hyde Library Online Centre", "Money Advice Hyde"]

    def test_its_results_are_the_results_pages(self, client, hyde):
        """The same search: the widget lists what /search/ lists for the same parameters."""
        query = "?need=physical-activity&postcode=SK14+1AA"
        found = names(client.get(WIDGET + query))
        assert found == ["Hyde Health Walks", "Tameside Health Trainers"]
        assert found == names(client.get("/search/" + query))

    def test_the_form_keeps_the_choices_and_stays_in_the_frame(self, client, hyde):
        body = client.get(
            WIDGET + "?kind=online_centre&need=digital-skills&title=Get+online"
        ).content.decode()
        form = re.search(r"<form[^>]*>.*?</form>", body, re.S).group(0)
        assert 'method="get"' in form and 'target="_self"' in form
        assert '<input type="hidden" name="kind" value="online_centre">' in form
        assert '<input type="hidden" name="need" value="digital-skills">' in form
        assert '<input type="hidden" name="title" value="Get online">' in form
        assert "<h1 " in body and ">Get online</h1>" in body
        # Links to services leave the frame for the whole window.
        assert '<base target="_top">' in body
        assert "site-nav" not in body

    def test_links_open_the_service_page_and_the_full_results(self, client, hyde, settings):
        body = client.get(WIDGET + "?kind=online_centre&postcode=SK14+1AA").content.decode()
        assert f'href="{reverse("directory-service", args=[hyde["online"].pk])}' in body
        assert 'href="/search/?postcode=SK14+1AA&amp;kind=online_centre"' not in body  # one page
        many = [make_service(f"Club {n}", at="SK14 1PW") for n in range(12)]
        body = client.get(WIDGET + "?postcode=SK14+1AA").content.decode()
        assert body.count('class="result"') == 10
        assert 'href="/search/?postcode=SK14+1AA"' in body
        assert f"See all {4 + len(many)} on Flourish" in body

    def test_it_works_without_javascript_and_asks_for_a_postcode(self, client, hyde):
        response = client.get(WIDGET + "?kind=online_centre")
        body = response.content.decode()
        assert response.status_code == 200
        assert 'id="postcode"' in body and "There is a problem" not in body
        response = client.get(WIDGET + "?kind=online_centre&postcode=")
        assert response.status_code == 400
        assert "Enter a postcode" in response.content.decode()
        assert 'href="#postcode" target="_self"' in response.content.decode()

    def test_an_unknown_postcode_is_a_clear_message(self, client, hyde):
        response = client.get(WIDGET + "?postcode=ZZ99+9ZZ")
        assert response.status_code == 400
        assert 'class="error-message" id="postcode-error"' in response.content.decode()


class BadWidgetTests:
    @pytest.mark.parametrize(
        "query, message",
        [
            ("?kind=bogus", "&#x27;bogus&#x27; is not a kind of service"),
            ("?need=not-a-need", "We do not know the need &#x27;not-a-need&#x27;"),
            ("?title=" + "x" * 81, "The title must be at most 80 characters"),
        ],
    )
    def test_wrong_settings_are_a_clear_message_not_a_500(self, client, hyde, query, message):
        response = client.get(WIDGET + query + "&postcode=SK14+1AA")
        body = response.content.decode()
        assert response.status_code == 400
        assert "This search box is not set up correctly" in body
        assert message in body
        assert "http://testserver/embed/" in body
        assert 'class="result"' not in body


class BuilderTests:
    def snippet(self, response) -> str:
        text = re.search(r"<textarea[^>]*>(.*?)</textarea>", response.content.decode(), re.S)
        return html.unescape(text.group(1))

    def test_the_default_is_all_support(self, client, hyde):
        response = client.get("/embed/")
        assert response.status_code == 200
        assert self.snippet(response) == (
            '<iframe src="http://testserver/embed/widget/" title="Find support near you" '
            'width="100%" height="600" style="border:0" loading="lazy"></iframe>\n'
            '<script src="http://testserver/static/js/flourish-embed.js" async></script>'
        )
        assert '<iframe class="embed-preview" src="http://testserver/embed/widget/"' in (
            response.content.decode()
        )

    def test_the_snippet_carries_the_choices_as_search_parameters(self, client, hyde):
        response = client.get(
            "/embed/?kind=online_centre&need=digital-skills&need=money-debt"
            "&title=Help+%26+support&height=800"
        )
        snippet = self.snippet(response)
        src = html.unescape(re.search(r'<iframe src="([^"]+)"', snippet).group(1))
        url = urlsplit(src)
        assert (url.scheme, url.netloc, url.path) == ("http", "testserver", "/embed/widget/")
        assert parse_qs(url.query) == {
            "kind": ["online_centre"],
            "need": ["digital-skills", "money-debt"],
            "title": ["Help & support"],
        }
        assert 'title="Help &amp; support"' in snippet and 'height="800"' in snippet
        # What the snippet frames is a working widget showing those choices.
        widget = client.get(src.replace("http://testserver", "") + "&postcode=SK14+1AA")
        assert names(widget) == ["Hyde Library Online Centre"]

    def test_the_preview_shows_the_same_widget(self, client, hyde):
        body = client.get("/embed/?kind=health_trainer_service").content.decode()
        assert (
            '<iframe class="embed-preview" '
            'src="http://testserver/embed/widget/?kind=health_trainer_service"' in body
        )
        assert 'id="kind-2" checked' in body

    @pytest.mark.parametrize(
        "query, message",
        [
            ("?height=tall", "The height must be a whole number of pixels"),
            ("?height=50", "between 300 and 2000 pixels; you gave 50"),
            ("?kind=everything", "&#x27;everything&#x27; is not a kind of service"),
            ("?need=nope", "We do not know the need &#x27;nope&#x27;"),
            ("?title=" + "y" * 90, "The title must be at most 80 characters; it has 90"),
        ],
    )
    def test_it_refuses_wrong_choices_with_a_message_and_no_snippet(
        self, client, hyde, query, message
    ):
        response = client.get("/embed/" + query)
        body = response.content.decode()
        assert response.status_code == 400
        assert "There is a problem" in body and message in body
        assert "<textarea" not in body and "embed-preview" not in body

    def test_it_only_answers_get(self, client, hyde):
        assert client.post("/embed/").status_code == 405


class NoInlineCodeTests:
    @pytest.mark.parametrize(
        "url", ["/embed/", "/embed/?kind=bogus", WIDGET, WIDGET + "?postcode=SK14+1AA"]
    )
    def test_no_inline_scripts_styles_or_handlers(self, client, hyde, url):
        body = client.get(url).content.decode()
        # The snippet to copy is text in a textarea, not markup of the page.
        body = re.sub(r"<textarea[^>]*>.*?</textarea>", "", body, flags=re.S)
        assert not re.search(r"\son[a-z]+\s*=", body), url
        assert not re.search(r"\sstyle\s*=", body), url
        assert "<style" not in body, url
        for tag in re.findall(r"<script[^>]*>", body):
            assert 'src="/static/' in tag, (url, tag)


class FrameAncestorsSettingTests:
    def import_settings(self, value: str):
        import os
        import subprocess
        import sys
        from pathlib import Path

        return subprocess.run(
            [sys.executable, "-c", "import config.settings as s; print(s.EMBED_FRAME_ANCESTORS)"],
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "EMBED_FRAME_ANCESTORS": value},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_it_reads_a_list_of_sources(self):
        result = self.import_settings("https://*.nhs.uk, https://practice.example")
        assert result.returncode == 0, result.stderr
        assert "['https://*.nhs.uk', 'https://practice.example']" in result.stdout

    def test_it_refuses_a_value_that_would_add_to_the_policy(self):
        result = self.import_settings("https://a.example; script-src *")
        assert result.returncode != 0
        assert "EMBED_FRAME_ANCESTORS must be comma-separated sources" in result.stderr
