"""Figures for managers and commissioners: counts and changes for a period, never a person.

What a report is
    ``build(Period(start, end, as_at))`` counts the referrals made from ``start`` to ``end``
    (both days included) as the records stood at the end of the ``as_at`` day: a referral's
    status is the last status change logged on or before that day (``ReferralEvent``), so a
    referral closed after the as-at date counts as open; contacts, measures and attendance
    recorded after it are left out. The page (``referrals.views.report``) and the CSV download
    both render the one ``Report`` this returns, so they show exactly the same cells.

Small numbers (``suppress``, the one rule)
    A count from 1 to ``SMALL_NUMBER_THRESHOLD`` - 1 (1 to 4 by default) is hidden. A count of
    0 is shown as 0 (NHS Digital's practice: nobody is picked out by "nobody"; and a shown 0 is
    one more constant in the sums below, which ``suppress`` takes into account). Then
    COMPLEMENTARY suppression: the figures on a page are tied together - a breakdown's rows add
    up to its total, each breakdown of the referrals adds up to the headline total, the closed
    referrals' outcomes add up to the "closed" row, the drop-out rows are some of those
    outcomes, needs (a referral may have several) add up to at least the referrals with a need,
    contacted-and-engaged referrals are some of those ever contacted, the months wholly before
    the 14-day cut-off are some of the referrals behind the 14-day share... Every such tie is a
    ``Relation``. ``suppress`` solves the whole system the way someone with the page would
    (each hidden count at least 1, each shown count as shown, every relation holding), and
    while any hidden count could be worked out exactly, it hides one more count (the smallest
    shown count of 5 or more in a relation of that cell, else that relation's total) and tries
    again.

    Every hidden count reads the same ("hidden"), whether it is under 5 or hidden to protect
    one that is: saying "fewer than 5" for the first kind would tell the reader that the
    second kind is 5 or more, and with that a count of 1 beside a hidden 5 in a total of 6
    could be worked out (1 + at least 5 = 6). An average (a change in a measure) over fewer
    people than the threshold is not shown.
"""

import calendar
import csv
import io
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from statistics import median

from django.conf import settings
from django.utils import timezone

from directory.models import Service, TaxonomyTerm
from referrals import measures as measure_rules
from referrals.models import Connection, FollowUp, Measure, Referral, ReferralEvent, Team

logger = logging.getLogger(__name__)

SHOWN = "shown"
SMALL = "small"  # under the threshold
HIDDEN = "hidden"  # hidden so that a small number cannot be worked out
SUPPRESSED = "hidden"  # how every count not shown reads, whichever kind it is

CONTACT_WITHIN_DAYS = 14

# Closing outcomes where the person did not complete the programme.
DROP_OUT = (
    Referral.Outcome.PERSON_DECLINED,
    Referral.Outcome.COULD_NOT_CONTACT,
    Referral.Outcome.MOVED_AWAY,
)

# Age at referral, in the ONS's usual bands (under 18 only shown when there is anyone).
AGE_BANDS = (
    ("under_18", "Under 18", 0, 17),
    ("18_24", "18 to 24", 18, 24),
    ("25_34", "25 to 34", 25, 34),
    ("35_44", "35 to 44", 35, 44),
    ("45_54", "45 to 54", 45, 54),
    ("55_64", "55 to 64", 55, 64),
    ("65_74", "65 to 74", 65, 74),
    ("75_plus", "75 and over", 75, 200),
)

# Why a referral was declined, in categories derived from the record, never from the reason a
# trainer typed (free text may name or describe a person, so it never reaches a report).
DECLINE_CATEGORIES = (
    ("system", "Not picked up in time (declined automatically)"),
    ("team", "Declined by the team"),
)

# The changes reported, in order: (instrument, field).
MEASURE_FIELDS = (
    (measure_rules.ONS4, "life_satisfaction"),
    (measure_rules.ONS4, "worthwhile"),
    (measure_rules.ONS4, "happiness"),
    (measure_rules.ONS4, "anxiety"),
    (measure_rules.SWEMWBS, "swemwbs_total"),
    (measure_rules.PAM, "pam_score"),
)


