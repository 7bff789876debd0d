"""The report's period: from, to and "as at", as day/month/year boxes (or ISO dates in a link:
``?from=2025-01-01&to=2025-12-31&as_at=2026-01-31``, as the CSV download uses)."""

from datetime import date

from django import forms
from django.utils import timezone

from config.forms import DateInputField
from referrals.forms.base import ErrorSummaryMixin
from referrals.reports import Period

# Form field -> the ISO query parameter that may stand for its three boxes.
ISO_PARAMETERS = {"start": "from", "end": "to", "as_at": "as_at"}
PARTS = ("day", "month", "year")
LONGEST_MONTHS = 60


class ReportPeriodForm(ErrorSummaryMixin, forms.Form):
    nouns = {"start": "the start date", "end": "the end date", "as_at": "the as-at date"}

    start = DateInputField(label="From", noun="the start date", help_text="For example, 1 4 2025")
    end = DateInputField(label="To", noun="the end date", help_text="For example, 31 3 2026")
    as_at = DateInputField(
        label="As at",
        noun="the as-at date",
        help_text="Figures as the records stood at the end of this day. For example, 30 4 2026",
    )

    @classmethod
    def from_query(cls, query) -> "ReportPeriodForm":
        """Bound to the query string when it says anything about the period, else unbound with
        the default period (the last 12 full months, as at today) filled in."""
        data = {}
        for name, iso in ISO_PARAMETERS.items():
            boxes = [query.get(f"{name}_{part}", "") for part in PARTS]
            if not any(boxes) and query.get(iso):
                try:
                    day = date.fromisoformat(query[iso].strip())
                    boxes = [str(day.day), str(day.month), str(day.year)]
                except ValueError:
                    boxes = ["?", "?", "?"]  # "... must be a real date, in numbers"
            data.update({f"{name}_{part}": box for part, box in zip(PARTS, boxes, strict=True)})
        if not any(data.values()):
            default = Period.default()
            return cls(initial={"start": default.start, "end": default.end, "as_at": default.as_at})
        return cls(data)

    def clean(self):
        cleaned = super().clean()
        start, end, as_at = (cleaned.get(name) for name in ("start", "end", "as_at"))
        today = timezone.localdate()
        if as_at and as_at > today:
            self.add_error("as_at", "The as-at date must be today or in the past")
        if start and end and end < start:
            self.add_error("end", "The end date must be after the start date")
        elif start and end:
            months = (end.year - start.year) * 12 + end.month - start.month
            if months >= LONGEST_MONTHS:
                self.add_error("end", "The end date must be within 5 years of the start date")
        if end and as_at and as_at < end and "as_at" not in self.errors:
            self.add_error("as_at", "The as-at date must be the same as or after the end date")
        return cleaned

    def period(self) -> Period:
        """The period asked for (call after ``is_valid``), or the default for an unbound form."""
        if not self.is_bound:
            return Period(self.initial["start"], self.initial["end"], self.initial["as_at"])
        return Period(
            self.cleaned_data["start"], self.cleaned_data["end"], self.cleaned_data["as_at"]
        )
