"""Searching by the name of a town or neighbourhood (geo.places, the GeoNames gazetteer)."""

import pytest
from django.core.management import call_command

from geo import places
from geo.models import PlaceName
from geo.place_loading import geonames_gb, load_places
from tests.conftest import KNOWN_POSTCODES, add_place, add_postcode, rebuild_postcode_areas
from tests.geo.test_geocoder import HYDE_TOWN_HALL, nominatim  # noqa: F401  (a fake Nominatim)

pytestmark = pytest.mark.django_db


@pytest.fixture
def towns(db):
    """Real GeoNames places (ids, positions, populations as the package has them)."""
    add_place(2646327, "Hyde", 53.45131, -2.07943, population=35895, area="Stockport")
    add_place(2636882, "Stockport", 53.40979, -2.15761, population=139052, area="Manchester")
    add_place(2638077, "Sheffield", 53.38297, -1.4659, population=556500)
    add_place(2653775, "Carlisle", 54.8951, -2.9382, population=78470)
    add_place(3345439, "Telford", 52.67659, -2.44926, population=155570)
    add_place(
        2641598,
        "Newport",
        51.58774,
        -2.99835,
        nation="wales",
        population=161506,
        other_names=("Casnewydd",),
    )
    add_place(2641595, "Newport", 52.76684, -2.37734, population=12741, area="Telford")
    add_place(2641599, "Newport", 50.70146, -1.29124, population=24884, area="Portsmouth")
    add_place(2635881, "Thurso", 58.59271, -3.52594, nation="scotland", population=7390)
    add_place(2638911, "St Helens", 53.45388, -2.73689, population=102629)


class PlaceNameTests:
    def test_it_finds_a_town_by_name_in_any_case(self, towns):
        for typed in ("Hyde", "hyde", "  HYDE "):
            place = places.locate(typed)
            assert (place.precision, place.label) == ("place", "Hyde")
            assert place.latitude == pytest.approx(53.45131)
            assert place.nation == "england"

    def test_it_ignores_punctuation_and_saint(self, towns):
        assert places.locate("Saint Helen's").label == "St Helens"
        assert places.locate("st. helens").label == "St Helens"

    def test_it_drops_city_centre_and_such(self, towns):
        assert places.locate("Carlisle city centre").label == "Carlisle"
        assert places.locate("carlisle town centre").label == "Carlisle"
        assert places.locate("Carlisle centre").label == "Carlisle"

    def test_it_finds_a_place_by_another_of_its_names(self, towns):
        assert places.locate("Casnewydd").nation == "wales"

    def test_it_asks_which_when_several_places_share_a_name(self, towns):
        with pytest.raises(places.AmbiguousPlace) as caught:
            places.locate("Newport")

        assert caught.value.code == "ambiguous_place"
        assert "There is more than one Newport" in str(caught.value)
        # Largest first, each told apart by its nation and nearby town, each with a token.
        assert caught.value.choices == [
            {"name": "Newport, Wales", "place": "2641598"},
            {"name": "Newport, near Portsmouth, England", "place": "2641599"},
            {"name": "Newport, near Telford, England", "place": "2641595"},
        ]

    def test_each_choice_reads_back_as_the_place_it_names(self, towns):
        with pytest.raises(places.AmbiguousPlace) as caught:
            places.locate("Newport")

        for choice in caught.value.choices:
            by_name = places.locate(choice["name"])
            by_token = places.locate_place_token(choice["place"])
            assert (by_name.latitude, by_name.longitude) == (by_token.latitude, by_token.longitude)
            assert by_token.label == choice["name"]

    def test_a_qualifier_narrows_by_nation_or_nearby_town(self, towns):
        assert places.locate("Newport, Wales").nation == "wales"
        assert places.locate("newport wales").nation == "wales"
        assert places.locate("Newport (Telford)").latitude == pytest.approx(52.76684)
        assert places.locate("Newport, near Telford, England").latitude == pytest.approx(52.76684)

    def test_a_neighbourhood_it_does_not_know_falls_back_to_its_town_and_says_so(self, towns):
        place = places.locate("Sharrow, Sheffield")

        assert place.label == "Sheffield"
        assert place.note == "We do not know Sharrow by name, so these are near Sheffield instead."

    def test_it_refuses_a_place_it_does_not_know(self, towns):
        with pytest.raises(places.PlaceNotFound) as caught:
            places.locate("Atlantis")
        assert str(caught.value).startswith("'Atlantis' is not a UK postcode or a place we know.")

    def test_it_refuses_a_stale_place_token(self, towns):
        for token in ("999", "newport", ""):
            with pytest.raises(places.PlaceNotFound):
                places.locate_place_token(token)

    def test_a_place_takes_the_postcode_district_at_its_centre(self, towns):
        add_postcode("SK14 1AA", *KNOWN_POSTCODES["SK14 1AA"])

        assert places.locate("Hyde").outcode == "SK14"

    def test_postcodes_still_come_first(self, towns):
        add_postcode("SK14 1AA", *KNOWN_POSTCODES["SK14 1AA"])
        rebuild_postcode_areas()

        place = places.locate("sk14 1aa")
        assert (place.precision, place.postcode, place.postcode_corrected) == (
            "postcode",
            "SK14 1AA",
            False,
        )


