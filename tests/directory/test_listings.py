"""Community organisations keep their own listings true (issue 12): the link an editor sends,
confirming, proposing changes (and the editors' review), cancelling a session, saying who came,
and what residents and editors see of it."""

import datetime as dt
import re
from html import unescape

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from directory import finder, listings, presenters
from directory.listing_models import CancelledSession, ListingChange, ListingLink
from directory.models import Phone, Schedule, Service
from directory.params import parse_search
from referrals import permissions
from referrals.models import (
    AccessLog,
    Connection,
    OutgoingEmail,
    Referral,
    ReferralEvent,
    StaleReferral,
)
from tests.directory.conftest import london, make_service
from tests.referrals.factories import (
    make_practice,
    make_referral,
    make_team,
    make_user,
    nhs_number,
    patient_data,
)
from tests.referrals.factories import make_service as make_team_service

OPEN = reverse("listing-open")
HOME = reverse("listing-home")
ATTENDANCE = reverse("listing-attendance")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Scene:
    pass


@pytest.fixture
def scene(places):
    """Hyde Walkers (one walk on Tuesdays 10am-12pm) and another organisation; a health trainer
    team; a referral whose person was referred to the walk."""
    s = Scene()
    s.walks = make_service(
        "Hyde Health Walks",
        at="SK14 1PW",
        organization="Hyde Walkers",
        sessions=[("TU", "10:00", "12:00")],
    )
    s.walks.email = "walks@example.org"
    s.walks.save()
    Phone.objects.create(service=s.walks, number="0161 000 1111")
    s.org = s.walks.organization
    s.org.email = "hello@hydewalkers.example"
    s.org.save()
    s.other = make_service(
        "Glossop Choir",
        at="SK13 8AA",
        organization="Glossop Singers",
        sessions=[("WE", "18:00", "20:00")],
    )
    s.editor = make_user(
        "editor", permissions.EDITORS, is_staff=True, first_name="Eve", last_name="Editor"
    )
    practice = make_practice("Hyde Health Centre", "P89001")
    team = make_team("Hyde health trainers", make_team_service("Hyde HT", lat=53.45, lng=-2.07))
    s.clinician = make_user("clinician", permissions.CLINICIANS, practice=practice)
    s.trainer = make_user("trainer", permissions.TRAINERS, team=team)
    s.nhs = nhs_number()
    s.referral = make_referral(
        s.clinician,
        team,
        patient=patient_data(given_name="Margaret", family_name="Thornbury", nhs_number=s.nhs),
        what_matters="Seeing people again after my husband died",
    )
    s.referral.accept(by=s.trainer, version=s.referral.version)
    s.connection = Connection.objects.create(
        referral=s.referral, service=s.walks, status=Connection.Status.REFERRED, by=s.trainer
    )
    s.link, s.token = listings.ListingLink.issue(
        organization=s.org, contact_email="jo@hydewalkers.example", contact_name="Jo", by=s.editor
    )
    return s


def opened(scene, client=None) -> Client:
    client = client or Client()
    response = client.get(OPEN, {"t": scene.token})
    assert response.status_code == 302 and response.url == HOME
    return client


def logged(obj, text: str) -> LogEntry:
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    )
    matching = [e for e in entries if text in e.change_message]
    assert matching, [e.change_message for e in entries]
    return matching[0]


