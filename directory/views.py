"""The public pages: find support near a postcode, one service, get online, health trainers and
a take-away shortlist. Server-rendered and usable with JavaScript off; every search goes through
``directory.search.search_services``, the same function the API calls."""

import hashlib
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config import ratelimit
from config.clientip import client_ip
from directory import coverage
from directory.forms import REPORT_TOKEN_MAX_AGE, ListingReportForm
from directory.models import (
    Phone,
    Service,
    ServiceAtLocation,
)
from directory.params import SearchParams, parse_search, vocabulary
from directory.presenters import dress_prefetched
from directory.search import SearchError, search_services
from directory.templatetags.directory_pages import miles_km
from geo.models import Place
from geo.places import HOW_TO_FIX as HOW_TO_FIX_WHERE

# The results page reads the API's parameter names (SearchParams'), so a URL works in both.
SEARCH_PARAMETERS = SearchParams.names(
    "postcode", "place", "radius", "need", "kind", "free", "open", "q", "page", "page_size"
)
RADIUS_CHOICES = [
    (1609, "1 mile (1.6 km)"),
    (5000, "3 miles (5 km)"),
    (8047, "5 miles (8 km)"),
    (16093, "10 miles (16 km)"),
    (32187, "20 miles (32 km)"),
]
# Where each search parameter's error links to on the page (the error summary's hrefs).
FIELD_ORDER = SearchParams.names(
    "postcode", "place", "need", "offer", "kind", "radius", "free", "open", "q", "page", "page_size"
)
SHORTLIST_KEY = "shortlist"
SHORTLIST_MAX = 30


# --- Searching --------------------------------------------------------------------------------
def _search(request: HttpRequest, names: tuple[str, ...], fixed: dict | None = None):
    """Run the search for a page's form. Returns (submitted, result, errors).

    A page opened without any of its parameters just shows the form. A search without a postcode
    is refused here (the API allows it, but a resident's list must be near somewhere).
    """
    names = (*names, "place") if "postcode" in names and "place" not in names else names
    params = {name: request.GET.getlist(name) for name in names if name in request.GET}
    submitted = bool(params)
    if not submitted:
        return False, None, {}
    params.update(fixed or {})
    errors: dict[str, list[str]] = {}
    result = None
    has_postcode = any(v.strip() for n in ("postcode", "place") for v in params.get(n, []))
    try:
        result = search_services(params)
    except SearchError as exc:
        errors = dict(exc.errors)
        request.where_choices = _where_choices(request, exc.choices)
    if not has_postcode:
        errors = {"postcode": [f"Enter a postcode. {HOW_TO_FIX_WHERE}"], **errors}
        result = None
    if "place" in errors:
        # A stale choice: the text box is where to put it right.
        errors.setdefault("postcode", []).extend(errors.pop("place"))
    return True, result, errors


def _where_choices(request: HttpRequest, choices: list[dict]) -> list[dict]:
    """Links for "which Newport?" / "did you mean?": this search again with the one chosen."""
    links = []
    for choice in choices:
        query = request.GET.copy()
        for name in ("postcode", "place", "page"):
            query.pop(name, None)
        query["postcode"] = choice.get("postcode") or choice["name"]
        if choice.get("place"):
            query["place"] = choice["place"]
        links.append({"name": choice["name"], "url": f"{request.path}?{query.urlencode()}"})
    return links


def _search_query(request: HttpRequest) -> str:
    """The results page's own query, carried to a service page (``?from=``) and back."""
    query = QueryDict(mutable=True)
    for name in SEARCH_PARAMETERS:
        values = [v for v in request.GET.getlist(name) if v.strip()]
        if values:
            query.setlist(name, values)
    return query.urlencode()


def _error_list(errors: dict[str, list[str]], anchors: dict[str, str]) -> list[dict]:
    order = {name: i for i, name in enumerate(FIELD_ORDER)}
    return [
        {"field": name, "anchor": anchors.get(name, ""), "message": message}
        for name in sorted(errors, key=lambda n: order.get(n, len(order)))
        for message in errors[name]
    ]


