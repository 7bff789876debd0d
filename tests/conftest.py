"""Shared test helpers. Tests run on real PostGIS; they never load the demo fixtures."""

import pytest
from django.contrib.gis.geos import Point

from geo.models import Postcode, PostcodeArea


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


@pytest.fixture
def gazetteer(db):
    """A few real postcodes plus their sector/district centroids."""
    for postcode, (lat, lng) in KNOWN_POSTCODES.items():
        add_postcode(postcode, lat, lng)
    rebuild_postcode_areas()
    return KNOWN_POSTCODES
