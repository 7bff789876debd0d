"""The commissioners' report: a period, an as-at date, each breakdown, time to first contact,
drop-out, declines, changes in measures, attendance, the CSV, the chart, and who may see it.

(Small-number suppression has its own file: test_report_suppression.py.)"""

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from directory.models import Service
from referrals import reports
from referrals.models import Connection, FollowUp, Measure, Referral, ReferralEvent
from referrals.reports import Period
from referrals.services import referral_create
from tests.referrals.factories import make_referral, make_service, patient_data

PERIOD = Period(date(2026, 1, 1), date(2026, 6, 30), date(2026, 9, 30))


# --- Data at known dates ------------------------------------------------------------------------
def at(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def born_aged(age: int, on: date) -> date:
    return date(on.year - age, 1, 1) if on.month > 1 else date(on.year - age - 1, 1, 1)


def referral_on(world, day: date, *, age: int = 40, team=None, postcode="SK14 1AA", needs=None):
    """A clinician's referral made on ``day`` (its creation event moved there too)."""
    referral = make_referral(
        world.clinician,
        team or world.team,
        needs=needs or ("loneliness",),
        patient=patient_data(date_of_birth=born_aged(age, day), postcode=postcode),
    )
    return _made_on(referral, day)


def self_referral_on(world, day: date, *, age: int = 20, team=None, postcode=""):
    referral, _ = referral_create(
        by=None,
        practice=None,
        patient=patient_data(nhs_number="", date_of_birth=born_aged(age, day), postcode=postcode),
        needs=[],
        team=team or world.other_team,
        consent_to_contact=True,
        consent_to_share=True,
        rate_limit=False,
        source=Referral.Source.SELF,
    )
    return _made_on(referral, day)


def _made_on(referral, day: date):
    when = at(day)
    Referral.objects.filter(pk=referral.pk).update(created_at=when, status_changed_at=when)
    ReferralEvent.objects.filter(referral=referral).update(at=when)
    referral.refresh_from_db()
    return referral


def move(referral, to: str, on: date, *, by, outcome: str = "", reason: str = "No capacity"):
    """A real move (the model's method), then dated ``on``."""
    referral.refresh_from_db()
    if to == "accepted":
        referral.accept(by=by, version=referral.version)
    elif to == "contacted":
        referral.contact(by=by, version=referral.version)
    elif to == "engaged":
        referral.engage(by=by, version=referral.version)
    elif to == "closed":
        referral.close(by=by, version=referral.version, outcome=outcome)
    elif to == "declined":
        referral.decline(by=by, version=referral.version, reason=reason)
    elif to == "declined-by-system":
        referral.decline_unpicked(now=at(on))
    event = ReferralEvent.objects.filter(referral=referral, kind="moved").latest("at", "pk")
    ReferralEvent.objects.filter(pk=event.pk).update(at=at(on, 11))
    Referral.objects.filter(pk=referral.pk).update(status_changed_at=at(on, 11))
    referral.refresh_from_db()


def reached(referral, on: date, *, by, was_reached: bool = True):
    return FollowUp.objects.create(
        referral=referral,
        at=at(on, 12),
        created_at=at(on, 12),
        method="phone",
        reached=was_reached,
        by=by,
    )


def measure(referral, on: date, *, by, **values):
    instrument = (
        "swemwbs" if "swemwbs_total" in values else "pam" if "pam_score" in values else "ons4"
    )
    if instrument == "pam":
        values.setdefault("pam_level", 2)
    return Measure.objects.create(
        referral=referral, instrument=instrument, taken_on=on, by=by, **values
    )


@pytest.fixture
def known(world):
    """Fifteen referrals in the first half of 2026 (and two outside it), as at 30 September:

    - 5 from the Hyde practice on 10 Feb, aged 30: reached 3 days later, closed "goals met"
      on 1 May; SWEMWBS 20 then 24; attended a community group.
    - 5 from the Hyde practice on 15 Mar, aged 70: accepted 16 Mar; closed "could not contact"
      on 5 October, after the as-at date (so open on it).
    - 5 self-referrals (no need, no postcode) to the City team on 5 Apr, aged 20: declined
      automatically on 20 Apr.
    """
    trainer, other = world.trainer, world.other_trainer
    group = make_service(
        "Walking group",
        lat=53.45,
        lng=-2.07,
        kind=Service.Kind.COMMUNITY_ASSET,
        needs=("physical-activity", "loneliness"),
    )
    data = {"early": [], "late": [], "self": []}
    for _ in range(5):
        r = referral_on(world, date(2026, 2, 10), age=30)
        move(r, "accepted", date(2026, 2, 11), by=trainer)
        reached(r, date(2026, 2, 13), by=trainer)
        move(r, "contacted", date(2026, 2, 13), by=trainer)
        measure(r, date(2026, 2, 13), by=trainer, swemwbs_total=20)
        measure(r, date(2026, 4, 13), by=trainer, swemwbs_total=24)
        measure(r, date(2026, 10, 1), by=trainer, swemwbs_total=35)  # after the as-at date
        Connection.objects.create(
            referral=r,
            service=group,
            status="attended",
            by=trainer,
            updated_at=at(date(2026, 3, 1)),
        )
        move(r, "closed", date(2026, 5, 1), by=trainer, outcome="goals_met")
        data["early"].append(r)
    for _ in range(5):
        r = referral_on(world, date(2026, 3, 15), age=70)
        move(r, "accepted", date(2026, 3, 16), by=trainer)
        move(r, "closed", date(2026, 10, 5), by=trainer, outcome="could_not_contact")
        data["late"].append(r)
    for _ in range(5):
        r = self_referral_on(world, date(2026, 4, 5))
        move(r, "declined-by-system", date(2026, 4, 20), by=other)
        data["self"].append(r)
    referral_on(world, date(2026, 7, 5))  # after the period
    referral_on(world, date(2025, 12, 31))  # before it
    return data


def shown(report, table: str) -> dict[str, str]:
    t = report.table(table)
    rows = {row.label: row.display for row in t.rows}
    if t.total is not None:
        rows[t.total_label] = t.total.display
    return rows


class BreakdownTests:
    def test_it_counts_each_breakdown_of_the_period(self, known):
        report = reports.build(PERIOD)
        assert report.cells["total"].display == "15"
        assert shown(report, "practice") == {
            "Hyde Health Centre": "10",
            "Self-referral": "5",
            "Total": "15",
        }
        assert shown(report, "team") == {
            "Hyde health trainers": "10",
            "City health trainers": "5",
            "Total": "15",
        }
        needs = shown(report, "need")
        assert needs["Loneliness and isolation"] == "10"
        assert needs["No need recorded"] == "5"
        assert shown(report, "age") == {
            "18 to 24": "5",
            "25 to 34": "5",
            "35 to 44": "0",
            "45 to 54": "0",
            "55 to 64": "0",
            "65 to 74": "5",
            "75 and over": "0",
            "Total": "15",
        }
        assert shown(report, "district") == {"SK14": "10", "Unknown": "5", "Total": "15"}
        months = {cell.label: cell.display for _m, cell in report.months}
        assert months == {
            "January 2026": "0",
            "February 2026": "5",
            "March 2026": "5",
            "April 2026": "5",
            "May 2026": "0",
            "June 2026": "0",
        }

    def test_the_as_at_date_excludes_later_changes(self, known):
        report = reports.build(PERIOD)
        status = shown(report, "status")
        # The 5 closed on 5 October were still accepted at the end of 30 September.
        assert status["Accepted"] == "5" and status["Closed"] == "5"
        assert shown(report, "outcome")["Could not contact after three attempts"] == "0"
        assert shown(report, "dropout")["Dropped out"] == "0"
        # As at 5 October they are closed, could not contact: dropped out.
        later = reports.build(Period(PERIOD.start, PERIOD.end, date(2026, 10, 5)))
        assert shown(later, "status")["Accepted"] == "0"
        assert shown(later, "status")["Closed"] == "10"
        assert shown(later, "dropout")["Could not contact after three attempts"] == "5"
        assert shown(later, "dropout")["Dropped out"] == "5"
        # Before anything happened, all were new or not yet made.
        early = reports.build(Period(PERIOD.start, PERIOD.end, date(2026, 2, 10)))
        assert early.cells["total"].value == 5
        assert shown(early, "status")["New"] == "5"

    def test_declines_are_grouped_never_quoted(self, known, world):
        r = referral_on(world, date(2026, 5, 2))
        move(r, "declined", date(2026, 5, 3), by=world.trainer, reason="Mrs Smith at 4 Elm Rd")
        report = reports.build(PERIOD)
        declines = shown(report, "decline")
        # 1 declined by the team: hidden, and the 5 beside it too (else 6 - 5 = 1).
        assert declines["Declined by the team"] == "hidden"
        assert declines["Not picked up in time (declined automatically)"] == "hidden"
        assert declines["Declined"] == "6"
        assert "Elm Rd" not in reports.csv_text(report)
        client = Client()
        client.force_login(world.manager)
        html = client.get(reverse("referrals-report") + "?" + PERIOD.query()).content.decode()
        assert "Elm Rd" not in html and "Declined by the team" in html

    def test_time_to_first_contact(self, known):
        report = reports.build(PERIOD)
        assert report.median_days == 3
        assert report.median_shown
        assert report.cells["contacted_ever"].value == 5
        assert report.cells["within_14"].display == "5"
        assert report.cells["outside_14"].display == "10"
        assert report.cells["eligible_14"].display == "15"
        assert report.share_contacted == 33

    def test_a_follow_up_that_did_not_reach_the_person_is_not_contact(self, world):
        for _ in range(5):
            r = referral_on(world, date(2026, 2, 1))
            reached(r, date(2026, 2, 2), by=world.trainer, was_reached=False)
            reached(r, date(2026, 2, 20), by=world.trainer)
        report = reports.build(PERIOD)
        assert report.median_days == 19
        assert report.cells["within_14"].value == 0

    def test_the_change_in_each_measure_with_the_people_behind_it(self, known):
        report = reports.build(PERIOD)
        by_field = {a.field: a for a in report.averages}
        swemwbs = by_field["swemwbs_total"]
        # 20 -> 24 for five people; the 35 taken after the as-at date is left out.
        assert swemwbs.people.display == "5" and swemwbs.display == "+4.0"
        assert by_field["life_satisfaction"].people.display == "0"
        assert by_field["life_satisfaction"].display.startswith("not shown")

    def test_an_average_over_fewer_than_five_people_is_hidden(self, known):
        for r in known["early"][:4]:
            measure(
                r,
                date(2026, 2, 14),
                by=r.team.memberships.first().user,
                life_satisfaction=3,
                worthwhile=3,
                happiness=3,
                anxiety=8,
            )
            measure(
                r,
                date(2026, 4, 14),
                by=r.team.memberships.first().user,
                life_satisfaction=9,
                worthwhile=9,
                happiness=9,
                anxiety=2,
            )
        report = reports.build(PERIOD)
        life = next(a for a in report.averages if a.field == "life_satisfaction")
        assert life.people.value == 4 and life.people.display == "hidden"
        assert not life.shown and "+6.0" not in life.display
        text = reports.csv_text(report)
        assert "+6.0" not in text and "-6.0" not in text

    def test_attendance_by_kind_of_service(self, known, world):
        group = Service.objects.get(name="Walking group")
        late = known["late"][0]
        Connection.objects.create(  # marked attended after the as-at date
            referral=late,
            service=group,
            status="attended",
            by=world.trainer,
            updated_at=at(date(2026, 10, 2)),
        )
        report = reports.build(PERIOD)
        assert shown(report, "attendance")["Community group or activity"] == "5"
        assert shown(report, "attendance")["Online centre (help getting online)"] == "0"
        by_need = shown(report, "attendance_need")
        assert by_need["Physical activity"] == "5" and by_need["Loneliness and isolation"] == "5"
        assert by_need["Housing"] == "0"

    def test_the_default_period_is_the_last_twelve_full_months(self):
        period = Period.default(date(2026, 11, 30))
        assert period == Period(date(2025, 11, 1), date(2026, 10, 31), date(2026, 11, 30))
        assert len(period.months()) == 12
        assert Period.default(date(2026, 1, 15)).start == date(2025, 1, 1)


class PageTests:
    def url(self, **query):
        return reverse("referrals-report") + "?" + "&".join(f"{k}={v}" for k, v in query.items())

    def test_the_page_shows_the_period_and_the_headline_first(self, client, world, known):
        client.force_login(world.manager)
        response = client.get(
            self.url(
                start_day=1,
                start_month=1,
                start_year=2026,
                end_day=30,
                end_month=6,
                end_year=2026,
                as_at_day=30,
                as_at_month=9,
                as_at_year=2026,
            )
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert "1 January 2026 to 30 June 2026" in html and "30 September 2026" in html
        summary = html.index("Summary")
        assert summary < html.index("Referrals by practice") < html.index("Change in wellbeing")
        assert html.index("33%") < html.index("Referrals by practice")
        patient = known["early"][0].patient
        assert patient.family_name not in html and patient.nhs_number not in html

    def test_iso_dates_in_the_link_work_too(self, client, world, known):
        client.force_login(world.manager)
        response = client.get(
            self.url(**{"from": "2026-01-01", "to": "2026-06-30", "as_at": "2026-09-30"})
        )
        assert response.context["report"].cells["total"].value == 15

    def test_no_query_gives_the_default_period(self, client, world):
        client.force_login(world.manager)
        response = client.get(reverse("referrals-report"))
        assert response.status_code == 200
        assert response.context["report"].period == Period.default()
        html = response.content.decode()
        assert 'name="start_day"' in html and 'name="as_at_year"' in html

    @pytest.mark.parametrize(
        ("query", "field", "message"),
        [
            (
                {"from": "2026-06-01", "to": "2026-01-01", "as_at": "2026-09-30"},
                "end",
                "The end date must be after the start date",
            ),
            (
                {"from": "2026-01-01", "to": "2026-06-30", "as_at": "2026-05-01"},
                "as_at",
                "The as-at date must be the same as or after the end date",
            ),
            (
                {"from": "2026-01-01", "to": "2026-06-30", "as_at": "2099-01-01"},
                "as_at",
                "The as-at date must be today or in the past",
            ),
            (
                {"from": "2015-01-01", "to": "2026-06-30", "as_at": "2026-09-30"},
                "end",
                "The end date must be within 5 years of the start date",
            ),
            (
                {"from": "2026-13-45", "to": "2026-06-30", "as_at": "2026-09-30"},
                "start",
                "The start date must be a real date",
            ),
            (
                {"start_day": "1", "start_year": "2026", "to": "2026-06-30", "as_at": "2026-09-30"},
                "start",
                "The start date must include a month",
            ),
        ],
    )
    def test_it_names_the_field_that_is_wrong(self, client, world, query, field, message):
        client.force_login(world.manager)
        response = client.get(self.url(**query))
        assert response.status_code == 200
        form = response.context["form"]
        assert any(message in error for error in form.errors[field])
        html = response.content.decode()
        assert "There is a problem" in html and message in html
        assert "<title>Error: " in html
        assert response.context["report"] is None
        csv_response = client.get(
            reverse("referrals-report-csv") + "?" + "&".join(f"{k}={v}" for k, v in query.items())
        )
        assert csv_response.status_code == 400 and message in csv_response.content.decode()

    def test_the_svg_chart_has_a_text_alternative(self, client, world, known):
        client.force_login(world.manager)
        html = client.get(
            self.url(**{"from": "2026-01-01", "to": "2026-06-30", "as_at": "2026-09-30"})
        ).content.decode()
        svg = html[html.index("<svg") : html.index("</svg>")]
        assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
        assert "February 2026: 5." in svg
        assert svg.count('fill="#005eb8"') == 3  # Feb, Mar, Apr; 0 draws no height
        # and the visible data table of the same figures
        assert 'data-table="months"' in html and 'data-cell="month:2026-02"' in html

    def test_a_suppressed_month_is_drawn_as_suppressed(self, client, world):
        for _ in range(3):
            referral_on(world, date(2026, 2, 10))
        for _ in range(9):
            referral_on(world, date(2026, 3, 10))
        report = reports.build(PERIOD)
        chart = reports.chart(report)
        feb = next(b for b in chart["bars"] if b["month"] == date(2026, 2, 1))
        assert feb["kind"] != "shown"
        client.force_login(world.manager)
        html = client.get(
            self.url(**{"from": "2026-01-01", "to": "2026-06-30", "as_at": "2026-09-30"})
        ).content.decode()
        svg = html[html.index("<svg") : html.index("</svg>")]
        assert "February 2026: hidden." in svg
        assert "stroke-dasharray" in svg
        # The 9 of March is hidden too (else 12 - 9 = 3): no bar is drawn from a real value.
        assert "March 2026: hidden." in svg
        assert 'fill="#005eb8"' not in svg


class CsvTests:
    def test_it_downloads_the_figures_with_a_header(self, client, world, known):
        client.force_login(world.manager)
        response = client.get(
            reverse("referrals-report-csv") + "?from=2026-01-01&to=2026-06-30&as_at=2026-09-30"
        )
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert (
            'filename="flourish-referrals-2026-01-01-to-2026-06-30-as-at-2026-09-30.csv"'
            in response["Content-Disposition"]
        )
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[1] == ["Period", "2026-01-01", "2026-06-30"]
        assert rows[2] == ["As at", "2026-09-30"]
        assert rows[3][0] == "Suppression" and "hidden" in rows[3][1]
        assert ["Referrals by practice", "Self-referral", "5"] in rows
        assert ["Headline", "Referrals in", "15"] in rows
        patient = known["early"][0].patient
        assert patient.family_name not in response.content.decode()

    def test_a_name_is_never_a_spreadsheet_formula(self, client, world, known):
        world.practice.name = '=HYPERLINK("http://x.invalid")'
        world.practice.save()
        client.force_login(world.manager)
        text = client.get(reverse("referrals-report-csv") + "?" + PERIOD.query()).content
        rows = list(csv.reader(io.StringIO(text.decode())))
        assert ["Referrals by practice", '\'=HYPERLINK("http://x.invalid")', "10"] in rows
        assert not any(cell.startswith("=") for row in rows for cell in row)
        assert ["SWEMWBS total", "+4.0", "5"] in rows  # a number stays a number


class AccessTests:
    @pytest.mark.parametrize("url_name", ["referrals-report", "referrals-report-csv"])
    @pytest.mark.parametrize("role", ["clinician", "trainer", "lead", "editor", "outsider"])
    def test_only_managers_see_figures(self, client, world, role, url_name):
        client.force_login(world.user(role))
        assert client.get(reverse(url_name)).status_code == 403

    @pytest.mark.parametrize("url_name", ["referrals-report", "referrals-report-csv"])
    def test_anonymous_people_are_sent_to_sign_in(self, client, world, url_name):
        response = client.get(reverse(url_name))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    @pytest.mark.parametrize("role", ["manager", "admin"])
    def test_managers_and_admins_do(self, client, world, role):
        client.force_login(world.user(role))
        assert client.get(reverse("referrals-report")).status_code == 200
        assert client.get(reverse("referrals-report-csv")).status_code == 200

    def test_only_get(self, client, world):
        client.force_login(world.manager)
        assert client.post(reverse("referrals-report-csv")).status_code == 405

    @override_settings(SMALL_NUMBER_THRESHOLD=10)
    def test_it_reads_the_threshold_from_settings(self, client, world):
        for _ in range(5):
            make_referral(world.clinician, world.team)
        report = reports.build(Period.default(timezone.localdate() + timedelta(days=40)))
        assert report.cells["total"].value == 6
        assert report.cells["total"].display == "hidden"
