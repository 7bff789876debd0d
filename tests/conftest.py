"""Shared test helpers. Tests run on real PostGIS; they never load the demo fixtures."""

import os
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point

from geo.models import Postcode


def add_postcode(postcode: str, latitude: float, longitude: float, quality: int = 10) -> Postcode:
    """Put one real postcode in the (otherwise empty) test gazetteer."""
    outcode, inward = postcode.split(" ")
    return Postcode.objects.create(
        postcode=postcode,
        outcode=outcode,
        sector=f"{outcode} {inward[0]}",
        quality=quality,
        point=Point(longitude, latitude, srid=4326),
    )


def add_place(
    geonameid: int,
    name: str,
    latitude: float,
    longitude: float,
    *,
    nation: str = "england",
    population: int = 1000,
    area: str = "",
    other_names: tuple[str, ...] = (),
):
    """Put one GeoNames place in the (otherwise empty) test gazetteer (see geo.place_loading)."""
    from geo.models import PlaceName
    from geo.places import place_key

    return PlaceName.objects.create(
        geonameid=geonameid,
        name=name,
        key=place_key(name),
        other_keys=[place_key(n) for n in other_names],
        nation=nation,
        population=population,
        area=area,
        point=Point(longitude, latitude, srid=4326),
    )


def rebuild_postcode_areas() -> None:
    from django.db import connection

    from geo.loading import rebuild_areas

    with connection.cursor() as cur:
        rebuild_areas(cur)


# Real postcodes from Code-Point Open, with their WGS84 positions (converted from BNG).
KNOWN_POSTCODES = {
    "SK14 1AA": (53.451886, -2.078805),
    "SK14 1PW": (53.450040, -2.069602),
    "EC1A 1BB": (51.524565, -0.112042),
}


@pytest.fixture(autouse=True)
def _no_cache_left_by_transactional_tests(request, django_db_blocker):
    """Rate-limit counts and used form tokens live in the database cache table. Ordinary tests
    roll it back with everything else; a transactional test's flush leaves it (it is not a
    model's table), so empty it after one, or its counts would limit the next test."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if (marker and marker.kwargs.get("transaction")) or {
        "transactional_db",
        "live_server",
    } & set(request.fixturenames):
        from django.core.cache import cache

        with django_db_blocker.unblock():
            cache.clear()


@pytest.fixture
def gazetteer(db):
    """A few real postcodes plus their sector/district centroids."""
    for postcode, (lat, lng) in KNOWN_POSTCODES.items():
        add_postcode(postcode, lat, lng)
    rebuild_postcode_areas()
    return KNOWN_POSTCODES


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_addoption(parser):
    # Here, not in tests/pages/: an option must be declared by a conftest pytest loads first.
    parser.addoption(
        "--screenshots",
        action="store_true",
        default=False,
        help="Browser tests save a PNG per journey under docs/screenshots/.",
    )


# --- Browser harness ----------------------------------------------------------------------------
# One Chromium for every browser test: Playwright's sync API allows one running instance per
# thread, and keeps an event loop in it while it lives, so the browser tests run last.
def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: run bin/setup --test")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, so Django would refuse the ORM
    # calls the tests make between browser steps; they are plain synchronous code all the same.
    # Only while the browser is up, so other tests keep Django's check.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def run_tasks(limit: int = 100) -> int:
    """Run the background tasks that are due, as `manage.py worker` would (claimed under a row
    lock, one at a time), inside the test's transaction; returns how many ran."""
    from django.db import transaction
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    ran = 0
    while ran < limit:
        with transaction.atomic():
            result = DBTaskResult.objects.ready().get_locked()
            if result is None:
                break
            result.claim(worker.worker_id)
        worker.run_task(result)
        ran += 1
    return ran