def _radius_choices(selected: str) -> list[tuple[int, str, bool]]:
    try:
        chosen = int(selected) if selected else settings.SEARCH_RADIUS_DEFAULT_M
    except ValueError:
        chosen = None
    choices = list(RADIUS_CHOICES)
    if chosen and chosen not in dict(choices) and 0 < chosen <= settings.SEARCH_RADIUS_MAX_M:
        choices.append((chosen, f"{miles_km(chosen)}"))
        choices.sort()
    return [(value, label, value == chosen) for value, label in choices]


def _markers(result) -> list[dict]:
    """What the map draws: one numbered marker per result that has a place."""
    markers = []
    offset = (result.page - 1) * result.page_size
    for number, service in enumerate(result.results, start=offset + 1):
        location = service.nearest_location
        if location is None or location.point is None:
            continue
        markers.append(
            {
                "number": number,
                "name": service.name,
                "lat": round(location.point.y, 6),
                "lng": round(location.point.x, 6),
                "url": service.page_url,
                "distance": miles_km(service.distance) if service.distance is not None else "",
            }
        )
    return markers


def _search_context(request, names, fixed=None, anchors=None) -> tuple[dict, int]:
    submitted, result, errors = _search(request, names, fixed)
    context = {
        "submitted": submitted,
        "result": result,
        "errors": errors,
        "error_list": _error_list(errors, anchors or {}),
        "postcode": request.GET.get("postcode", ""),
        "radius_choices": _radius_choices(request.GET.get("radius", "")),
        "shortlist": set(request.session.get(SHORTLIST_KEY, [])),
        "map": None,
        "where_choices": getattr(request, "where_choices", []),
    }
    if result is not None:
        # A service page links back to these results, and measures from this place.
        back = urlencode({"from": _search_query(request)})
        if result.place is not None:
            context["postcode"] = result.place.postcode or result.place.label or context["postcode"]
        for service in result.results:
            service.in_shortlist = str(service.pk) in context["shortlist"]
            # Reversed once here for the list and the map's markers.
            service.page_url = f"{reverse('directory-service', args=[service.pk])}?{back}"
        context["first_number"] = (result.page - 1) * result.page_size + 1
        context["last_number"] = context["first_number"] + len(result.results) - 1
        markers = _markers(result)
        if markers:
            context["map"] = {
                "centre": {"lat": result.place.latitude, "lng": result.place.longitude},
                "markers": markers,
                "tiles": settings.MAP_TILE_URL,
                "attribution": settings.MAP_TILE_ATTRIBUTION,
            }
    return context, (400 if errors else 200)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "directory/home.html",
        {
            "needs": list(vocabulary("needs").values()),
            "radius_choices": _radius_choices(""),
        },
    )


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """Find support near a postcode: a list nearest first, a map of the same, filters, pages."""
    needs = list(vocabulary("needs").values())
    anchors = {
        "postcode": "postcode",
        "need": f"need-{needs[0].code}" if needs else "",
        "kind": "kind",
        "radius": "radius",
        "free": "free",
        "open": "open",
        "q": "q",
    }
    context, status = _search_context(request, SEARCH_PARAMETERS, anchors=anchors)
    result = context["result"]
    if result is not None and not result.total and result.place is not None:
        context["out_of_area"] = coverage.out_of_area(result.place, result.radius_m)
        if context["out_of_area"] is not None:
            back = urlencode({"from": _search_query(request)})
            for service in context["out_of_area"].nearest:
                service.page_url = f"{reverse('directory-service', args=[service.pk])}?{back}"
    chosen_needs = set(request.GET.getlist("need"))
    context["filter_count"] = len(chosen_needs) + sum(
        bool(request.GET.get(name)) for name in ("kind", "free", "open", "q")
    )
    context.update(
        {
            "needs": needs,
            "chosen_needs": chosen_needs,
            "chosen_need_labels": [n.label for n in needs if n.code in chosen_needs],
            "kinds": Service.Kind.choices,
            "kind": request.GET.get("kind", ""),
            "free": request.GET.get("free", "") in {"true", "1", "on", "yes"},
            "open": request.GET.get("open", "") == "now",
            "q": request.GET.get("q", ""),
        }
    )
    return render(request, "directory/search.html", context, status=status)


def _attach_phones(services) -> None:
    """Phones for a page of results, in one query (the search does not load them)."""
    by_service: dict = {}
    for phone in Phone.objects.filter(service__in=[s.pk for s in services]).order_by("number"):
        by_service.setdefault(phone.service_id, []).append(phone)
    for service in services:
        service.phone_list = by_service.get(service.pk, [])