# --- The link ------------------------------------------------------------------------------
class LinkTests:
    def test_it_opens_the_organisations_listings_and_notes_its_use(self, scene):
        client = opened(scene)

        page = client.get(HOME)

        assert page.status_code == 200
        html = page.content.decode()
        assert "Hyde Health Walks" in html and "Glossop Choir" not in html
        scene.link.refresh_from_db()
        assert scene.link.last_used_at is not None

    def test_it_keeps_only_a_digest_of_the_token(self, scene):
        assert scene.token not in ListingLink.objects.values_list("token_hash", flat=True)
        assert ListingLink.find(scene.token) == scene.link

    def test_it_refuses_an_expired_link_saying_whom_to_ask(self, scene):
        scene.editor.email = "eve@council.example"
        scene.editor.save()
        ListingLink.objects.filter(pk=scene.link.pk).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1)
        )

        response = Client().get(OPEN, {"t": scene.token})

        assert response.status_code == 410
        html = response.content.decode()
        assert "This link has expired" in html
        assert "Eve Editor" in html and "eve@council.example" in html
        assert "Hyde Health Walks" not in html

    def test_it_ends_a_session_opened_before_the_link_expired(self, scene):
        client = opened(scene)
        ListingLink.objects.filter(pk=scene.link.pk).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1)
        )

        assert client.get(HOME).status_code == 410
        assert client.post(reverse("listing-confirm", args=[scene.walks.pk])).status_code in (
            403,
            410,
        )
        scene.walks.refresh_from_db()
        assert scene.walks.assured_date is None

    def test_it_expires_after_the_days_set(self, scene, settings):
        settings.LISTING_LINK_DAYS = 7
        link, _ = ListingLink.issue(
            organization=scene.org, contact_email="a@b.example", by=scene.editor
        )

        assert (
            dt.timedelta(days=6, hours=23)
            < link.expires_at - timezone.now()
            <= dt.timedelta(days=7)
        )
        assert link.is_live(link.expires_at - dt.timedelta(seconds=1))
        assert not link.is_live(link.expires_at)

    def test_a_revoked_link_stops_at_once(self, scene):
        client = opened(scene)

        assert listings.revoke_link(scene.link, by=scene.editor) is True
        assert listings.revoke_link(scene.link, by=scene.editor) is False

        assert client.get(HOME).status_code == 410
        response = Client().get(OPEN, {"t": scene.token})
        assert response.status_code == 410
        assert "This link has expired" in response.content.decode()
        logged(scene.link, "Revoked")

    @pytest.mark.parametrize("token", ["", "x", "tampered", "A" * 500])
    def test_a_tampered_or_unknown_token_opens_nothing(self, scene, token):
        response = Client().get(OPEN, {"t": token})

        assert response.status_code == 404
        assert "This link does not work" in response.content.decode()

    def test_a_token_one_character_off_opens_nothing(self, scene):
        last = "A" if scene.token[-1] != "A" else "B"
        response = Client().get(OPEN, {"t": scene.token[:-1] + last})

        assert response.status_code == 404

    def test_pages_need_the_link_opened_first(self, scene):
        client = Client()

        assert client.get(HOME).status_code == 403
        assert client.get(ATTENDANCE).status_code == 403
        response = client.post(reverse("listing-confirm", args=[scene.walks.pk]))
        assert response.status_code == 403
        scene.walks.refresh_from_db()
        assert scene.walks.assured_date is None

    def test_forms_are_csrf_protected(self, scene):
        client = opened(scene, Client(enforce_csrf_checks=True))

        response = client.post(reverse("listing-confirm", args=[scene.walks.pk]))

        assert response.status_code == 403
        scene.walks.refresh_from_db()
        assert scene.walks.assured_date is None

    def test_sending_a_link_queues_the_email_and_logs_it(self, scene):
        link, url = listings.send_link(
            organization=scene.org,
            contact_email="jo@hydewalkers.example",
            contact_name="Jo",
            by=scene.editor,
            base_url="https://flourish.example/",
        )

        email = OutgoingEmail.objects.get(to="jo@hydewalkers.example")
        assert url.startswith("https://flourish.example/listing/open?t=")
        assert url in email.body and "Dear Jo" in email.body
        assert ListingLink.find(url.split("t=")[1]) == link
        assert logged(link, "Link sent to jo@hydewalkers.example").action_flag == ADDITION


