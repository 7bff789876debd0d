"""Small-number suppression: no hidden count can be worked out from what the page and the CSV
show.

The attacker here is written independently of ``referrals.reports``: it reads the CSV (and the
page), knows what the page says about how the figures fit together (rows add up to totals,
every breakdown of the referrals adds up to the headline, outcomes to the closed referrals,
...) and the published rule (0 is shown; a hidden count is at least 1; a hidden count that
shares no sum with another hidden count can only be one under the threshold). It then
enumerates every assignment of the hidden counts consistent with all of that, and each hidden
count must have at least two possible values.

For each scenario the same data under naive suppression (hide only the counts under 5) is shown
to leak, so each test proves something."""

import csv
import io
import random
import re
from datetime import date
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from referrals import reports
from referrals.reports import Cell, Period, Relation
from tests.referrals.factories import make_referral, patient_data
from tests.referrals.test_reports import (
    PERIOD,
    _made_on,
    move,
    referral_on,
    self_referral_on,
)

T = 5  # SMALL_NUMBER_THRESHOLD's default, which these tests run with
HIDDEN = "hidden"
HEADLINE = ("Headline", "Referrals in")


# --- The attacker -----------------------------------------------------------------------------
def figures_from_csv(text: str) -> dict[tuple[str, str], str]:
    rows = list(csv.reader(io.StringIO(text)))
    start = rows.index(["Section", "Group", "Count"]) + 1
    figures = {}
    for row in rows[start:]:
        if not row:
            break
        if not row[1].startswith("Median"):  # a median, not a count
            figures[(row[0], row[1])] = row[2]
    return figures


def section(figures, prefix: str) -> str:
    return next(s for s, _label in figures if s.startswith(prefix))


def rows_of(figures, name: str, *, without=()) -> list[tuple[str, str]]:
    return [(s, label) for s, label in figures if s == name and label not in without]


def attacker_relations(figures) -> tuple[dict, list]:
    """(aliases, relations) from what the page says. Aliases merge figures that are the same
    count shown twice (each table's total row is the headline, ...). Relations are
    (parts, total, op): sum(parts) op total."""
    status = section(figures, "Where the referrals stood")
    aliases = {}
    relations = []
    for name in (
        status,
        "Referrals by practice",
        "Referrals by team",
        "Referrals by age at referral",
        "Referrals by postcode district",
        "Referrals in per month",
    ):
        if (name, "Total") in figures:
            aliases[(name, "Total")] = HEADLINE
        parts = rows_of(figures, name, without=("Total",))
        relations.append((parts, HEADLINE, "="))
    aliases[("Outcomes of closed referrals", "Closed")] = (status, "Closed")
    relations.append(
        (
            rows_of(figures, "Outcomes of closed referrals", without=("Closed",)),
            (status, "Closed"),
            "=",
        )
    )
    aliases[("Why referrals were declined", "Declined")] = (status, "Declined")
    relations.append(
        (
            rows_of(figures, "Why referrals were declined", without=("Declined",)),
            (status, "Declined"),
            "=",
        )
    )
    drop = rows_of(figures, "Drop-out", without=("Dropped out",))
    for _s, label in drop:
        aliases[("Drop-out", label)] = ("Outcomes of closed referrals", label)
    relations.append(
        (
            [("Outcomes of closed referrals", label) for _s, label in drop],
            ("Drop-out", "Dropped out"),
            "=",
        )
    )
    aliases[("Referrals by need", "Referrals in")] = HEADLINE
    needs = rows_of(figures, "Referrals by need", without=("Referrals in",))
    relations.append((needs, HEADLINE, ">="))  # a referral has at least one need, or none
    relations.append(
        (
            [("Referrals by need", "No need recorded")],
            ("Referrals by practice", "Self-referral"),
            "<=",
        )
    )
    contact = section(figures, "Contacted within")
    eligible = next(k for k in figures if k[0] == contact and k[1].startswith("Referrals made"))
    within = next(k for k in figures if k[0] == contact and k[1].startswith("Contacted"))
    outside = next(k for k in figures if k[0] == contact and k[1].startswith("Not contacted"))
    relations.append(([within, outside], eligible, "="))
    ever = ("Headline", "Referrals contacted")
    relations.append(([within], ever, "<="))
    relations.append(([(status, "Contacted"), (status, "Engaged")], ever, "<="))
    return aliases, relations


