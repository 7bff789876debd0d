"""Text messages through GOV.UK Notify, the NHS's and government's service for them.

Off unless NOTIFY_API_KEY and NOTIFY_SMS_TEMPLATE_ID are set: the template must be one
Notify "text message" template whose whole content is ``((message))``. Texts go through the
outbox (``OutgoingEmail.queue_text``) like emails, so they are sent by the worker, once, with
retries; nothing is sent inside a request.
"""

from django.conf import settings
from notifications_python_client.notifications import NotificationsAPIClient


def texts_enabled() -> bool:
    return bool(settings.NOTIFY_API_KEY and settings.NOTIFY_SMS_TEMPLATE_ID)


def send_text(to: str, body: str, *, reference: str) -> None:
    """Raises (an HTTP or network error) when Notify does not accept it; the worker retries."""
    client = NotificationsAPIClient(
        settings.NOTIFY_API_KEY,
        base_url=settings.NOTIFY_BASE_URL,
        timeout=settings.SEND_TIMEOUT_SECONDS,
    )
    client.send_sms_notification(
        phone_number=to,
        template_id=settings.NOTIFY_SMS_TEMPLATE_ID,
        personalisation={"message": body},
        reference=reference,
    )
