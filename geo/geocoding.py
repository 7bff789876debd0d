"""Turning what someone typed into a place: the postcode table first, then (only if configured)
an external geocoder through geopy, rate-limited, with every answer cached in the database.

The external geocoder is off by default: Flourish assumes no network. Set GEOCODER=nominatim
(and GEOCODER_URL, GEOCODER_USER_AGENT) to turn it on.
"""

import threading
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.gis.geos import Point
from geopy.exc import GeopyError
from geopy.geocoders import Nominatim

from geo import postcodes
from geo.models import WGS84, GeocodeCache, Place, locate_postcode

_lock = threading.Lock()
_last_call = 0.0


class GeocoderUnavailable(RuntimeError):
    pass


def _nominatim() -> Nominatim:
    url = urlsplit(settings.GEOCODER_URL)
    return Nominatim(
        domain=url.netloc + url.path.rstrip("/"),
        scheme=url.scheme or "https",
        user_agent=settings.GEOCODER_USER_AGENT,
        timeout=settings.GEOCODER_TIMEOUT_SECONDS,
    )


def _rate_limited(call):
    # Nominatim's usage policy: at most one request a second from the whole process.
    global _last_call
    with _lock:
        wait = _last_call + settings.GEOCODER_MIN_DELAY_SECONDS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            return call()
        finally:
            _last_call = time.monotonic()


def geocode(text: str) -> Place | None:
    """A place for free text: a postcode if it is one, else the configured geocoder, else None.

    Raises ``PostcodeNotFound`` for a well-formed postcode we cannot place, and
    ``GeocoderUnavailable`` when the external geocoder fails (never cached).
    """
    try:
        postcodes.parse(text)
    except postcodes.InvalidPostcode:
        pass
    else:
        return locate_postcode(text)
    query = " ".join(text.split()).lower()[:300]
    if not query or settings.GEOCODER != "nominatim":
        return None
    cached = GeocodeCache.objects.filter(pk=query).first()
    if cached is None:
        try:
            found = _rate_limited(
                lambda: _nominatim().geocode(query, country_codes="gb", exactly_one=True)
            )
        except GeopyError as exc:
            raise GeocoderUnavailable(f"The place finder is not answering: {exc}") from exc
        cached, _ = GeocodeCache.objects.update_or_create(
            query=query,
            defaults={
                "found": found is not None,
                "label": found.address[:500] if found else "",
                "point": Point(found.longitude, found.latitude, srid=WGS84) if found else None,
            },
        )
    if not cached.found:
        return None
    return Place(
        latitude=cached.point.y,
        longitude=cached.point.x,
        precision="geocoder",
        label=cached.label,
    )