class AdminLinkTests:
    def test_an_editor_adds_a_link_which_is_emailed_and_shown_once(self, scene, client):
        client.force_login(scene.editor)

        response = client.post(
            reverse("admin:directory_listinglink_add"),
            {"organization": scene.org.pk, "contact_name": "Sam", "contact_email": "sam@x.example"},
            follow=True,
        )

        assert response.status_code == 200
        link = ListingLink.objects.get(contact_email="sam@x.example")
        assert link.created_by == scene.editor
        shown = re.search(r"/listing/open\?t=([\w-]+)", response.content.decode()).group(1)
        assert ListingLink.find(shown) == link
        assert shown in OutgoingEmail.objects.get(to="sam@x.example").body

    def test_an_editor_revokes_links_from_the_list(self, scene, client):
        client.force_login(scene.editor)

        client.post(
            reverse("admin:directory_listinglink_changelist"),
            {"action": "revoke", "_selected_action": [scene.link.pk]},
        )

        scene.link.refresh_from_db()
        assert scene.link.revoked_at is not None and scene.link.revoked_by == scene.editor

    def test_an_editor_sends_a_link_to_the_organisations_address(self, scene, client):
        client.force_login(scene.editor)

        response = client.post(
            reverse("admin:directory_organization_changelist"),
            {
                "action": "send_listing_link",
                "_selected_action": [scene.org.pk, scene.other.organization.pk],
            },
            follow=True,
        )

        html = response.content.decode()
        assert OutgoingEmail.objects.filter(to="hello@hydewalkers.example").exists()
        assert "/listing/open?t=" in html
        assert "Glossop Singers has no email address" in html

    def test_a_link_cannot_be_edited_or_deleted(self, scene, client):
        client.force_login(scene.editor)
        url = reverse("admin:directory_listinglink_change", args=[scene.link.pk])

        client.post(
            url, {"organization": scene.other.organization.pk, "contact_email": "x@y.example"}
        )

        scene.link.refresh_from_db()
        assert scene.link.contact_email == "jo@hydewalkers.example"
        assert (
            client.get(
                reverse("admin:directory_listinglink_delete", args=[scene.link.pk])
            ).status_code
            == 403
        )


# --- Confirming ------------------------------------------------------------------------------
class ConfirmTests:
    def test_it_marks_the_listing_checked_today_through_the_link(self, scene):
        client = opened(scene)

        response = client.post(reverse("listing-confirm", args=[scene.walks.pk]), follow=True)

        assert "marked as checked today" in response.content.decode()
        scene.walks.refresh_from_db()
        assert scene.walks.assured_date == timezone.localdate()
        assert scene.walks.assurer_email == "jo@hydewalkers.example"
        confirmation = scene.walks.confirmations.get()
        assert confirmation.link == scene.link
        entry = logged(scene.walks, f"listing link #{scene.link.pk}")
        assert entry.user.username == listings.LINK_USERNAME
        assert not entry.user.is_active and not entry.user.has_usable_password()

    def test_it_refuses_another_organisations_listing(self, scene):
        client = opened(scene)

        response = client.post(reverse("listing-confirm", args=[scene.other.pk]))

        assert response.status_code == 404
        scene.other.refresh_from_db()
        assert scene.other.assured_date is None

    def test_it_is_a_post(self, scene):
        assert (
            opened(scene).get(reverse("listing-confirm", args=[scene.walks.pk])).status_code == 405
        )


# --- Proposing changes and the review queue ----------------------------------------------------
def form_values(scene, **changes) -> dict:
    values = listings.current_values(scene.walks)
    values.update(changes)
    return values


class ProposeTests:
    def test_the_form_shows_the_listing_as_it_is(self, scene):
        html = opened(scene).get(reverse("listing-change", args=[scene.walks.pk])).content.decode()

        assert 'value="Hyde Health Walks"' in html
        assert 'value="0161 000 1111"' in html
        assert "Tuesdays" in html

    def test_it_sends_only_what_changed_for_review_and_changes_nothing_yet(self, scene):
        client = opened(scene)

        response = client.post(
            reverse("listing-change", args=[scene.walks.pk]),
            form_values(scene, name="Hyde Wellbeing Walks", phone="0161 222 3333"),
            follow=True,
        )

        assert "sent to an editor" in response.content.decode()
        change = ListingChange.objects.get()
        assert change.status == ListingChange.Status.PENDING and change.link == scene.link
        assert change.proposed == {"name": "Hyde Wellbeing Walks", "phone": "0161 222 3333"}
        assert change.previous == {"name": "Hyde Health Walks", "phone": "0161 000 1111"}
        scene.walks.refresh_from_db()
        assert scene.walks.name == "Hyde Health Walks"
        logged(change, "Proposed changes to name, phone number")

    def test_it_says_so_when_nothing_changed(self, scene):
        response = opened(scene).post(
            reverse("listing-change", args=[scene.walks.pk]), form_values(scene)
        )

        assert response.status_code == 400
        assert "You have not changed anything" in response.content.decode()
        assert not ListingChange.objects.exists()

    @pytest.mark.parametrize(
        "field, value, message",
        [
            ("email", "not an address", "Enter an email address like name@example.com."),
            ("url", "http://", "Enter a web address like https://example.org."),
            ("phone", "call us", "Enter a phone number like 0161 123 4567."),
            ("name", "", "Enter the listing&#x27;s name."),
        ],
    )
    def test_it_refuses_bad_values_saying_how_to_fix_them(self, scene, field, value, message):
        response = opened(scene).post(
            reverse("listing-change", args=[scene.walks.pk]), form_values(scene, **{field: value})
        )

        assert response.status_code == 400
        html = response.content.decode()
        assert "There is a problem" in html and message in html
        assert not ListingChange.objects.exists()

    def test_it_refuses_another_organisations_listing(self, scene):
        client = opened(scene)

        assert client.get(reverse("listing-change", args=[scene.other.pk])).status_code == 404
        response = client.post(
            reverse("listing-change", args=[scene.other.pk]), {"name": "Mine now"}
        )
        assert response.status_code == 404
        assert not ListingChange.objects.exists()


