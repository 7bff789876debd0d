"""Every staff page, for each role, in Chromium: on a 320 px phone nothing scrolls sideways, not
even with a 100 KB note with no spaces in it; at 390 px and on a desktop, with JavaScript on and
off, axe-core finds no serious or critical violation and each page has at most one primary
button. Run with ``--screenshots`` to refresh the staff screenshots in docs/screenshots/."""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from referrals.models import Connection, FollowUp, Goal, Measure
from tests.referrals.factories import PASSWORD, make_referral, minutes_ago, patient_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Axe()
SCRIPTS = re.compile(r"/static/.*\.js$")
EXTERNAL = re.compile(r"^https?://(?!127\.0\.0\.1|localhost)")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# A pasted link and a pasted blob: text with no spaces, which once made a referral page
# 1,139,078 px wide on a phone.
LONG_LINK = "https://example.org/" + "a" * 300
BLOB = "x" * 100_000

PHONE = {"width": 390, "height": 844}
NARROW = {"width": 320, "height": 640}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class StaffPage:
    name: str
    role: str
    path: str


def pages(world, busy, new) -> list[StaffPage]:
    r, n = busy.pk, new.pk
    message = world.clinician.notifications.filter(kind="closed").first()
    today = timezone.localdate()
    this_year = f"from={today:%Y}-01-01&to={today.isoformat()}&as_at={today.isoformat()}"
    return [
        StaffPage("sign-in", "", "/accounts/login/"),
        StaffPage("clinician-list", "clinician", "/referrals/"),
        StaffPage("clinician-new-referral", "clinician", "/referrals/new/"),
        StaffPage("clinician-referral", "clinician", f"/referrals/{r}/"),
        StaffPage("clinician-messages", "clinician", "/notifications/"),
        StaffPage("clinician-message-back", "clinician", f"/notifications/{message.pk}/"),
        StaffPage("trainer-queue", "trainer", "/referrals/queue/"),
        StaffPage("trainer-caseload", "trainer", "/referrals/caseload/"),
        StaffPage("trainer-list", "trainer", "/referrals/"),
        StaffPage("trainer-new-referral-page", "trainer", f"/referrals/{n}/"),
        StaffPage("trainer-referral", "trainer", f"/referrals/{r}/"),
        StaffPage("trainer-follow-up", "trainer", f"/referrals/{r}/follow-up/"),
        StaffPage("trainer-measures", "trainer", f"/referrals/{r}/measures/"),
        StaffPage("trainer-close", "trainer", f"/referrals/{r}/close/"),
        StaffPage("trainer-decline", "trainer", f"/referrals/{n}/decline/"),
        StaffPage("trainer-timeline", "trainer", f"/referrals/{r}/timeline/"),
        StaffPage("lead-emails", "lead", "/referrals/emails/"),
        StaffPage("manager-figures", "manager", "/reports/referrals/"),
        StaffPage("manager-figures-this-year", "manager", f"/reports/referrals/?{this_year}"),
    ]


@pytest.fixture
def busy(world):
    """A referral a trainer has worked on for a while, with long text everywhere it can go."""
    referral = make_referral(
        world.clinician,
        world.team,
        what_matters=f"Wants to get out more. See {LONG_LINK}",
    )
    referral.accept(by=world.trainer, version=referral.version)
    for days, reached in ((20, False), (18, False), (15, True)):
        FollowUp.objects.create(
            referral=referral,
            at=minutes_ago(days * 24 * 60),
            method="phone",
            reached=reached,
            notes=f"Reached: {LONG_LINK}" if reached else f"No answer. Left a message: {LONG_LINK}",
            by=world.trainer,
        )
    Goal.objects.create(
        referral=referral, text=f"Join the walking group {LONG_LINK}", by=world.trainer
    )
    Measure.objects.create(
        referral=referral,
        instrument="ons4",
        taken_on=timezone.localdate(),
        life_satisfaction=4,
        worthwhile=5,
        happiness=3,
        anxiety=7,
        by=world.trainer,
    )
    service = world.team.service
    Connection.objects.create(referral=referral, service=service, by=world.trainer)
    # A referral that ended, so the referrer has a real message back to read.
    grace = patient_data(given_name="Grace", family_name="Hopper")
    done = make_referral(world.clinician, world.team, patient=grace)
    done.accept(by=world.trainer, version=done.version)
    done.add_goal(by=world.trainer, version=done.version, text="Walk to the shops twice a week")
    done.add_connection(by=world.trainer, version=done.version, service=service, status="attended")
    done.close(
        by=world.trainer,
        version=done.version,
        outcome="goals_met",
        note=f"Grace walks with the group every Tuesday now. Their page: {LONG_LINK}",
    )
    return referral


