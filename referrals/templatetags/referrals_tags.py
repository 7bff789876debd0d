from django import template

from referrals import permissions
from referrals.models import Notification, OutgoingEmail

register = template.Library()


@register.filter
def is_clinician(user) -> bool:
    return permissions.is_clinician(user)


@register.filter
def is_trainer(user) -> bool:
    return permissions.is_trainer(user)


@register.filter
def is_manager(user) -> bool:
    return permissions.is_manager(user) or getattr(user, "is_superuser", False)


@register.simple_tag
def unread_notifications(user) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


@register.simple_tag
def undelivered_emails(user) -> int:
    """For team leads and the admin: emails the worker has not managed to deliver."""
    if not user.is_authenticated or not (permissions.is_lead(user) or user.is_superuser):
        return 0
    return OutgoingEmail.objects.watched_by(user).undelivered().count()


@register.filter
def days_since(value, now=None) -> int:
    from django.utils import timezone

    return ((now or timezone.now()) - value).days
