""" "Open at this time": the SQL answer (open=now, day=&time=) and the Python one (a result's
"Open now" and next opening) agree for every shape of schedule, at every half hour of weeks."""

import datetime as dt

from directory.models import Schedule, Service
from directory.search import next_opening
from tests.directory.conftest import make_service

# Every shape the schedule tests use (their dates moved into the window), and edges beside them.
SHAPES = [
    ("Night Line", [("FR,SA", "22:00", "02:00")]),
    ("Pantry", [("WE", "10:00", "12:00"), ("WE", "14:00", "16:00")]),
    ("Morning Walk", [("MO", "10:00", "11:00")]),
    ("Carers Cafe", [("", "10:00", "12:00", {"freq": "MONTHLY", "bymonthday": "1,15"})]),
    (
        "Winter Only",
        [
            (
                "MO",
                "10:00",
                "12:00",
                {"valid_from": dt.date(2027, 3, 8), "valid_to": dt.date(2027, 3, 21)},
            )
        ],
    ),
    (
        "Every Other Tuesday",
        [("TU", "10:00", "12:00", {"interval": 2, "dtstart": dt.date(2027, 3, 2)})],
    ),
    (
        "Every Third Week From A Thursday",
        [("MO,SA", "18:00", "20:30", {"interval": 3, "dtstart": dt.date(2027, 3, 4)})],
    ),
    ("Fortnightly Without A Start", [("SU", "09:00", "10:00", {"interval": 2})]),
    ("Helpline", [("", "00:00", "00:00")]),
    ("Same Time Next Day", [("TH", "10:00", "10:00")]),
    (
        "Monthly Overnight",
        [("", "23:00", "01:30", {"freq": "MONTHLY", "bymonthday": "07, 28"})],
    ),
    ("Small Hours", [("SU", "01:00", "02:30")]),  # the night the clocks change
    ("Spaced Days", [("MO, WE", "12:00", "13:00")]),
]

# Five weeks from a Monday: the dated rules start and end inside it, and the clocks go forward
# on its fourth Sunday (2027-03-28), so GMT and BST are both read.
START = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
STEP = dt.timedelta(minutes=30)
STEPS = 5 * 7 * 48


def make_shapes() -> None:
    for name, sessions in SHAPES:
        make_service(name, sessions=sessions)
    # A schedule held on a service at one of its locations, not on the service.
    library = make_service("Library", at="SK14 1PW")
    Schedule.objects.create(
        service_at_location=library.service_at_locations.get(),
        byday="TH",
        opens_at=dt.time(9),
        closes_at=dt.time(17),
    )
    # Open until midnight: no closing time.
    service = make_service("Evening Drop In")
    Schedule.objects.create(service=service, byday="TU", opens_at=dt.time(19))


class OpenAtAgreementTests:
    def test_sql_and_python_agree_at_every_half_hour(self, places):
        make_shapes()
        services = list(
            Service.objects.prefetch_related("schedules", "service_at_locations__schedules")
        )
        disagreements = []
        seen_open = set()
        for step in range(STEPS):
            moment = START + step * STEP
            # What a result shows as "Open now" (search._decorate, the service page).
            python = set()
            for service in services:
                opens, closes = next_opening(service, moment)
                if opens is not None and opens <= moment < closes:
                    python.add(service.name)
            # The SQL: the services' and schedules' indexed hours, then the rule.
            sql = set(Service.objects.open_at(moment).values_list("name", flat=True))
            seen_open |= python
            if python != sql:
                disagreements.append((moment.isoformat(), sorted(python), sorted(sql)))

        assert disagreements[:5] == []
        # Every shape was open at some instant, so each was really tested both ways.
        assert seen_open == {s.name for s in services}

    def test_runs_on_agrees_with_runs_on_q_on_every_day(self, places):
        make_shapes()
        schedules = list(Schedule.objects.all())
        for offset in range(5 * 7):
            day = START.date() + dt.timedelta(days=offset)
            sql = set(Schedule.objects.filter(Schedule.runs_on_q(day)).values_list("pk", flat=True))
            python = {s.pk for s in schedules if s.runs_on(day)}

            assert python == sql, day


class FeedWeekdayTests:
    def test_the_feed_day_filter_uses_the_same_weekday_rule(self, client, places):
        make_shapes()
        for code in ("MO", "TU", "WE", "TH", "FR", "SA", "SU"):
            body = client.get("/openreferral/services", {"day": code, "per_page": "100"}).json()
            feed = {item["name"] for item in body["contents"]}
            rule = Schedule.objects.filter(Schedule.weekday_q(code), opens_at__isnull=False)
            expected = set(
                Service.objects.filter(schedules__in=rule).values_list("name", flat=True)
            ) | set(
                Service.objects.filter(service_at_locations__schedules__in=rule).values_list(
                    "name", flat=True
                )
            )

            assert feed == expected, code
            assert "Carers Cafe" not in feed  # monthly rules have no weekday