class NationTests:
    def test_a_postcode_takes_the_nation_of_the_nearest_place(self, towns):
        add_postcode("KW14 7AA", 58.5930, -3.5270)
        rebuild_postcode_areas()

        assert places.nation_at(places.locate("KW14 7AA")) == "scotland"

    def test_without_places_near_it_goes_by_the_postcode_area(self, db):
        for postcode, nation in [
            ("KW1 4AJ", "scotland"),
            ("CF10 1AA", "wales"),
            ("BT1 1AA", "northern_ireland"),
            ("SK14 1AA", "england"),
        ]:
            add_postcode(postcode, 53.0, -2.0)
            rebuild_postcode_areas()
            assert places.nation_at(places.locate(postcode)) == nation


class LoadPlacesTests:
    def test_it_loads_gb_places_with_their_nation_and_a_nearby_town(self, db):
        result = load_places(
            [
                {"geonameid": 1, "name": "Bigtown", "latitude": 53.0, "longitude": -2.0,
                 "countrycode": "GB", "admin1code": "ENG", "population": 90000,
                 "alternatenames": ["BGT", "Big Town", "Бигтаун"]},
                {"geonameid": 2, "name": "Smallton", "latitude": 53.1, "longitude": -2.0,
                 "countrycode": "GB", "admin1code": "ENG", "population": 900,
                 "alternatenames": []},
                {"geonameid": 3, "name": "Akrotiri", "latitude": 34.6, "longitude": 32.9,
                 "countrycode": "GB", "admin1code": "", "population": 684,
                 "alternatenames": []},
            ]
        )  # fmt: skip

        assert (result.loaded, result.skipped) == (2, 1)
        small = PlaceName.objects.get(name="Smallton")
        assert (small.area, small.label) == ("Bigtown", "Smallton, near Bigtown, England")
        big = PlaceName.objects.get(name="Bigtown")
        # Codes and other scripts are not kept as other names.
        assert (big.area, big.other_keys) == ("", ["big town"])

    def test_running_it_again_replaces_the_places(self, db):
        add_place(99, "Gone", 53.0, -2.0)
        load_places([])
        assert not PlaceName.objects.exists()

    def test_the_package_ships_gb_places_from_towns_to_villages(self):
        gb = geonames_gb()
        names = {city["name"] for city in gb}

        assert len(gb) > 5000
        assert {"Hyde", "Carlisle", "Thurso", "Newport", "Sheffield"} <= names

    def test_the_command_skips_when_places_are_loaded(self, towns, capsys):
        call_command("load_places", "--if-empty")
        assert "Places already loaded (10); skipping." in capsys.readouterr().out


class RealGazetteerTests:
    def test_the_whole_load_finds_what_people_type(self, capsys):
        call_command("load_places")
        out = capsys.readouterr().out

        assert "Loading places from GeoNames cities500" in out
        assert PlaceName.objects.count() > 5000
        assert places.locate("Hyde").nation == "england"
        assert places.locate("Carlisle city centre").label == "Carlisle"
        assert places.locate("Thurso").nation == "scotland"
        with pytest.raises(places.AmbiguousPlace) as caught:
            places.locate("Newport")
        names = [choice["name"] for choice in caught.value.choices]
        assert names[0] == "Newport, near Cardiff, Wales"  # the largest first
        print(names)
        assert len(names) >= 4 and len(set(names)) == len(names)  # each told apart
        assert places.locate("Newport, Isle of Wight").latitude == pytest.approx(50.70146)
        print(out)


class GeocoderLastTests:
    """The external geocoder (geo.geocoding) is the last way in, only when GEOCODER is set."""

    def test_an_address_the_gazetteer_lacks_goes_to_the_geocoder(self, towns, nominatim):  # noqa: F811
        nominatim.answer([HYDE_TOWN_HALL])

        place = places.locate("Hyde Town Hall, Market Street")

        assert place.precision == "geocoder"
        assert place.as_dict()["name"].startswith("Hyde Town Hall, Market Street")
        assert len(nominatim.requests) == 1

    def test_a_town_it_knows_never_reaches_the_geocoder(self, towns, nominatim):  # noqa: F811
        assert places.locate("Hyde").precision == "place"
        assert nominatim.requests == []

    def test_without_a_geocoder_an_address_is_refused_with_no_network_call(
        self,
        towns,
        nominatim,  # noqa: F811
    ):
        from django.test import override_settings

        with override_settings(GEOCODER=None), pytest.raises(places.PlaceNotFound):
            places.locate("Hyde Town Hall, Market Street")
        assert nominatim.requests == []
