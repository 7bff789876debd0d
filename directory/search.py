"""The directory search: one function that the API and the HTML pages both call.

``search_services(params)`` validates what a person typed (a postcode or coordinates, a radius,
needs, filters, a page) and returns one page of services, nearest first when a place is given.
Bad input raises ``SearchError`` with plain-English messages per field, saying how to fix it;
the callers turn that into a 400 or into messages beside the form fields.
"""

import datetime as dt
import math
from dataclasses import dataclass, field

from directory import finder
from directory.models import Service

# The search's parameters are declared, with their messages, in directory.params; the names
# imported from here before stay importable from here.
from directory.params import (  # noqa: F401
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    PARAMETERS,
    QUERY_MAX_LENGTH,
    SearchError,
    parse_search,
)
from directory.presenters import (  # noqa: F401  (imported from here by the pages and tests)
    NEXT_OPENING_HORIZON_DAYS,
    cost_summary,
    next_opening,
)
from geo.models import Place


@dataclass
class SearchResult:
    place: Place | None
    results: list[Service]
    total: int
    page: int
    page_size: int
    radius_m: int | None = None
    # The validated query, for callers that echo it back (e.g. to build the next page's link).
    query: dict = field(default_factory=dict)
    # False when there are more matches than were counted: ``total`` is then a lower bound.
    total_exact: bool = True

    @property
    def total_label(self) -> str:
        """How many matched, as a person reads it: "57", or "more than 500"."""
        return f"{self.total:,}" if self.total_exact else f"more than {self.total:,}"

    @property
    def total_pages(self) -> int | None:
        """None when the total is only a lower bound."""
        if not self.total_exact:
            return None
        return max(1, math.ceil(self.total / self.page_size)) if self.page_size else 1

    @property
    def has_next(self) -> bool:
        return not self.total_exact or self.page < self.total_pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def search_services(params, *, now: dt.datetime | None = None) -> SearchResult:
    """Search the directory. ``params`` is a QueryDict or a dict (values may be lists).

    Parameters: ``postcode`` or ``lat`` and ``lng``; ``radius`` in metres (default and cap from
    settings); ``need`` (repeatable, any of); ``offer`` (repeatable digital-inclusion codes,
    all of); ``kind``; ``q`` (full text); ``free``; ``access``; ``age``; ``language``;
    ``open=now`` or ``day`` and ``time``; ``page`` and ``page_size``.

    Raises ``SearchError`` with messages per field. A page past the last one is an error too,
    except page 1 of an empty result.
    """
    query = parse_search(params, now=now)
    found = finder.find(query)
    page, size = query["page"], query["page_size"]
    if not found.rows and page > 1:
        last = max(1, math.ceil(found.total / size))
        raise SearchError(
            {
                "page": [
                    f"{'There is only 1 page' if last == 1 else f'There are only {last} pages'}"
                    f" of results; ask for page {last} or lower."
                ]
            }
        )
    return SearchResult(
        place=query["place"],
        results=found.rows,
        total=found.total,
        total_exact=found.exact,
        page=page,
        page_size=size,
        radius_m=query["radius"] if query["place"] else None,
        query=query,
    )