@require_GET
def get_online(request: HttpRequest) -> HttpResponse:
    """The nearest online centres (help to get online) and what each offers."""
    offers = list(vocabulary("digital_offers").values())
    anchors = {
        "postcode": "postcode",
        "offer": f"offer-{offers[0].code}" if offers else "",
        "radius": "radius",
    }
    context, status = _search_context(
        request,
        SearchParams.names("postcode", "radius", "offer", "page"),
        fixed={"kind": Service.Kind.ONLINE_CENTRE},
        anchors=anchors,
    )
    if context["result"] is not None:
        _attach_phones(context["result"].results)
    context.update({"offers": offers, "chosen_offers": set(request.GET.getlist("offer"))})
    return render(request, "directory/get_online.html", context, status=status)


@require_GET
def health_trainers(request: HttpRequest) -> HttpResponse:
    """Health trainer services covering a postcode (most cover an area rather than a building)."""
    context, status = _search_context(
        request,
        SearchParams.names("postcode", "radius", "page"),
        fixed={"kind": Service.Kind.HEALTH_TRAINER_SERVICE},
        anchors={"postcode": "postcode", "radius": "radius"},
    )
    if context["result"] is not None:
        _attach_phones(context["result"].results)
    return render(request, "directory/health_trainers.html", context, status=status)


# --- One service ------------------------------------------------------------------------------
def _public_services():
    """Which statuses a resident may open is Service.objects.public()'s decision, not ours."""
    return (
        Service.objects.public()
        .select_related("organization")
        .prefetch_related(
            "phones",
            "schedules",
            "cost_options",
            "languages",
            "contacts__phones",
            "attributes__taxonomy_term__taxonomy",
            Prefetch(
                "service_at_locations",
                queryset=ServiceAtLocation.objects.select_related("location")
                .prefetch_related("schedules", "location__accessibility", "location__phones")
                .order_by("location__name", "location__address_1"),
            ),
        )
    )


def _describe(service: Service) -> Service:
    """Attach what the service page and the shortlist show (from prefetched rows)."""
    dress_prefetched(service, timezone.now())
    service.locations = []
    for sal in service.service_at_locations.all():
        location = sal.location
        location.session_list = list(sal.schedules.all())
        location.accessibility_list = list(location.accessibility.all())
        location.phone_list = list(location.phones.all())
        service.locations.append(location)
    service.schedule_list = list(service.schedules.all())
    service.phone_list = list(service.phones.all())
    for contact in service.contacts.all():
        service.phone_list.extend(contact.phones.all())
    return service


def _came_from(request: HttpRequest) -> tuple[str, Place | None]:
    """The results a service page was opened from (``?from=``, the search's own query): a link
    back to them, and the place searched from. Only the search's parameters are read, into a
    link to our own search page, so ``from`` cannot send anyone elsewhere."""
    given = QueryDict(request.GET.get("from", "")[:1000])
    query = QueryDict(mutable=True)
    for name in SEARCH_PARAMETERS:
        values = [v[:200] for v in given.getlist(name) if v.strip()][:30]
        if values:
            query.setlist(name, values)
    if not any(query.get(name) for name in ("postcode", "place")):
        return "", None
    try:
        place = parse_search(query)["place"]
    except SearchError:
        place = None
    return f"{reverse('directory-search')}?{query.urlencode()}", place


def _service_map(service: Service, place: Place | None) -> dict | None:
    """The service page's small map: its venues, and the place searched from if known."""
    markers = [
        {
            "number": number,
            "name": location.name or ", ".join(location.address_lines[:1]) or service.name,
            "lat": round(location.point.y, 6),
            "lng": round(location.point.x, 6),
            "url": f"#location-{number}",
            "distance": miles_km(location.distance) if location.distance is not None else "",
        }
        for number, location in enumerate(service.locations, start=1)
        if location.point is not None and location.location_type != "virtual"
    ]
    if not markers:
        return None
    centre = place or markers[0]
    return {
        "centre": {
            "lat": getattr(centre, "latitude", None) or markers[0]["lat"],
            "lng": getattr(centre, "longitude", None) or markers[0]["lng"],
        },
        "markers": markers,
        "tiles": settings.MAP_TILE_URL,
        "attribution": settings.MAP_TILE_ATTRIBUTION,
    }


