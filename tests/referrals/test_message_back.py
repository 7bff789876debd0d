"""The message back to the referrer (issue 9 s4): one function writes it, the close form shows
it before it is sent, the referrer reads it in Flourish with the person's name and NHS number,
and the email names nobody and links to it."""

import html
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from directory.models import Service
from referrals import message_back, services
from referrals.models import (
    AccessLog,
    Measure,
    Notification,
    OutgoingEmail,
    PracticeMembership,
    Referral,
)
from tests.conftest import run_tasks
from tests.referrals.factories import make_referral, make_service


def worked(world) -> Referral:
    """A referral worked to the end: accepted, first measures at a contact, a goal, two
    services (one attended), and latest measures a few weeks later."""
    referral = world.referral
    referral.accept(by=world.trainer, version=1)
    services.record_contact(
        referral,
        by=world.trainer,
        at=timezone.now() - timedelta(minutes=30),
        method="phone",
        reached=True,
        measures=[
            {
                "instrument": "ons4",
                "life_satisfaction": 3,
                "worthwhile": 4,
                "happiness": 3,
                "anxiety": 8,
            }
        ],
    )
    referral.add_goal(by=world.trainer, version=referral.version, text="Walk to the shops")
    walks = make_service("Hyde walks", lat=53.452, lng=-2.078, kind=Service.Kind.COMMUNITY_ASSET)
    choir = make_service(
        "Hyde community choir", lat=53.452, lng=-2.078, kind=Service.Kind.COMMUNITY_ASSET
    )
    walk = referral.add_connection(by=world.trainer, version=referral.version, service=walks)
    referral.add_connection(by=world.trainer, version=referral.version, service=choir)
    referral.set_connection_status(
        by=world.trainer, version=referral.version, connection_id=walk.pk, status="attended"
    )
    services.record_contact(
        referral,
        by=world.trainer,
        at=timezone.now() - timedelta(minutes=5),
        method="face_to_face",
        reached=True,
        measures=[
            {
                "instrument": "ons4",
                "life_satisfaction": 7,
                "worthwhile": 7,
                "happiness": 6,
                "anxiety": 4,
            }
        ],
    )
    referral.refresh_from_db()
    return referral


NOTE = "Ada walks twice a week now and wants to keep going with the group."


def close(client, referral, **extra):
    data = {"version": referral.version, "outcome": "goals_met", "note": NOTE, "action": "close"}
    data.update(extra)
    return client.post(reverse("referrals-close", args=[referral.pk]), data)


def message_block(page: str) -> str:
    """The message as the page shows it (the shared template's block), whitespace evened."""
    found = re.search(r'<div class="message-back">(.*?)\n</div>', page, flags=re.S)
    assert found, "no message on the page"
    return " ".join(found.group(1).split())


def closing_message(world) -> Notification:
    return Notification.objects.get(user=world.clinician, kind="closed")


class PreviewTests:
    def test_the_preview_is_what_the_referrer_then_reads(self, client, world):
        referral = worked(world)
        client.force_login(world.trainer)
        # Without JavaScript, "Update the message" shows the message as chosen, unsent.
        preview = client.post(
            reverse("referrals-close", args=[referral.pk]),
            {
                "version": referral.version,
                "outcome": "goals_met",
                "note": NOTE,
                "action": "preview",
            },
        )
        referral.refresh_from_db()
        assert referral.status == "engaged"  # a preview closes nothing
        shown = message_block(preview.content.decode())
        assert "Goals met" in shown and "Ada walks twice a week" in shown
        assert close(client, referral).status_code == 302
        notification = closing_message(world)
        client.force_login(world.clinician)
        page = client.get(notification.get_absolute_url()).content.decode()
        assert message_block(page) == shown
        # And the same words the function composes (the one place they are written).
        assert notification.message == notification.message_back.text()

    def test_the_preview_follows_a_refused_submit(self, client, world):
        referral = worked(world)
        client.force_login(world.trainer)
        response = close(client, referral, outcome="", note="Thanks for the referral.")
        page = response.content.decode()
        assert "Select the outcome" in page  # the field named, in the summary and beside it
        assert "Thanks for the referral." in message_block(page)
        referral.refresh_from_db()
        assert referral.status == "engaged"

    def test_a_stale_close_says_so_and_keeps_what_was_typed(self, client, world):
        referral = worked(world)
        seen = referral.version
        referral.set_goal_status(
            by=world.lead, version=seen, goal_id=referral.goals.get().pk, status="achieved"
        )
        client.force_login(world.trainer)
        response = close(client, referral, version=seen)
        page = html.unescape(response.content.decode())
        assert "changed since you opened it" in page
        assert NOTE in page.split("<textarea")[1]
        assert "Walk to the shops (achieved)" in message_block(page)  # the message as it now is
        referral.refresh_from_db()
        assert referral.status == "engaged"
        assert f'name="version" value="{referral.version}"' in page

    def test_a_self_referral_tells_nobody(self, client, world):
        from tests.referrals.factories import patient_data

        referral, _ = services.referral_create(
            by=None,
            practice=None,
            patient=patient_data(nhs_number=""),
            needs=[],
            team=world.team,
            consent_to_contact=True,
            consent_to_share=False,
            rate_limit=False,
            source=Referral.Source.SELF,
        )
        referral.accept(by=world.trainer, version=1)
        client.force_login(world.trainer)
        page = client.get(reverse("referrals-close", args=[referral.pk])).content.decode()
        assert "Nobody is told" in page
        close(client, referral)
        referral.refresh_from_db()
        assert referral.status == "closed"
        assert not Notification.objects.filter(referral=referral).exists()