def possible_values(figures, aliases, relations, threshold=T, naive=False) -> dict:
    """Every value each hidden figure could take, by exhaustive search."""
    canon = {key: aliases.get(key, key) for key in figures}
    for key, target in canon.items():  # a figure shown twice is shown the same both times
        assert figures[key] == figures[target], (key, target)
    relations = [
        ([canon.get(p, p) for p in parts], canon.get(total, total), op)
        for parts, total, op in relations
    ]
    known = {canon[k]: int(v) for k, v in figures.items() if v != HIDDEN}
    hidden = sorted({canon[k] for k, v in figures.items() if v == HIDDEN})
    upper = known.get(HEADLINE, 10**4)
    domains = {}
    for key in hidden:
        partnered = any(
            key in (*parts, total) and any(o != key and o in hidden for o in (*parts, total))
            for parts, total, _op in relations
        )
        domains[key] = range(1, threshold) if naive or not partnered else range(1, upper + 1)
    # Every count is at most what the "=" sums leave (counts are never negative).
    for parts, total, op in relations:
        if op == "=" and total in known:
            rest = known[total] - sum(known.get(p, 0) for p in parts)
            for p in parts:
                if p in domains:
                    others = sum(1 for q in parts if q in domains and q != p)
                    domains[p] = range(domains[p].start, min(domains[p].stop, rest - others + 1))
    seen = {key: set() for key in hidden}
    # Hidden figures tied by no relation (through other hidden ones) are searched separately.
    group = {key: key for key in hidden}

    def root(key):
        while group[key] != key:
            key = group[key]
        return key

    for parts, total, _op in relations:
        members = [m for m in (*parts, total) if m in group]
        for other in members[1:]:
            group[root(other)] = root(members[0])
    for component in {root(key) for key in hidden}:
        keys = [key for key in hidden if root(key) == component]
        linked = [r for r in relations if any(m in keys for m in (*r[0], r[1]))]
        _search(keys, linked, domains, dict(known), seen)
    return seen


def _search(keys, relations, domains, assignment, seen) -> None:
    """Every assignment of ``keys`` within their domains satisfying ``relations``, recorded in
    ``seen`` (a branch is cut only when a sum can no longer be met)."""
    order = sorted(keys, key=lambda k: len(domains[k]))

    def feasible(final: bool) -> bool:
        for parts, total, op in relations:
            members = [*parts, total]
            if final or all(m in assignment for m in members):
                s = sum(assignment[p] for p in parts) - assignment[total]
                if (op == "=" and s != 0) or (op == ">=" and s < 0) or (op == "<=" and s > 0):
                    return False
            elif op == "=":  # prune: can the unassigned parts still make it?
                lo = hi = -assignment.get(total, 0)
                if total not in assignment:
                    lo, hi = -max(domains[total]), -min(domains[total])
                for p in parts:
                    if p in assignment:
                        lo += assignment[p]
                        hi += assignment[p]
                    else:
                        lo += min(domains[p])
                        hi += max(domains[p])
                if not lo <= 0 <= hi:
                    return False
        return True

    def search(i: int) -> None:
        if i == len(order):
            if feasible(True):
                for key in order:
                    seen[key].add(assignment[key])
            return
        key = order[i]
        for value in domains[key]:
            assignment[key] = value
            if feasible(False):
                search(i + 1)
        del assignment[key]

    search(0)


def assert_nothing_can_be_worked_out(figures, truth=None):
    aliases, relations = attacker_relations(figures)
    possible = possible_values(figures, aliases, relations)
    assert possible, "nothing hidden: the scenario proves nothing"
    for key, values in possible.items():
        assert len(values) >= 2, f"{key} can be worked out: it must be {values}"
        if truth is not None and key in truth:
            assert truth[key] in values, f"{key}: the attacker's model excludes the truth"
    return possible


def assert_naive_suppression_leaks(report):
    """The same report with only the counts under the threshold hidden: something leaks."""
    naive = {}
    for key, value in figures_from_csv(reports.csv_text(report)).items():
        naive[key] = value
    cells_by_display = _truth(report)
    for key in naive:
        if key in cells_by_display:
            value = cells_by_display[key]
            naive[key] = HIDDEN if 0 < value < T else str(value)
    aliases, relations = attacker_relations(naive)
    possible = possible_values(naive, aliases, relations, naive=True)
    leaked = [key for key, values in possible.items() if len(values) == 1]
    assert leaked, "naive suppression would not leak here: the scenario proves nothing"
    return leaked


