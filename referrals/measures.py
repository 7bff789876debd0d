"""Wellbeing measures: the one place for what each measure field is called, how SWEMWBS totals
convert to metric scores, and each referral's first, latest and change per field.

Nothing here touches the database: pass measures you have already read (``Measure`` rows, or
anything with the same attributes), so the referral page, the reports and the message back all
compute the same figures the same way.

The API in short::

    changes = first_and_latest(Measure.objects.filter(referral__in=...))
    changes[referral.pk]["swemwbs_metric"]  # FieldChange(first, latest, change, n, first_on, ...)

    swemwbs_metric(21)             # Decimal("19.25"), from the published conversion table
    FIELD_LABELS["anxiety"]         # "Anxiety yesterday"
    ONS4_QUESTIONS["happiness"]     # the ONS question, word for word (Open Government Licence)
    LOWER_IS_BETTER                 # {"anxiety"}: for every other field a rise is the improvement

Licensing. The SWEMWBS and PAM questions are licensed: their wording is never stored or shown
(items are "SWEMWBS item 1" .. "item 7"). The ONS4 questions are Crown copyright, reused under
the Open Government Licence v3.0; any page that shows them shows ``ONS4_ATTRIBUTION`` too.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

# --- The instruments' fields -----------------------------------------------------------------
ONS4 = "ons4"
SWEMWBS = "swemwbs"
PAM = "pam"

ONS4_FIELDS = ("life_satisfaction", "worthwhile", "happiness", "anxiety")
SWEMWBS_ITEMS = tuple(f"swemwbs_{n}" for n in range(1, 8))
PAM_FIELDS = ("pam_score", "pam_level")

# The figures summarised per instrument, in the order pages show them. ``swemwbs_metric`` is
# derived from ``swemwbs_total`` (it is not stored).
SUMMARY_FIELDS = {
    ONS4: ONS4_FIELDS,
    SWEMWBS: ("swemwbs_total", "swemwbs_metric"),
    PAM: PAM_FIELDS,
}
INSTRUMENT_OF = {field: instrument for instrument, fs in SUMMARY_FIELDS.items() for field in fs}

# ONS personal well-being questions, word for word, as in the GSS harmonised standard for
# personal well-being (https://gss.civilservice.gov.uk/policy-store/personal-well-being/) and
# the ONS Annual Population Survey. Crown copyright, Open Government Licence v3.0.
ONS4_QUESTIONS = {
    "life_satisfaction": "Overall, how satisfied are you with your life nowadays?",
    "worthwhile": "Overall, to what extent do you feel that the things you do in your life "
    "are worthwhile?",
    "happiness": "Overall, how happy did you feel yesterday?",
    "anxiety": "Overall, how anxious did you feel yesterday?",
}
ONS4_SCALE = "0 is not at all, 10 is completely"
ONS4_ATTRIBUTION = (
    "The ONS4 personal well-being questions are from the Office for National Statistics. "
    "Crown copyright, reused under the Open Government Licence v3.0."
)
ONS4_LICENCE_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"

# Short names, for tables, summaries and error messages. Never the licensed wording.
FIELD_LABELS = {
    "life_satisfaction": "Life satisfaction",
    "worthwhile": "Things done are worthwhile",
    "happiness": "Happiness yesterday",
    "anxiety": "Anxiety yesterday",
    **{item: f"SWEMWBS item {n}" for n, item in enumerate(SWEMWBS_ITEMS, start=1)},
    "swemwbs_total": "SWEMWBS total",
    "swemwbs_metric": "SWEMWBS metric score",
    "pam_score": "PAM score",
    "pam_level": "PAM level",
}
INSTRUMENT_LABELS = {
    ONS4: "ONS4 personal wellbeing",
    SWEMWBS: "SWEMWBS",
    PAM: "Patient Activation Measure (PAM)",
}


def field_noun(field: str) -> str:
    """How a message names a field: "the answer to 'Overall, how happy did you feel
    yesterday?'", "SWEMWBS item 3", "the PAM score"."""
    if field in ONS4_QUESTIONS:
        return f"the answer to '{ONS4_QUESTIONS[field]}'"
    label = FIELD_LABELS[field]
    return label if label.startswith("SWEMWBS item") else f"the {label}"


# For anxiety a fall is the improvement; for every other field a rise is.
LOWER_IS_BETTER = frozenset({"anxiety"})

