"""The trainer logs a contact with all three measures in a real browser: on a phone and a
desktop, with JavaScript on and off, axe-core finding nothing serious or critical, nothing typed
lost on a refusal, and no page wider than a 320 px screen."""

import re
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from referrals.models import FollowUp, Measure
from referrals.services import record_contact
from tests.referrals.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Axe()
SCRIPTS = re.compile(r"/static/.*\.js$")
EXTERNAL = re.compile(r"^https?://(?!127\.0\.0\.1|localhost)")
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
ONS4 = {
    "Overall, how satisfied are you with your life nowadays?": "6",
    "Overall, to what extent do you feel that the things you do in your life are worthwhile?": "7",
    "Overall, how happy did you feel yesterday?": "5",
    "Overall, how anxious did you feel yesterday?": "3",
}
ITEMS = [3, 4, 2, 3, 5, 4, 3]  # total 24, metric score 21.54
LONG_NOTE = "https://example.org/" + "a" * 3000  # a pasted link: no spaces to wrap at


def open_page(browser, live_server, viewport: str, javascript: bool):
    context = browser.new_context(viewport=VIEWPORTS[viewport], base_url=live_server.url)
    if not javascript:
        context.route(SCRIPTS, lambda route: route.abort())
    context.route(EXTERNAL, lambda route: route.abort())
    return context, context.new_page()


def scan(page, what: str) -> None:
    results = AXE.run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{what}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in bad
    )


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def fill_contact_and_measures(page, *, item_3: str) -> None:
    page.get_by_label("Phone", exact=True).check()
    page.get_by_role("group", name="Did you reach the person?").get_by_label("Yes").check()
    page.get_by_label("How long did it take, in minutes? (optional)").fill("30")
    page.get_by_label("Notes (optional)").fill(LONG_NOTE)
    for question, answer in ONS4.items():
        page.get_by_label(question).fill(answer)
    for n, score in enumerate(ITEMS, start=1):
        page.get_by_label(f"Item {n}", exact=True).fill(item_3 if n == 3 else str(score))
    page.get_by_label("PAM score").fill("48.5")
    page.get_by_role("group", name="PAM level").get_by_label("2").check()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_the_trainer_logs_a_contact_with_all_three_measures(
    browser, live_server, world, viewport, javascript
):
    referral = world.referral
    referral.accept(by=world.trainer, version=referral.version)
    context, page = open_page(browser, live_server, viewport, javascript)
    try:
        sign_in(page, "trainer")
        page.goto(f"/referrals/{referral.pk}/")
        with page.expect_navigation():
            page.get_by_role("link", name="Log a contact").first.click()
        scan(page, f"follow-up form ({viewport})")

        # An item out of range: refused, every error listed, everything typed kept.
        fill_contact_and_measures(page, item_3="9")
        result = page.locator("[data-swemwbs-result]")
        if javascript:
            expect(result).to_have_text(re.compile("when all seven items are between 1 and 5"))
        with page.expect_navigation():
            page.get_by_role("button", name="Save contact and measures").click()
        expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
        expect(
            page.get_by_role("link", name="SWEMWBS item 3 must be between 1 and 5")
        ).to_be_visible()
        scan(page, f"follow-up form with errors ({viewport})")
        assert not FollowUp.objects.exists() and not Measure.objects.exists()
        expect(page.get_by_label("Item 1", exact=True)).to_have_value("3")
        expect(page.get_by_label("Item 3", exact=True)).to_have_value("9")
        expect(page.get_by_label("PAM score")).to_have_value("48.5")
        expect(page.get_by_label("Notes (optional)")).to_have_value(LONG_NOTE)
        expect(page.get_by_label("Overall, how happy did you feel yesterday?")).to_have_value("5")
        expect(page.get_by_role("group", name="PAM level").get_by_label("2")).to_be_checked()

        # Corrected: the total and metric score show as the items are typed (with JavaScript).
        page.get_by_label("Item 3", exact=True).fill("2")
        if javascript:
            expect(result).to_have_text("Total 24 (7 to 35), metric score 21.54.")
        with page.expect_navigation():
            page.get_by_role("button", name="Save contact and measures").click()
        saved = page.locator(".message--success")
        expect(saved).to_contain_text("SWEMWBS (total 24, metric score 21.54)")
        expect(saved).to_contain_text("PAM (score 48.5, level 2)")
        scan(page, f"referral page after logging a contact ({viewport})")
        follow_up = FollowUp.objects.get()
        assert follow_up.reached and follow_up.notes == LONG_NOTE
        assert {m.instrument for m in follow_up.measures.all()} == {"ons4", "swemwbs", "pam"}
        assert Measure.objects.get(instrument="pam").pam_score == Decimal("48.5")
        referral.refresh_from_db()
        assert referral.status == "contacted"
        # The long note wraps instead of widening the page.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORTS[viewport]["width"], width

        with page.expect_navigation():
            page.get_by_role("link", name="Every measure taken").click()
        scan(page, f"measures page ({viewport})")
        expect(page.get_by_text("SWEMWBS metric score: 21.54")).to_be_visible()
    finally:
        context.close()


def test_no_page_scrolls_sideways_at_320_px(browser, live_server, world):
    referral = world.referral
    for n in range(3):
        record_contact(
            referral,
            by=world.trainer,
            method="phone",
            reached=False,
            notes=LONG_NOTE if n == 0 else "No answer.",
            measures=[
                {"instrument": "swemwbs", **{f"swemwbs_{i}": 3 for i in range(1, 8)}},
                {"instrument": "pam", "pam_score": Decimal("48.5"), "pam_level": 2},
            ]
            if n == 0
            else [],
        )
    context = browser.new_context(viewport={"width": 320, "height": 640}, base_url=live_server.url)
    context.route(EXTERNAL, lambda route: route.abort())
    page = context.new_page()
    try:
        sign_in(page, "trainer")
        for path in ("follow-up/", "measures/", ""):
            page.goto(f"/referrals/{referral.pk}/{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, (path, width)
        # After three unanswered attempts the contacts section offers closing.
        link = page.get_by_role("link", name="Close as could not contact")
        expect(link.first).to_be_visible()
        assert link.first.get_attribute("href").endswith("/close/?outcome=could_not_contact")
        scan(page, "referral page at 320 px")
    finally:
        context.close()