def _truth(report) -> dict:
    """(section, label) -> true value, for checking the attacker's model against the truth."""
    truth = {HEADLINE: report.cells["total"].value}
    truth[("Headline", "Referrals contacted")] = report.cells["contacted_ever"].value
    for table in report.tables:
        for row in table.rows:
            truth[(table.title, row.label)] = row.value
        if table.total is not None:
            truth[(table.title, table.total_label)] = table.total.value
    for month, cell in report.months:
        truth[("Referrals in per month", f"{month:%Y-%m}")] = cell.value
    return truth


# --- The page, read like the CSV ---------------------------------------------------------------
class CellReader(HTMLParser):
    """data-cell="key" -> the text shown in it (without the phone-only column heading)."""

    def __init__(self):
        super().__init__()
        self.cells: dict[str, set[str]] = {}
        self.current = None
        self.skip = 0
        self.text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-cell" in attrs:
            self.current, self.text = attrs["data-cell"], []
        elif self.current and "table__heading" in (attrs.get("class") or ""):
            self.skip += 1

    def handle_endtag(self, tag):
        if self.current and tag == "span" and self.skip:
            self.skip -= 1
        elif self.current and tag in ("td", "strong", "dd") and not self.skip:
            text = " ".join("".join(self.text).split())
            if text:
                self.cells.setdefault(self.current, set()).add(text)
            self.current = None

    def handle_data(self, data):
        if self.current and not self.skip:
            self.text.append(data)


def page_cells(client, period: Period) -> dict[str, str]:
    html = client.get(reverse("referrals-report") + "?" + period.query()).content.decode()
    reader = CellReader()
    reader.feed(html)
    for key, texts in reader.cells.items():
        assert len(texts) == 1, f"{key} is shown two ways on one page: {texts}"
    return {key: texts.pop() for key, texts in reader.cells.items()}


def csv_figures(client, period: Period) -> dict:
    response = client.get(reverse("referrals-report-csv") + "?" + period.query())
    assert response.status_code == 200
    return figures_from_csv(response.content.decode())


def assert_page_and_csv_agree(client, report):
    """The page hides exactly the cells the CSV hides (and shows the same numbers)."""
    page = page_cells(client, report.period)
    figures = csv_figures(client, report.period)
    by_key = {}
    for table in report.tables:
        for row in table.rows:
            by_key[row.key] = figures[(table.title, row.label)]
        if table.total is not None:
            by_key[table.total.key] = figures[(table.title, table.total_label)]
    for month, cell in report.months:
        by_key[cell.key] = figures[("Referrals in per month", f"{month:%Y-%m}")]
    assert by_key["total"] == figures[HEADLINE]
    for key, shown in by_key.items():
        if key.startswith("people:"):
            continue
        assert key in page, f"{key} is in the CSV but not on the page"
        assert page[key] == shown, f"{key}: page {page[key]!r}, CSV {shown!r}"
    hidden_on_page = {k for k, v in page.items() if v == HIDDEN and not k.startswith("people:")}
    hidden_in_csv = {k for k, v in by_key.items() if v == HIDDEN}
    assert hidden_on_page == hidden_in_csv
    return figures


# --- Scenarios ---------------------------------------------------------------------------------
@pytest.fixture
def manager(client, world):
    client.force_login(world.manager)
    return client