# --- SWEMWBS raw-to-metric conversion --------------------------------------------------------
# The seven items (each 1-5) are summed to a raw total (7-35), which is then converted to a
# metric score on an interval scale by the Rasch conversion table of Stewart-Brown S, Tennant A,
# Tennant R, Platt S, Parkinson J, Weich S. "Internal construct validity of the Warwick-Edinburgh
# Mental Well-being Scale (WEMWBS): a Rasch analysis using data from the Scottish Health
# Education Population Survey." Health and Quality of Life Outcomes 2009; 7:15
# (doi:10.1186/1477-7525-7-15), as published by Warwick Medical School ("Guidance on scoring",
# https://warwick.ac.uk/fac/med/research/platform/wemwbs/researchers/guidance/). Raw score ->
# metric score, copied from that table (do not edit: tests check it against the publication).
SWEMWBS_METRIC = {
    7: Decimal("7.00"),
    8: Decimal("9.51"),
    9: Decimal("11.25"),
    10: Decimal("12.40"),
    11: Decimal("13.33"),
    12: Decimal("14.08"),
    13: Decimal("14.75"),
    14: Decimal("15.32"),
    15: Decimal("15.84"),
    16: Decimal("16.36"),
    17: Decimal("16.88"),
    18: Decimal("17.43"),
    19: Decimal("17.98"),
    20: Decimal("18.59"),
    21: Decimal("19.25"),
    22: Decimal("19.98"),
    23: Decimal("20.73"),
    24: Decimal("21.54"),
    25: Decimal("22.35"),
    26: Decimal("23.21"),
    27: Decimal("24.11"),
    28: Decimal("25.03"),
    29: Decimal("26.02"),
    30: Decimal("27.03"),
    31: Decimal("28.13"),
    32: Decimal("29.31"),
    33: Decimal("30.70"),
    34: Decimal("32.55"),
    35: Decimal("35.00"),
}


def swemwbs_total(items: Iterable[int | None]) -> int | None:
    """The raw total of the seven item scores; None unless all seven are given."""
    items = list(items)
    if len(items) != len(SWEMWBS_ITEMS) or any(item is None for item in items):
        return None
    return sum(items)


def swemwbs_metric(total: int | None) -> Decimal | None:
    """The metric score for a raw total (7-35) from the published table; None for no total or
    one outside the table."""
    return SWEMWBS_METRIC.get(total) if total is not None else None


# --- First, latest and change ----------------------------------------------------------------
@dataclass(frozen=True)
class FieldChange:
    """One field of one referral's measures over time.

    ``first`` and ``latest`` are the values taken on ``first_on`` and ``latest_on``; ``n`` is how
    many times the field was taken; ``change`` is ``latest - first`` when it was taken at least
    twice, else None. Values are ints, except ``pam_score`` and ``swemwbs_metric`` (Decimal)."""

    field: str
    first: int | Decimal
    latest: int | Decimal
    change: int | Decimal | None
    n: int
    first_on: date
    latest_on: date

    @property
    def label(self) -> str:
        return FIELD_LABELS[self.field]

    @property
    def lower_is_better(self) -> bool:
        return self.field in LOWER_IS_BETTER

    @property
    def improved(self) -> bool | None:
        """True if better, False if worse, None when unchanged or taken once."""
        if not self.change:
            return None
        return (self.change < 0) if self.lower_is_better else (self.change > 0)


def field_value(measure, field: str):
    """One summary field's value for a measure (``swemwbs_metric`` derived from the total)."""
    if field == "swemwbs_metric":
        return swemwbs_metric(getattr(measure, "swemwbs_total", None))
    return getattr(measure, field, None)


def first_and_latest(measures: Iterable) -> dict:
    """``{referral_id: {field: FieldChange}}`` for every summary field that has a value.

    ``measures`` are ``Measure`` rows (or alike: ``referral_id``, ``instrument``, ``taken_on``,
    ``pk`` and the fields) in any order; they are ordered here by date taken, then by id (the
    later entry of one day is the latest). Fields of another instrument, and values left empty
    (an old SWEMWBS row has a total but no items), are skipped."""
    ordered = sorted(measures, key=lambda m: (m.taken_on, m.pk or 0))
    taken: dict = {}
    for measure in ordered:
        for field in SUMMARY_FIELDS.get(measure.instrument, ()):
            value = field_value(measure, field)
            if value is None:
                continue
            taken.setdefault(measure.referral_id, {}).setdefault(field, []).append(
                (measure.taken_on, value)
            )
    result: dict = {}
    for referral_id, fields in taken.items():
        result[referral_id] = {}
        for field in _in_order(fields):
            values = fields[field]
            (first_on, first), (latest_on, latest) = values[0], values[-1]
            result[referral_id][field] = FieldChange(
                field=field,
                first=first,
                latest=latest,
                change=latest - first if len(values) > 1 else None,
                n=len(values),
                first_on=first_on,
                latest_on=latest_on,
            )
    return result


def _in_order(fields) -> list[str]:
    order = [field for fs in SUMMARY_FIELDS.values() for field in fs]
    return sorted(fields, key=order.index)
