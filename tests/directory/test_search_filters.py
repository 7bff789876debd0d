"""Each search filter alone, then combined."""

import datetime as dt

from directory.models import Schedule, Service
from directory.search import search_services
from tests.directory.conftest import london, make_service


def names(params, **kwargs):
    return sorted(s.name for s in search_services(params, **kwargs).results)


class FilterTests:
    def test_it_filters_by_any_of_several_needs(self, places):
        make_service("Walks", at="SK14 1PW", needs=["physical-activity", "loneliness"])
        make_service("Pantry", at="SK14 1PW", needs=["food"])
        make_service("Debt Advice", at="SK14 1PW", needs=["money-debt"])

        assert names({"postcode": "SK14 1AA", "need": "food"}) == ["Pantry"]
        assert names({"postcode": "SK14 1AA", "need": ["food", "loneliness"]}) == [
            "Pantry",
            "Walks",
        ]
        assert names({"postcode": "SK14 1AA", "need": "food,money-debt"}) == [
            "Debt Advice",
            "Pantry",
        ]

    def test_it_filters_by_kind(self, places):
        make_service("Walks", at="SK14 1PW")
        make_service("Library", at="SK14 1PW", kind=Service.Kind.ONLINE_CENTRE)

        assert names({"postcode": "SK14 1AA", "kind": "online_centre"}) == ["Library"]

    def test_it_filters_online_centres_by_every_offer_asked_for(self, places):
        make_service(
            "Library",
            at="SK14 1PW",
            kind=Service.Kind.ONLINE_CENTRE,
            offers=["free-wifi", "nhs-app-help"],
        )
        make_service("Cafe", at="SK14 1PW", kind=Service.Kind.ONLINE_CENTRE, offers=["free-wifi"])

        assert names({"postcode": "SK14 1AA", "offer": "free-wifi"}) == ["Cafe", "Library"]
        assert names({"postcode": "SK14 1AA", "offer": ["free-wifi", "nhs-app-help"]}) == [
            "Library"
        ]

    def test_it_filters_by_words(self, places):
        make_service("Walks", at="SK14 1PW", description="Gentle walking in the park")
        make_service("Choir", at="SK14 1PW", description="Singing together")

        assert names({"postcode": "SK14 1AA", "q": "walk"}) == ["Walks"]

    def test_it_keeps_free_services_only(self, places):
        make_service("Free Walks", at="SK14 1PW", price="0")
        make_service("Paid Yoga", at="SK14 1PW", price="4.00")
        make_service("No Price Listed", at="SK14 1PW")

        assert names({"postcode": "SK14 1AA", "free": "true"}) == ["Free Walks", "No Price Listed"]
        assert len(names({"postcode": "SK14 1AA", "free": "false"})) == 3

    def test_it_filters_by_how_to_access(self, places):
        make_service("Drop-in Cafe", at="SK14 1PW", access=Service.Access.DROP_IN)
        make_service("Food Bank", at="SK14 1PW", access=Service.Access.REFERRAL)

        assert names({"postcode": "SK14 1AA", "access": "referral"}) == ["Food Bank"]

    def test_it_filters_by_age(self, places):
        make_service("Over 60s", at="SK14 1PW", minimum_age=60)
        make_service("Youth Club", at="SK14 1PW", minimum_age=11, maximum_age=18)
        make_service("Everyone", at="SK14 1PW")

        assert names({"postcode": "SK14 1AA", "age": "15"}) == ["Everyone", "Youth Club"]
        assert names({"postcode": "SK14 1AA", "age": "70"}) == ["Everyone", "Over 60s"]

    def test_it_filters_by_language_name_or_code(self, places):
        make_service("Urdu Group", at="SK14 1PW", languages=[("Urdu", "ur"), ("English", "en")])
        make_service("Polish Club", at="SK14 1PW", languages=[("Polish", "pl")])
        make_service("Unstated", at="SK14 1PW")

        assert names({"postcode": "SK14 1AA", "language": "ur"}) == ["Urdu Group"]
        assert names({"postcode": "SK14 1AA", "language": "urdu"}) == ["Urdu Group"]
        # A service listing no languages is taken to work in English.
        assert names({"postcode": "SK14 1AA", "language": "English"}) == ["Unstated", "Urdu Group"]

    def test_it_filters_by_open_now(self, places):
        make_service("Monday Morning", at="SK14 1PW", sessions=[("MO", "09:00", "12:00")])
        make_service("Tuesday", at="SK14 1PW", sessions=[("TU", "09:00", "12:00")])

        monday_10am = london(2026, 11, 30, 10, 0)
        assert names({"postcode": "SK14 1AA", "open": "now"}, now=monday_10am) == ["Monday Morning"]

    def test_it_filters_by_open_now_across_the_country(self, places):
        make_service("Carlisle Monday", at="CA1 1AA", sessions=[("MO", "09:00", "12:00")])
        make_service("Sheffield Sunday Night", at="S7 1AA", sessions=[("SU", "22:00", "02:00")])
        service = make_service("Library Monday", at="SK14 1PW")
        Schedule.objects.create(
            service_at_location=service.service_at_locations.get(),
            byday="MO",
            opens_at=dt.time(9),
            closes_at=dt.time(17),
        )
        make_service("Tuesday", at="SK14 1PW", sessions=[("TU", "09:00", "12:00")])

        assert names({"open": "now"}, now=london(2026, 11, 30, 10, 0)) == [
            "Carlisle Monday",
            "Library Monday",
        ]
        assert names({"open": "now"}, now=london(2026, 11, 30, 1, 0)) == ["Sheffield Sunday Night"]

    def test_it_filters_by_day_and_time(self, places):
        make_service("Monday Morning", at="SK14 1PW", sessions=[("MO", "09:00", "12:00")])
        make_service("Tuesday", at="SK14 1PW", sessions=[("TU", "09:00", "12:00")])

        assert names({"postcode": "SK14 1AA", "day": "TU", "time": "11:30"}) == ["Tuesday"]
        assert names({"postcode": "SK14 1AA", "day": "TU", "time": "12:00"}) == []

    def test_it_combines_filters(self, places):
        make_service(
            "Free Urdu Walks",
            at="SK14 1PW",
            needs=["physical-activity"],
            price="0",
            languages=[("Urdu", "ur")],
            access=Service.Access.DROP_IN,
            sessions=[("MO", "09:00", "12:00")],
            description="Walking group",
        )
        make_service(
            "Paid Urdu Walks",
            at="SK14 1PW",
            needs=["physical-activity"],
            price="3",
            languages=[("Urdu", "ur")],
            access=Service.Access.DROP_IN,
            sessions=[("MO", "09:00", "12:00")],
            description="Walking group",
        )
        make_service(
            "Free English Walks",
            at="SK14 1PW",
            needs=["physical-activity"],
            price="0",
            access=Service.Access.DROP_IN,
            sessions=[("MO", "09:00", "12:00")],
            description="Walking group",
        )
        make_service(
            "Free Urdu Walks, far",
            at="M1 1AE",
            needs=["physical-activity"],
            price="0",
            languages=[("Urdu", "ur")],
            access=Service.Access.DROP_IN,
            sessions=[("MO", "09:00", "12:00")],
            description="Walking group",
        )

        params = {
            "postcode": "SK14 1AA",
            "radius": "5000",
            "need": "physical-activity",
            "free": "true",
            "language": "ur",
            "access": "drop_in",
            "open": "now",
            "q": "walking",
            "kind": "community_asset",
            "age": "30",
        }
        assert names(params, now=london(2026, 11, 30, 10, 0)) == ["Free Urdu Walks"]
        assert names(params, now=london(2026, 11, 30, 13, 0)) == []

    def test_it_lists_everything_by_name_without_a_place(self, places):
        make_service("Carlisle Choir", at="CA1 1AA")
        make_service("Archery", at="S7 1AA")

        result = search_services({})

        assert [s.name for s in result.results] == ["Archery", "Carlisle Choir"]
        assert result.place is None
        assert result.results[0].distance is None


class ResultDetailsTests:
    def test_it_attaches_what_a_result_shows(self, places):
        make_service(
            "Walks",
            at="SK14 1PW",
            needs=["physical-activity", "loneliness"],
            price="2.50",
            sessions=[("TU", "10:00", "11:00")],
        )

        found = search_services({"postcode": "SK14 1AA"}, now=london(2026, 11, 30, 10, 0)).results[
            0
        ]

        assert [t.code for t in found.needs] == ["loneliness", "physical-activity"]
        assert found.is_free is False
        assert found.cost_summary == "£2.50 per session"
        assert found.next_opening == london(2026, 12, 1, 10, 0)
        assert found.open_now is False
        assert found.nearest_location.postal_code == "SK14 1PW"

    def test_it_says_free_when_nothing_is_charged(self, places):
        make_service("Walks", at="SK14 1PW", price="0")

        found = search_services({"postcode": "SK14 1AA"}).results[0]

        assert (found.is_free, found.cost_summary) == (True, "Free")
