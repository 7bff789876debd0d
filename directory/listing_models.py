"""Community organisations keeping their own listings true (issue 12): a link for the
organisation's contact, what they do through it, and the editors' review queue.

Imported at the end of directory/models.py, so the models belong to the directory app. The
moves themselves (confirm, propose, approve, cancel a session, report attendance) are in
directory/listings.py; these are the rows they write.
"""

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib.gis.db import models
from django.utils import timezone

from directory.models import Organization, Schedule, Service


def link_days() -> int:
    return settings.LISTING_LINK_DAYS


def token_digest(token: str) -> str:
    # Only a digest is stored: a copy of the table (a backup) opens no listing.
    return hashlib.sha256(token.encode()).hexdigest()


class ListingLinkQuerySet(models.QuerySet):
    def live(self, now: dt.datetime | None = None):
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class ListingLink(models.Model):
    """A link (no account) for an organisation's contact to keep its listings true. Its URL
    carries a random token; only the token's SHA-256 is kept. It ends at ``expires_at`` or when
    an editor revokes it, whichever is first."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="listing_links"
    )
    contact_name = models.CharField(max_length=100, blank=True)
    contact_email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ListingLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.organization} ({self.contact_email}, {self.created_at:%-d %b %Y})"

    @classmethod
    def issue(
        cls, *, organization, contact_email: str, contact_name: str = "", by, days=None
    ) -> tuple["ListingLink", str]:
        """A new link and its token (shown once: it is never stored)."""
        token = secrets.token_urlsafe(32)
        link = cls.objects.create(
            organization=organization,
            contact_email=contact_email,
            contact_name=contact_name,
            token_hash=token_digest(token),
            created_by=by,
            expires_at=timezone.now() + dt.timedelta(days=days or link_days()),
        )
        return link, token

    @classmethod
    def find(cls, token: str) -> "ListingLink | None":
        """The link a token opens, whatever its state (None for a token that opens nothing)."""
        if not token or len(token) > 100:
            return None
        return (
            cls.objects.select_related("organization", "created_by")
            .filter(token_hash=token_digest(token))
            .first()
        )

    def is_live(self, now: dt.datetime | None = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "live" if self.is_live() else "expired"


class ListingConfirmation(models.Model):
    """The organisation said a listing is all still correct. The service's ``assured_date`` is
    the listing's "last checked" date (one field, also set by editors and imports); this row
    says when and through which link."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="confirmations")
    link = models.ForeignKey(ListingLink, on_delete=models.PROTECT, related_name="confirmations")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]


class ListingChange(models.Model):
    """Changes an organisation proposed to one of its listings, waiting for an editor.
    ``previous`` holds the values as they were when proposed, ``proposed`` the new ones (only
    the fields that differ)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    ALLOWED_MOVES = {Status.PENDING: {Status.APPROVED, Status.REJECTED}}

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="proposed_changes")
    link = models.ForeignKey(ListingLink, on_delete=models.PROTECT, related_name="changes")
    previous = models.JSONField(default=dict)
    proposed = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    reason = models.TextField(blank=True, max_length=1000, help_text="Why it was rejected.")

    class Meta:
        ordering = ["status", "created_at"]
        verbose_name = "proposed listing change"

    def __str__(self) -> str:
        return f"{self.service}: {self.created_at:%-d %b %Y}"


class CancelledSession(models.Model):
    """One session of a schedule that will not run on ``date``. The next-session text skips
    it (directory.presenters.next_session) and the service page says so."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="cancelled_sessions"
    )
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="cancellations")
    date = models.DateField()
    note = models.CharField(max_length=200, blank=True)
    link = models.ForeignKey(
        ListingLink,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cancellations",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "date"], name="unique_cancelled_session")
        ]

    def __str__(self) -> str:
        return f"{self.service}: {self.date:%-d %b %Y}"
