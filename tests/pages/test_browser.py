"""The five journeys in a real browser (Debian's Chromium through Playwright), on a phone and a
desktop, with JavaScript on and off; an axe-core scan of every page (no serious or critical
violations) and the print view's layout. Run with ``--screenshots`` to refresh docs/screenshots/.
"""

import datetime as dt
import gzip
import re
from dataclasses import dataclass, field

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache
from playwright.sync_api import expect

from directory.models import ListingReport, Service
from directory.params import LONDON
from tests.pages.conftest import SCREENSHOTS, make_service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
COMBINATIONS = [("phone", True), ("phone", False), ("desktop", True), ("desktop", False)]
IDS = ["phone-js", "phone-nojs", "desktop-js", "desktop-nojs"]
# The map tiles live on the internet; there is none here, and the pages must not need it.
EXTERNAL = re.compile(r"^https?://(?!127\.0\.0\.1|localhost)")
AXE = Axe()


@dataclass
class Visit:
    page: object
    browser: object
    base_url: str
    viewport: str
    js: bool
    save_screenshots: bool
    problems: list = field(default_factory=list)

    def scan(self, what: str) -> None:
        """axe-core over the page as shown: no serious or critical violations."""
        if self.js:
            results = AXE.run(self.page)
        else:
            # axe needs JavaScript to run; scan the same page with the site's own scripts
            # blocked, which is what a browser with JavaScript off shows.
            context = self.browser.new_context(viewport=VIEWPORTS[self.viewport])
            context.route(EXTERNAL, lambda route: route.abort())
            context.route(re.compile(r"/static/.*\.js$"), lambda route: route.abort())
            page = context.new_page()
            page.goto(self.page.url)
            results = AXE.run(page)
            context.close()
        bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, f"{what}: " + "; ".join(
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in bad
        )

    def screenshot(self, name: str) -> None:
        if self.save_screenshots and self.js:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=SCREENSHOTS / f"{name}-{self.viewport}.png", full_page=False)

    def check_tap_targets(self) -> None:
        """Buttons, fields and navigation are at least 44 px tall (NHS.UK and WCAG 2.5.5)."""
        small = (
            self.page.eval_on_selector_all(
                "main .button, main input[type=text], main input[type=email], main select, "
                ".site-nav__link, .pagination__link",
                """els => els.filter(e => e.offsetParent !== null)
                       .map(e => [e.textContent.trim().slice(0, 30) || e.id, e.getBoundingClientRect().height])
                       .filter(([, h]) => h < 44)""",
            )
            if self.js
            else []
        )
        assert not small, small


@pytest.fixture(params=COMBINATIONS, ids=IDS)
def visit(request, browser, live_server, directory, screenshots, settings):
    settings.LISTING_REPORT_MIN_SECONDS = 0
    cache.clear()
    viewport, js = request.param
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        java_script_enabled=js,
        base_url=live_server.url,
        has_touch=viewport == "phone",
        locale="en-GB",
        timezone_id="Europe/London",
    )
    context.route(EXTERNAL, lambda route: route.abort())
    context.set_default_timeout(10_000)
    page = context.new_page()
    result = Visit(page, browser, live_server.url, viewport, js, screenshots)

    def on_console(message):
        # A blocked tile is expected (no network); a CSP violation or script error is not.
        if message.type == "error" and "Failed to load resource" not in message.text:
            result.problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: result.problems.append(str(error)))
    yield result
    context.close()
    assert not result.problems, result.problems


def results_names(page) -> list[str]:
    return [
        t.strip().lstrip("0123456789. ").strip()
        for t in page.locator(".result__title").all_inner_texts()
    ]


def pin_search_clock(monkeypatch, moment: dt.datetime) -> None:
    """The live server's searches run at ``moment`` ("open now" has one answer whenever the
    suite runs: the directory's weekday sessions would otherwise be open during office hours)."""
    from directory import search

    unpinned = search.parse_search
    monkeypatch.setattr(
        search, "parse_search", lambda params, *, now=None: unpinned(params, now=now or moment)
    )