def _cost_lines(service: Service) -> list[str]:
    """The cost options worth listing under the summary (``cost_summary``, said once): each
    option that adds something, never one that only repeats it ("free: free")."""
    today = timezone.localdate()
    said = set(service.cost_summary.lower().replace(",", " ").split()) | {"free", ""}
    lines = []
    for option in service.cost_options.all():
        if option.valid_to and option.valid_to < today:
            continue
        if option.amount is None:
            amount = ""
        else:
            amount = "Free" if option.amount == 0 else f"£{option.amount:,.2f}"
        detail = " ".join(p for p in (amount, option.amount_description) if p)
        line = f"{option.option}: {detail}" if option.option and detail else option.option or detail
        words = set(line.lower().replace(":", " ").replace(",", " ").split())
        if line and not words <= said and line not in lines:
            lines.append(line)
    fees = service.fees.strip()
    if fees and not set(fees.lower().rstrip(".").split()) <= said and fees not in lines:
        lines.append(fees)
    return lines


def _labelled_phones(service: Service) -> list[tuple[str, str]]:
    """(label, number) for each phone: its description, else its contact's name or title, else
    "Phone" or, when there are several, "Phone 2" and so on, so no number stands unlabelled."""
    contact_of = {
        phone.pk: contact for contact in service.contacts.all() for phone in contact.phones.all()
    }
    phones = []
    for number, phone in enumerate(service.phone_list, start=1):
        contact = contact_of.get(phone.pk)
        label = phone.description or (
            ", ".join(p for p in (contact.name, contact.title) if p) if contact else ""
        )
        if not label:
            label = "Phone" if len(service.phone_list) == 1 else f"Phone {number}"
        phones.append((label, phone.number))
    return phones


@require_GET
def service_detail(request: HttpRequest, service_id: uuid.UUID) -> HttpResponse:
    service = _describe(get_object_or_404(_public_services(), pk=service_id))
    service.in_shortlist = str(service.pk) in request.session.get(SHORTLIST_KEY, [])
    back_url, place = _came_from(request)
    for location in service.locations:
        location.distance = (
            place.distance_to(location.point) if place and location.point is not None else None
        )
    distances = [loc.distance for loc in service.locations if loc.distance is not None]
    return render(
        request,
        "directory/service.html",
        {
            "service": service,
            "temporarily_closed": service.status == Service.Status.TEMPORARILY_CLOSED,
            "back_url": back_url,
            "searched_place": place,
            "distance": min(distances) if distances else None,
            "map": _service_map(service, place),
            "cost_lines": _cost_lines(service),
            "phones": _labelled_phones(service),
        },
    )


# --- Report a problem with a listing -----------------------------------------------------------
REPORT_REPLAYED = (
    "This report has already been sent. To report something else, go back to the listing and "
    "open the form again."
)


