"""Links of the shortlist page and its print view (directory/share.py's URLs)."""

from urllib.parse import urlsplit

from django import template
from django.urls import reverse

from directory.share import QR_CAPTION

register = template.Library()


@register.filter
def query_of(url: str) -> str:
    """``https://host/shortlist/?s=1&s=2`` -> ``s=1&s=2``: the list a share link names."""
    return urlsplit(url or "").query


@register.simple_tag
def shortlist_qr_url(share_url: str) -> str:
    """The QR code's image: the list's share link, encoded (``/shortlist/qr.svg?s=...``)."""
    return reverse("directory-shortlist-qr") + "?" + query_of(share_url)


@register.simple_tag
def qr_caption() -> str:
    return QR_CAPTION
