"""An organisation keeps its listing true, in a real browser: open the emailed link, confirm,
propose a change (with a mistake first), cancel a session, say who came, and find the link
ended once revoked. On a phone and a desktop, JavaScript on and off, axe-core on every page."""

import re
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from directory import listings, vocabularies
from directory.listing_models import CancelledSession, ListingChange, ListingLink
from directory.models import Service, Taxonomy, TaxonomyTerm
from referrals import permissions
from referrals.models import Connection
from tests.conftest import add_postcode, rebuild_postcode_areas
from tests.pages.conftest import make_service
from tests.pages.test_browser import COMBINATIONS, EXTERNAL, IDS, VIEWPORTS, Visit
from tests.referrals.factories import (
    make_practice,
    make_referral,
    make_team,
    make_user,
    patient_data,
)
from tests.referrals.factories import make_service as make_team_service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@dataclass
class Listing:
    service: Service
    link: ListingLink
    token: str
    connection: Connection


@pytest.fixture
def listing(db) -> Listing:
    vocabularies.install(Taxonomy, TaxonomyTerm)  # a transactional test's flush empties it
    add_postcode("SK14 1AA", 53.451886, -2.078805)
    rebuild_postcode_areas()
    service = make_service(
        "Hyde Walking Group",
        at="SK14 1AA",
        sessions=[("TU", "10:00", "12:00")],
        phone="0161 496 0001",
    )
    editor = make_user("editor", permissions.EDITORS, first_name="Eve", last_name="Editor")
    practice = make_practice("Hyde Health Centre", "P89001")
    team = make_team("Hyde health trainers", make_team_service("Hyde HT", lat=53.45, lng=-2.07))
    clinician = make_user("clinician", permissions.CLINICIANS, practice=practice)
    trainer = make_user("trainer", permissions.TRAINERS, team=team)
    referral = make_referral(
        clinician, team, patient=patient_data(given_name="Margaret", family_name="Thornbury")
    )
    referral.accept(by=trainer, version=referral.version)
    connection = Connection.objects.create(
        referral=referral, service=service, status=Connection.Status.REFERRED, by=trainer
    )
    link, token = ListingLink.issue(
        organization=service.organization, contact_email="jo@walkers.example", by=editor
    )
    return Listing(service, link, token, connection)


@pytest.fixture(params=COMBINATIONS, ids=IDS)
def visit(request, browser, live_server, listing):
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
    result = Visit(page, browser, live_server.url, viewport, js, False)
    page.on("pageerror", lambda error: result.problems.append(str(error)))
    yield result
    context.close()
    assert not result.problems, result.problems


def test_an_organisation_keeps_its_listing_true(visit, listing):
    page = visit.page
    name = listing.service.name

    page.goto(f"/listing/open?t={listing.token}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Keep your listings up to date")
    assert "?t=" not in page.url  # the secret is not left in the address bar or history
    expect(page.locator("main")).to_contain_text("Not checked yet.")
    visit.scan("an organisation's listings")
    visit.check_tap_targets()

    page.get_by_role("button", name=f"Everything is still correct for {name}").click()
    expect(page.locator(".messages")).to_contain_text("marked as checked today")
    expect(page.locator("main")).to_contain_text(f"Checked in {timezone.localdate():%B %Y}.")
    listing.service.refresh_from_db()
    assert listing.service.assured_date == timezone.localdate()

    page.get_by_role("link", name=f"Suggest changes to {name}").click()
    expect(page.get_by_label("Phone number")).to_have_value("0161 496 0001")
    page.get_by_label("Phone number").fill("call us")
    page.get_by_role("button", name="Send changes for checking").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Enter a phone number like 0161 123 4567.")
    visit.scan("proposed changes with an error")
    summary.get_by_role("link").click()
    if visit.js:
        expect(page.get_by_label("Phone number")).to_be_focused()
    page.get_by_label("Phone number").fill("0161 496 0999")
    page.get_by_label("Cost").fill("£1 a walk")
    page.get_by_role("button", name="Send changes for checking").click()
    expect(page.locator(".messages")).to_contain_text("sent to an editor")
    expect(page.locator("main")).to_contain_text("Changes you sent are waiting for an editor.")
    change = ListingChange.objects.get()
    assert change.proposed == {"phone": "0161 496 0999", "fees": "£1 a walk"}

    page.get_by_role("link", name=f"Cancel a session of {name}").click()
    visit.scan("cancel a session")
    page.get_by_role("button", name="Cancel this session").click()
    expect(page.locator(".error-summary")).to_contain_text("Select the session that is cancelled.")
    first = page.get_by_role("radio").first
    label = page.locator(f"label[for='{first.get_attribute('id')}']").inner_text()
    first.check()
    page.get_by_label("Anything people should know (optional)").fill("Hall closed")
    page.get_by_role("button", name="Cancel this session").click()
    expect(page.locator(".messages")).to_contain_text("is marked as cancelled")
    cancelled = CancelledSession.objects.get()
    assert label.startswith(f"{cancelled.date:%A %-d %B %Y}")

    page.get_by_role("link", name="Who came", exact=True).click()
    expect(page.get_by_role("heading", level=2).first).to_contain_text("Margaret T., put in touch")
    expect(page.locator("main")).not_to_contain_text("Thornbury")
    visit.scan("who came")
    page.get_by_role("button", name="Came (Margaret T.)").click()
    expect(page.locator(".messages")).to_contain_text("the health trainer will see your answer")
    listing.connection.refresh_from_db()
    assert listing.connection.status == Connection.Status.ATTENDED

    listings.revoke_link(listing.link, by=listing.link.created_by)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    expect(page.locator("main")).to_contain_text(re.compile("Ask Eve Editor"))
    visit.scan("an ended link")