def threshold() -> int:
    return settings.SMALL_NUMBER_THRESHOLD


def suppression_rule() -> str:
    """The rule in words, for the page and the CSV header."""
    t = threshold()
    return (
        f"Counts from 1 to {t - 1} are hidden; 0 is shown as 0. Where a total or another "
        "figure would let someone work out a hidden count, more counts are hidden, so "
        f'"hidden" means fewer than {t}, or hidden so that a count of fewer than {t} cannot be '
        f"worked out. Averages over fewer than {t} people are not shown."
    )


# --- The period -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    start: date
    end: date
    as_at: date

    @classmethod
    def default(cls, today: date | None = None) -> "Period":
        """The last 12 full months, as at today."""
        today = today or timezone.localdate()
        end = today.replace(day=1) - timedelta(days=1)
        start = _add_months(end.replace(day=1), -11)
        return cls(start, end, today)

    @property
    def slug(self) -> str:
        return f"{self.start:%Y-%m-%d}-to-{self.end:%Y-%m-%d}-as-at-{self.as_at:%Y-%m-%d}"

    def query(self) -> str:
        return f"from={self.start:%Y-%m-%d}&to={self.end:%Y-%m-%d}&as_at={self.as_at:%Y-%m-%d}"

    def months(self) -> list[date]:
        months, month = [], self.start.replace(day=1)
        while month <= self.end:
            months.append(month)
            month = _add_months(month, 1)
        return months


def _add_months(day: date, n: int) -> date:
    index = day.year * 12 + day.month - 1 + n
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# --- Cells, tables and the relations between them ---------------------------------------------
@dataclass
class Cell:
    """One count on the page (and one line of the CSV)."""

    key: str
    label: str
    value: int
    state: str = SHOWN

    @property
    def suppressed(self) -> bool:
        return self.state != SHOWN

    @property
    def display(self) -> str:
        return SUPPRESSED if self.suppressed else str(self.value)


@dataclass(frozen=True)
class Relation:
    """``sum(parts) <op> total``, with op one of "=", ">=", "<=" (keys of cells)."""

    parts: tuple[str, ...]
    total: str
    op: str = "="


@dataclass
class Table:
    key: str
    title: str
    heading: str  # the first column's heading
    rows: list[Cell]
    total: Cell | None = None
    total_label: str = "Total"
    note: str = ""
    unit: str = "Referrals"


@dataclass
class Average:
    """The average change in one measure field over the people measured at least twice."""

    field: str
    label: str
    people: Cell
    value: float | None
    lower_is_better: bool = False

    @property
    def shown(self) -> bool:
        return (
            self.people.state == SHOWN
            and self.people.value >= threshold()
            and self.value is not None
        )

    @property
    def display(self) -> str:
        if not self.shown:
            return f"not shown (fewer than {threshold()} people)"
        return f"{self.value:+.1f}"


@dataclass
class Report:
    period: Period
    cells: dict[str, Cell]
    relations: list[Relation]
    tables: list[Table]
    headline: dict
    averages: list[Average]
    months: list[tuple[date, Cell]]
    median_days: float | None
    notes: dict = field(default_factory=dict)

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)

    @property
    def share_contacted(self) -> int | None:
        """The % contacted within 14 days, only when every count behind it is shown."""
        within, eligible = self.cells["within_14"], self.cells["eligible_14"]
        outside = self.cells["outside_14"]
        if within.suppressed or eligible.suppressed or outside.suppressed or not eligible.value:
            return None
        return round(100 * within.value / eligible.value)

    @property
    def median_shown(self) -> bool:
        contacted = self.cells["contacted_ever"]
        return (
            self.median_days is not None
            and not contacted.suppressed
            and contacted.value >= threshold()
        )


# --- The suppression rule (one place: the page and the CSV both use the cells it marks) -------
class _TooHard(Exception):
    """The search gave up: treat the cell as one that could be worked out (and hide more)."""