def test_find_support_near_me(visit, monkeypatch):
    # A Sunday evening: of the services near SK14 1AA only the 24-hour listening line is open.
    pin_search_clock(monkeypatch, dt.datetime(2026, 11, 29, 20, 0, tzinfo=LONDON))
    page = visit.page
    page.goto("/")
    visit.scan("home page")
    visit.check_tap_targets()
    visit.screenshot("1-home")
    # Keyboard first: the skip link is the first stop and takes you to the content.
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    page.get_by_label("Enter your postcode").fill("sk14 1aa")
    page.get_by_label("Get more active").check()
    page.get_by_role("button", name="Find support").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Support near SK14 1AA")
    expect(page.locator("#results-heading")).to_contain_text("2 places near SK14 1AA")
    assert results_names(page) == ["Hyde Walking Group", "Tameside Health Trainers"]
    expect(page.locator(".result").first).to_contain_text("0.4 miles (0.6 km) away")
    expect(page.locator(".result").first).to_contain_text("Drop in")
    if visit.js:
        # The map's numbered markers, with names a screen reader can read.
        markers = page.locator(".map-marker")
        expect(markers).to_have_count(2)
        expect(markers.first).to_have_attribute(
            "aria-label", re.compile(r"^1\. Hyde Walking Group, 0\.4 miles")
        )
        expect(markers.first).to_have_text("1")
    else:
        expect(page.locator("[data-map-panel]")).to_be_hidden()
    visit.scan("results page")
    visit.check_tap_targets()
    visit.screenshot("2-results")

    # Filters: free only, open now, then widen to everything near.
    page.locator(".filters__summary").click()
    page.get_by_label("Get more active").uncheck()
    page.get_by_label("Open now").check()
    page.get_by_role("button", name="Update results").click()
    expect(page.locator("#results-heading")).to_contain_text("1 place near SK14 1AA")
    assert results_names(page) == ["Hyde Listening Line"]
    page.locator(".filters__summary").click()
    page.get_by_label("Open now").uncheck()
    page.get_by_label("Type of support").select_option("online_centre")
    page.get_by_role("button", name="Update results").click()
    assert results_names(page) == ["Hyde Library Online Centre"]

    # Paging, with the API's parameter names.
    page.goto("/search/?postcode=SK14+1AA&page_size=2")
    first = results_names(page)
    page.get_by_role("link", name="Next page").click()
    expect(page.locator(".pagination")).to_contain_text("Page 2 of")
    assert not set(first) & set(results_names(page))

    # A mistake gets a message by the field and in a summary that links to it.
    page.goto("/")
    page.get_by_label("Enter your postcode").fill("hello")
    page.get_by_role("button", name="Find support").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("There is a problem")
    expect(page.locator("#postcode-error")).to_contain_text(
        "Enter a full UK postcode, like SK14 4QH"
    )
    assert page.title().startswith("Error:")
    if visit.js:
        expect(summary).to_be_focused()
    visit.scan("results page with an error")
    visit.screenshot("3-error")
    summary.get_by_role("link").click()
    if visit.js:
        expect(page.get_by_label("Your postcode")).to_be_focused()
    else:
        assert page.url.endswith("#postcode")

    # A postcode we only know the district of: distances are approximate.
    page.get_by_label("Your postcode").fill("SK14 9ZZ")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("[data-approximate]")).to_contain_text("Distances are approximate.")


