"""A clinician refers someone in one pass, on a phone and a desktop, with JavaScript on and off,
and finds them in the list; the staff lists fit a 320 px screen (issue 9, sections 1 and 5).
Every page is scanned with axe-core: no serious or critical violations."""

import re

import pytest
from playwright.sync_api import expect

from directory.models import Service
from referrals.models import Referral
from tests.referrals.factories import make_referral, make_service, patient_data
from tests.referrals.test_browser import EXTERNAL, SCRIPTS, scan, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
NARROW = {"width": 320, "height": 640}


@pytest.fixture
def open_page(browser, live_server):
    contexts = []

    def open_page(viewport: dict, *, javascript: bool):
        context = browser.new_context(viewport=viewport, base_url=live_server.url)
        if not javascript:
            context.route(SCRIPTS, lambda route: route.abort())
        context.route(EXTERNAL, lambda route: route.abort())
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def click_and_wait(page, button) -> None:
    with page.expect_navigation():
        button.click()


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_clinician_refers_someone_in_one_pass(open_page, world, viewport, javascript):
    make_service(
        "Hyde lunch club",
        lat=53.4501,
        lng=-2.0697,
        kind=Service.Kind.COMMUNITY_ASSET,
        needs=["loneliness"],
    )
    page = open_page(viewport, javascript=javascript)
    sign_in(page, "clinician")
    page.goto("/referrals/new/")
    scan(page, "new referral")
    expect(page.get_by_text("Enter the postcode to see services near them.")).to_be_visible()

    page.get_by_label("NHS number").fill("943 476 5919")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    born = page.get_by_role("group", name="Date of birth")
    born.get_by_label("Day").fill("10")
    born.get_by_label("Month").fill("12")
    born.get_by_label("Year").fill("1965")
    page.get_by_label("Postcode").fill("SK14 1PW")
    page.get_by_label("Loneliness and isolation").check()
    click_and_wait(
        page, page.get_by_role("button", name="Find teams and services for this postcode")
    )
    scan(page, "new referral with teams and services")
    expect(page.get_by_text("Teams covering SK14 1PW, nearest first.")).to_be_visible()
    # What was typed is still there, and the nearest team is chosen.
    expect(born.get_by_label("Year")).to_have_value("1965")
    expect(page.get_by_label(re.compile(r"^Hyde health trainers: base"))).to_be_checked()

    page.get_by_label("Phone call").check()
    page.get_by_label("Phone number").fill("07700 900111")
    page.get_by_role("group", name="How soon do they need support?").get_by_label("Routine").check()
    page.get_by_label(re.compile(r"^Hyde lunch club, .* away$")).check()
    page.get_by_label("The person agreed to this referral").check()
    page.get_by_role("group", name="May their details be shared").get_by_label("Yes").check()
    click_and_wait(page, page.get_by_role("button", name="Send referral"))

    expect(page.get_by_role("heading", name="Referral sent")).to_be_visible()
    expect(
        page.get_by_text("Ada Lovelace has been referred to Hyde health trainers.")
    ).to_be_visible()
    expect(page.get_by_text(re.compile(r"will accept or decline the referral by"))).to_be_visible()
    scan(page, "referral sent")
    referral = Referral.objects.get(patient__nhs_number="9434765919")
    assert referral.patient.date_of_birth.isoformat() == "1965-12-10"
    assert [s.name for s in referral.services_in_mind.all()] == ["Hyde lunch club"]

    click_and_wait(page, page.get_by_role("link", name="View the referral"))
    scan(page, "referral page")
    page.goto("/referrals/")
    page.get_by_label("Search by name or NHS number").fill("lovelace")
    click_and_wait(page, page.get_by_role("button", name="Apply filters"))
    expect(page.get_by_text("1 referral matches.")).to_be_visible()
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    expect(page.get_by_text("NHS number 943 476 5919")).to_be_visible()
    scan(page, "referral list, searched")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def test_a_mistake_is_shown_and_fixed_on_a_phone(open_page, world):
    page = open_page(PHONE, javascript=False)
    sign_in(page, "clinician")
    page.goto("/referrals/new/")
    click_and_wait(page, page.get_by_role("button", name="Send referral"))
    scan(page, "new referral with errors")
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    link = page.get_by_role("link", name="Enter the patient's date of birth")
    expect(link).to_have_attribute("href", "#id_date_of_birth_day")
    expect(page.get_by_text("This field is required")).to_have_count(0)


def long_named(world, count: int = 3):
    """Referrals with long names and needs: what stretches a table."""
    made = []
    for i in range(count):
        made.append(
            make_referral(
                world.clinician,
                world.team,
                needs=("loneliness", "money-debt", "physical-activity"),
                patient=patient_data(
                    given_name=f"Bartholomew-Maximilian{i}",
                    family_name="Featherstonehaugh-Cholmondeley" + "x" * 40,
                ),
            )
        )
    return made


def test_the_lists_fit_a_320_px_screen(open_page, world):
    made = long_named(world)
    made[0].accept(by=world.trainer, version=1)
    page = open_page(NARROW, javascript=False)
    sign_in(page, "trainer")
    for path, what in (
        ("/referrals/queue/", "team queue"),
        ("/referrals/caseload/", "caseload"),
        ("/referrals/", "team's referrals"),
        ("/referrals/?status=new&q=bart", "team's referrals, filtered"),
    ):
        page.goto(path)
        scan(page, f"{what} at 320 px")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"{what}: {width} px wide"
        # Rows are stacked cards, each value under its column's name, not a squeezed table.
        row = page.locator("tbody tr").first
        assert row.evaluate("tr => getComputedStyle(tr).display") == "block", what
        expect(row.locator(".table__heading").first).to_be_visible()
    page.goto("/referrals/queue/")
    accept = page.get_by_role("button", name=re.compile(r"^Accept referral for")).first
    expect(accept).to_be_visible()
    accept.scroll_into_view_if_needed()
    box = accept.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 320, box
    # The clinician's list too.
    page = open_page(NARROW, javascript=True)
    sign_in(page, "clinician")
    page.goto("/referrals/")
    scan(page, "practice's referrals at 320 px")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    # The filters fold away on a phone and open with a tap.
    details = page.locator("details.filters")
    expect(details).not_to_have_attribute("open", "")
    page.get_by_text("Filters", exact=True).click()
    expect(page.get_by_label("Status")).to_be_visible()