def _domains(
    cells: dict[str, Cell], relations: list[Relation], upper: int
) -> dict[str, tuple[int, int]]:
    """What someone reading the page knows of each cell's value: a shown count is itself; a
    hidden one is at least 1 (0 is shown). A hidden count that shares no relation with another
    hidden count cannot have been hidden to protect one (a reader who knows the rule knows
    that), so it is under the threshold; any other hidden count may be anything up to
    ``upper`` (the largest count in the report: nothing counted exceeds the referrals in)."""
    t = threshold()
    domains = {}
    for key, cell in cells.items():
        if cell.state == SHOWN:
            domains[key] = (cell.value, cell.value)
            continue
        partnered = any(
            other != key and cells[other].suppressed
            for relation in relations
            if key in (*relation.parts, relation.total)
            for other in (*relation.parts, relation.total)
        )
        domains[key] = (1, upper) if partnered else (1, t - 1)
    return domains


def _propagate(domains: dict, relations: list[Relation]) -> dict | None:
    """Narrow each cell's range until every relation holds at the ends (None: no solution)."""
    domains = dict(domains)
    changed = True
    while changed:
        changed = False
        for relation in relations:
            # sum(parts) - total  <op>  0, as terms (sign, key).
            terms = [(1, key) for key in relation.parts] + [(-1, relation.total)]
            low = sum(d[0] if s > 0 else -d[1] for s, key in terms for d in [domains[key]])
            high = sum(d[1] if s > 0 else -d[0] for s, key in terms for d in [domains[key]])
            need_low, need_high = {"=": (0, 0), ">=": (0, None), "<=": (None, 0)}[relation.op]
            if (need_low is not None and high < need_low) or (
                need_high is not None and low > need_high
            ):
                return None
            for sign, key in terms:
                lo, hi = domains[key]
                own_low = lo if sign > 0 else -hi
                own_high = hi if sign > 0 else -lo
                rest_low, rest_high = low - own_low, high - own_high
                # own term must lie in [need_low - rest_high, need_high - rest_low]
                term_lo = -(10**12) if need_low is None else need_low - rest_high
                term_hi = 10**12 if need_high is None else need_high - rest_low
                if sign > 0:
                    new = (max(lo, term_lo), min(hi, term_hi))
                else:
                    new = (max(lo, -term_hi), min(hi, -term_lo))
                if new[0] > new[1]:
                    return None
                if new != (lo, hi):
                    domains[key] = new
                    changed = True
                    low = sum(d[0] if s > 0 else -d[1] for s, k in terms for d in [domains[k]])
                    high = sum(d[1] if s > 0 else -d[0] for s, k in terms for d in [domains[k]])
    return domains