class InAppMessageTests:
    def test_it_shows_name_nhs_number_note_services_and_measure_change(self, client, world):
        referral = worked(world)
        client.force_login(world.trainer)
        close(client, referral)
        notification = closing_message(world)
        client.force_login(world.clinician)
        page = html.unescape(client.get(notification.get_absolute_url()).content.decode())
        patient = referral.patient
        assert patient.name in page
        assert patient.nhs_number_display in page
        assert "Goals met" in page
        assert NOTE in page
        assert "Hyde walks: attended" in page and "Attended" in page
        assert "Hyde community choir: suggested" in page
        # Life satisfaction 3 -> 7, anxiety 8 -> 4 (a fall in anxiety is better).
        rows = re.findall(r"<tr>(.*?)</tr>", page, flags=re.S)
        text = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]
        assert any(
            r.startswith("Measure Life satisfaction First 3") and "+4 (better)" in r for r in text
        )
        assert any(
            r.startswith("Measure Anxiety yesterday First 8") and "-4 (better)" in r for r in text
        )

    def test_the_snapshot_keeps_what_was_said(self, client, world):
        referral = worked(world)
        client.force_login(world.trainer)
        close(client, referral)
        notification = closing_message(world)
        said = notification.details
        Service.objects.filter(name="Hyde walks").update(name="Renamed later")
        notification.refresh_from_db()
        assert notification.details == said
        assert "Hyde walks" in notification.message_back.text()

    def test_the_referral_page_shows_the_referrer_what_they_were_told(self, client, world):
        referral = worked(world)
        client.force_login(world.trainer)
        close(client, referral)
        client.force_login(world.clinician)
        page = html.unescape(client.get(referral.get_absolute_url()).content.decode())
        told = page.split('id="messages-back-heading"')[1]
        assert "Referral closed" in told and NOTE in told and "Referral accepted" in told

    def test_accepted_declined_and_contacted_name_the_patient_in_the_app(self, client, world):
        other = make_referral(world.clinician, world.team)
        other.decline(by=world.trainer, version=1, reason="We do not cover this address.")
        world.referral.accept(by=world.trainer, version=1)
        world.referral.contact(by=world.trainer, version=2)
        client.force_login(world.clinician)
        listing = html.unescape(client.get(reverse("referrals-notifications")).content.decode())
        name = world.referral.patient.name
        for kind in ("Referral accepted", "Person contacted", "Referral declined"):
            assert f"{name}: {kind}" in listing
        declined = Notification.objects.get(kind="declined")
        page = html.unescape(client.get(declined.get_absolute_url()).content.decode())
        assert other.patient.nhs_number_display in page
        assert "We do not cover this address." in page

    def test_opening_a_message_is_access_logged(self, client, world):
        world.referral.accept(by=world.trainer, version=1)
        client.force_login(world.clinician)
        client.get(Notification.objects.get().get_absolute_url(), REMOTE_ADDR="203.0.113.9")
        row = AccessLog.objects.get()
        assert (row.user, row.referral, row.ip_address) == (
            world.clinician,
            world.referral,
            "203.0.113.9",
        )