def proposal(scene, **changes) -> ListingChange:
    return listings.propose(
        link=scene.link, service=scene.walks, values=form_values(scene, **changes)
    )


class ReviewTests:
    def test_the_diff_is_field_by_field(self, scene):
        change = proposal(scene, name="Hyde Wellbeing Walks", fees="£1 a walk")

        rows = listings.diff(change)

        assert [(r.label, r.before, r.after) for r in rows] == [
            ("Name", "Hyde Health Walks", "Hyde Wellbeing Walks"),
            ("Cost", "", "£1 a walk"),
        ]
        assert not any(r.changed_since for r in rows)
        Service.objects.filter(pk=scene.walks.pk).update(name="Renamed meanwhile")
        assert listings.diff(change)[0].changed_since

    def test_approving_applies_the_change_and_records_who(self, scene):
        change = proposal(
            scene, name="Hyde Wellbeing Walks", phone="0161 222 3333", url="https://walks.example"
        )

        todo = listings.approve(change, by=scene.editor)

        assert todo == []
        scene.walks.refresh_from_db()
        assert scene.walks.name == "Hyde Wellbeing Walks"
        assert scene.walks.url == "https://walks.example"
        assert list(scene.walks.phones.values_list("number", flat=True)) == ["0161 222 3333"]
        assert scene.walks.modified_by == scene.editor
        assert change.status == ListingChange.Status.APPROVED and change.decided_by == scene.editor
        entry = logged(scene.walks, "Changed name, phone number, website")
        assert entry.user == scene.editor
        logged(change, "Approved")
        with pytest.raises(ValidationError, match="already approved"):
            listings.approve(change, by=scene.editor)

    def test_opening_times_are_left_for_the_editor_to_apply(self, scene):
        change = proposal(scene, times="Tuesdays, 11am to 1pm")

        todo = listings.approve(change, by=scene.editor)

        assert "edit Hyde Health Walks's schedules" in todo[0]
        assert Schedule.objects.get(service=scene.walks).opens_at == dt.time(10)

    def test_rejecting_changes_nothing_and_needs_a_reason(self, scene):
        change = proposal(scene, name="Hyde Wellbeing Walks")

        with pytest.raises(ValidationError):
            listings.reject(change, by=scene.editor, reason="  ")
        listings.reject(change, by=scene.editor, reason="The trust's name is unchanged.")

        scene.walks.refresh_from_db()
        assert scene.walks.name == "Hyde Health Walks"
        assert change.status == ListingChange.Status.REJECTED
        assert change.reason == "The trust's name is unchanged."
        logged(change, "Rejected: The trust's name is unchanged.")
        with pytest.raises(ValidationError):
            listings.approve(change, by=scene.editor)

    def test_editors_review_in_the_admin_with_the_diff(self, scene, client):
        change = proposal(scene, name="Hyde Wellbeing Walks")
        client.force_login(scene.editor)
        url = reverse("admin:directory_listingchange_change", args=[change.pk])

        html = client.get(url).content.decode()
        assert "<del>Hyde Health Walks</del>" in html and "<ins>Hyde Wellbeing Walks</ins>" in html
        listing = client.get(reverse("admin:directory_listingchange_changelist")).content.decode()
        assert "Hyde Health Walks" in listing and "Waiting for review" in listing

        response = client.post(url, {"decision": "reject", "reason": ""})
        assert response.status_code == 200 and "Give the reason" in response.content.decode()
        change.refresh_from_db()
        assert change.status == ListingChange.Status.PENDING

        client.post(url, {"decision": "approve", "reason": ""})
        change.refresh_from_db()
        scene.walks.refresh_from_db()
        assert change.status == ListingChange.Status.APPROVED
        assert scene.walks.name == "Hyde Wellbeing Walks"

    def test_editors_cannot_add_changes_in_the_admin(self, scene, client):
        client.force_login(scene.editor)

        assert client.get(reverse("admin:directory_listingchange_add")).status_code == 403


