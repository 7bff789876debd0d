"""Figures for managers and commissioners: counts and changes, never a person.

Any count below SMALL_NUMBER_THRESHOLD (5 by default) is shown as "fewer than 5", and an average
over fewer people than that is not shown at all, so nobody can be picked out.
"""

from dataclasses import dataclass
from statistics import median

from django.conf import settings
from django.db.models import Count, Min

from directory.models import TaxonomyTerm
from referrals.models import Measure, Referral, ReferralEvent, Team


@dataclass(frozen=True)
class Figure:
    label: str
    count: int

    @property
    def suppressed(self) -> bool:
        return self.count < settings.SMALL_NUMBER_THRESHOLD

    @property
    def display(self) -> str:
        if self.suppressed:
            return f"fewer than {settings.SMALL_NUMBER_THRESHOLD}"
        return str(self.count)


@dataclass(frozen=True)
class Average:
    label: str
    people: int
    value: float | None
    fmt: str = "{:+.1f}"

    @property
    def display(self) -> str:
        if self.people < settings.SMALL_NUMBER_THRESHOLD or self.value is None:
            return f"not shown (fewer than {settings.SMALL_NUMBER_THRESHOLD} people)"
        return self.fmt.format(self.value)


def _counts(queryset, field: str, labels: dict) -> list[Figure]:
    found = dict(queryset.values_list(field).annotate(n=Count("pk", distinct=True)).order_by())
    return [Figure(label, found.get(key, 0)) for key, label in labels.items()]


def _average_change(instrument: str, field: str, label: str) -> Average:
    changes = []
    by_referral: dict = {}
    for referral_id, value in (
        Measure.objects.filter(instrument=instrument)
        .order_by("referral_id", "taken_on", "pk")
        .values_list("referral_id", field)
    ):
        by_referral.setdefault(referral_id, []).append(value)
    for values in by_referral.values():
        if len(values) > 1:
            changes.append(values[-1] - values[0])
    value = sum(changes) / len(changes) if changes else None
    return Average(label, len(changes), value)


def build() -> dict:
    referrals = Referral.objects.all()
    accepted = (
        ReferralEvent.objects.filter(kind=ReferralEvent.Kind.MOVED, to_status="accepted")
        .values("referral_id")
        .annotate(at=Min("at"))
    )
    created = dict(referrals.values_list("pk", "created_at"))
    waits = [(row["at"] - created[row["referral_id"]]).days for row in accepted]
    wait = Average(
        "Median days from referral to acceptance",
        len(waits),
        median(waits) if waits else None,
        fmt="{:.0f} days",
    )
    return {
        "total": Figure("Referrals", referrals.count()),
        "by_status": _counts(referrals, "status", dict(Referral.Status.choices)),
        "by_outcome": _counts(
            referrals.filter(status=Referral.Status.CLOSED),
            "outcome",
            dict(Referral.Outcome.choices),
        ),
        "by_team": _counts(referrals, "team", {t.pk: t.name for t in Team.objects.all()}),
        "by_need": _counts(
            referrals, "needs", {t.pk: t.name for t in TaxonomyTerm.objects.needs()}
        ),
        "wait": wait,
        "changes": [
            _average_change("swemwbs", "swemwbs_total", "SWEMWBS total (7-35)"),
            _average_change("ons4", "life_satisfaction", "ONS4 life satisfaction (0-10)"),
            _average_change("ons4", "anxiety", "ONS4 anxiety (0-10, a fall is better)"),
            _average_change("pam", "pam_score", "PAM score (0-100)"),
        ],
    }