class IssueScenarioTests:
    @pytest.mark.parametrize(("declined", "closed"), [(3, 5), (4, 4)])
    def test_38_minus_the_shown_statuses_no_longer_reveals_anything(
        self, manager, world, declined, closed
    ):
        """The issue's page: 38 referrals, where 38 minus the shown statuses gave what was
        hidden: a lone hidden 3 (3 declined beside 5 closed), or 4 + 4 = 8 (each must be 4)."""
        trainer = world.trainer
        made = [referral_on(world, date(2026, 2, 10)) for _ in range(20)]
        made += [referral_on(world, date(2026, 3, 10)) for _ in range(18)]
        for r in made[20:30]:
            move(r, "accepted", date(2026, 3, 11), by=trainer)
        for r in made[30 : 30 + declined]:
            move(r, "declined", date(2026, 3, 11), by=trainer, reason="Lives out of area")
        for r in made[30 + declined :]:
            move(r, "accepted", date(2026, 3, 11), by=trainer)
            move(r, "closed", date(2026, 4, 1), by=trainer, outcome="goals_met")
        report = reports.build(PERIOD)
        assert report.cells["total"].display == "38"
        status = {c.label: c for c in report.table("status").rows}
        assert (status["Declined"].value, status["Closed"].value) == (declined, closed)
        leaked = assert_naive_suppression_leaks(report)
        assert any(label == "Declined" for _s, label in leaked)
        figures = assert_page_and_csv_agree(manager, report)
        assert_nothing_can_be_worked_out(figures, _truth(report))
        assert status["Declined"].display == HIDDEN and status["Closed"].display == HIDDEN
        assert status["Accepted"].display == "10" and status["New"].display == "20"
        if closed == 5:
            # The 5 closed were hidden to protect the 3; the outcomes table would have given
            # them back (5 goals met = closed), so that is hidden too.
            assert report.cells["outcome:goals_met"].display == HIDDEN

    def test_a_small_count_beside_a_five_is_not_given_away(self, manager, world):
        """1 + 5 = 6: with "fewer than 5" beside a "hidden" 5, the 1 could be worked out (the
        hidden one would have to be 5 or more). Every hidden count reads the same."""
        for _ in range(5):
            referral_on(world, date(2026, 2, 10))
        r = make_referral(
            world.other_clinician, world.team, patient=patient_data(postcode="EC1A 1BB")
        )
        _made_on(r, date(2026, 2, 11))
        report = reports.build(PERIOD)
        practice = {c.label: c.display for c in report.table("practice").rows}
        assert practice == {
            "Barts Surgery": HIDDEN,
            "Hyde Health Centre": HIDDEN,
            "Self-referral": "0",
        }
        assert report.cells["total"].display == "6"
        assert_naive_suppression_leaks(report)
        figures = assert_page_and_csv_agree(manager, report)
        assert_nothing_can_be_worked_out(figures, _truth(report))

    def test_needs_that_add_up_to_at_least_the_total_give_nothing_away(self, manager, world):
        """30 referrals with one need each: 20 + 6 + 4. Needs do not add up to the total (a
        referral can have several), but they add up to at least it: 30 - 26 leaves the hidden
        4 no room but 4."""
        for _ in range(20):
            referral_on(world, date(2026, 2, 10), needs=("loneliness",))
        for _ in range(6):
            referral_on(world, date(2026, 3, 10), needs=("money-debt",))
        for _ in range(4):
            referral_on(world, date(2026, 4, 10), needs=("housing",))
        report = reports.build(PERIOD)
        needs = {c.label: c.display for c in report.table("need").rows}
        assert needs["Housing"] == HIDDEN and needs["Money and debt"] == HIDDEN
        assert needs["Loneliness and isolation"] == "20"
        leaked = assert_naive_suppression_leaks(report)
        assert ("Referrals by need", "Housing") in leaked
        figures = assert_page_and_csv_agree(manager, report)
        assert_nothing_can_be_worked_out(figures, _truth(report))

    def test_outcomes_drop_out_and_declines_across_tables(self, manager, world):
        """Closed 6 (goals met 5, moved away 1), declined 7 (6 automatically, 1 by the team),
        self-referrals among them, ages and districts with small groups."""
        trainer = world.trainer
        for age in (30, 30, 30, 30, 30, 70):
            r = referral_on(world, date(2026, 2, 10), age=age)
            move(r, "accepted", date(2026, 2, 11), by=trainer)
        closed = list(reports.Referral.objects.filter(status="accepted"))
        for r in closed[:5]:
            move(r, "closed", date(2026, 3, 1), by=trainer, outcome="goals_met")
        move(closed[5], "closed", date(2026, 3, 1), by=trainer, outcome="moved_away")
        for _ in range(6):
            r = self_referral_on(world, date(2026, 4, 5), team=world.team, postcode="SK14 1PW")
            move(r, "declined-by-system", date(2026, 4, 20), by=trainer)
        r = referral_on(world, date(2026, 5, 5), age=50)
        move(r, "declined", date(2026, 5, 6), by=trainer, reason="Already seen by another team")
        for _ in range(8):
            referral_on(world, date(2026, 6, 1), age=45)
        report = reports.build(PERIOD)
        leaked = assert_naive_suppression_leaks(report)
        assert leaked
        figures = assert_page_and_csv_agree(manager, report)
        assert_nothing_can_be_worked_out(figures, _truth(report))
        # The outcome of 1 is hidden, so is the drop-out it makes, and the 5 beside it.
        outcome = {c.label: c.display for c in report.table("outcome").rows}
        assert outcome["Moved away"] == HIDDEN and outcome["Goals met"] == HIDDEN
        assert report.cells["dropout"].display == HIDDEN

    def test_as_at_a_later_date_is_protected_too(self, manager, world):
        """The same data as at another date is another set of figures, checked the same way."""
        trainer = world.trainer
        made = [referral_on(world, date(2026, 2, 10)) for _ in range(12)]
        for r in made[:9]:
            move(r, "accepted", date(2026, 2, 11), by=trainer)
        for r in made[:3]:
            move(r, "closed", date(2026, 10, 1), by=trainer, outcome="person_declined")
        for as_at in (date(2026, 9, 30), date(2026, 10, 2)):
            report = reports.build(Period(PERIOD.start, PERIOD.end, as_at))
            figures = assert_page_and_csv_agree(manager, report)
            assert_nothing_can_be_worked_out(figures, _truth(report))


