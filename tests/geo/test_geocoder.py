import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings

from geo.geocoding import GeocoderUnavailable, geocode
from geo.models import GeocodeCache, PostcodeNotFound

HYDE_TOWN_HALL = {
    "place_id": 12345678,
    "licence": "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright",
    "osm_type": "way",
    "osm_id": 87654321,
    "lat": "53.4512345",
    "lon": "-2.0801234",
    "class": "amenity",
    "type": "townhall",
    "place_rank": 30,
    "importance": 0.3,
    "addresstype": "amenity",
    "name": "Hyde Town Hall",
    "display_name": "Hyde Town Hall, Market Street, Hyde, Tameside, Greater Manchester, England",
    "boundingbox": ["53.4510", "53.4514", "-2.0804", "-2.0798"],
}


class FakeNominatim:
    """A small Nominatim on 127.0.0.1: answers /search with whatever the test sets."""

    def __init__(self):
        self.requests = []  # (path, query params, headers, arrival time)
        self.status, self.body = 200, []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                fake.requests.append(
                    (url.path, parse_qs(url.query), dict(self.headers), time.monotonic())
                )
                payload = json.dumps(fake.body).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def answer(self, body, status=200):
        self.status, self.body = status, body


@pytest.fixture
def nominatim():
    fake = FakeNominatim()
    fake.thread.start()
    with override_settings(
        GEOCODER="nominatim",
        GEOCODER_URL=fake.url,
        GEOCODER_USER_AGENT="flourish-tests",
        GEOCODER_MIN_DELAY_SECONDS=0,
        GEOCODER_TIMEOUT_SECONDS=5,
    ):
        yield fake
    fake.server.shutdown()
    fake.server.server_close()


class GeocodePostcodeTests:
    def test_it_places_a_postcode_from_the_table_without_asking_the_geocoder(
        self, gazetteer, nominatim
    ):
        place = geocode(" sk14 1aa ")

        assert place.precision == "postcode"
        assert place.postcode == "SK14 1AA"
        assert (place.latitude, place.longitude) == pytest.approx(gazetteer["SK14 1AA"])
        assert nominatim.requests == []

    def test_it_says_when_a_postcode_is_only_placed_by_its_sector(self, gazetteer, nominatim):
        assert geocode("SK14 1ZZ").precision == "sector"
        assert nominatim.requests == []

    def test_it_refuses_a_postcode_it_cannot_place_without_asking_the_geocoder(
        self, gazetteer, nominatim
    ):
        with pytest.raises(PostcodeNotFound):
            geocode("BT1 1AA")
        assert nominatim.requests == []


class GeocoderOffTests:
    def test_it_finds_nothing_for_free_text_and_makes_no_network_call(self, db, nominatim):
        nominatim.answer([HYDE_TOWN_HALL])

        with override_settings(GEOCODER=None):
            assert geocode("Hyde Town Hall") is None

        assert nominatim.requests == []
        assert not GeocodeCache.objects.exists()


class GeocoderNominatimTests:
    def test_it_asks_nominatim_for_a_place_in_great_britain(self, db, nominatim):
        nominatim.answer([HYDE_TOWN_HALL])

        geocode("Hyde  Town Hall")

        [(path, params, headers, _)] = nominatim.requests
        assert path == "/search"
        assert params["q"] == ["hyde town hall"]
        assert params["countrycodes"] == ["gb"]
        assert params["format"] == ["json"]
        assert params["limit"] == ["1"]
        assert headers["User-Agent"] == "flourish-tests"

    def test_it_finds_the_place(self, db, nominatim):
        nominatim.answer([HYDE_TOWN_HALL])

        place = geocode("Hyde Town Hall")

        assert place.precision == "geocoder"
        assert (place.latitude, place.longitude) == pytest.approx((53.4512345, -2.0801234))
        assert place.label.startswith("Hyde Town Hall, Market Street")
        assert place.postcode is None

    def test_it_caches_the_answer_and_does_not_ask_twice(self, db, nominatim):
        nominatim.answer([HYDE_TOWN_HALL])
        geocode("Hyde Town Hall")
        nominatim.answer([], status=500)  # would fail if it were asked again

        again = geocode("  hyde town HALL ")

        assert len(nominatim.requests) == 1
        assert (again.latitude, again.longitude) == pytest.approx((53.4512345, -2.0801234))
        cached = GeocodeCache.objects.get()
        assert (cached.query, cached.found) == ("hyde town hall", True)
        assert (cached.point.y, cached.point.x) == pytest.approx((53.4512345, -2.0801234))

    def test_it_caches_not_found_too(self, db, nominatim):
        nominatim.answer([])

        assert geocode("Nowhere In Particular") is None
        assert geocode("nowhere in particular") is None

        assert len(nominatim.requests) == 1
        cached = GeocodeCache.objects.get()
        assert (cached.found, cached.point) == (False, None)

    def test_it_raises_unavailable_on_a_server_error_and_caches_nothing(self, db, nominatim):
        nominatim.answer({"error": "overloaded"}, status=500)

        with pytest.raises(GeocoderUnavailable, match="not answering"):
            geocode("Hyde Town Hall")
        assert not GeocodeCache.objects.exists()

        nominatim.answer([HYDE_TOWN_HALL])
        assert geocode("Hyde Town Hall").precision == "geocoder"
        assert len(nominatim.requests) == 2

    def test_it_raises_unavailable_when_nothing_listens(self, db, nominatim):
        nominatim.server.shutdown()
        nominatim.server.server_close()

        with pytest.raises(GeocoderUnavailable):
            geocode("Hyde Town Hall")
        assert not GeocodeCache.objects.exists()

    def test_it_spaces_out_its_requests(self, db, nominatim):
        nominatim.answer([])

        with override_settings(GEOCODER_MIN_DELAY_SECONDS=0.3):
            for place in ("first place", "second place", "third place"):
                geocode(place)

        arrivals = [arrived for *_, arrived in nominatim.requests]
        gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
        assert len(gaps) == 2
        assert min(gaps) >= 0.25