class EmailTests:
    def test_the_email_names_nobody_and_links_to_the_message(self, client, world, settings):
        settings.SITE_URL = "https://flourish.nhs.test"
        referral = worked(world)
        client.force_login(world.trainer)
        close(client, referral)
        notification = closing_message(world)
        email = OutgoingEmail.objects.filter(to="clinician@example.org").order_by("pk").last()
        patient = referral.patient
        born = patient.date_of_birth
        secrets = [
            patient.given_name,
            patient.family_name,
            patient.nhs_number,
            patient.nhs_number_display,
            born.isoformat(),
            f"{born:%d/%m/%Y}",
            f"{born:%-d %B %Y}",
            patient.postcode,
            patient.postcode.replace(" ", ""),
            str(referral.pk),
            str(referral.pk)[:8],
            NOTE,
            "Walk to the shops",
        ]
        for text in (email.subject, email.body):
            for secret in secrets:
                assert secret.lower() not in text.lower(), secret
        link = f"https://flourish.nhs.test/notifications/{notification.pk}/"
        assert link in email.body
        assert "closed" in email.body
        assert run_tasks()
        sent = [m for m in mail.outbox if m.to == ["clinician@example.org"]][-1]
        assert link in sent.body and patient.family_name not in sent.body + sent.subject

    def test_every_kind_of_message_back_emails_only_a_link(self, world):
        world.referral.accept(by=world.trainer, version=1)
        world.referral.contact(by=world.trainer, version=2)
        other = make_referral(world.clinician, world.team)
        other.decline(by=world.trainer, version=1, reason="Ada Example lives outside our area")
        emails = OutgoingEmail.objects.filter(to="clinician@example.org")
        assert emails.count() == 3
        for email in emails:
            assert "Ada" not in email.body and "Example" not in email.body
            assert "/notifications/" in email.body

    def test_the_site_url_is_a_setting_listed_for_deployment(self):
        from django.conf import settings

        assert settings.SITE_URL.startswith("http")
        assert "SITE_URL=" in open("deploy/flourish.env.example").read()


class WhoMaySeeTests:
    def test_another_practices_clinician_cannot_open_the_message_or_its_referral(
        self, client, world
    ):
        world.referral.accept(by=world.trainer, version=1)
        notification = Notification.objects.get()
        client.force_login(world.other_clinician)
        assert client.get(notification.get_absolute_url()).status_code == 404
        assert client.get(world.referral.get_absolute_url()).status_code == 404
        listing = client.get(reverse("referrals-notifications")).content.decode()
        assert world.referral.patient.family_name not in listing
        notification.refresh_from_db()
        assert notification.is_unread  # their attempt read nothing

    def test_a_referrer_who_left_the_practice_reads_the_message_without_the_name(
        self, client, world
    ):
        world.referral.accept(by=world.trainer, version=1)
        PracticeMembership.objects.filter(user=world.clinician).delete()
        client.force_login(world.clinician)
        page = html.unescape(
            client.get(Notification.objects.get().get_absolute_url()).content.decode()
        )
        assert "Accepted by Hyde health trainers" in page
        assert world.referral.patient.name not in page
        assert world.referral.patient.nhs_number_display not in page
        assert "can no longer see" in page
        assert not AccessLog.objects.exists()

    @pytest.mark.parametrize("role", ["trainer", "manager", "outsider", "admin"])
    def test_nobody_else_opens_it(self, client, world, role):
        world.referral.accept(by=world.trainer, version=1)
        client.force_login(world.user(role))
        response = client.get(Notification.objects.get().get_absolute_url())
        assert response.status_code == 404

    def test_signed_out_it_asks_to_sign_in(self, client, world):
        world.referral.accept(by=world.trainer, version=1)
        response = client.get(Notification.objects.get().get_absolute_url())
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    def test_a_message_is_not_changed_by_post(self, client, world):
        world.referral.accept(by=world.trainer, version=1)
        client.force_login(world.clinician)
        response = client.post(Notification.objects.get().get_absolute_url())
        assert response.status_code == 405

    def test_a_clinician_cannot_close(self, client, world):
        world.referral.accept(by=world.trainer, version=1)
        client.force_login(world.clinician)
        response = close(client, world.referral)
        assert response.status_code == 403
        world.referral.refresh_from_db()
        assert world.referral.status == "accepted"


