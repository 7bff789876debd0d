"""What residents read about a listing's upkeep: when it was checked, sessions cancelled."""

from django import template

from directory import listings

register = template.Library()


@register.simple_tag
def checked_status(service) -> listings.Checked:
    """``{% checked_status service as checked %}``: ``checked.date`` and ``checked.stale``
    (not checked for ``listings.STALE_MONTHS`` months, or never)."""
    return listings.checked_status(service)


@register.simple_tag
def cancelled_sessions(service) -> list:
    """``{% cancelled_sessions service as cancelled %}``: sessions cancelled from today on."""
    return list(listings.upcoming_cancellations(service))


@register.simple_tag
def stale_months() -> int:
    return listings.STALE_MONTHS