# --- Cancelling a session ------------------------------------------------------------------------
def next_tuesday(after: dt.date) -> dt.date:
    return after + dt.timedelta(days=(1 - after.weekday()) % 7 or 7)


class CancelTests:
    def schedule(self, scene) -> Schedule:
        return Schedule.objects.get(service=scene.walks)

    def test_the_form_lists_the_coming_sessions(self, scene):
        html = opened(scene).get(reverse("listing-cancel", args=[scene.walks.pk])).content.decode()
        tuesday = next_tuesday(timezone.localdate())

        assert f'value="{self.schedule(scene).pk}/{tuesday.isoformat()}"' in html
        assert "10am to 12pm" in html

    def test_it_cancels_one_session_and_residents_see_it(self, scene):
        day = next_tuesday(timezone.localdate())
        client = opened(scene)

        response = client.post(
            reverse("listing-cancel", args=[scene.walks.pk]),
            {"session": f"{self.schedule(scene).pk}/{day.isoformat()}", "note": "Hall closed"},
            follow=True,
        )

        assert "is marked as cancelled" in response.content.decode()
        cancelled = CancelledSession.objects.get()
        assert (cancelled.date, cancelled.note, cancelled.link) == (day, "Hall closed", scene.link)
        logged(scene.walks, f"Session on {day:%-d %B %Y} at 10:00 cancelled")
        html = render_to_string("directory/_cancelled.html", {"service": scene.walks})
        assert f"Cancelled on {day:%A %-d %B %Y}" in html and "Hall closed" in html

    def test_the_next_session_skips_a_cancelled_one_on_pages_and_in_search(self, scene):
        day = next_tuesday(timezone.localdate())
        now = london(day.year, day.month, day.day, 8, 0)
        listings.cancel_session(
            link=scene.link, service=scene.walks, schedule=self.schedule(scene), date=day
        )

        service = Service.objects.prefetch_related(
            "schedules", "service_at_locations__schedules", "cost_options", "attributes"
        ).get(pk=scene.walks.pk)
        opens, _ = presenters.next_opening(service, now)
        assert opens.date() == day + dt.timedelta(days=7)

        query = parse_search({"postcode": "SK14 1AA"}, now=now)
        result = next(s for s in finder.find(query).rows if s.pk == scene.walks.pk)
        assert result.next_opening.date() == day + dt.timedelta(days=7)

    def test_open_now_leaves_out_a_service_whose_session_is_cancelled(self, scene):
        day = next_tuesday(timezone.localdate())
        during = london(day.year, day.month, day.day, 11, 0)
        assert Service.objects.open_at(during).filter(pk=scene.walks.pk).exists()

        listings.cancel_session(
            link=scene.link, service=scene.walks, schedule=self.schedule(scene), date=day
        )

        assert not Service.objects.open_at(during).filter(pk=scene.walks.pk).exists()
        next_week = during + dt.timedelta(days=7)
        assert Service.objects.open_at(next_week).filter(pk=scene.walks.pk).exists()
        # The search's statement compiles the same rule.
        found = finder.find(parse_search({"postcode": "SK14 1AA", "open": "now"}, now=during))
        assert scene.walks.pk not in [s.pk for s in found.rows]
        found = finder.find(parse_search({"postcode": "SK14 1AA", "open": "now"}, now=next_week))
        assert scene.walks.pk in [s.pk for s in found.rows]

    @pytest.mark.parametrize(
        "session, message",
        [
            ("nonsense", "Select the session that is cancelled."),
            ("", "Select the session that is cancelled."),
            ("{schedule}/2026-02-30", "Select the session that is cancelled."),
            ("{schedule}/{wednesday}", "There is no session then"),
            ("{schedule}/{last_tuesday}", "That session has already happened"),
            ("{schedule}/{far_tuesday}", "There is no session then"),
        ],
    )
    def test_it_refuses_a_date_without_a_session(self, scene, session, message):
        today = timezone.localdate()
        tuesday = next_tuesday(today)
        session = session.format(
            schedule=self.schedule(scene).pk,
            wednesday=tuesday + dt.timedelta(days=1),
            last_tuesday=tuesday - dt.timedelta(days=7),
            far_tuesday=tuesday + dt.timedelta(days=7 * 20),
        )

        response = opened(scene).post(
            reverse("listing-cancel", args=[scene.walks.pk]), {"session": session}
        )

        assert response.status_code == 400
        assert message in response.content.decode()
        assert not CancelledSession.objects.exists()

    def test_it_refuses_a_session_of_another_organisation(self, scene):
        other = Schedule.objects.get(service=scene.other)
        client = opened(scene)
        wednesday = next_tuesday(timezone.localdate()) + dt.timedelta(days=1)

        mixed = client.post(
            reverse("listing-cancel", args=[scene.walks.pk]),
            {"session": f"{other.pk}/{wednesday.isoformat()}"},
        )
        theirs = client.post(
            reverse("listing-cancel", args=[scene.other.pk]),
            {"session": f"{other.pk}/{wednesday.isoformat()}"},
        )

        assert (mixed.status_code, theirs.status_code) == (404, 404)
        assert not CancelledSession.objects.exists()


