"""The widget in a real browser, framed by a page of another origin (issue 12, part 3).

A practice's page is served by a tiny HTTP server on 127.0.0.1 (another port, so another origin
than the live server's localhost), holding the snippet copied from the builder. Chromium loads
it on a phone and a desktop, with JavaScript on and off: the frame shows the widget, a postcode
search inside it works, a result opens the service page in the whole window, nothing sets a
cookie, axe-core finds no serious or critical violation in the frame, and with JavaScript the
optional script fits the frame to its results. The results page, framed the same way, is
refused by the browser."""

import html
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache
from playwright.sync_api import expect

from tests.pages.test_browser import COMBINATIONS, EXTERNAL, IDS, VIEWPORTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Axe()


class PracticeSite:
    """A practice's website on another origin: serves ``pages[path]`` as HTML."""

    def __init__(self):
        pages = self.pages = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not here").encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def put(self, path: str, body: str) -> str:
        self.pages[path] = (
            '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Hyde Surgery: find support</title></head><body>"
            "<main><h1>Hyde Surgery</h1><p>Find support near you:</p>"
            f"{body}</main><footer><p>Hyde Surgery footer</p></footer></body></html>"
        )
        return self.url + path

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def practice():
    site = PracticeSite()
    yield site
    site.close()


@pytest.fixture(params=COMBINATIONS, ids=IDS)
def setup(request, browser, live_server, directory, practice):
    cache.clear()
    viewport, js = request.param
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        java_script_enabled=js,
        has_touch=viewport == "phone",
        locale="en-GB",
        timezone_id="Europe/London",
    )
    context.route(EXTERNAL, lambda route: route.abort())
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = []

    def on_console(message):
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield {
        "page": page,
        "context": context,
        "browser": browser,
        "viewport": viewport,
        "js": js,
        "live": live_server.url,
        "practice": practice,
        "problems": problems,
    }
    context.close()
    assert not problems, problems