class EngineTests:
    """The rule itself on made-up tables (no database): many random cases, each checked by the
    independent enumeration above."""

    def test_random_tables_sharing_a_total(self):
        rng = random.Random(9)
        for case in range(400):
            n_tables = rng.randint(1, 3)
            total = rng.randint(5, 30)
            cells = {"total": Cell("total", "Total", total)}
            relations = []
            figures_relations = []
            for t_index in range(n_tables):
                n_rows = rng.randint(2, 4)
                values = _split(rng, total, n_rows)
                keys = []
                for i, value in enumerate(values):
                    key = f"t{t_index}:{i}"
                    cells[key] = Cell(key, key, value)
                    keys.append(key)
                relations.append(Relation(tuple(keys), "total"))
                figures_relations.append(([("T", k) for k in keys], ("T", "total"), "="))
            reports.suppress(cells, relations)
            figures = {("T", k): c.display for k, c in cells.items()}
            if not any(c.suppressed for c in cells.values()):
                continue
            possible = possible_values(figures, {}, [(p, t, op) for p, t, op in figures_relations])
            for key, values in possible.items():
                assert len(values) >= 2, (case, key, values, {k: c.value for k, c in cells.items()})
                assert cells[key[1]].value in values

    def test_a_shown_zero_is_a_constant_not_a_hiding_place(self):
        cells = {
            "total": Cell("total", "Total", 9),
            "a": Cell("a", "a", 0),
            "b": Cell("b", "b", 2),
            "c": Cell("c", "c", 7),
        }
        reports.suppress(cells, [Relation(("a", "b", "c"), "total")])
        assert cells["a"].display == "0"  # 0 is shown
        assert cells["b"].display == HIDDEN and cells["c"].display == HIDDEN
        assert cells["total"].display == "9"

    def test_two_small_counts_that_add_up_to_two_are_protected(self):
        """1 + 1 = 2 of a shown 12: both hidden is not enough (each must be 1)."""
        cells = {
            "total": Cell("total", "Total", 12),
            "a": Cell("a", "a", 1),
            "b": Cell("b", "b", 1),
            "c": Cell("c", "c", 10),
        }
        reports.suppress(cells, [Relation(("a", "b", "c"), "total")])
        assert cells["c"].display == HIDDEN
        assert reports.worked_out(cells, [Relation(("a", "b", "c"), "total")], 12) == []


def _split(rng, total: int, n: int) -> list[int]:
    """``n`` counts adding up to ``total``, with plenty of small ones and zeros."""
    values = []
    left = total
    for _ in range(n - 1):
        value = rng.choice([0, 1, 2, 3, 4, 5, 6, rng.randint(0, left)])
        value = min(value, left)
        values.append(value)
        left -= value
    values.append(left)
    rng.shuffle(values)
    return values


def test_the_rule_is_stated_on_the_page_and_in_the_csv(manager, world):
    html = manager.get(reverse("referrals-report")).content.decode()
    rule = reports.suppression_rule()
    assert re.sub(r"\s+", " ", rule.replace('"', "&quot;")) in html
    text = manager.get(reverse("referrals-report-csv")).content.decode()
    assert ["Suppression", rule] in list(csv.reader(io.StringIO(text)))