# --- Who came ------------------------------------------------------------------------------------
class AttendanceTests:
    def test_it_shows_only_a_first_name_an_initial_and_the_date(self, scene):
        html = opened(scene).get(ATTENDANCE).content.decode()

        when = timezone.localdate()
        assert f"Margaret T., put in touch on {when:%-d %B %Y}" in html
        patient = scene.referral.patient
        for secret in (
            "Thornbury",
            scene.nhs,
            patient.nhs_number_display,
            patient.date_of_birth.isoformat(),
            f"{patient.date_of_birth:%-d %B %Y}",
            f"{patient.date_of_birth:%d/%m/%Y}",
            patient.postcode,
            patient.phone,
            "husband",
            "loneliness",
            str(scene.referral.pk),
        ):
            assert secret not in html, secret

    def test_each_person_shown_is_in_the_access_log(self, scene):
        opened(scene).get(ATTENDANCE)

        entry = AccessLog.objects.get()
        assert entry.referral == scene.referral and entry.patient == scene.referral.patient
        assert entry.user.username == listings.LINK_USERNAME
        assert entry.path == f"{ATTENDANCE} (listing link #{scene.link.pk})"

    def test_it_leaves_out_people_it_should_not_hear_about(self, scene):
        team = scene.referral.team

        def connect(referral, service=None, **extra):
            return Connection.objects.create(
                referral=referral, service=service or scene.walks, by=scene.trainer, **extra
            )

        def accepted(given, **extra):
            referral = make_referral(
                scene.clinician, team, patient=patient_data(given_name=given), **extra
            )
            referral.accept(by=scene.trainer, version=referral.version)
            return referral

        connect(accepted("Suggested"), status=Connection.Status.SUGGESTED)
        connect(accepted("Private", consent_to_share=False), status=Connection.Status.REFERRED)
        connect(accepted("Elsewhere"), service=scene.other, status=Connection.Status.REFERRED)
        connect(
            accepted("Longago"),
            status=Connection.Status.REFERRED,
            created_at=timezone.now() - dt.timedelta(days=listings.ATTENDANCE_DAYS + 1),
        )
        closed = accepted("Closed")
        connect(closed, status=Connection.Status.REFERRED)
        closed.close(by=scene.trainer, version=closed.version, outcome=Referral.Outcome.OTHER)
        new = make_referral(scene.clinician, team, patient=patient_data(given_name="Unaccepted"))
        connect(new, status=Connection.Status.REFERRED)

        rows = listings.attendance_rows(scene.link)

        assert [r.person for r in rows] == ["Margaret T."]

    @pytest.mark.parametrize("answer, status", [("yes", "attended"), ("no", "did_not_attend")])
    def test_the_answer_updates_the_connection_and_the_timeline(self, scene, answer, status):
        client = opened(scene)
        seen = scene.referral.version  # what a trainer's open referral page holds

        response = client.post(
            reverse("listing-attendance-report", args=[scene.connection.pk]), {"attended": answer}
        )

        assert response.status_code == 302 and response.url == ATTENDANCE
        scene.connection.refresh_from_db()
        assert scene.connection.status == status
        assert scene.connection.by == scene.trainer  # who connected them is kept
        event = ReferralEvent.objects.get(referral=scene.referral, kind=listings.CONNECTION_EVENT)
        assert "Hyde Health Walks" in event.note and "Hyde Walkers" in event.note
        assert event.by.username == listings.LINK_USERNAME
        logged(scene.connection, f"listing link #{scene.link.pk}")
        # Answered: gone from the list.
        assert "Margaret" not in client.get(ATTENDANCE).content.decode()

        trainer = Client()
        trainer.force_login(scene.trainer)
        timeline = trainer.get(reverse("referrals-timeline", args=[scene.referral.pk]))
        assert event.note in unescape(timeline.content.decode())
        # The referral moved on: a trainer's page from before the report cannot overwrite it.
        scene.referral.refresh_from_db()
        assert scene.referral.version == seen + 1
        with pytest.raises(StaleReferral):
            scene.referral.set_connection_status(
                by=scene.trainer,
                version=seen,
                connection_id=scene.connection.pk,
                status=Connection.Status.REFERRED,
            )

    def test_it_refuses_a_person_of_another_organisation(self, scene):
        elsewhere = Connection.objects.create(
            referral=make_referral(scene.clinician, scene.referral.team),
            service=scene.other,
            status=Connection.Status.REFERRED,
            by=scene.trainer,
        )
        client = opened(scene)

        response = client.post(
            reverse("listing-attendance-report", args=[elsewhere.pk]), {"attended": "yes"}
        )
        missing = client.post(
            reverse("listing-attendance-report", args=[999999]), {"attended": "yes"}
        )

        assert (response.status_code, missing.status_code) == (404, 404)
        elsewhere.refresh_from_db()
        assert elsewhere.status == Connection.Status.REFERRED

    def test_it_asks_again_for_an_answer_it_cannot_read(self, scene):
        response = opened(scene).post(
            reverse("listing-attendance-report", args=[scene.connection.pk]),
            {"attended": "maybe"},
            follow=True,
        )

        assert "Choose whether the person came or not." in response.content.decode()
        scene.connection.refresh_from_db()
        assert scene.connection.status == Connection.Status.REFERRED


