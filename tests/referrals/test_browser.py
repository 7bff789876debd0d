"""The referral journeys in a real browser with the site's scripts blocked (everything works
without JavaScript), and an axe-core scan of every page: no serious or critical violations."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from referrals.models import FollowUp, Measure, Referral
from tests.referrals.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Axe()
SCRIPTS = re.compile(r"/static/.*\.js$")
EXTERNAL = re.compile(r"^https?://(?!127\.0\.0\.1|localhost)")


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live_server.url)
    context.route(SCRIPTS, lambda route: route.abort())
    context.route(EXTERNAL, lambda route: route.abort())
    page = context.new_page()
    yield page
    context.close()


def scan(page, what: str) -> None:
    results = AXE.run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{what}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in bad
    )


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    scan(page, "login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


class ClinicianJourneyTests:
    def test_it_refers_someone_without_javascript(self, page, world):
        sign_in(page, "clinician")
        page.goto("/referrals/new/")
        scan(page, "new referral")
        with page.expect_navigation():  # the scan must see the answer, not the page leaving
            page.get_by_role("button", name="Send referral").click()
        scan(page, "new referral with errors")
        assert page.get_by_role("heading", name="There is a problem").is_visible()
        page.get_by_role("link", name="Select at least one thing they would like help with").click()
        page.get_by_label("NHS number").fill("943 476 5919")
        page.get_by_label("First name").fill("Ada")
        page.get_by_label("Last name").fill("Lovelace")
        born = page.get_by_role("group", name="Date of birth")
        born.get_by_label("Day").fill("10")
        born.get_by_label("Month").fill("12")
        born.get_by_label("Year").fill("1965")
        page.get_by_label("Postcode").fill("SK14 1PW")
        page.get_by_role("button", name="Find teams and services for this postcode").click()
        expect(page.get_by_text("Teams covering SK14 1PW, nearest first")).to_be_visible()
        page.get_by_label("Phone number", exact=True).fill("07700 900111")
        page.get_by_label("Phone call").check()
        page.get_by_label("Loneliness and isolation").check()
        page.get_by_role("group", name="How soon").get_by_label("Routine").check()
        page.get_by_label("The person agreed to this referral").check()
        page.get_by_role("group", name="May their details be shared").get_by_label("Yes").check()
        page.get_by_role("button", name="Send referral").click()
        expect(page.get_by_role("heading", name="Referral sent")).to_be_visible()
        scan(page, "referral sent (clinician)")
        with page.expect_navigation():
            page.get_by_role("link", name="View the referral").click()
        scan(page, "referral page (clinician)")
        assert Referral.objects.filter(patient__nhs_number="9434765919").count() == 1
        page.goto("/referrals/")
        scan(page, "my practice's referrals")


class TrainerJourneyTests:
    def test_it_takes_a_referral_through_follow_up_without_javascript(self, page, world):
        sign_in(page, "trainer")
        assert page.url.endswith("/referrals/queue/")
        scan(page, "team queue")
        with page.expect_navigation():
            page.get_by_role("link", name=world.referral.patient.name).click()
        scan(page, "referral page (trainer)")
        page.get_by_role("button", name="Accept", exact=True).click()
        expect(page.get_by_text("Referral accepted. The referrer has been told.")).to_be_visible()
        with page.expect_navigation():
            page.get_by_role("link", name="Log a contact").first.click()
        scan(page, "follow-up form")
        page.get_by_label("Face to face").check()
        page.get_by_role("group", name="Did you reach the person?").get_by_label("Yes").check()
        page.get_by_label("How long did it take, in minutes? (optional)").fill("30")
        for n in range(1, 8):
            page.get_by_label(f"Item {n}", exact=True).fill("3")
        page.get_by_role("button", name="Save contact and measures").click()
        expect(page.get_by_text("Contact logged.")).to_be_visible()
        assert FollowUp.objects.filter(referral=world.referral, reached=True).exists()
        # A reached contact moved the accepted referral to contacted: no button to press.
        expect(page.get_by_role("button", name="Mark as contacted")).to_have_count(0)
        assert Measure.objects.filter(referral=world.referral, swemwbs_total=21).exists()
        with page.expect_navigation():
            page.get_by_role("link", name="Every measure taken").click()
        scan(page, "measures")
        page.goto(f"/referrals/{world.referral.pk}/timeline/")
        scan(page, "timeline")
        page.goto("/referrals/caseload/")
        scan(page, "caseload")
        page.goto(f"/referrals/{world.referral.pk}/close/")
        scan(page, "close form")
        world.referral.refresh_from_db()
        assert world.referral.status == "contacted"


class ManagerPageTests:
    def test_it_shows_the_figures_accessibly(self, page, world):
        sign_in(page, "manager")
        assert page.url.endswith("/reports/referrals/")
        scan(page, "figures")
        page.goto("/notifications/")
        scan(page, "messages")