def _solve(domains: dict, relations: list[Relation], budget: list[int]) -> dict | None:
    """Any assignment within the ranges that satisfies every relation (complete search)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooHard
    narrowed = _propagate(domains, relations)
    if narrowed is None:
        return None
    open_keys = [k for k, (lo, hi) in narrowed.items() if lo < hi]
    if not open_keys:
        return {k: lo for k, (lo, _hi) in narrowed.items()}
    key = min(open_keys, key=lambda k: narrowed[k][1] - narrowed[k][0])
    lo, hi = narrowed[key]
    for part in ((lo, lo), (lo + 1, hi)):
        found = _solve({**narrowed, key: part}, relations, budget)
        if found is not None:
            return found
    return None


def _component(key: str, domains: dict, relations: list[Relation]):
    """The relations (and cells) linked to ``key`` through cells that are not shown."""
    open_cells = {k for k, (lo, hi) in domains.items() if lo < hi}
    seen, todo, linked = {key}, [key], []
    while todo:
        current = todo.pop()
        for relation in relations:
            members = (*relation.parts, relation.total)
            if current in members and relation not in linked:
                linked.append(relation)
                for other in members:
                    if other in open_cells and other not in seen:
                        seen.add(other)
                        todo.append(other)
    keys = {k for r in linked for k in (*r.parts, r.total)} | {key}
    return {k: domains[k] for k in keys}, linked


def worked_out(cells: dict[str, Cell], relations: list[Relation], upper: int) -> list[str]:
    """The keys of cells not shown whose value someone could work out from what is shown."""
    domains = _domains(cells, relations, upper)
    found = []
    for key, cell in cells.items():
        if cell.state == SHOWN:
            continue
        local, linked = _component(key, domains, relations)
        budget = [20000]
        try:
            one = _solve(local, linked, budget)
            if one is None:  # cannot happen with true figures; hide more to be safe
                found.append(key)
                continue
            lo, hi = local[key]
            value = one[key]
            other = None
            if value > lo:
                other = _solve({**local, key: (lo, value - 1)}, linked, budget)
            if other is None and value < hi:
                other = _solve({**local, key: (value + 1, hi)}, linked, budget)
        except _TooHard:
            other = None
        if other is None:
            found.append(key)
    return found


def suppress(cells: dict[str, Cell], relations: list[Relation]) -> None:
    """THE rule: mark small counts, then hide more until no hidden count can be worked out."""
    t = threshold()
    for cell in cells.values():
        cell.state = SMALL if 0 < cell.value < t else SHOWN
    upper = max([t, *(cell.value for cell in cells.values())])
    for _round in range(len(cells) + 1):
        leaks = worked_out(cells, relations, upper)
        if not leaks:
            return
        # Mend first the leak with the fewest hidden cells beside it in one relation: often a
        # cell just hidden to protect another, given away by a table of its own.
        leak = min(leaks, key=lambda key: (_fewest_hidden_beside(key, cells, relations), key))
        if not _hide_one_more(leak, cells, relations):
            # Nothing left to hide around this cell: hide every count in its relations.
            for relation in relations:
                if leak in (*relation.parts, relation.total):
                    for key in (*relation.parts, relation.total):
                        if cells[key].state == SHOWN and cells[key].value:
                            cells[key].state = HIDDEN
    # Never reached in practice (each round hides at least one more count); if it were, hide
    # every count rather than show one that could be worked out.
    logger.error("Small-number suppression did not settle: every count hidden")
    for cell in cells.values():
        if cell.value:
            cell.state = HIDDEN


def _fewest_hidden_beside(key: str, cells: dict[str, Cell], relations: list[Relation]) -> int:
    return min(
        (
            sum(cells[k].suppressed for k in (*r.parts, r.total))
            for r in relations
            if key in (*r.parts, r.total)
        ),
        default=0,
    )


def _hide_one_more(key: str, cells: dict[str, Cell], relations: list[Relation]) -> bool:
    """In the relations of ``key`` (fewest hidden first), hide the smallest shown count of at
    least the threshold among the parts, or else the relation's total."""
    mine = [r for r in relations if key in (*r.parts, r.total)]
    mine.sort(key=lambda r: sum(cells[k].suppressed for k in (*r.parts, r.total)))
    for relation in mine:
        candidates = [
            cells[k]
            for k in relation.parts
            if k != key and cells[k].state == SHOWN and cells[k].value >= threshold()
        ]
        if candidates:
            min(candidates, key=lambda c: (c.value, c.key)).state = HIDDEN
            return True
        total = cells[relation.total]
        if total.key != key and total.state == SHOWN and total.value >= threshold():
            total.state = HIDDEN
            return True
    return False


# --- Building the report ----------------------------------------------------------------------
def _outcode(postcode: str) -> str | None:
    text = "".join((postcode or "").split()).upper()
    if len(text) < 5:
        return None
    return text[:-3]


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _age_band(age: int) -> str:
    return next(key for key, _label, low, high in AGE_BANDS if low <= age <= high)


