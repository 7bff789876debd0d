"""Taking the directory elsewhere (issue 12, parts 3 and 5).

* The widget a practice or council pastes into its website: ``/embed/`` chooses what it shows
  and gives the snippet; ``/embed/widget/`` is the page inside the frame. Its choices are the
  search's own parameters (``kind``, ``need``), and its results come from the results pages'
  search (``directory.views._search_context``), so a widget never disagrees with the site.
* The shortlist taken away: a QR code of the link that reopens it (``/shortlist/qr.svg``), and
  "send it to me" by email (``/shortlist/send/``), to an address that is used once and kept
  nowhere.
"""

import io
import logging
from functools import wraps
from importlib import import_module
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from config import ratelimit
from config.clientip import client_ip
from directory import views
from directory.models import Service
from directory.params import SearchError, SearchParams, vocabulary

logger = logging.getLogger("flourish.share")

# --- The widget ---------------------------------------------------------------------------------
WIDGET_KINDS = [
    ("", "All support"),
    (Service.Kind.ONLINE_CENTRE, "Online centres (help to get online)"),
    (Service.Kind.HEALTH_TRAINER_SERVICE, "Health trainers"),
]
# What the widget's own form sends: the postcode a person types, and the practice's choices
# carried along in hidden fields. The results pages read the same names.
WIDGET_SEARCH = SearchParams.names("postcode", "kind", "need")
WIDGET_PAGE_SIZE = 10
TITLE_DEFAULT = "Find support near you"
TITLE_MAX = 80
HEIGHT_DEFAULT = 600
HEIGHT_MIN, HEIGHT_MAX = 300, 2000
RESIZE_SCRIPT = "js/flourish-embed.js"


def _widget_choices(data) -> tuple[dict, dict[str, list[str]]]:
    """What a widget shows (``kind``, ``need`` codes, ``title``), read from a query string.

    ``kind`` and ``need`` are checked by ``SearchParams``, the search's own rules, so a choice
    the search would refuse is refused here with the search's message."""
    errors: dict[str, list[str]] = {}
    try:
        SearchParams.read(
            {"kind": data.getlist("kind"), "need": data.getlist("need")},
            error=SearchError,
            now=timezone.now(),
        )
    except SearchError as exc:
        errors.update(exc.errors)
    kind = data.get("kind", "").strip().lower()
    needs = [
        code.lower() for code in dict.fromkeys(c.strip() for c in data.getlist("need")) if code
    ]
    title = " ".join(data.get("title", "").split()) or TITLE_DEFAULT
    if len(title) > TITLE_MAX:
        errors["title"] = [
            f"The title must be at most {TITLE_MAX} characters; it has {len(title)}."
        ]
    return {"kind": kind, "need": needs, "title": title}, errors


def _widget_query(choices: dict) -> str:
    pairs = [("kind", choices["kind"])] if choices["kind"] else []
    pairs += [("need", code) for code in choices["need"]]
    if choices["title"] != TITLE_DEFAULT:
        pairs.append(("title", choices["title"]))
    return urlencode(pairs)


def _without_cookies(view):
    """The widget sets no cookie, whatever the browser sends.

    It lives inside other organisations' pages, where a cookie would need their visitors'
    consent, and it needs none: it only searches. SessionMiddleware would otherwise save a
    non-empty session on every response (SESSION_SAVE_EVERY_REQUEST), or delete the cookie of
    an empty one, for a browser that sent this site's session cookie (the builder's preview, on
    this site, does). So the view gets an empty session of its own that is never saved, and
    the session cookie is hidden from the middleware on the way out; the person's own session
    is neither read, refreshed nor ended. The widget's forms are GET forms: no CSRF cookie."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        request.session = import_module(settings.SESSION_ENGINE).SessionStore()
        request.user = AnonymousUser()
        response = view(request, *args, **kwargs)
        request.COOKIES = {
            name: value
            for name, value in request.COOKIES.items()
            if name != settings.SESSION_COOKIE_NAME
        }
        return response

    return wrapped


def _frameable(view):
    """Any site may show this view in a frame (EMBED_FRAME_ANCESTORS): its own CSP
    frame-ancestors, and no X-Frame-Options. Every other page keeps 'none' and DENY."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # Read per request, so the setting (and a test's override of it) applies.
        policy = {**settings.SECURE_CSP, "frame-ancestors": list(settings.EMBED_FRAME_ANCESTORS)}
        return xframe_options_exempt(csp_override(policy)(view))(request, *args, **kwargs)

    return wrapped