def test_one_service_and_report_a_problem(visit):
    page = visit.page
    page.goto("/search/?postcode=SK14+1AA")
    page.get_by_role("link", name="Hyde Walking Group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hyde Walking Group")
    main = page.locator("main")
    expect(main).to_contain_text("Tuesdays, 10am to 12pm")
    expect(page.get_by_role("link", name="Call 0161 496 0001")).to_have_attribute(
        "href", "tel:01614960001"
    )
    expect(page.get_by_role("link", name="walks@example.org")).to_have_attribute(
        "href", "mailto:walks@example.org"
    )
    expect(page.get_by_role("link", name=re.compile("^Directions to"))).to_have_attribute(
        "href", re.compile("destination=53.45")
    )
    expect(main).to_contain_text("Step-free paths")
    expect(main).to_contain_text("English, Urdu")
    checked = dt.date.today() - dt.timedelta(days=30)  # as tests/pages/conftest.py sets it
    expect(main).to_contain_text(f"Checked in {checked:%B %Y}")
    visit.scan("service page")
    visit.check_tap_targets()
    visit.screenshot("4-service")

    page.get_by_role("link", name="Report a problem with this listing").click()
    page.get_by_role("button", name="Send report").click()
    expect(page.locator(".error-summary")).to_contain_text(
        "Select what is wrong with this listing."
    )
    visit.scan("report form with an error")
    page.get_by_label("Opening times are wrong").check()
    page.get_by_label("Tell us more (optional)").fill("It meets on Wednesdays now.")
    visit.screenshot("5-report")
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Thank you, your report has been sent"
    )
    visit.scan("report sent")
    report = ListingReport.objects.get()
    assert (report.service.name, report.reason, report.details) == (
        "Hyde Walking Group",
        "times",
        "It meets on Wednesdays now.",
    )


def test_get_online(visit):
    page = visit.page
    page.goto("/")
    page.get_by_role("link", name="Get online").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Get online: free help near you")
    page.get_by_label("Your postcode").fill("SK14 1AA")
    page.get_by_role("button", name="Find help").click()
    expect(page.locator("#results-heading")).to_have_text("1 online centre near SK14 1AA")
    result = page.locator(".result").first
    for offer in ("Free wifi", "Help with the NHS App", "Borrow a device"):
        expect(result).to_contain_text(offer)
    expect(result.get_by_role("link", name="0161 496 0003")).to_have_attribute(
        "href", "tel:01614960003"
    )
    visit.scan("get online results")
    visit.check_tap_targets()
    visit.screenshot("6-get-online")


def test_health_trainers_near_me(visit):
    page = visit.page
    page.goto("/health-trainers/")
    expect(page.locator("main")).to_contain_text("A health trainer is a friendly, trained person")
    visit.scan("health trainers")
    # Keyboard only: type the postcode and press Enter.
    page.get_by_label("Your postcode").focus()
    page.keyboard.type("SK14 1PW")
    page.keyboard.press("Enter")
    expect(page.locator("#results-heading")).to_have_text("1 health trainer service for SK14 1PW")
    result = page.locator(".result").first
    expect(result).to_contain_text("Tameside Health Trainers")
    expect(result.get_by_role("link", name="0161 496 0004")).to_have_attribute(
        "href", "tel:01614960004"
    )
    expect(result.get_by_role("link", name="trainers@example.org")).to_be_visible()
    visit.scan("health trainers results")
    visit.check_tap_targets()
    visit.screenshot("7-health-trainers")