def build(period: Period | None = None) -> Report:
    period = period or Period.default()
    t = threshold()
    until = _start_of(period.as_at + timedelta(days=1))  # the end of the as-at day
    start, end = _start_of(period.start), min(_start_of(period.end + timedelta(days=1)), until)
    # The period's referrals; related rows are read with this as a subquery (no long IN lists).
    population = Referral.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
    in_period = population.values("pk")
    referrals = list(
        population.values(
            "pk",
            "created_at",
            "practice_id",
            "team_id",
            "source",
            "outcome",
            "patient__date_of_birth",
            "patient__postcode",
        )
    )
    ids = [r["pk"] for r in referrals]
    cells: dict[str, Cell] = {}
    relations: list[Relation] = []
    tables: list[Table] = []

    def cell(key: str, label: str, value: int) -> Cell:
        cells[key] = Cell(key, label, value)
        return cells[key]

    total = cell("total", "Referrals in", len(referrals))

    # Status as at: the last move on or before the as-at day.
    status = {pk: Referral.Status.NEW for pk in ids}
    declined_by_system = {}
    for referral_id, to_status, by_id in (
        ReferralEvent.objects.filter(
            referral_id__in=in_period, kind=ReferralEvent.Kind.MOVED, at__lt=until
        )
        .order_by("at", "pk")
        .values_list("referral_id", "to_status", "by_id")
    ):
        status[referral_id] = to_status
        if to_status == Referral.Status.DECLINED:
            declined_by_system[referral_id] = by_id is None

    def breakdown(key, title, heading, groups, of, *, note="", total_cell=None, op="="):
        counts = Counter(of)
        rows = [cell(f"{key}:{code}", label, counts.get(code, 0)) for code, label in groups]
        total_cell = total_cell or total
        relations.append(Relation(tuple(c.key for c in rows), total_cell.key, op))
        table = Table(key, title, heading, rows, total_cell, note=note)
        tables.append(table)
        return table

    # Where the referrals stand.
    breakdown(
        "status",
        f"Where the referrals stood on {period.as_at:%-d %B %Y}",
        "Status",
        Referral.Status.choices,
        status.values(),
    )
    closed_ids = [pk for pk in ids if status[pk] == Referral.Status.CLOSED]
    outcome_of = {r["pk"]: r["outcome"] for r in referrals}
    breakdown(
        "outcome",
        "Outcomes of closed referrals",
        "Outcome",
        Referral.Outcome.choices,
        [outcome_of[pk] for pk in closed_ids],
        total_cell=cells["status:closed"],
    )
    tables[-1].total_label = "Closed"
    dropped = cell(
        "dropout", "Dropped out", sum(1 for pk in closed_ids if outcome_of[pk] in DROP_OUT)
    )
    tables.append(
        Table(
            "dropout",
            "Drop-out",
            "Why the person did not complete",
            [cells[f"outcome:{code}"] for code in DROP_OUT],
            dropped,
            total_label="Dropped out",
            note="Referrals closed because the person declined, could not be contacted, or "
            "moved away.",
        )
    )
    relations.append(Relation(tuple(f"outcome:{code}" for code in DROP_OUT), "dropout"))
    declined = [pk for pk in ids if status[pk] == Referral.Status.DECLINED]
    breakdown(
        "decline",
        "Why referrals were declined",
        "Reason",
        DECLINE_CATEGORIES,
        ["system" if declined_by_system.get(pk) else "team" for pk in declined],
        total_cell=cells["status:declined"],
        note="Grouped by who declined. The reasons trainers type are never shown: they may "
        "identify a person.",
    )
    tables[-1].total_label = "Declined"

    # Who referred, who took it on, why, who.
    practices = dict(
        population.filter(practice__isnull=False)
        .values_list("practice_id", "practice__name")
        .distinct()
    )
    breakdown(
        "practice",
        "Referrals by practice",
        "Practice",
        [*sorted(practices.items(), key=lambda kv: (kv[1], kv[0])), ("self", "Self-referral")],
        [r["practice_id"] or "self" for r in referrals],
    )
    teams = Team.objects.filter(pk__in={r["team_id"] for r in referrals}).values_list("pk", "name")
    breakdown("team", "Referrals by team", "Team", list(teams), [r["team_id"] for r in referrals])

    needs = list(TaxonomyTerm.objects.needs().values_list("pk", "name"))
    need_counts: Counter = Counter()
    with_a_need = set()
    for referral_id, term_id in Referral.needs.through.objects.filter(
        referral_id__in=in_period
    ).values_list("referral_id", "taxonomyterm_id"):
        need_counts[term_id] += 1
        with_a_need.add(referral_id)
    need_rows = [cell(f"need:{pk}", name, need_counts.get(pk, 0)) for pk, name in needs]
    need_rows.append(cell("need:none", "No need recorded", len(ids) - len(with_a_need)))
    # A referral may have several needs: the rows add up to at least the total, not to it.
    relations.append(Relation(tuple(c.key for c in need_rows), "total", ">="))
    # Only a self-referral may come without a need.
    relations.append(Relation(("need:none",), "practice:self", "<="))
    tables.append(
        Table(
            "need",
            "Referrals by need",
            "Need",
            need_rows,
            total,
            total_label="Referrals in",
            note="A referral can be for more than one need, so these add up to more than the "
            "number of referrals.",
        )
    )

    ages = [
        _age_band(_age(r["patient__date_of_birth"], timezone.localdate(r["created_at"])))
        for r in referrals
    ]
    bands = [(key, label) for key, label, _lo, _hi in AGE_BANDS]
    if "under_18" not in ages:
        bands = bands[1:]
    breakdown("age", "Referrals by age at referral", "Age", bands, ages)

    districts = [_outcode(r["patient__postcode"]) or "unknown" for r in referrals]
    known = sorted({d for d in districts if d != "unknown"})
    breakdown(
        "district",
        "Referrals by postcode district",
        "Postcode district",
        [*((d, d) for d in known), ("unknown", "Unknown")],
        districts,
        note="The first half of the person's postcode, self-referrals included.",
    )

    # Monthly trend.
    month_of = [timezone.localdate(r["created_at"]).replace(day=1) for r in referrals]
    month_counts = Counter(month_of)
    months = [
        (m, cell(f"month:{m:%Y-%m}", f"{m:%B %Y}", month_counts.get(m, 0))) for m in period.months()
    ]
    relations.append(Relation(tuple(c.key for _m, c in months), "total"))

    # First contact: the first follow-up that reached the person, or the move to contacted.
    created = {r["pk"]: r["created_at"] for r in referrals}
    first_contact: dict = {}
    for referral_id, at in FollowUp.objects.filter(
        referral_id__in=in_period, reached=True, at__lt=until, created_at__lt=until
    ).values_list("referral_id", "at"):
        first_contact[referral_id] = min(at, first_contact.get(referral_id, at))
    for referral_id, at in ReferralEvent.objects.filter(
        referral_id__in=in_period,
        kind=ReferralEvent.Kind.MOVED,
        to_status=Referral.Status.CONTACTED,
        at__lt=until,
    ).values_list("referral_id", "at"):
        first_contact[referral_id] = min(at, first_contact.get(referral_id, at))
    days = {
        pk: max(0, (timezone.localdate(at) - timezone.localdate(created[pk])).days)
        for pk, at in first_contact.items()
    }
    contacted_ever = cell("contacted_ever", "Referrals contacted", len(days))
    last_day = period.as_at - timedelta(days=CONTACT_WITHIN_DAYS)
    eligible = [pk for pk in ids if timezone.localdate(created[pk]) <= last_day]
    within = sum(1 for pk in eligible if pk in days and days[pk] <= CONTACT_WITHIN_DAYS)
    cell("within_14", f"Contacted within {CONTACT_WITHIN_DAYS} days", within)
    cell("outside_14", f"Not contacted within {CONTACT_WITHIN_DAYS} days", len(eligible) - within)
    cell("eligible_14", f"Referrals made at least {CONTACT_WITHIN_DAYS} days before", len(eligible))
    relations.append(Relation(("within_14", "outside_14"), "eligible_14"))
    # Anyone reading the page can tell which months' referrals are all, or none, of these.
    before = tuple(c.key for m, c in months if _add_months(m, 1) - timedelta(days=1) <= last_day)
    upto = tuple(c.key for m, c in months if m <= last_day)
    relations.append(Relation(before, "eligible_14", "<="))
    relations.append(Relation(upto, "eligible_14", ">="))
    relations.append(Relation(("within_14",), "contacted_ever", "<="))
    # A contacted or engaged referral has been contacted.
    relations.append(Relation(("status:contacted", "status:engaged"), "contacted_ever", "<="))
    tables.append(
        Table(
            "contact",
            f"Contacted within {CONTACT_WITHIN_DAYS} days",
            "Referrals",
            [cells["within_14"], cells["outside_14"]],
            cells["eligible_14"],
            total_label=f"Referrals made at least {CONTACT_WITHIN_DAYS} days before the as-at date",
            note=f"Only referrals whose first {CONTACT_WITHIN_DAYS} days had passed by the "
            "as-at date. Contact means a follow-up where the person was reached, or the "
            "referral marked as contacted.",
        )
    )

    # Attendance at community services (a person counts once per kind of service).
    attended = defaultdict(set)
    for referral_id, kind in Connection.objects.filter(
        referral_id__in=in_period, status=Connection.Status.ATTENDED, updated_at__lt=until
    ).values_list("referral_id", "service__kind"):
        attended[kind].add(referral_id)
    kinds = [(k, label) for k, label in Service.Kind.choices]
    tables.append(
        Table(
            "attendance",
            "Attendance at community services",
            "Kind of service",
            [cell(f"attended:{k}", label, len(attended.get(k, ()))) for k, label in kinds],
            None,
            note="People who attended at least one service of each kind. Someone who attended "
            "services of two kinds counts in both.",
            unit="People who attended",
        )
    )

    # And by the needs the services meet (the directory's taxonomy).
    attended_need = defaultdict(set)
    for referral_id, term_id in Connection.objects.filter(
        referral_id__in=in_period,
        status=Connection.Status.ATTENDED,
        updated_at__lt=until,
        service__attributes__taxonomy_term__in=TaxonomyTerm.objects.needs(),
    ).values_list("referral_id", "service__attributes__taxonomy_term_id"):
        attended_need[term_id].add(referral_id)
    tables.append(
        Table(
            "attendance_need",
            "Attendance at community services by the need they meet",
            "Need the service meets",
            [
                cell(f"attended_need:{pk}", name, len(attended_need.get(pk, ())))
                for pk, name in needs
            ],
            None,
            note="People who attended at least one service meeting each need. A service can "
            "meet several needs, and a person attend several services, so these do not add up.",
            unit="People who attended",
        )
    )

    # Change in each measure: first and latest per referral, up to the as-at date.
    changes = measure_rules.first_and_latest(
        Measure.objects.filter(referral_id__in=in_period, taken_on__lte=period.as_at)
    )
    averages = []
    for _instrument, name in MEASURE_FIELDS:
        diffs = [
            float(fields[name].change)
            for fields in changes.values()
            if name in fields and fields[name].change is not None
        ]
        people = cell(
            f"people:{name}",
            f"People measured twice or more: {measure_rules.FIELD_LABELS[name]}",
            len(diffs),
        )
        averages.append(
            Average(
                name,
                measure_rules.FIELD_LABELS[name],
                people,
                sum(diffs) / len(diffs) if diffs else None,
                lower_is_better=name in measure_rules.LOWER_IS_BETTER,
            )
        )

    suppress(cells, relations)

    completed = [cells[f"outcome:{c}"] for c in ("goals_met", "partly_met")]
    return Report(
        period=period,
        cells=cells,
        relations=relations,
        tables=tables,
        headline={
            "total": total,
            "within": cells["within_14"],
            "eligible": cells["eligible_14"],
            "contacted": contacted_ever,
            "closed": cells["status:closed"],
            "completed": completed,
            "dropout": dropped,
        },
        averages=averages,
        months=months,
        median_days=median(days.values()) if days else None,
        notes={"threshold": t},
    )