class UnreadTests:
    def _two(self, world):
        world.referral.accept(by=world.trainer, version=1)
        world.referral.contact(by=world.trainer, version=2)
        return list(Notification.objects.order_by("pk"))

    def _items(self, page: str) -> list[str]:
        return re.findall(r'<li class="staff-card message-list__item[^"]*">.*?</li>', page, re.S)

    def test_unread_messages_stand_out_and_read_ones_do_not(self, client, world):
        accepted, contacted = self._two(world)
        client.force_login(world.clinician)
        listing = client.get(reverse("referrals-notifications")).content.decode()
        items = self._items(listing)
        assert len(items) == 2 and all("is-unread" in i and "Unread" in i for i in items)
        assert "2 unread messages" in listing
        # Opening one marks that one read, not the other.
        client.get(accepted.get_absolute_url())
        accepted.refresh_from_db()
        contacted.refresh_from_db()
        assert not accepted.is_unread and contacted.is_unread
        listing = client.get(reverse("referrals-notifications")).content.decode()
        by_link = {
            n.pk: next(i for i in self._items(listing) if n.get_absolute_url() in i)
            for n in (accepted, contacted)
        }
        assert "is-unread" not in by_link[accepted.pk] and "Unread" not in by_link[accepted.pk]
        assert "is-unread" in by_link[contacted.pk] and "Unread" in by_link[contacted.pk]
        assert "1 unread message." in listing

    def test_mark_all_as_read_stays(self, client, world):
        self._two(world)
        client.force_login(world.clinician)
        response = client.post(reverse("referrals-notifications"), follow=True)
        assert not Notification.objects.filter(read_at__isnull=True).exists()
        assert "is-unread" not in response.content.decode()

    def test_the_nav_counts_unread(self, client, world):
        self._two(world)
        client.force_login(world.clinician)
        page = client.get(reverse("referrals-list")).content.decode()
        assert re.search(r'class="count">2</span>', page)


class FinalMeasuresTests:
    def test_the_close_form_asks_for_the_measures_taken_before(self, client, world):
        referral = worked(world)
        client.force_login(world.trainer)
        page = client.get(reverse("referrals-close", args=[referral.pk])).content.decode()
        assert "Final measures" in page
        assert 'name="life_satisfaction"' in page
        assert 'name="swemwbs_1"' not in page  # never taken: not asked

    def test_no_first_measures_no_question(self, client, world):
        world.referral.accept(by=world.trainer, version=1)
        client.force_login(world.trainer)
        page = client.get(reverse("referrals-close", args=[world.referral.pk])).content.decode()
        assert "Final measures" not in page

    def test_final_measures_are_saved_and_in_the_message(self, client, world):
        referral = worked(world)
        client.force_login(world.trainer)
        final = {"life_satisfaction": "9", "worthwhile": "8", "happiness": "8", "anxiety": "2"}
        preview = client.post(
            reverse("referrals-close", args=[referral.pk]),
            {"version": referral.version, "outcome": "goals_met", "action": "preview", **final},
        )
        assert "3 to 9" in message_block(preview.content.decode()) or "+6" in message_block(
            preview.content.decode()
        )
        close(client, referral, **final)
        referral.refresh_from_db()
        assert referral.status == "closed"
        latest = Measure.objects.filter(referral=referral).order_by("pk").last()
        assert (latest.life_satisfaction, latest.by) == (9, world.trainer)
        changes = {m["name"]: m for m in closing_message(world).details["measures"]}
        assert (changes["Life satisfaction"]["first"], changes["Life satisfaction"]["latest"]) == (
            "3",
            "9",
        )

    def test_a_wrong_final_measure_closes_nothing_and_keeps_everything(self, client, world):
        referral = worked(world)
        count = Measure.objects.count()
        client.force_login(world.trainer)
        response = close(
            client, referral, life_satisfaction="12", worthwhile="8", happiness="8", anxiety="2"
        )
        page = html.unescape(response.content.decode())
        assert response.status_code == 200
        assert "between 0 and 10" in page
        assert NOTE in page
        referral.refresh_from_db()
        assert referral.status == "engaged"
        assert Measure.objects.count() == count
        assert not Notification.objects.filter(kind="closed").exists()


class ComposeTests:
    def test_it_refuses_a_kind_it_does_not_know(self, world):
        with pytest.raises(ValueError):
            message_back.compose(world.referral, "engaged")

    def test_it_says_when_nothing_was_measured_or_connected(self, world):
        world.referral.accept(by=world.trainer, version=1)
        text = message_back.compose(world.referral, "closed", outcome="moved_away").text()
        assert "Outcome: Moved away." in text
        assert "Services: none." in text and "Measures: none recorded." in text