def _first_use(token: str) -> bool:
    """Mark a form's token used; False if it was used before (a replayed post).

    In the shared cache, so a replay is caught whichever worker it reaches; cache.add is one
    INSERT (or Redis SET NX), so two copies sent at once cannot both be first."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    return cache.add(f"listing-report-token:{digest}", 1, timeout=REPORT_TOKEN_MAX_AGE)


@require_http_methods(["GET", "POST"])
def report_listing(request: HttpRequest, service_id: uuid.UUID) -> HttpResponse:
    service = get_object_or_404(Service.objects.public(), pk=service_id)
    if request.method == "POST":
        retry_after = ratelimit.hit(
            "listing-report",
            client_ip(request) or "unknown",
            limit=getattr(settings, "LISTING_REPORT_LIMIT_PER_HOUR", 10),
            period_s=60 * 60,
        )
        if retry_after is not None:
            return ratelimit.too_many_requests(
                request,
                retry_after,
                template="directory/report_limited.html",
                context={"service": service},
            )
        form = ListingReportForm(request.POST)
        if form.is_honeypot_filled():
            # Only a script fills the invisible field: say thanks and keep nothing.
            return redirect("directory-report-sent", service_id=service.pk)
        if form.is_valid() and not _first_use(form.cleaned_data["started"]):
            form.add_error("started", REPORT_REPLAYED)
        if form.is_valid():
            report = form.save(commit=False)
            report.service = service
            report.save()
            return redirect("directory-report-sent", service_id=service.pk)
        status = 400
    else:
        form = ListingReportForm()
        status = 200
    return render(
        request, "directory/report.html", {"service": service, "form": form}, status=status
    )


@require_GET
def report_sent(request: HttpRequest, service_id: uuid.UUID) -> HttpResponse:
    service = get_object_or_404(Service.objects.public(), pk=service_id)
    return render(request, "directory/report_sent.html", {"service": service})


# --- The take-away shortlist -------------------------------------------------------------------
def _clean_ids(values) -> list[str]:
    """Valid UUIDs, each once, in the order given, at most SHORTLIST_MAX."""
    ids: list[str] = []
    for value in values:
        for part in str(value).split(","):
            try:
                text = str(uuid.UUID(part.strip()))
            except ValueError:
                continue
            if text not in ids:
                ids.append(text)
    return ids[:SHORTLIST_MAX]


def _shortlist_services(ids: list[str]) -> list[Service]:
    services = {str(s.pk): s for s in _public_services().filter(pk__in=ids)}
    return [_describe(services[i]) for i in ids if i in services]


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    # A path on this site only: redirect() would take "next=home" for a URL name and fail.
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@require_POST
def shortlist_add(request: HttpRequest) -> HttpResponse:
    wanted = _clean_ids(request.POST.getlist("service"))
    found = {
        str(pk)
        for pk in Service.objects.public().filter(pk__in=wanted).values_list("pk", flat=True)
    }
    if not found:
        if _wants_json(request):
            return JsonResponse({"error": "That service is not in the directory."}, status=400)
        return render(request, "directory/shortlist_error.html", status=400)
    current = list(request.session.get(SHORTLIST_KEY, []))
    added = [i for i in wanted if i in found and i not in current]
    room = SHORTLIST_MAX - len(current)
    current.extend(added[:room])
    request.session[SHORTLIST_KEY] = current
    full = len(added) > room
    if _wants_json(request):
        return JsonResponse({"count": len(current), "in_shortlist": True, "full": full})
    if full:
        messages.warning(request, f"Your shortlist is full: it can hold {SHORTLIST_MAX} services.")
    else:
        messages.success(request, "Added to your shortlist.")
    return redirect(_back(request, reverse("directory-shortlist")))


@require_POST
def shortlist_remove(request: HttpRequest) -> HttpResponse:
    gone = set(_clean_ids(request.POST.getlist("service")))
    current = [i for i in request.session.get(SHORTLIST_KEY, []) if i not in gone]
    request.session[SHORTLIST_KEY] = current
    if _wants_json(request):
        return JsonResponse({"count": len(current), "in_shortlist": False, "full": False})
    messages.success(request, "Removed from your shortlist.")
    return redirect(_back(request, reverse("directory-shortlist")))


@require_POST
def shortlist_clear(request: HttpRequest) -> HttpResponse:
    request.session[SHORTLIST_KEY] = []
    messages.success(request, "Your shortlist is empty.")
    return redirect("directory-shortlist")


def _shortlist_context(request: HttpRequest) -> dict:
    """The list to show: a shared link's services (``?s=``), else this browser's shortlist."""
    shared = "s" in request.GET
    ids = _clean_ids(request.GET.getlist("s")) if shared else request.session.get(SHORTLIST_KEY, [])
    services = _shortlist_services(ids)
    mine = set(request.session.get(SHORTLIST_KEY, []))
    for service in services:
        service.in_shortlist = str(service.pk) in mine
    query = urlencode([("s", str(s.pk)) for s in services])
    return {
        "services": services,
        "shared": shared,
        "share_url": request.build_absolute_uri(reverse("directory-shortlist") + "?" + query)
        if services
        else "",
        "print_url": reverse("directory-shortlist-print") + ("?" + query if services else ""),
        "list_url": reverse("directory-shortlist") + ("?" + query if shared and services else ""),
        "mine": mine,
        "unsaved": [s for s in services if not s.in_shortlist],
    }


@require_GET
def shortlist(request: HttpRequest) -> HttpResponse:
    return render(request, "directory/shortlist.html", _shortlist_context(request))


@require_GET
def shortlist_print(request: HttpRequest) -> HttpResponse:
    """One clean A4 page to hand over: names, addresses, phones, times and room for a note."""
    context = _shortlist_context(request)
    context["today"] = timezone.localdate()
    return render(request, "directory/shortlist_print.html", context)
