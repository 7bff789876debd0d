"""The end of the loop in Chromium: a trainer closes a referral (phone and desktop, JavaScript
on and off) seeing the message the referrer will get, and the clinician reads it. axe-core finds
no serious or critical violation on any page of the journey, and nothing scrolls sideways on a
320 px screen."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from referrals.models import Notification, Referral
from tests.referrals.factories import PASSWORD
from tests.referrals.test_message_back import NOTE, worked

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Axe()
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
NARROW = {"width": 320, "height": 640}
SCRIPTS = re.compile(r"/static/.*\.js$")


@pytest.fixture
def open_page(browser, live_server):
    opened = []

    def open_page(username: str, *, viewport: dict, js: bool):
        # "JavaScript off" is the site's scripts blocked (axe-core still has to run).
        context = browser.new_context(viewport=viewport, base_url=live_server.url)
        if not js:
            context.route(SCRIPTS, lambda route: route.abort())
        context.route(
            re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"), lambda route: route.abort()
        )
        context.set_default_timeout(20_000)
        opened.append(context)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        return page

    yield open_page
    for context in opened:
        context.close()


def scan(page, what: str) -> None:
    results = AXE.run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{what}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in bad
    )


def too_wide(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def preview(page):
    return page.locator("[data-preview-card] .message-back")


@pytest.mark.parametrize(
    ("viewport", "js"),
    [(PHONE, False), (PHONE, True), (DESKTOP, False), (DESKTOP, True)],
    ids=["phone-no-js", "phone-js", "desktop-no-js", "desktop-js"],
)
class CloseAndReadBackTests:
    def test_the_trainer_closes_and_the_clinician_reads_the_message(
        self, open_page, world, viewport, js
    ):
        referral = worked(world)
        page = open_page("trainer", viewport=viewport, js=js)
        page.goto(referral.get_absolute_url())
        scan(page, "referral page, engaged")
        with page.expect_navigation():
            page.get_by_role("link", name="Close with an outcome").click()
        scan(page, "close form")
        expect(page.get_by_role("heading", name="What clinician will be told")).to_be_visible()
        expect(preview(page)).to_contain_text("Hyde walks: attended")
        expect(preview(page)).to_contain_text("Life satisfaction")

        # Sent with nothing chosen: the error names the field, the preview is still there.
        with page.expect_navigation():
            page.get_by_role("button", name="Close and tell the referrer").click()
        scan(page, "close form with an error")
        expect(page.get_by_role("link", name="Select the outcome")).to_be_visible()
        expect(preview(page)).to_contain_text("Not chosen yet")

        page.get_by_label("Goals met", exact=True).check()
        page.get_by_label("Note for the referrer (optional)").fill(NOTE)
        if js:
            # The message follows what is chosen as it is chosen.
            expect(preview(page)).to_contain_text("Goals met")
            expect(preview(page)).to_contain_text(NOTE)
            expect(page.get_by_role("button", name="Update the message")).to_be_hidden()
        else:
            with page.expect_navigation():
                page.get_by_role("button", name="Update the message").click()
            expect(preview(page)).to_contain_text("Goals met")
            expect(preview(page)).to_contain_text(NOTE)
            referral.refresh_from_db()
            assert referral.status == "engaged"  # updating the message closes nothing
        shown = preview(page).inner_text()
        with page.expect_navigation():
            page.get_by_role("button", name="Close and tell the referrer").click()
        expect(page.get_by_text("Referral closed. The referrer has been told.")).to_be_visible()
        referral.refresh_from_db()
        assert referral.status == Referral.Status.CLOSED

        reader = open_page("clinician", viewport=viewport, js=js)
        reader.goto("/notifications/")
        scan(reader, "messages, unread")
        closed = Notification.objects.get(kind="closed")
        item = reader.locator(
            "li.message-list__item", has=reader.locator(f"a[href='{closed.get_absolute_url()}']")
        )
        expect(item).to_have_class(re.compile(r"\bis-unread\b"))
        expect(item).to_contain_text("Unread")
        with reader.expect_navigation():
            item.get_by_role("link").click()
        scan(reader, "the message back")
        patient = referral.patient
        expect(reader.get_by_role("heading", name=patient.name)).to_be_visible()
        expect(reader.locator("main")).to_contain_text(patient.nhs_number_display)
        assert reader.locator(".message-back").inner_text() == shown
        reader.goto("/notifications/")
        expect(item).not_to_have_class(re.compile(r"\bis-unread\b"))


class NarrowScreenTests:
    @pytest.mark.parametrize("js", [False, True], ids=["no-js", "js"])
    def test_nothing_scrolls_sideways_at_320_px(self, open_page, world, js):
        referral = worked(world)
        trainer = open_page("trainer", viewport=NARROW, js=js)
        pages = [
            referral.get_absolute_url(),
            f"/referrals/{referral.pk}/close/",
            f"/referrals/{referral.pk}/close/?outcome=could_not_contact",
        ]
        wide = []
        for path in pages:
            trainer.goto(path)
            if (extra := too_wide(trainer)) > 0:
                wide.append(f"{path}: {extra} px")
        referral.close(by=world.trainer, version=referral.version, outcome="goals_met", note=NOTE)
        clinician = open_page("clinician", viewport=NARROW, js=js)
        message = Notification.objects.get(kind="closed").get_absolute_url()
        for path in ("/notifications/", message, referral.get_absolute_url()):
            clinician.goto(path)
            if (extra := too_wide(clinician)) > 0:
                wide.append(f"{path}: {extra} px")
        assert not wide, wide


class DeclineTests:
    def test_the_decline_form_names_the_missing_reason_and_passes_axe(self, open_page, world):
        page = open_page("trainer", viewport=PHONE, js=False)
        page.goto(f"/referrals/{world.referral.pk}/decline/")
        scan(page, "decline form")
        with page.expect_navigation():
            page.get_by_role("button", name="Decline and tell the referrer").click()
        expect(
            page.get_by_role("link", name="Enter why you are declining the referral")
        ).to_be_visible()
        scan(page, "decline form with an error")
        page.get_by_label("Why can your team not take this referral on?").fill(
            "The person lives outside the area we cover: try the City team."
        )
        with page.expect_navigation():
            page.get_by_role("button", name="Decline and tell the referrer").click()
        expect(page.get_by_text("Referral declined.")).to_be_visible()