@pytest.fixture
def blob(world, busy):
    """A 100 KB note with no spaces in it, pasted into a contact."""
    FollowUp.objects.create(
        referral=busy,
        at=minutes_ago(60),
        method="phone",
        reached=True,
        notes=BLOB,
        by=world.trainer,
    )
    return busy


@pytest.fixture
def new(world):
    return world.referral


def sign_in(context, base_url: str, username: str) -> None:
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    page.close()


def serious(page) -> list[str]:
    results = AXE.run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def primary_buttons(page) -> list[str]:
    return page.eval_on_selector_all(
        ".button:not(.button--secondary):not(.button--warning):not(.button--small)",
        "els => els.filter(e => e.offsetParent !== null).map(e => e.textContent.trim())",
    )


def overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture
def contexts(browser, live_server):
    """A signed-in browser context per role. "Without JavaScript" means the site's own scripts
    are blocked (axe-core still needs JavaScript to run its checks)."""
    opened = []

    def open_context(viewport: dict, *, js: bool, role: str):
        context = browser.new_context(viewport=viewport, base_url=live_server.url)
        context.route(EXTERNAL, lambda route: route.abort())
        if not js:
            context.route(SCRIPTS, lambda route: route.abort())
        if role:
            sign_in(context, live_server.url, role)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


class NarrowScreenTests:
    @pytest.mark.parametrize("js", [False, True], ids=["no-js", "js"])
    def test_no_staff_page_scrolls_sideways_at_320_px(self, contexts, world, blob, new, js):
        too_wide = []
        by_role: dict[str, object] = {}
        for staff_page in pages(world, blob, new):
            if staff_page.role not in by_role:
                by_role[staff_page.role] = contexts(NARROW, js=js, role=staff_page.role)
            page = by_role[staff_page.role].new_page()
            response = page.goto(staff_page.path)
            assert response.status == 200, f"{staff_page.name}: {response.status}"
            if (extra := overflow(page)) > 0:
                too_wide.append(f"{staff_page.name} ({staff_page.path}) is {extra} px too wide")
            page.close()
        assert not too_wide, "\n".join(too_wide)


class AccessibilityTests:
    @pytest.mark.parametrize(
        ("viewport", "js"),
        [(PHONE, False), (DESKTOP, True)],
        ids=["phone-no-js", "desktop-js"],
    )
    def test_every_staff_page_passes_axe_with_one_primary_action(
        self, contexts, world, busy, new, viewport, js, request
    ):
        save = request.config.getoption("--screenshots", default=False)
        problems = []
        by_role: dict[str, object] = {}
        for number, staff_page in enumerate(pages(world, busy, new), start=1):
            if staff_page.role not in by_role:
                by_role[staff_page.role] = contexts(viewport, js=js, role=staff_page.role)
            page = by_role[staff_page.role].new_page()
            page.goto(staff_page.path)
            problems += [f"{staff_page.name}: {problem}" for problem in serious(page)]
            primaries = primary_buttons(page)
            if len(primaries) > 1:
                problems.append(f"{staff_page.name}: {len(primaries)} primary buttons {primaries}")
            if save:
                size = "desktop" if viewport is DESKTOP else "phone"
                page.screenshot(
                    path=SCREENSHOTS / f"staff-{number:02d}-{staff_page.name}-{size}.png"
                )
            page.close()
        assert not problems, "\n".join(problems)
