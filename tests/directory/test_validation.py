"""What the directory refuses to store, whoever enters it (admin, importers)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from directory.models import CostOption, Location, Schedule, ServiceArea
from tests.directory.conftest import PLACES, make_service


def errors(obj) -> dict:
    with pytest.raises(ValidationError) as failure:
        obj.full_clean()
    return failure.value.message_dict


class ValidationTests:
    def test_it_refuses_a_maximum_age_below_the_minimum(self, db):
        service = make_service("Youth Club")
        service.minimum_age, service.maximum_age = 18, 11

        assert "maximum_age" in errors(service)

    def test_it_refuses_unknown_days_and_tidies_known_ones(self, db):
        service = make_service("Walks")

        assert "byday" in errors(Schedule(service=service, byday="MO,XX", opens_at=dt.time(9)))
        schedule = Schedule(service=service, byday="mo, th", opens_at=dt.time(9))
        schedule.full_clean()
        assert schedule.byday == "MO,TH"

    def test_it_needs_the_days_of_a_monthly_rule(self, db):
        service = make_service("Cafe")

        assert "bymonthday" in errors(
            Schedule(service=service, freq="MONTHLY", opens_at=dt.time(9))
        )

    def test_it_places_a_location_from_its_postcode(self, places):
        location = Location(name="Hall", postal_code="sk141aa")
        location.full_clean()

        assert location.postal_code == "SK14 1AA"
        assert (round(location.latitude, 6), round(location.longitude, 6)) == PLACES["SK14 1AA"]

    def test_it_refuses_a_malformed_postcode(self, places):
        assert "postal_code" in errors(Location(name="Hall", postal_code="not one"))

    def test_it_refuses_a_service_area_that_is_not_districts(self, db):
        service = make_service("Phone line")

        assert "postcode_districts" in errors(
            ServiceArea(service=service, postcode_districts=["SK14 1AA"])
        )
        assert errors(ServiceArea(service=service, postcode_districts=[]))
        area = ServiceArea(service=service, postcode_districts=["sk14", "SK14", "sk15"])
        area.full_clean()
        assert area.postcode_districts == ["SK14", "SK15"]

    def test_it_refuses_a_negative_cost(self, db):
        service = make_service("Yoga")

        assert "amount" in errors(CostOption(service=service, amount=Decimal("-1")))
