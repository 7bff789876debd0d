"""Opening times, distances and phone links in plain words."""

import datetime as dt

import pytest

from directory.models import Schedule
from directory.templatetags.directory_pages import clock, miles_km, schedule_text, tel_href


def schedule(**fields) -> Schedule:
    fields.setdefault("freq", Schedule.Freq.WEEKLY)
    return Schedule(**fields)


class PlainWordsTests:
    @pytest.mark.parametrize(
        "fields, words",
        [
            (
                {"byday": "TU", "opens_at": dt.time(10), "closes_at": dt.time(12)},
                "Tuesdays, 10am to 12pm",
            ),
            (
                {"byday": "TH,MO", "opens_at": dt.time(9, 30), "closes_at": dt.time(13)},
                "Mondays and Thursdays, 9:30am to 1pm",
            ),
            (
                {"byday": "MO,TU,WE,TH,FR", "opens_at": dt.time(9), "closes_at": dt.time(17)},
                "Monday to Friday, 9am to 5pm",
            ),
            ({"byday": "", "opens_at": dt.time(0), "closes_at": dt.time(0)}, "Every day, 24 hours"),
            (
                {"byday": "FR", "opens_at": dt.time(19), "closes_at": dt.time(0)},
                "Fridays, 7pm to midnight",
            ),
            (
                {
                    "freq": Schedule.Freq.MONTHLY,
                    "bymonthday": "1,15",
                    "opens_at": dt.time(14),
                    "closes_at": dt.time(16),
                },
                "The 1st and 15th of each month, 2pm to 4pm",
            ),
            (
                {
                    "byday": "WE",
                    "opens_at": dt.time(10),
                    "closes_at": dt.time(11),
                    "valid_to": dt.date(2027, 3, 31),
                },
                "Wednesdays, 10am to 11am, until 31 March 2027",
            ),
        ],
    )
    def test_it_says_opening_times_as_a_person_would(self, fields, words):
        assert schedule_text(schedule(**fields)) == words

    def test_it_writes_times_the_gov_uk_way(self):
        assert [clock(dt.time(h, m)) for h, m in [(10, 0), (9, 30), (12, 0), (0, 0), (23, 45)]] == [
            "10am",
            "9:30am",
            "12pm",
            "midnight",
            "11:45pm",
        ]

    def test_it_gives_distances_in_miles_and_kilometres(self):
        assert miles_km(643.7) == "0.4 miles (0.6 km)"
        assert miles_km(1609.344) == "1.0 mile (1.6 km)"
        assert miles_km(50) == "less than 0.1 miles (under 200 m)"
        assert miles_km(None) == ""

    def test_it_makes_tap_to_call_links(self):
        assert tel_href("0161 496 0001") == "tel:01614960001"
        assert tel_href("+44 (0)161 496-0001") == "tel:+4401614960001"