# --- CSV --------------------------------------------------------------------------------------
def _text(value: str) -> str:
    """A name a spreadsheet must not run as a formula (a practice called "=HYPERLINK(...)")."""
    if re.fullmatch(r"[+-]?\d+(\.\d+)?", value):  # a number, like a change of -1.5
        return value
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class _Writer:
    """csv.writer whose text is made formula-safe (numbers are left as numbers)."""

    def __init__(self, out):
        self.writer = csv.writer(out)

    def writerow(self, row):
        self.writer.writerow([_text(str(value)) for value in row])


def csv_text(report: Report) -> str:
    """The same cells as the page, the same suppression, with a header saying what it is."""
    out = io.StringIO()
    writer = _Writer(out)
    p = report.period
    writer.writerow(["Flourish referral figures"])
    writer.writerow(["Period", f"{p.start:%Y-%m-%d}", f"{p.end:%Y-%m-%d}"])
    writer.writerow(["As at", f"{p.as_at:%Y-%m-%d}"])
    writer.writerow(["Suppression", suppression_rule()])
    writer.writerow([])
    writer.writerow(["Section", "Group", "Count"])
    writer.writerow(["Headline", report.cells["total"].label, report.cells["total"].display])
    writer.writerow(
        ["Headline", report.cells["contacted_ever"].label, report.cells["contacted_ever"].display]
    )
    writer.writerow(
        [
            "Headline",
            "Median days from referral to first contact",
            f"{report.median_days:g}" if report.median_shown else "not shown",
        ]
    )
    for table in report.tables:
        for row in table.rows:
            writer.writerow([table.title, row.label, row.display])
        if table.total is not None:
            writer.writerow([table.title, table.total_label, table.total.display])
    for month, month_cell in report.months:
        writer.writerow(["Referrals in per month", f"{month:%Y-%m}", month_cell.display])
    writer.writerow([])
    writer.writerow(["Measure", "Average change", "People"])
    for average in report.averages:
        writer.writerow([average.label, average.display, average.people.display])
    return out.getvalue()


