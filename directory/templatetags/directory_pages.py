"""Plain-English formatting for the public pages: distances, opening times, phone links."""

import datetime as dt
import re

from django import template
from django.utils import timezone
from django.utils.safestring import mark_safe

from directory.models import LONDON, WEEKDAYS, Schedule

register = template.Library()

METRES_PER_MILE = 1609.344
DAY_PLURALS = {
    "MO": "Mondays",
    "TU": "Tuesdays",
    "WE": "Wednesdays",
    "TH": "Thursdays",
    "FR": "Fridays",
    "SA": "Saturdays",
    "SU": "Sundays",
}


@register.filter
def miles_km(metres) -> str:
    """``643.7`` -> ``0.4 miles (0.6 km)``."""
    if metres is None:
        return ""
    metres = float(metres)
    if metres < 160:
        return "less than 0.1 miles (under 200 m)"
    miles = metres / METRES_PER_MILE
    km = metres / 1000
    miles_text = f"{miles:.1f}" if miles < 10 else f"{miles:.0f}"
    km_text = f"{km:.1f}" if km < 10 else f"{km:.0f}"
    unit = "mile" if miles_text == "1.0" else "miles"
    return f"{miles_text} {unit} ({km_text} km)"


@register.filter
def clock(value: dt.time | dt.datetime | None) -> str:
    """``10:00`` -> ``10am``, ``09:30`` -> ``9:30am``, ``12:00`` -> ``12pm`` (as GOV.UK writes)."""
    if value is None:
        return ""
    if value.hour == 0 and value.minute == 0:
        return "midnight"
    suffix = "am" if value.hour < 12 else "pm"
    hour = value.hour % 12 or 12
    return f"{hour}{suffix}" if value.minute == 0 else f"{hour}:{value.minute:02d}{suffix}"


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _ordinal(n: int) -> str:
    if n < 0:
        return "last" if n == -1 else f"{_ordinal(-n)} to last"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _date(value: dt.date) -> str:
    return f"{value.day} {value:%B %Y}"


@register.filter
def schedule_text(schedule: Schedule) -> str:
    """One schedule in plain words: ``Tuesdays, 10am to 12pm``."""
    if schedule.freq == Schedule.Freq.MONTHLY:
        days = [int(d) for d in re.findall(r"-?\d+", schedule.bymonthday)]
        when = f"The {_join([_ordinal(d) for d in days])} of each month" if days else "Monthly"
    else:
        codes = [c.strip().upper() for c in schedule.byday.split(",") if c.strip()]
        codes = [c for c in WEEKDAYS if c in codes]  # Monday first, whatever the order given
        if not codes or len(codes) == 7:
            when = "Every day"
        elif codes == WEEKDAYS[:5]:
            when = "Monday to Friday"
        else:
            when = _join([DAY_PLURALS[c] for c in codes])
        if schedule.interval and schedule.interval > 1:
            when = f"{when}, every {_ordinal(schedule.interval).replace('2nd', 'other')} week"
    if schedule.opens_at == dt.time(0) and schedule.closes_at in (None, dt.time(0)):
        hours = "24 hours"
    elif schedule.opens_at and schedule.closes_at:
        hours = f"{clock(schedule.opens_at)} to {clock(schedule.closes_at)}"
    elif schedule.opens_at:
        hours = f"from {clock(schedule.opens_at)}"
    else:
        hours = ""
    text = f"{when}, {hours}" if hours else when
    if schedule.valid_from and schedule.valid_from > timezone.localdate():
        text += f", from {_date(schedule.valid_from)}"
    if schedule.valid_to:
        text += f", until {_date(schedule.valid_to)}"
    return text


@register.filter
def opening_text(service) -> str:
    """A search result's next session, said the way a person would: ``Open now until 12pm``,
    ``Opens today at 10am``, ``Next open Tuesday 3 December, 10am``."""
    opens = getattr(service, "next_opening", None)
    if opens is None:
        return ""
    closes = getattr(service, "next_closing", None)
    now = timezone.now().astimezone(LONDON)
    opens = opens.astimezone(LONDON)
    if getattr(service, "open_now", False) or (closes and opens <= now < closes):
        return f"Open now until {clock(closes.astimezone(LONDON))}" if closes else "Open now"
    if opens.date() == now.date():
        return f"Opens today at {clock(opens)}"
    if opens.date() == now.date() + dt.timedelta(days=1):
        return f"Opens tomorrow at {clock(opens)}"
    if opens.date() < now.date() + dt.timedelta(days=7):
        return f"Next open {opens:%A} at {clock(opens)}"
    return f"Next open {opens:%A} {opens.day} {opens:%B} at {clock(opens)}"


@register.filter
def tel_href(number: str) -> str:
    """``0161 123 4567`` -> ``tel:01611234567`` (keeps a leading +)."""
    digits = re.sub(r"[^\d+]", "", number or "")
    return f"tel:{digits}"


@register.filter
def address_lines(location) -> list[str]:
    return location.address_lines if location is not None else []


@register.filter
def directions_url(location) -> str:
    """A link that opens directions in the phone's maps app (or the web) to a location."""
    if location is None:
        return ""
    if location.point is not None:
        return (
            "https://www.google.com/maps/dir/?api=1&destination="
            f"{location.point.y:.6f},{location.point.x:.6f}"
        )
    if location.postal_code:
        return "https://www.google.com/maps/dir/?api=1&destination=" + location.postal_code.replace(
            " ", "+"
        )
    return ""


@register.simple_tag(takes_context=True)
def shortlist_count(context) -> int:
    request = context.get("request")
    if request is None or not hasattr(request, "session"):
        return 0
    return len(request.session.get("shortlist", []))


@register.simple_tag(takes_context=True)
def nav_current(context, *names: str) -> str:
    """``aria-current="page"`` for the nav link of the page being shown."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match and match.url_name in names:
        return mark_safe('aria-current="page"')
    return ""