def test_take_away_shortlist(visit):
    page = visit.page
    page.goto("/search/?postcode=SK14+1AA")
    count = page.locator("[data-shortlist-count]")
    expect(count).to_have_text("0")
    for n, name in enumerate(["Hyde Walking Group", "Money Matters Hyde"], start=1):
        page.get_by_role("button", name=f"Add to shortlist {name}").click()
        expect(count).to_have_text(str(n))
        expect(page.get_by_role("button", name=f"Remove from shortlist {name}")).to_be_visible()
    if not visit.js:
        expect(page.locator(".messages")).to_contain_text("Added to your shortlist.")
    visit.scan("results with a shortlist")

    page.get_by_role("link", name=re.compile("^My shortlist")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My shortlist")
    assert page.locator(".shortlist-item__name").all_inner_texts() == [
        "Hyde Walking Group",
        "Money Matters Hyde",
    ]
    visit.scan("shortlist")
    visit.check_tap_targets()
    visit.screenshot("8-shortlist")
    share_url = page.get_by_label("Link to this list").input_value()

    # The share link reopens the same list in a browser that has never seen it.
    stranger = visit.browser.new_context(
        viewport=VIEWPORTS[visit.viewport], java_script_enabled=visit.js
    )
    stranger.route(EXTERNAL, lambda route: route.abort())
    other = stranger.new_page()
    other.goto(share_url)
    expect(other.get_by_role("heading", level=1)).to_have_text("A shared list of services")
    assert other.locator(".shortlist-item__name").all_inner_texts() == [
        "Hyde Walking Group",
        "Money Matters Hyde",
    ]
    stranger.close()

    # The print view: one clean A4 page with names, addresses, phones, times and a note.
    page.get_by_role("link", name="Print this list").click()
    page.get_by_label("Note").fill("Call the walking group on Monday.")
    page.get_by_label("Note").blur()
    sheet = page.locator(".print-sheet")
    for text in (
        "Hyde Walking Group",
        "Hyde Park bandstand, Hyde, SK14 1PW",
        "0161 496 0001",
        "Tuesdays, 10am to 12pm",
        "Money Matters Hyde",
        "Mondays and Thursdays, 9:30am to 1pm",
    ):
        expect(sheet).to_contain_text(text)
    visit.scan("print view")
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".site-footer")).to_be_hidden()
    visit.screenshot("9-print")
    pdf = page.pdf(format="A4", print_background=False, prefer_css_page_size=True)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages == 1, f"the print view takes {pages} A4 pages"
    page.emulate_media(media="screen")


@pytest.mark.parametrize("full", [True])
def test_results_page_weight(browser, live_server, directory, full):
    """HTML + CSS + JS of a results page with 20 results and the map, excluding map tiles."""
    for n in range(20):
        make_service(
            f"Coffee morning {n + 1}",
            at="SK14 1AA",
            east_m=40 * (n + 1),
            needs=["loneliness"],
            sessions=[("WE", "10:00", "11:30")],
            phone="0161 496 0100",
        )
    assert Service.objects.count() >= 20
    context = browser.new_context(viewport=VIEWPORTS["desktop"], base_url=live_server.url)
    context.route(EXTERNAL, lambda route: route.abort())
    page = context.new_page()
    responses = []
    page.on(
        "response",
        lambda r: (
            responses.append(r)
            if r.request.resource_type in ("document", "stylesheet", "script")
            else None
        ),
    )
    page.goto("/search/?postcode=SK14+1AA&need=loneliness")
    page.wait_for_load_state("networkidle")
    expect(page.locator(".result")).to_have_count(20)
    raw = compressed = 0
    lines = []
    for response in responses:
        body = response.body()
        packed = len(gzip.compress(body, 9))
        raw += len(body)
        # Static files go out pre-compressed by whitenoise; count the HTML as sent uncompressed.
        sent = len(body) if response.request.resource_type == "document" else packed
        compressed += sent
        lines.append(
            f"{response.url.replace(live_server.url, '')}: {len(body)} B raw, {sent} B sent"
        )
    context.close()
    print("\nResults page weight (20 results):\n  " + "\n  ".join(lines))
    print(f"  total {raw / 1024:.1f} KB raw, {compressed / 1024:.1f} KB as sent")
    assert compressed < 150 * 1024


def test_nothing_scrolls_sideways_on_a_320px_phone(browser, live_server, directory):
    """The narrowest phones in use: results, the search form showing its errors (the filters
    open, with their widest drop-down), get online and health trainers all fit."""
    context = browser.new_context(viewport={"width": 320, "height": 640}, base_url=live_server.url)
    context.route(EXTERNAL, lambda route: route.abort())
    page = context.new_page()
    for path in [
        "/search/?postcode=SK14+1AA",
        "/search/?postcode=SK14+1AA&need=nonsense&radius=99999999",
        "/get-online/?postcode=SK14+1AA",
        "/health-trainers/?postcode=SK14+1AA",
    ]:
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"{path} is {width} px wide on a 320 px screen"
    context.close()