# --- What residents and editors see ----------------------------------------------------------------
class CheckedTests:
    def checked_text(self, assured_date) -> str:
        service = Service(name="A service", assured_date=assured_date)
        shown = render_to_string("directory/_checked.html", {"service": service})
        return " ".join(re.sub(r"<[^>]+>", "", shown).split())

    def test_residents_see_the_month_it_was_checked(self):
        today = timezone.localdate()

        assert f"Checked in {today:%B %Y}" in self.checked_text(today)

    def test_residents_are_warned_when_it_was_not_checked_for_six_months(self):
        old = listings.stale_before(timezone.localdate()) - dt.timedelta(days=1)

        text = self.checked_text(old)

        assert "Not checked recently" in text and f"last checked in {old:%B %Y}" in text
        assert "This listing has not been checked yet" in self.checked_text(None)

    @pytest.mark.parametrize(
        "today, before",
        [
            (dt.date(2026, 11, 30), dt.date(2026, 5, 30)),
            (dt.date(2026, 8, 31), dt.date(2026, 2, 28)),
            (dt.date(2028, 8, 31), dt.date(2028, 2, 29)),
            (dt.date(2026, 3, 15), dt.date(2025, 9, 15)),
            (dt.date(2026, 6, 1), dt.date(2025, 12, 1)),
        ],
    )
    def test_six_months_is_counted_in_calendar_months(self, today, before):
        assert listings.stale_before(today) == before

    def test_editors_see_the_last_confirmed_date_and_filter_the_stale(self, scene, client):
        today = timezone.localdate()
        Service.objects.filter(pk=scene.walks.pk).update(assured_date=today)
        Service.objects.filter(pk=scene.other.pk).update(
            assured_date=listings.stale_before(today) - dt.timedelta(days=1)
        )
        fresh = make_service("Never checked", organization="Hyde Walkers")
        client.force_login(scene.editor)
        url = reverse("admin:directory_service_changelist")

        everything = client.get(url).content.decode()
        stale = client.get(url, {"confirmed": "stale"}).content.decode()

        assert f"{today:%-d %b %Y}" in everything and ": out of date" in everything
        assert "Glossop Choir" in stale and fresh.name in stale
        assert "Hyde Health Walks" not in stale