# --- The monthly trend chart (drawn on the server, inline SVG) -------------------------------
def chart(report: Report) -> dict:
    """Bar geometry for the referrals-in-per-month chart. A month whose count is hidden is
    drawn as a small dashed box on the axis (the same for every hidden month), never as a bar
    of its real value."""
    t = threshold()
    width, height = 480, 280
    left, right, top, bottom = 48, 8, 12, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    shown = [c.value for _m, c in report.months if not c.suppressed]
    top_value = max([t, *shown])
    step = next(
        s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 10**9) if top_value / s <= 5
    )
    axis_max = -(-top_value // step) * step
    n = max(len(report.months), 1)
    slot = plot_w / n
    bar_w = max(2.0, slot * 0.7)
    label_every = 1 if n <= 12 else (2 if n <= 24 else 3 if n <= 36 else 6)

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / axis_max

    bars = []
    for i, (month, cell) in enumerate(report.months):
        x = left + i * slot + (slot - bar_w) / 2
        bar = {
            "x": round(x, 1),
            "width": round(bar_w, 1),
            "cell": cell,
            "month": month,
            "label_x": round(x + bar_w / 2, 1),
            "show_label": i % label_every == 0,
        }
        if cell.state == SHOWN:
            bar.update(
                kind="shown",
                y=round(y(cell.value), 1),
                height=round(plot_h - (y(cell.value) - top), 1),
            )
        else:  # one marker for every hidden month, never a bar of its value
            bar.update(kind="hidden", y=round(y(0) - 12, 1), height=12)
        bars.append(bar)
    ticks = [{"value": v, "y": round(y(v), 1)} for v in range(0, axis_max + 1, step)]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "baseline": round(y(0), 1),
        "bars": bars,
        "ticks": ticks,
        "label_y": round(y(0) + 20, 1),
        "axis_label_y": height - 8,
        "tick_x": left - 6,
        "mark_y": round(y(0) - 4, 1),
        "year_y": round(y(0) + 34, 1),
        "center_x": round(left + plot_w / 2, 1),
        "middle_y": round(top + plot_h / 2, 1),
        "any_hidden": any(b["kind"] == "hidden" for b in bars),
    }
