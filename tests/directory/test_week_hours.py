"""The service's hours of the week, kept by triggers (migration 0007), follow every way a
schedule changes: otherwise ``open=now`` would miss a service that is open."""

import datetime as dt

from directory.models import Schedule, Service, ServiceAtLocation
from tests.directory.conftest import london, make_service

MONDAY_11 = london(2026, 11, 30, 11, 0)
TUESDAY_11 = london(2026, 12, 1, 11, 0)


def open_names(moment) -> set[str]:
    return set(Service.objects.open_at(moment).values_list("name", flat=True))


class WeekHoursTests:
    def test_a_new_session_makes_its_service_open_then(self, places):
        make_service("Pantry", at="SK14 1AA", sessions=[("MO", "10:00", "12:00")])

        assert open_names(MONDAY_11) == {"Pantry"}
        assert open_names(TUESDAY_11) == set()

    def test_moving_a_session_to_another_day_moves_the_hours(self, places):
        make_service("Pantry", at="SK14 1AA", sessions=[("MO", "10:00", "12:00")])
        schedule = Schedule.objects.get()

        schedule.byday = "TU"
        schedule.save()

        assert open_names(MONDAY_11) == set()
        assert open_names(TUESDAY_11) == {"Pantry"}

    def test_a_bulk_update_and_a_delete_are_followed(self, places):
        make_service("Pantry", at="SK14 1AA", sessions=[("MO", "10:00", "12:00")])
        make_service("Choir", at="SK14 1PW", sessions=[("MO", "10:00", "12:00")])

        Schedule.objects.update(opens_at=dt.time(13, 0), closes_at=dt.time(15, 0))
        assert open_names(MONDAY_11) == set()
        assert open_names(london(2026, 11, 30, 14, 0)) == {"Pantry", "Choir"}

        Schedule.objects.filter(service__name="Choir").delete()
        assert open_names(london(2026, 11, 30, 14, 0)) == {"Pantry"}

    def test_a_venue_moved_to_another_service_takes_its_sessions_with_it(self, places):
        first = make_service("Old Owner", at="SK14 1AA")
        second = make_service("New Owner", at="SK14 1PW")
        venue = ServiceAtLocation.objects.get(service=first)
        Schedule.objects.create(
            service_at_location=venue, byday="MO", opens_at=dt.time(10), closes_at=dt.time(12)
        )
        assert open_names(MONDAY_11) == {"Old Owner"}

        venue.service = second
        venue.save()

        assert open_names(MONDAY_11) == {"New Owner"}

    def test_many_sessions_written_at_once_each_count(self, places):
        services = [make_service(f"Group {n}", at="SK14 1AA") for n in range(3)]
        Schedule.objects.bulk_create(
            Schedule(service=s, byday=day, opens_at=dt.time(10), closes_at=dt.time(12))
            for s, day in zip(services, ["MO", "TU", "MO"], strict=True)
        )

        assert open_names(MONDAY_11) == {"Group 0", "Group 2"}
        assert open_names(TUESDAY_11) == {"Group 1"}


class SearchVenueTests:
    """The search's copy of each venue (migration 0008) follows the tables it copies."""

    def near(self, **params) -> dict:
        from directory.search import search_services

        found = search_services({"postcode": "SK14 1AA", "radius": "2000", **params}).results
        return {s.name: s.distance for s in found}

    def test_a_service_taken_out_or_put_back_is_followed(self, places):
        service = make_service("Pantry", at="SK14 1PW")
        service.status = Service.Status.INACTIVE
        service.save()
        assert self.near() == {}

        service.status = Service.Status.ACTIVE
        service.save()
        assert set(self.near()) == {"Pantry"}

    def test_a_venue_moved_is_found_where_it_is_now(self, places):
        from django.contrib.gis.geos import Point

        from directory.models import Location
        from tests.directory.conftest import PLACES

        make_service("Pantry", at="SK14 1PW")
        assert 600 < self.near()["Pantry"] < 700

        lat, lng = PLACES["SK13 8AA"]  # Glossop, 8.6 km away
        Location.objects.update(point=Point(lng, lat, srid=4326))
        assert self.near() == {}

    def test_a_need_dropped_or_a_venue_unlinked_is_followed(self, places):
        from directory.models import Attribute

        service = make_service("Pantry", at="SK14 1PW", needs=["food"])
        assert set(self.near(need="food")) == {"Pantry"}

        Attribute.objects.filter(service=service).delete()
        assert self.near(need="food") == {}

        ServiceAtLocation.objects.filter(service=service).delete()
        assert self.near() == {}
