"""Opening times: read in Europe/London, across midnight, two sessions a day, monthly, dated."""

import datetime as dt

from directory.models import Schedule, Service
from directory.search import next_opening
from tests.directory.conftest import london, make_service


def open_at(moment):
    return sorted(Service.objects.open_at(moment).values_list("name", flat=True))


class OpenNowTests:
    def test_it_counts_a_session_that_runs_past_midnight(self, db):
        # Friday and Saturday nights, 22:00 to 02:00.
        make_service("Night Line", sessions=[("FR,SA", "22:00", "02:00")])

        assert open_at(london(2026, 11, 27, 21, 59)) == []  # Friday evening, before
        assert open_at(london(2026, 11, 27, 23, 0)) == ["Night Line"]  # Friday night
        assert open_at(london(2026, 11, 28, 1, 30)) == ["Night Line"]  # early Saturday
        assert open_at(london(2026, 11, 28, 2, 0)) == []  # closed at 02:00
        assert open_at(london(2026, 11, 29, 1, 0)) == ["Night Line"]  # Saturday's, into Sunday
        assert open_at(london(2026, 11, 30, 1, 0)) == []  # Sunday has no session to run on

    def test_it_knows_two_sessions_on_one_day(self, db):
        make_service("Pantry", sessions=[("WE", "10:00", "12:00"), ("WE", "14:00", "16:00")])

        wednesday = (2026, 12, 2)
        assert open_at(london(*wednesday, 11, 0)) == ["Pantry"]
        assert open_at(london(*wednesday, 13, 0)) == []
        assert open_at(london(*wednesday, 15, 59)) == ["Pantry"]
        assert open_at(london(*wednesday, 16, 0)) == []

    def test_it_reads_the_time_in_london_in_summer(self, db):
        make_service("Morning Walk", sessions=[("MO", "10:00", "11:00")])

        # 09:30 UTC on a July Monday is 10:30 in London (BST).
        summer = dt.datetime(2026, 7, 6, 9, 30, tzinfo=dt.UTC)
        assert open_at(summer) == ["Morning Walk"]

    def test_it_follows_monthly_rules_by_day_of_month(self, db):
        make_service(
            "Carers Cafe",
            sessions=[("", "10:00", "12:00", {"freq": "MONTHLY", "bymonthday": "1,15"})],
        )

        assert open_at(london(2026, 12, 1, 11, 0)) == ["Carers Cafe"]
        assert open_at(london(2026, 12, 15, 11, 0)) == ["Carers Cafe"]
        assert open_at(london(2026, 12, 2, 11, 0)) == []

    def test_it_respects_valid_from_and_valid_to(self, db):
        make_service(
            "Winter Only",
            sessions=[
                (
                    "MO",
                    "10:00",
                    "12:00",
                    {"valid_from": dt.date(2026, 12, 1), "valid_to": dt.date(2027, 2, 28)},
                )
            ],
        )

        assert open_at(london(2026, 11, 30, 11, 0)) == []
        assert open_at(london(2026, 12, 7, 11, 0)) == ["Winter Only"]
        assert open_at(london(2027, 3, 1, 11, 0)) == []

    def test_it_follows_a_fortnightly_rule_from_its_start(self, db):
        make_service(
            "Every Other Tuesday",
            sessions=[("TU", "10:00", "12:00", {"interval": 2, "dtstart": dt.date(2026, 12, 1)})],
        )

        assert open_at(london(2026, 11, 24, 11, 0)) == []  # before it starts
        assert open_at(london(2026, 12, 1, 11, 0)) == ["Every Other Tuesday"]
        assert open_at(london(2026, 12, 8, 11, 0)) == []
        assert open_at(london(2026, 12, 15, 11, 0)) == ["Every Other Tuesday"]
        assert open_at(london(2026, 12, 29, 11, 0)) == ["Every Other Tuesday"]

    def test_it_counts_schedules_held_on_a_service_at_location(self, places):
        service = make_service("Library", at="SK14 1PW")
        Schedule.objects.create(
            service_at_location=service.service_at_locations.get(),
            byday="TH",
            opens_at=dt.time(9),
            closes_at=dt.time(17),
        )

        assert open_at(london(2026, 12, 3, 12, 0)) == ["Library"]


class NextOpeningTests:
    def test_it_gives_the_running_session_across_midnight(self, db):
        service = make_service("Night Line", sessions=[("FR", "22:00", "02:00")])
        service = Service.objects.prefetch_related("schedules", "service_at_locations").get(
            pk=service.pk
        )

        opens, closes = next_opening(service, london(2026, 11, 28, 1, 0))

        assert opens == london(2026, 11, 27, 22, 0)
        assert closes == london(2026, 11, 28, 2, 0)

    def test_it_gives_the_later_session_of_the_same_day(self, db):
        service = make_service(
            "Pantry", sessions=[("WE", "10:00", "12:00"), ("WE", "14:00", "16:00")]
        )
        service = Service.objects.prefetch_related("schedules", "service_at_locations").get(
            pk=service.pk
        )

        opens, _ = next_opening(service, london(2026, 12, 2, 13, 0))

        assert opens == london(2026, 12, 2, 14, 0)

    def test_it_skips_the_off_week_of_a_fortnightly_rule(self, db):
        service = make_service(
            "Every Other Tuesday",
            sessions=[("TU", "10:00", "12:00", {"interval": 2, "dtstart": dt.date(2026, 12, 1)})],
        )
        service = Service.objects.prefetch_related("schedules", "service_at_locations").get(
            pk=service.pk
        )

        opens, _ = next_opening(service, london(2026, 12, 2, 9, 0))

        assert opens == london(2026, 12, 15, 10, 0)

    def test_it_gives_nothing_without_schedules(self, db):
        service = make_service("Phone line")
        service = Service.objects.prefetch_related("schedules", "service_at_locations").get(
            pk=service.pk
        )

        assert next_opening(service, london(2026, 12, 2, 13, 0)) == (None, None)