@require_GET
@_frameable
@_without_cookies
def embed_widget(request: HttpRequest) -> HttpResponse:
    """The page inside a practice's frame: a postcode box and the nearest support it chose.

    Works without JavaScript (a GET form that reloads the frame). Links to a service open in
    the whole window (``<base target="_top">``), not in a new tab: it is an ordinary link, the
    Back button returns to the practice's page, and nothing opens unexpectedly (WCAG 3.2.5); the
    service page itself may not be framed. The form and its error links stay in the frame."""
    choices, bad_choices = _widget_choices(request.GET)
    context = {
        "title": choices["title"],
        "bad_choices": [message for messages_ in bad_choices.values() for message in messages_],
        "builder_url": request.build_absolute_uri(reverse("directory-embed")),
        "hidden": [("kind", choices["kind"])] * bool(choices["kind"])
        + [("need", code) for code in choices["need"]]
        + [("title", choices["title"])] * (choices["title"] != TITLE_DEFAULT),
        "postcode": request.GET.get("postcode", ""),
        "result": None,
        "error_list": [],
        "errors": {},
    }
    status = 200
    if bad_choices:
        status = 400
    elif "postcode" in request.GET:
        found, status = views._search_context(
            request,
            WIDGET_SEARCH,
            fixed={"page_size": [str(WIDGET_PAGE_SIZE)], "page": ["1"]},
            anchors={"postcode": "postcode"},
        )
        context.update(
            {key: found[key] for key in ("result", "errors", "error_list", "postcode")},
            first_number=found.get("first_number"),
        )
        result = found["result"]
        if result is not None:
            views._attach_phones(result.results)
            everything = [("postcode", request.GET.get("postcode", "").strip())]
            everything += [("kind", choices["kind"])] if choices["kind"] else []
            everything += [("need", code) for code in choices["need"]]
            context["all_url"] = reverse("directory-search") + "?" + urlencode(everything)
            context["show_offers"] = choices["kind"] == Service.Kind.ONLINE_CENTRE
    return render(request, "directory/embed/widget.html", context, status=status)


def _height(text: str) -> tuple[int, str]:
    text = text.strip()
    if not text:
        return HEIGHT_DEFAULT, ""
    try:
        height = int(text)
    except ValueError:
        return (
            HEIGHT_DEFAULT,
            f"The height must be a whole number of pixels, like {HEIGHT_DEFAULT}.",
        )
    if not HEIGHT_MIN <= height <= HEIGHT_MAX:
        return HEIGHT_DEFAULT, (
            f"The height must be between {HEIGHT_MIN} and {HEIGHT_MAX} pixels; you gave {height}."
        )
    return height, ""


def embed_snippet(*, widget_url: str, title: str, height: int, script_url: str) -> str:
    """The lines a practice pastes: the frame, and the optional script that fits its height to
    what it shows (without the script the frame keeps ``height``)."""
    return str(
        format_html(
            '<iframe src="{}" title="{}" width="100%" height="{}" style="border:0" '
            'loading="lazy"></iframe>\n<script src="{}" async></script>',
            widget_url,
            title,
            height,
            script_url,
        )
    )


@require_GET
def embed_builder(request: HttpRequest) -> HttpResponse:
    """Choose what the widget shows, see it, copy the snippet. A GET form: it works, preview
    included, without JavaScript."""
    choices, errors = _widget_choices(request.GET)
    height, height_error = _height(request.GET.get("height", ""))
    if height_error:
        errors["height"] = [height_error]
    needs = list(vocabulary("needs").values())
    anchors = {
        "kind": "kind-0",
        "need": f"need-{needs[0].code}" if needs else "",
        "title": "title",
        "height": "height",
    }
    order = ["kind", "need", "title", "height"]
    context = {
        "kinds": WIDGET_KINDS,
        "needs": needs,
        "choices": choices,
        "chosen_needs": set(choices["need"]),
        "title_value": request.GET.get("title", TITLE_DEFAULT),
        "height_value": request.GET.get("height", str(HEIGHT_DEFAULT)),
        "errors": errors,
        "error_list": [
            {"field": name, "anchor": anchors.get(name, ""), "message": message}
            for name in sorted(errors, key=lambda n: order.index(n) if n in order else len(order))
            for message in errors[name]
        ],
        "title_max": TITLE_MAX,
        "height_min": HEIGHT_MIN,
        "height_max": HEIGHT_MAX,
    }
    if not errors:
        query = _widget_query(choices)
        widget_url = request.build_absolute_uri(reverse("directory-embed-widget"))
        widget_url += "?" + query if query else ""
        context.update(
            {
                "widget_url": widget_url,
                "height": height,
                "snippet": embed_snippet(
                    widget_url=widget_url,
                    title=choices["title"],
                    height=height,
                    script_url=request.build_absolute_uri(settings.STATIC_URL + RESIZE_SCRIPT),
                ),
            }
        )
    return render(request, "directory/embed/builder.html", context, status=400 if errors else 200)


