"""One follow-up form records a contact and the measures taken then (issue 9, sections 2, 3, 7).

Nothing typed is lost: a refusal keeps every value and saves nothing; all three measures are
saved from one submit; PAM takes a decimal; SWEMWBS is entered item by item with the published
conversion; a reached contact moves an accepted referral to contacted. The API does the same
through the same service."""

import html
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from referrals import measures, services
from referrals.models import FollowUp, Measure, Referral, ReferralEvent
from tests.referrals.factories import minutes_ago

ONS4 = {"life_satisfaction": "6", "worthwhile": "7", "happiness": "5", "anxiety": "3"}
SWEMWBS = {f"swemwbs_{n}": str(score) for n, score in enumerate([3, 4, 2, 3, 5, 4, 3], start=1)}
PAM = {"pam_score": "48.5", "pam_level": "2"}


def contact(**overrides) -> dict:
    """The follow-up form as a trainer fills it in: a phone call just now, reached."""
    now = timezone.localtime() - timedelta(minutes=1)
    data = {
        "date_day": str(now.day),
        "date_month": str(now.month),
        "date_year": str(now.year),
        "time": now.strftime("%H:%M"),
        "method": "phone",
        "reached": "yes",
        "duration_minutes": "25",
        "notes": "Talked about the walking group.",
        "form_token": uuid.uuid4().hex,
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def follow_up_url(referral) -> str:
    return reverse("referrals-follow-up", args=[referral.pk])


def page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def trainer(client, world):
    client.force_login(world.trainer)
    return client


@pytest.fixture
def accepted(world):
    world.referral.accept(by=world.trainer, version=world.referral.version)
    return world.referral


class OneSubmitTests:
    def test_it_saves_the_contact_and_all_three_measures_from_one_submit(self, trainer, world):
        response = trainer.post(
            follow_up_url(world.referral), contact(**ONS4, **SWEMWBS, **PAM), follow=True
        )
        follow_up = FollowUp.objects.get()
        assert (follow_up.method, follow_up.reached, follow_up.duration_minutes) == (
            "phone",
            True,
            25,
        )
        taken = {measure.instrument: measure for measure in follow_up.measures.all()}
        assert set(taken) == {"ons4", "swemwbs", "pam"}
        assert Measure.objects.count() == 3
        ons4 = taken["ons4"]
        assert (ons4.life_satisfaction, ons4.worthwhile, ons4.happiness, ons4.anxiety) == (
            6,
            7,
            5,
            3,
        )
        swemwbs = taken["swemwbs"]
        assert [getattr(swemwbs, f"swemwbs_{n}") for n in range(1, 8)] == [3, 4, 2, 3, 5, 4, 3]
        assert swemwbs.swemwbs_total == 24
        assert swemwbs.swemwbs_metric == Decimal("21.54")
        assert (taken["pam"].pam_score, taken["pam"].pam_level) == (Decimal("48.5"), 2)
        # Dated the day of the contact.
        assert {m.taken_on for m in taken.values()} == {timezone.localdate(follow_up.at)}
        # The page after saving says what was saved, SWEMWBS with its total and metric score.
        text = page(response)
        assert "Contact logged." in text
        assert "SWEMWBS (total 24, metric score 21.54)" in text
        assert "PAM (score 48.5, level 2)" in text

    def test_a_measure_left_blank_is_not_recorded(self, trainer, world):
        trainer.post(follow_up_url(world.referral), contact(**PAM))
        assert FollowUp.objects.count() == 1
        assert list(Measure.objects.values_list("instrument", flat=True)) == ["pam"]

    def test_a_contact_alone_records_no_measures(self, trainer, world):
        response = trainer.post(follow_up_url(world.referral), contact())
        assert response.status_code == 302
        assert FollowUp.objects.count() == 1 and not Measure.objects.exists()

    def test_it_accepts_a_pam_score_with_one_decimal(self, trainer, world):
        trainer.post(follow_up_url(world.referral), contact(pam_score="48.5", pam_level="3"))
        assert Measure.objects.get().pam_score == Decimal("48.5")

    def test_it_refuses_a_pam_score_with_two_decimals_with_one_message(self, trainer, world):
        response = trainer.post(
            follow_up_url(world.referral), contact(pam_score="48.55", pam_level="3")
        )
        form = response.context["measure_form"]
        assert form.errors["pam_score"] == [
            "The PAM score can have at most 1 decimal place, like 48.5"
        ]
        assert not FollowUp.objects.exists()

    def test_it_refuses_a_pam_score_over_100(self, trainer, world):
        response = trainer.post(
            follow_up_url(world.referral), contact(pam_score="100.5", pam_level="3")
        )
        assert "The PAM score must be between 0 and 100" in page(response)
        assert not FollowUp.objects.exists()


class NothingTypedIsLostTests:
    def test_an_invalid_item_keeps_every_typed_value_and_saves_nothing(self, trainer, world):
        typed = contact(
            **ONS4, **{**SWEMWBS, "swemwbs_3": "7"}, **PAM, notes="Long chat; will call again."
        )
        response = trainer.post(follow_up_url(world.referral), typed)
        text = page(response)
        assert response.status_code == 200
        assert "<title>Error: " in text
        assert "SWEMWBS item 3 must be between 1 and 5" in text
        assert 'href="#id_swemwbs_3"' in text
        # Every box keeps what was typed.
        for name, value in {**ONS4, **SWEMWBS, "swemwbs_3": "7", "pam_score": "48.5"}.items():
            assert f'name="{name}" value="{value}"' in text, name
        assert 'name="pam_level" value="2"' in text and "checked" in text
        assert f'name="date_day" value="{typed["date_day"]}"' in text
        assert f'name="time" value="{typed["time"]}"' in text
        assert "Long chat; will call again." in text
        assert f'name="form_token" value="{typed["form_token"]}"' in text
        assert not FollowUp.objects.exists() and not Measure.objects.exists()

    def test_a_partly_filled_section_is_refused_naming_each_missing_answer(self, trainer, world):
        partly_ons4 = {key: value for key, value in ONS4.items() if key != "happiness"}
        partly_swemwbs = {key: value for key, value in SWEMWBS.items() if key != "swemwbs_5"}
        response = trainer.post(
            follow_up_url(world.referral), contact(**partly_ons4, **partly_swemwbs, pam_level="2")
        )
        errors = response.context["measure_form"].errors
        assert errors["happiness"] == [
            "Enter the answer to 'Overall, how happy did you feel yesterday?'"
        ]
        assert errors["swemwbs_5"] == ["Enter SWEMWBS item 5"]
        assert errors["pam_score"] == ["Enter the PAM score"]
        assert set(errors) == {"happiness", "swemwbs_5", "pam_score"}
        assert not FollowUp.objects.exists() and not Measure.objects.exists()

    def test_it_shows_the_contact_and_the_measures_errors_together(self, trainer, world):
        response = trainer.post(
            follow_up_url(world.referral),
            contact(method=None, time="25:99", **{**ONS4, "anxiety": "11"}),
        )
        text = page(response)
        assert "Select how you contacted them" in text
        assert "The time of the contact must be a real time, like 14:30" in text
        assert (
            "The answer to 'Overall, how anxious did you feel yesterday?' must be between 0 and 10"
            in text
        )
        assert "This field is required" not in text
        assert not FollowUp.objects.exists()

    def test_a_word_in_a_number_box_is_named(self, trainer, world):
        response = trainer.post(
            follow_up_url(world.referral), contact(**{**SWEMWBS, "swemwbs_2": "four"})
        )
        errors = response.context["measure_form"].errors
        assert errors["swemwbs_2"] == ["SWEMWBS item 2 must be a whole number"]

    def test_it_refuses_a_contact_in_the_future(self, trainer, world):
        later = timezone.localtime() + timedelta(days=2)
        response = trainer.post(
            follow_up_url(world.referral),
            contact(
                date_day=str(later.day), date_month=str(later.month), date_year=str(later.year)
            ),
        )
        assert response.context["contact_form"].errors["date"] == [
            "A contact cannot be in the future."
        ]
        assert 'href="#id_date_day"' in page(response)
        assert not FollowUp.objects.exists()

    def test_it_refuses_a_contact_before_the_referral(self, trainer, world):
        response = trainer.post(
            follow_up_url(world.referral),
            contact(date_day="1", date_month="1", date_year="2001"),
        )
        assert "A contact cannot be before the referral was made" in page(response)
        assert not FollowUp.objects.exists()

    def test_a_resent_form_logs_one_contact(self, trainer, world):
        data = contact(**PAM)
        first = trainer.post(follow_up_url(world.referral), data)
        again = trainer.post(follow_up_url(world.referral), data, follow=True)
        assert first.status_code == 302
        assert "This form was already sent, so the contact was logged once" in page(again)
        assert FollowUp.objects.count() == 1 and Measure.objects.count() == 1

    def test_two_forms_log_two_contacts(self, trainer, world):
        trainer.post(follow_up_url(world.referral), contact())
        trainer.post(follow_up_url(world.referral), contact())
        assert FollowUp.objects.count() == 2


class SwemwbsConversionTests:
    # From the published table (Stewart-Brown et al. 2009, Warwick Medical School).
    @pytest.mark.parametrize(
        ("raw", "metric"),
        [
            (7, "7.00"),
            (8, "9.51"),
            (12, "14.08"),
            (14, "15.32"),
            (21, "19.25"),
            (24, "21.54"),
            (28, "25.03"),
            (33, "30.70"),
            (34, "32.55"),
            (35, "35.00"),
        ],
    )
    def test_it_converts_a_total_as_the_published_table_does(self, raw, metric):
        assert measures.swemwbs_metric(raw) == Decimal(metric)

    def test_the_table_covers_every_total_once_and_rises(self):
        assert sorted(measures.SWEMWBS_METRIC) == list(range(7, 36))
        values = [measures.SWEMWBS_METRIC[raw] for raw in range(7, 36)]
        assert values == sorted(values) and len(set(values)) == len(values)

    def test_it_has_no_metric_outside_the_table(self):
        assert measures.swemwbs_metric(6) is None
        assert measures.swemwbs_metric(36) is None
        assert measures.swemwbs_metric(None) is None

    def test_the_total_is_the_sum_of_all_seven_items(self):
        assert measures.swemwbs_total([1] * 7) == 7
        assert measures.swemwbs_total([5] * 7) == 35
        assert measures.swemwbs_total([1, 2, 3, 4, 5, None, 1]) is None
        assert measures.swemwbs_total([1] * 6) is None

    def test_the_page_shows_the_total_and_metric_of_the_typed_items(self, trainer, world):
        # A refusal elsewhere on the page: the SWEMWBS items are kept and added up.
        response = trainer.post(
            follow_up_url(world.referral),
            contact(method=None, **{f"swemwbs_{n}": "5" for n in range(1, 8)}),
        )
        assert "Total 35 (7 to 35), metric score 35.00." in page(response)


class MeasureRulesTests:
    def test_the_database_refuses_items_that_do_not_add_up_to_the_total(self, world):
        values = {f"swemwbs_{n}": 3 for n in range(1, 8)}
        with pytest.raises(IntegrityError), transaction.atomic():
            Measure.objects.create(
                referral=world.referral,
                by=world.trainer,
                instrument="swemwbs",
                swemwbs_total=20,
                **values,
            )

    def test_the_database_refuses_an_item_out_of_range(self, world):
        values = {f"swemwbs_{n}": 3 for n in range(1, 7)}
        with pytest.raises(IntegrityError), transaction.atomic():
            Measure.objects.create(
                referral=world.referral,
                by=world.trainer,
                instrument="swemwbs",
                swemwbs_7=6,
                swemwbs_total=24,
                **values,
            )

    def test_an_older_row_with_only_a_total_stays_valid(self, world):
        measure = Measure.objects.create(
            referral=world.referral, by=world.trainer, instrument="swemwbs", swemwbs_total=20
        )
        measure.full_clean()
        assert measure.swemwbs_metric == Decimal("18.59")

    def test_a_total_that_disagrees_with_the_items_is_refused_by_the_model(self, world):
        measure = Measure(
            referral=world.referral,
            by=world.trainer,
            instrument="swemwbs",
            swemwbs_total=30,
            **{f"swemwbs_{n}": 2 for n in range(1, 8)},
        )
        assert "must be the sum of the seven items (14)" in measure.value_errors()["swemwbs_total"]


class StatusFollowsTheWorkTests:
    def test_a_reached_contact_moves_an_accepted_referral_to_contacted(
        self, trainer, world, accepted
    ):
        events_before = ReferralEvent.objects.filter(referral=accepted).count()
        response = trainer.post(follow_up_url(accepted), contact(reached="yes"), follow=True)
        assert "The referral is now contacted. The referrer has been told." in page(response)
        accepted.refresh_from_db()
        assert accepted.status == Referral.Status.CONTACTED
        new_events = ReferralEvent.objects.filter(referral=accepted).order_by("pk")[events_before:]
        assert [(e.kind, e.from_status, e.to_status) for e in new_events] == [
            ("moved", "accepted", "contacted")
        ]
        assert new_events[0].by == world.trainer

    def test_an_unreached_contact_does_not_move_it(self, trainer, world, accepted):
        events_before = ReferralEvent.objects.filter(referral=accepted).count()
        trainer.post(follow_up_url(accepted), contact(reached="no"))
        accepted.refresh_from_db()
        assert accepted.status == Referral.Status.ACCEPTED
        assert ReferralEvent.objects.filter(referral=accepted).count() == events_before
        assert FollowUp.objects.get().reached is False

    def test_a_reached_contact_on_a_new_referral_does_not_move_it(self, trainer, world):
        trainer.post(follow_up_url(world.referral), contact(reached="yes"))
        world.referral.refresh_from_db()
        assert world.referral.status == Referral.Status.NEW

    def test_a_second_reached_contact_makes_no_second_event(self, trainer, world, accepted):
        trainer.post(follow_up_url(accepted), contact(reached="yes"))
        trainer.post(follow_up_url(accepted), contact(reached="yes"))
        moves = ReferralEvent.objects.filter(referral=accepted, to_status="contacted")
        assert moves.count() == 1

    def test_a_refused_form_moves_nothing(self, trainer, world, accepted):
        trainer.post(
            follow_up_url(accepted), contact(reached="yes", pam_score="120", pam_level="1")
        )
        accepted.refresh_from_db()
        assert accepted.status == Referral.Status.ACCEPTED
        assert not FollowUp.objects.exists()

    def test_after_three_unanswered_attempts_it_offers_could_not_contact(self, trainer, world):
        for _ in range(3):
            response = trainer.post(
                follow_up_url(world.referral), contact(reached="no"), follow=True
            )
        text = page(response)
        assert "3 attempts without reaching the person" in text
        assert "Close as could not contact" in text
        assert f"/referrals/{world.referral.pk}/close/?outcome=could_not_contact" in text

    def test_two_unanswered_attempts_do_not(self, trainer, world):
        for _ in range(2):
            response = trainer.post(
                follow_up_url(world.referral), contact(reached="no"), follow=True
            )
        assert "Close as could not contact" not in page(response)


class WhoMayTests:
    def test_a_clinician_may_not_log_a_contact(self, client, world):
        client.force_login(world.clinician)
        assert client.get(follow_up_url(world.referral)).status_code == 403
        assert client.post(follow_up_url(world.referral), contact(**PAM)).status_code == 403
        assert not FollowUp.objects.exists()

    def test_another_team_gets_404(self, client, world):
        client.force_login(world.other_trainer)
        assert client.get(follow_up_url(world.referral)).status_code == 404
        assert client.post(follow_up_url(world.referral), contact()).status_code == 404
        measures_url = reverse("referrals-measures", args=[world.referral.pk])
        assert client.get(measures_url).status_code == 404
        assert not FollowUp.objects.exists()

    def test_the_service_refuses_someone_outside_the_team(self, world):
        with pytest.raises(services.PermissionDenied):
            services.record_contact(
                world.referral,
                by=world.other_trainer,
                at=timezone.now(),
                method="phone",
                reached=True,
            )
        assert not FollowUp.objects.exists()

    def test_the_measures_page_only_shows(self, trainer, world):
        url = reverse("referrals-measures", args=[world.referral.pk])
        assert trainer.post(url, {"instrument": "pam"}).status_code == 405


class PagesShowTheMeasuresTests:
    def test_the_referral_page_shows_first_latest_change_and_times_taken(self, trainer, world):
        Referral.objects.filter(pk=world.referral.pk).update(
            created_at=timezone.now() - timedelta(days=60)
        )
        world.referral.refresh_from_db()
        first_at = timezone.now() - timedelta(days=40)
        first_day = timezone.localdate(first_at)
        for at, items, anxiety in ((first_at, [2] * 7, 8), (timezone.now(), [4] * 7, 5)):
            services.record_contact(
                world.referral,
                by=world.trainer,
                at=at,
                method="phone",
                reached=True,
                measures=[
                    {
                        "instrument": "swemwbs",
                        **{f"swemwbs_{n}": v for n, v in enumerate(items, 1)},
                    },
                    {
                        "instrument": "ons4",
                        "life_satisfaction": 4,
                        "worthwhile": 5,
                        "happiness": 5,
                        "anxiety": anxiety,
                    },
                ],
            )
        response = trainer.get(reverse("referrals-detail", args=[world.referral.pk]))
        sections = {s["key"]: s for s in response.context["measure_summary"]}
        swemwbs = {row["field"]: row["change"] for row in sections["swemwbs"]["rows"]}
        assert (swemwbs["swemwbs_total"].first, swemwbs["swemwbs_total"].latest) == (14, 28)
        assert swemwbs["swemwbs_total"].change == 14 and swemwbs["swemwbs_total"].n == 2
        assert swemwbs["swemwbs_metric"].change == Decimal("25.03") - Decimal("15.32")
        anxiety = next(r for r in sections["ons4"]["rows"] if r["field"] == "anxiety")
        assert anxiety["change"].change == -3 and anxiety["change"].improved is True
        assert anxiety["better"] == "Lower is better"
        text = page(response)
        assert "Overall, how anxious did you feel yesterday?" in text
        assert "Open Government Licence" in text
        assert f"on {first_day:%-d %b %Y}" in text
        assert "+14 (better)" in text and "-3 (better)" in text

    def test_the_measures_page_lists_every_measure_with_its_metric(self, trainer, world):
        services.record_contact(
            world.referral,
            by=world.trainer,
            at=timezone.now(),
            method="face_to_face",
            reached=True,
            measures=[{"instrument": "swemwbs", **{f"swemwbs_{n}": 3 for n in range(1, 8)}}],
        )
        text = page(trainer.get(reverse("referrals-measures", args=[world.referral.pk])))
        assert "SWEMWBS total: 21" in text and "SWEMWBS metric score: 19.25" in text
        assert "Record measures" in text


class FirstAndLatestTests:
    def test_it_orders_by_date_and_counts_each_field(self, world):
        def make(day, **values):
            return Measure.objects.create(
                referral=world.referral, by=world.trainer, taken_on=day, **values
            )

        today = timezone.localdate()
        make(today, instrument="pam", pam_score=Decimal("55.1"), pam_level=3)
        make(today - timedelta(days=9), instrument="pam", pam_score=Decimal("48.5"), pam_level=2)
        make(today - timedelta(days=5), instrument="pam", pam_score=Decimal("50.0"), pam_level=2)
        changes = measures.first_and_latest(Measure.objects.all())[world.referral.pk]
        score = changes["pam_score"]
        assert (score.first, score.latest, score.n) == (Decimal("48.5"), Decimal("55.1"), 3)
        assert score.change == Decimal("6.6") and score.improved is True
        assert (score.first_on, score.latest_on) == (today - timedelta(days=9), today)
        assert changes["pam_level"].change == 1
        assert "swemwbs_total" not in changes

    def test_once_taken_has_no_change(self, world):
        Measure.objects.create(
            referral=world.referral, by=world.trainer, instrument="swemwbs", swemwbs_total=20
        )
        change = measures.first_and_latest(Measure.objects.all())[world.referral.pk][
            "swemwbs_total"
        ]
        assert change.change is None and change.n == 1 and change.improved is None


class ApiTests:
    """The API logs contacts through the same service, with the same rules."""

    @pytest.fixture
    def api(self, client, world):
        client.force_login(world.trainer)
        return client

    def post(self, client, referral, body):
        return client.post(
            reverse("api-referral-follow-ups", args=[referral.pk]),
            body,
            content_type="application/json",
        )

    def body(self, **overrides):
        body = {"at": minutes_ago(2), "method": "phone", "reached": True}
        body.update(overrides)
        return body

    def test_it_takes_items_and_a_decimal_pam(self, api, world):
        response = self.post(
            api,
            world.referral,
            self.body(
                measures=[
                    {"instrument": "swemwbs", **{k: int(v) for k, v in SWEMWBS.items()}},
                    {"instrument": "pam", "pam_score": 48.5, "pam_level": 2},
                    {"instrument": "ons4", **{k: int(v) for k, v in ONS4.items()}},
                ]
            ),
        )
        assert response.status_code == 201, response.content
        answered = {m["instrument"]: m for m in response.json()["measures"]}
        assert answered["swemwbs"]["swemwbs_total"] == 24
        assert answered["swemwbs"]["swemwbs_metric"] == 21.54
        assert answered["pam"]["pam_score"] == 48.5
        assert Measure.objects.get(instrument="pam").pam_score == Decimal("48.5")
        assert Measure.objects.get(instrument="swemwbs").swemwbs_total == 24

    def test_it_still_takes_a_bare_total_from_an_older_client(self, api, world):
        response = self.post(
            api,
            world.referral,
            self.body(measures=[{"instrument": "swemwbs", "swemwbs_total": 21}]),
        )
        assert response.status_code == 201
        measure = Measure.objects.get()
        assert (measure.swemwbs_total, measure.swemwbs_1) == (21, None)
        assert response.json()["measures"][0]["swemwbs_metric"] == 19.25

    def test_it_refuses_everything_and_lists_each_error_by_position(self, api, world):
        response = self.post(
            api,
            world.referral,
            self.body(
                measures=[
                    {"instrument": "pam", "pam_score": 48.5, "pam_level": 2},
                    {
                        "instrument": "swemwbs",
                        **{**{k: int(v) for k, v in SWEMWBS.items()}, "swemwbs_3": 9},
                    },
                ]
            ),
        )
        assert response.status_code == 400
        assert response.json()["measures"] == [
            {},
            {"swemwbs_3": ["SWEMWBS item 3 must be between 1 and 5"]},
        ]
        assert not FollowUp.objects.exists() and not Measure.objects.exists()

    def test_it_refuses_a_total_that_is_not_the_sum_of_the_items(self, api, world):
        items = {k: int(v) for k, v in SWEMWBS.items()}
        response = self.post(
            api,
            world.referral,
            self.body(measures=[{"instrument": "swemwbs", "swemwbs_total": 30, **items}]),
        )
        assert response.status_code == 400
        assert "sum of the seven items (24)" in str(response.json()["measures"])

    def test_it_refuses_a_measure_dated_another_day_than_the_contact(self, api, world):
        yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
        Referral.objects.filter(pk=world.referral.pk).update(
            created_at=timezone.now() - timedelta(days=5)
        )
        response = self.post(
            api,
            world.referral,
            self.body(
                measures=[
                    {"instrument": "pam", "taken_on": yesterday, "pam_score": 40, "pam_level": 1}
                ]
            ),
        )
        assert response.status_code == 400
        assert "dated the day of the contact" in str(response.json()["measures"])
        assert not FollowUp.objects.exists()

    def test_a_reached_contact_moves_an_accepted_referral_once(self, api, world, accepted):
        before = ReferralEvent.objects.filter(referral=accepted).count()
        assert self.post(api, accepted, self.body(reached=True)).status_code == 201
        accepted.refresh_from_db()
        assert accepted.status == "contacted"
        assert ReferralEvent.objects.filter(referral=accepted).count() == before + 1

    def test_an_unreached_contact_does_not(self, api, world, accepted):
        assert self.post(api, accepted, self.body(reached=False)).status_code == 201
        accepted.refresh_from_db()
        assert accepted.status == "accepted"

    def test_a_contact_without_a_time_is_logged_as_now(self, api, world):
        response = self.post(api, world.referral, {"method": "phone", "reached": False})
        assert response.status_code == 201, response.content
        assert abs(FollowUp.objects.get().at - timezone.now()) < timedelta(minutes=1)

    def test_another_team_gets_404_and_a_clinician_403(self, client, world):
        client.force_login(world.other_trainer)
        assert self.post(client, world.referral, self.body()).status_code == 404
        client.force_login(world.clinician)
        assert self.post(client, world.referral, self.body()).status_code == 403
        assert not FollowUp.objects.exists()

    def test_the_schema_documents_items_the_decimal_and_the_bare_total(self, client, db):
        schema = client.get(reverse("api-schema") + "?format=json").json()
        measure = schema["components"]["schemas"]["Measure"]["properties"]
        assert measure["pam_score"]["type"] == "number"
        assert "swemwbs_7" in measure
        assert "still accepted" in measure["swemwbs_total"]["description"]
        assert measure["swemwbs_metric"]["readOnly"] is True


def test_an_ons4_answer_is_named_by_its_question(world):
    measure = Measure(
        referral=world.referral, by=world.trainer, instrument="ons4", taken_on=date.today()
    )
    errors = measure.value_errors()
    assert errors["happiness"] == "Enter the answer to 'Overall, how happy did you feel yesterday?'"


@pytest.mark.django_db(transaction=True)
class ConcurrentSubmitTests:
    """A double click sends the form twice at once, on two connections: one contact, one move."""

    def test_two_simultaneous_sends_of_one_form_log_one_contact(self, world):
        from tests.referrals.test_concurrency import race

        world.referral.accept(by=world.trainer, version=world.referral.version)
        pk = world.referral.pk

        def send(referral):
            services.record_contact(
                referral,
                by=world.trainer,
                method="phone",
                reached=True,
                measures=[{"instrument": "pam", "pam_score": Decimal("48.5"), "pam_level": 2}],
                idempotency_key="form:same-token",
            )

        assert race((pk, send), (pk, send)) == ["won", "won"]
        assert FollowUp.objects.count() == 1 and Measure.objects.count() == 1
        assert ReferralEvent.objects.filter(referral_id=pk, to_status="contacted").count() == 1
