"""How a service is dressed for display, decided once.

A search result, the service page, the shortlist and ``/api/services/<id>/`` all show the same
facts about a service: when it next opens (and whether it is open now), what it costs, which
needs it helps with and what it offers people getting online. ``dress`` works them out from
plain lists (schedules, cost options, taxonomy terms), so the search, which reads a page of
results as rows in one query, and the pages, which prefetch related objects, give the same
answer. ``dress_prefetched`` is the pages' way in.
"""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from directory.models import DIGITAL_TAXONOMY, LONDON, NEEDS_TAXONOMY, Schedule, Service

# Far enough ahead to find the next session of a monthly rule.
NEXT_OPENING_HORIZON_DAYS = 62


def next_session(
    schedules: Iterable[Schedule], now: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(opens, closes) of the session running now or, if none, the next one to start. Both
    None when no session starts in the next two months.

    A session its organisation cancelled is skipped: each schedule may carry the set of dates
    its sessions are cancelled on as ``cancelled_dates`` (``schedules_of`` attaches them to a
    page's schedules, the search's statement to its rows; directory.listing_models)."""
    local = now.astimezone(LONDON)
    start = local.date() - dt.timedelta(days=1)  # a session from last night may still be on
    best = None
    for schedule in schedules:
        cancelled = getattr(schedule, "cancelled_dates", None) or ()
        for opens, closes in schedule.sessions(start, NEXT_OPENING_HORIZON_DAYS + 1):
            if opens.date() in cancelled:
                continue
            if closes > local:
                if best is None or opens < best[0]:
                    best = (opens, closes)
                break
    return best if best else (None, None)


def schedules_of(service: Service) -> list[Schedule]:
    """The service's own schedules and its venues' (from prefetched relations), each with its
    ``cancelled_dates`` (one query)."""
    from directory.listings import cancelled_dates

    schedules = list(service.schedules.all())
    for sal in service.service_at_locations.all():
        schedules.extend(sal.schedules.all())
    cancelled = cancelled_dates(schedules, dt.date.today())
    for schedule in schedules:
        schedule.cancelled_dates = cancelled.get(schedule.pk, set())
    return schedules


def next_opening(
    service: Service, now: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """:func:`next_session` of a service with prefetched schedules."""
    return next_session(schedules_of(service), now)


def cost_summary(service: Service, today: dt.date, options=None) -> tuple[bool, str]:
    """(is_free, a short line such as "Free", "£3.00" or "From £2.50"). ``options``: the
    service's cost options, if not prefetched on it."""
    if options is None:
        options = service.cost_options.all()
    options = [o for o in options if not (o.valid_to and o.valid_to < today)]
    amounts = sorted(o.amount for o in options if o.amount is not None and o.amount > 0)
    if not amounts:
        if options or not service.fees:
            return True, "Free"
        return False, service.fees[:100]
    free_too = any(o.amount is not None and o.amount == 0 for o in options)
    low, high = amounts[0], amounts[-1]
    if free_too:
        return False, f"Free, or {_money(low)}" + ("" if low == high else f" to {_money(high)}")
    if low == high:
        described = next((o.option for o in options if o.amount == low and o.option), "")
        return False, f"{_money(low)} {described}".strip()
    return False, f"From {_money(low)}"


def _money(amount: Decimal) -> str:
    return f"£{amount:,.2f}"


def dress(service: Service, *, schedules, cost_options, terms, now: dt.datetime) -> Service:
    """Attach what every surface shows about a service: ``next_opening``, ``next_closing``,
    ``open_now``, ``is_free``, ``cost_summary``, ``needs`` and ``offers`` (terms in their
    vocabulary's order; each term's ``taxonomy`` must be loaded)."""
    opens, closes = next_session(schedules, now)
    service.next_opening, service.next_closing = opens, closes
    service.open_now = opens is not None and opens <= now.astimezone(LONDON) < closes
    service.is_free, service.cost_summary = cost_summary(
        service, now.astimezone(LONDON).date(), cost_options
    )
    ordered = sorted(terms, key=lambda t: t.position)
    service.needs = [t for t in ordered if t.taxonomy.slug == NEEDS_TAXONOMY]
    service.offers = [t for t in ordered if t.taxonomy.slug == DIGITAL_TAXONOMY]
    return service


def dress_prefetched(service: Service, now: dt.datetime) -> Service:
    """:func:`dress` for a service loaded with ``schedules``, ``service_at_locations__schedules``,
    ``cost_options`` and ``attributes__taxonomy_term__taxonomy`` prefetched."""
    return dress(
        service,
        schedules=schedules_of(service),
        cost_options=list(service.cost_options.all()),
        terms=[a.taxonomy_term for a in service.attributes.all()],
        now=now,
    )