def snippet_from_builder(browser, live: str, query: str) -> str:
    """The code a practice copies from /embed/ (read as the textarea shows it)."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(live + "/embed/" + query)
    code = page.get_by_label("Code to paste into your page").input_value()
    context.close()
    return code


def scan(frame_or_page, what: str) -> None:
    results = AXE.run(frame_or_page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{what}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in bad
    )


def widget_frame(page):
    frame_element = page.locator("iframe").first
    expect(frame_element).to_be_visible()
    return frame_element, page.frame_locator("iframe").first


def test_the_widget_framed_by_a_practices_page(setup):
    page, live, practice = setup["page"], setup["live"], setup["practice"]
    code = snippet_from_builder(setup["browser"], live, "?kind=online_centre&title=Get+online")
    assert code.startswith(f'<iframe src="{live}/embed/widget/?kind=online_centre&amp;title=')
    host = practice.put("/support.html", code)
    assert not host.startswith(live)  # another origin

    page.goto(host)
    frame_element, frame = widget_frame(page)
    expect(frame.get_by_role("heading", level=1)).to_have_text("Get online")
    frame.get_by_label("Your postcode").fill("SK14 1AA")
    frame.get_by_role("button", name="Search").click()
    # The search happened inside the frame: the practice's page is still here around it.
    expect(frame.locator(".result__title")).to_have_text(["Hyde Library Online Centre"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Hyde Surgery")
    assert page.url == host
    assert setup["context"].cookies() == [], "the widget set a cookie"

    if setup["js"]:
        # The optional script made the frame as tall as its results (not the pasted 600). It
        # follows the content as it settles (a message per change), so on a busy machine the
        # two may take a moment to agree: wait up to 5 s for them to.
        expect(frame_element).not_to_have_attribute("style", "")
        for _ in range(50):
            content = frame.locator("body").evaluate(
                "b => Math.ceil(b.getBoundingClientRect().height)"
            )
            height = frame_element.evaluate("f => f.getBoundingClientRect().height")
            if abs(height - content) <= 2:
                break
            page.wait_for_timeout(100)
        assert abs(height - content) <= 2, (height, content)
        assert height != 600
        scan(page.frames[1], "the widget in its frame")
        inside = page.frames[1]
        # Big enough to tap (44 px, as the site's own pages), and nothing scrolls sideways.
        small = inside.eval_on_selector_all(
            ".button, input[type=text]",
            "els => els.map(e => [e.textContent.trim() || e.id, e.getBoundingClientRect().height])"
            ".filter(([, h]) => h < 44)",
        )
        assert not small, small
        assert inside.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    else:
        height = frame_element.evaluate("f => f.getBoundingClientRect().height")
        assert height == 600
        # axe needs JavaScript: scan the same framed widget with Flourish's scripts blocked.
        context = setup["browser"].new_context(viewport=VIEWPORTS[setup["viewport"]])
        context.route(EXTERNAL, lambda route: route.abort())
        context.route(re.compile(r"/static/.*\.js$"), lambda route: route.abort())
        other = context.new_page()
        other.goto(host)
        framed = other.frame_locator("iframe").first
        framed.get_by_label("Your postcode").fill("SK14 1AA")
        framed.get_by_role("button", name="Search").click()
        expect(framed.locator(".result__title")).to_have_count(1)
        scan(other.frames[1], "the widget in its frame, without JavaScript")
        scan(other, "the practice's page with the widget")
        context.close()

    # A result opens its page on Flourish in the whole window, not inside the frame.
    frame.get_by_role("link", name="Hyde Library Online Centre").click()
    expect(page).to_have_url(re.compile(re.escape(live) + r"/services/[0-9a-f-]+/(\?.*)?$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Hyde Library Online Centre")


def test_a_postcode_mistake_is_explained_inside_the_frame(setup):
    page, live, practice = setup["page"], setup["live"], setup["practice"]
    code = snippet_from_builder(setup["browser"], live, "")
    page.goto(practice.put("/mistake.html", code))
    _, frame = widget_frame(page)
    frame.get_by_role("button", name="Search").click()
    expect(frame.locator(".error-summary")).to_contain_text("Enter a postcode")
    frame.get_by_role("link", name=re.compile("Enter a postcode")).click()
    # The error's link stays in the frame (it does not take the whole window to the widget).
    assert page.url.startswith(practice.url)
    frame.get_by_label("Your postcode").fill("SK14 1AA")
    frame.get_by_label("Your postcode").press("Enter")
    expect(frame.locator(".result__title").first).to_be_visible()


def test_other_pages_refuse_to_be_framed(setup):
    page, live, practice = setup["page"], setup["live"], setup["practice"]
    host = practice.put(
        "/framed-search.html",
        f'<iframe src="{live}/search/?postcode=SK14+1AA" title="Search" width="600" height="400">'
        "</iframe>",
    )
    page.goto(host)
    page.wait_for_timeout(1000)
    # Chromium refuses (frame-ancestors 'none') and shows its own error page instead.
    refused = [p for p in setup["problems"] if "frame-ancestors" in p]
    assert refused, setup["problems"]
    assert "Support near" not in page.frames[1].content()
    setup["problems"][:] = [p for p in setup["problems"] if p not in refused]


def test_the_builder_page(setup):
    page, live = setup["page"], setup["live"]
    page.goto(live + "/embed/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Put a search box for local support on your website"
    )
    page.get_by_label("Health trainers").check()
    page.get_by_label("Heading").fill("Health trainers near you")
    page.get_by_role("button", name="Update the preview and code").click()
    code = page.get_by_label("Code to paste into your page").input_value()
    assert f'<iframe src="{live}/embed/widget/?kind=health_trainer_service&amp;title=' in code
    assert f'<script src="{live}/static/js/flourish-embed.js" async></script>' in code
    preview = page.frame_locator("iframe.embed-preview")
    expect(preview.get_by_role("heading", level=1)).to_have_text("Health trainers near you")
    preview.get_by_label("Your postcode").fill("SK14 1AA")
    preview.get_by_role("button", name="Search").click()
    expect(preview.locator(".result__title")).to_have_text(["Tameside Health Trainers"])
    if setup["js"]:
        expect(page.get_by_role("button", name="Copy the code")).to_be_visible()
        scan(page, "the builder")
    else:
        expect(page.get_by_role("button", name="Copy the code")).to_have_count(0)
    # A wrong height is explained, and no code is given.
    page.get_by_label("Height in pixels").fill("tall")
    page.get_by_role("button", name="Update the preview and code").click()
    expect(page.locator(".error-summary")).to_contain_text("whole number of pixels")
    expect(page.get_by_label("Code to paste into your page")).to_have_count(0)
    assert html.escape("tall") in page.content()


def test_take_the_shortlist_away(setup):
    """Part 5: the QR code on the shortlist and its print view, and send it to me."""
    from django.core import mail

    page, live = setup["page"], setup["live"]
    page.goto(live + "/search/?postcode=SK14+1AA")
    for name in ["Hyde Walking Group", "Money Matters Hyde"]:
        page.get_by_role("button", name=f"Add to shortlist {name}").click()
        expect(page.get_by_role("button", name=f"Remove from shortlist {name}")).to_be_visible()
    page.goto(live + "/shortlist/")
    link = page.get_by_label("Link to this list").input_value()
    code = page.get_by_role("img", name="QR code of the link to this list")
    expect(code).to_be_visible()
    assert code.evaluate("img => img.complete && img.naturalWidth > 0"), "the QR code did not load"
    expect(page.locator(".qr__caption")).to_contain_text("Scan to open this list on your phone")
    if setup["js"]:
        scan(page, "the shortlist with its QR code and send form")

    # A wrong address is explained and the list stays; a right one sends the link once.
    page.get_by_label("Your email address").fill("not an address")
    page.get_by_role("button", name="Email me this list").click()
    expect(page.locator(".error-summary")).to_contain_text("Enter an email address in the right")
    expect(page.get_by_label("Your email address")).to_have_value("not an address")
    if setup["js"]:
        scan(page, "the send form with an error")
    assert mail.outbox == []
    page.get_by_label("Your email address").fill("me@example.org")
    page.get_by_role("button", name="Email me this list").click()
    expect(page.locator(".messages")).to_contain_text("We sent the list to the email address")
    assert [m.to for m in mail.outbox] == [["me@example.org"]]
    assert link in mail.outbox[0].body

    # The print view carries the same code, and still fits one sheet of A4.
    page.get_by_role("link", name="Print this list").click()
    printed = page.get_by_role("img", name="QR code of the link to this list")
    expect(printed).to_be_visible()
    assert printed.get_attribute("src") == code.get_attribute("src")
    if setup["js"]:
        page.emulate_media(media="print")
        expect(printed).to_be_visible()
        pdf = page.pdf(format="A4", print_background=False, prefer_css_page_size=True)
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
        page.emulate_media(media="screen")


def test_the_resize_script_listens_only_to_flourish(setup):
    """Another site's frame on the same page cannot resize frames through the script."""
    if not setup["js"]:
        pytest.skip("the resize script needs JavaScript; without it frames keep their height")
    page, live, practice = setup["page"], setup["live"], setup["practice"]
    code = snippet_from_builder(setup["browser"], live, "")
    practice.pages["/other.html"] = (
        "<!doctype html><title>Other</title><p>Another widget</p><script>"
        # Again and again, so it also comes after the resize script has loaded.
        "setInterval(function () {"
        "parent.postMessage({type: 'flourish-embed:height', height: 3000}, '*');"
        "}, 50);</script>"
    )
    page.goto(
        practice.put(
            "/two.html",
            code + '<iframe id="other" src="/other.html" title="Another widget" height="200">'
            "</iframe>",
        )
    )
    widget, frame = widget_frame(page)
    expect(frame.get_by_label("Your postcode")).to_be_visible()
    other = page.locator("#other")
    expect(other.content_frame.get_by_text("Another widget")).to_be_visible()
    page.wait_for_timeout(1000)
    assert other.evaluate("f => f.clientHeight") == 200  # its own height, borders aside
    assert other.get_attribute("style") is None
    # The Flourish frame was fitted by the same script meanwhile.
    assert widget.evaluate("f => f.getBoundingClientRect().height") < 600