# --- Taking the shortlist away ------------------------------------------------------------------
QR_CAPTION = "Scan to open this list on your phone"
SEND_LIMIT = 10  # emails one address (a household, a library PC) may send ...
SEND_PERIOD_S = 3600  # ... an hour
EMAIL_MAX = 254  # the longest address mail servers take (RFC 5321)
SEND_FAILED = (
    "We could not send the email just now. Try again in a few minutes, or copy the link "
    "to this list instead."
)


def shortlist_link(request: HttpRequest, ids: list[str]) -> str:
    """The absolute link that reopens a list of services (as the shortlist page shares it)."""
    query = urlencode([("s", i) for i in ids])
    return request.build_absolute_uri(reverse("directory-shortlist") + "?" + query)


def qr_code(url: str) -> segno.QRCode:
    # Level L: a long list's link still makes a code a phone reads from a small printed square.
    return segno.make(url, error="l", micro=False)


@require_GET
def shortlist_qr(request: HttpRequest) -> HttpResponse:
    """The QR code (SVG) of the link that reopens the list ``?s=...``."""
    ids = views._clean_ids(request.GET.getlist("s"))
    if not ids:
        return HttpResponse(
            "Give the services of the list: ?s=<id>&s=<id>.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    out = io.BytesIO()
    qr_code(shortlist_link(request, ids)).save(
        out, kind="svg", scale=4, border=4, title=QR_CAPTION, xmldecl=False, nl=False
    )
    response = HttpResponse(out.getvalue(), content_type="image/svg+xml")
    # The same ids always make the same picture.
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _email_body(services: list[Service], link: str) -> str:
    lines = [
        "Here is the list of services you asked us to send. Open it on any device:",
        "",
        link,
        "",
    ]
    for number, service in enumerate(services, start=1):
        lines.append(f"{number}. {service.name} ({service.organization.name})")
        for location in service.locations[:1]:
            if address := ", ".join(location.address_lines):
                lines.append(f"   {address}")
        for phone in service.phone_list[:2]:
            lines.append(f"   Phone {phone.number}")
        lines.append("")
    lines += [
        "Times and details can change: phone before you go.",
        "",
        "We did not keep your email address. This is the only email we will send you.",
    ]
    return "\n".join(lines)


@require_POST
@sensitive_post_parameters("email")
def shortlist_send(request: HttpRequest) -> HttpResponse:
    """Email the list's link and names to an address typed in, and forget the address.

    Sent here, in the request, with the mail server's timeout (EMAIL_TIMEOUT, 10 s) as the
    longest wait: queueing it (the outbox, a task) would write the address to a table, and the
    person was told it is not stored. Nothing logs it: not the request log (paths only), not
    this view's failure (the exception's type only: SMTP errors repeat the address), not an
    error report (``sensitive_post_parameters``)."""
    retry_after = ratelimit.hit(
        "shortlist-send", client_ip(request) or "unknown", limit=SEND_LIMIT, period_s=SEND_PERIOD_S
    )
    if retry_after is not None:
        return ratelimit.too_many_requests(
            request,
            retry_after,
            context={
                "message": "Too many emails have been sent from here in the last hour. You can "
                "still copy the link to the list."
            },
        )
    context = views._shortlist_context(request)
    address = request.POST.get("email", "").strip()
    error = ""
    if not context["services"]:
        error = "There is nothing on this list to send. Add services to your shortlist first."
    elif not address:
        error = "Enter your email address, like name@example.com."
    elif len(address) > EMAIL_MAX:
        error = f"An email address is at most {EMAIL_MAX} characters long; check yours."
    else:
        try:
            validate_email(address)
        except ValidationError:
            error = "Enter an email address in the right format, like name@example.com."
    status = 400
    if not error:
        try:
            EmailMessage(
                "Your list of services from Flourish",
                _email_body(context["services"], context["share_url"]),
                None,
                [address],
            ).send()
        except Exception as exc:  # whatever the mail server or the network raised
            logger.warning("A shortlist email was not sent: %s", type(exc).__name__)
            error, status = SEND_FAILED, 503
    if error:
        context.update(
            {
                "send_error": error,
                "send_address": address,
                "error_list": [{"field": "email", "anchor": "send-email", "message": error}],
            }
        )
        return render(request, "directory/shortlist.html", context, status=status)
    messages.success(request, "We sent the list to the email address you gave. We did not keep it.")
    return redirect(context["list_url"])
