"""The commissioners' report in a real browser: on a phone and a desktop, JavaScript on and off,
axe-core (no serious or critical violations), nothing wider than a 320 px screen, the chart
readable, the period changed through the form, a wrong period explained, the CSV downloaded."""

import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from referrals.reports import Period
from tests.referrals.factories import PASSWORD
from tests.referrals.test_reports import move, reached, referral_on, self_referral_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Axe()
EXTERNAL = re.compile(r"^https?://(?!127\.0\.0\.1|localhost)")
SCRIPTS = re.compile(r"/static/.*\.js$")
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


def serious(page) -> list[str]:
    results = AXE.run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def figures(world):
    """Referrals across the default period (the last 12 full months): some months with many,
    some with a few (hidden), contacts, a closure, self-referrals declined automatically."""
    period = Period.default()
    trainer = world.trainer
    day = period.start + timedelta(days=9)
    for i in range(14):
        r = referral_on(world, day, age=25 + 3 * i)
        if i < 8:
            move(r, "accepted", day + timedelta(days=1), by=trainer)
            reached(r, day + timedelta(days=3), by=trainer)
            move(r, "contacted", day + timedelta(days=3), by=trainer)
        if i < 6:
            move(r, "closed", day + timedelta(days=40), by=trainer, outcome="goals_met")
    for _ in range(2):
        referral_on(world, day + timedelta(days=62), age=80)
    for _ in range(6):
        r = self_referral_on(world, day + timedelta(days=120), team=world.team)
        move(r, "declined-by-system", day + timedelta(days=135), by=trainer)
    return period


@pytest.fixture
def visit(browser, live_server):
    opened = []

    def open_page(viewport: str, js: bool):
        context = browser.new_context(viewport=VIEWPORTS[viewport], base_url=live_server.url)
        context.route(EXTERNAL, lambda route: route.abort())
        if not js:
            # The site's scripts blocked: what a browser with JavaScript off shows (axe-core
            # itself needs JavaScript, as does reading the page's width).
            context.route(SCRIPTS, lambda route: route.abort())
        context.set_default_timeout(20_000)
        opened.append(context)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill("manager")
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        return page

    yield open_page
    for context in opened:
        context.close()


@pytest.mark.parametrize(
    ("viewport", "js"),
    [("phone", True), ("phone", False), ("desktop", True), ("desktop", False)],
    ids=["phone-js", "phone-nojs", "desktop-js", "desktop-nojs"],
)
def test_a_manager_reads_and_changes_the_figures(visit, figures, viewport, js):
    page = visit(viewport, js)
    assert page.url.endswith("/reports/referrals/")
    expect(page.get_by_role("heading", name="Referral figures", level=1)).to_be_visible()
    # The headline comes before the detail.
    summary = page.get_by_role("heading", name="Summary")
    expect(summary).to_be_visible()
    assert page.locator("dl.report-summary").get_by_text("Referrals in").is_visible()
    assert page.get_by_text("22", exact=True).first.is_visible()
    # The chart: an image with a name, and the same figures in a table.
    chart = page.get_by_role("img", name=re.compile("Referrals in per month"))
    expect(chart).to_be_visible()
    assert "hidden" in page.locator("svg desc").text_content()
    expect(page.locator('table[data-table="months"]')).to_have_count(1)
    assert serious(page) == []

    # Nothing sideways on a 320 px screen.
    page.set_viewport_size({"width": 320, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.set_viewport_size(VIEWPORTS[viewport])

    # A wrong period is explained, naming the field.
    start = page.get_by_role("group", name="From")
    end = page.get_by_role("group", name="To")
    start.get_by_label("Day").fill("1")
    start.get_by_label("Month").fill("6")
    start.get_by_label("Year").fill(str(figures.start.year + 1))
    end.get_by_label("Day").fill("1")
    end.get_by_label("Month").fill("1")
    end.get_by_label("Year").fill(str(figures.start.year))
    with page.expect_navigation():
        page.get_by_role("button", name="Show figures").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(
        page.get_by_role("link", name="The end date must be after the start date")
    ).to_be_visible()
    assert page.title().startswith("Error: ")
    assert serious(page) == []

    # A right one shows its figures: only the first month of the default period.
    first_month_end = (figures.start.replace(day=28) + timedelta(days=4)).replace(day=1)
    first_month_end -= timedelta(days=1)
    start = page.get_by_role("group", name="From")
    end = page.get_by_role("group", name="To")
    for group, day in ((start, figures.start), (end, first_month_end)):
        group.get_by_label("Day").fill(str(day.day))
        group.get_by_label("Month").fill(str(day.month))
        group.get_by_label("Year").fill(str(day.year))
    with page.expect_navigation():
        page.get_by_role("button", name="Show figures").click()
    expect(
        page.get_by_text(f"{figures.start:%-d %B %Y} to {first_month_end:%-d %B %Y}")
    ).to_be_visible()
    expect(page.locator("dl.report-summary strong[data-cell=total]")).to_have_text("14")

    # The CSV of the same period.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these figures (CSV)").click()
    name = download.value.suggested_filename
    assert name == (
        f"flourish-referrals-{figures.start:%Y-%m-%d}-to-{first_month_end:%Y-%m-%d}"
        f"-as-at-{timezone.localdate():%Y-%m-%d}.csv"
    )
