"""What Flourish accepts from outside, checked once before any view reads it.

Left alone, hostile input turns into a 500 wherever it first meets the database or a parser:
PostgreSQL refuses text containing NUL ("A string literal cannot contain NUL"), psycopg cannot
send an unpaired surrogate, Python's JSON reader recurses once per level of nesting, and
django-axes stores a typed username in a 255-character column. So, in one place:

- ``HostileInputMiddleware`` refuses a request whose address, query string, posted form or
  headers carry a control character (tab, newline and carriage return excepted in values: text
  areas send them), or a query value longer than any field takes;
- ``JSONParser``, the API's, refuses bodies over ``API_MAX_BODY_BYTES``, JSON nested deeper
  than ``JSON_MAX_DEPTH`` (counted without recursing) and the same characters inside any key
  or string (forms posted to the API are checked by the middleware, like any other form);
- ``axes_username`` hands django-axes a username it can always store.

Every refusal is a 400 that says what to remove: plain text for pages, JSON (``detail``) under
/api/ and /openreferral/. Fields keep their own, tighter limits (search words, postcodes, a
referral's notes); these are the floor under all of them.
"""

import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

# C0 controls other than tab, newline and carriage return, and unpaired surrogates (a JSON
# "\ud800" escape decodes to one; nothing can encode it to send on to PostgreSQL).
_BAD_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# Names (parameter names, dictionary keys) and addresses never hold a control character at all.
_BAD_IN_NAME = re.compile(r"[\x00-\x1f\ud800-\udfff]")
# Header values: HTTP allows a tab among the visible characters, nothing else below space.
_BAD_IN_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f]")

# Longer than any query parameter Flourish reads (search words stop at 200 characters, a shared
# shortlist link sends each id as its own value), so nothing legitimate comes near it.
QUERY_VALUE_MAX_LENGTH = 2000
JSON_MAX_DEPTH = 32
API_PREFIXES = ("/api/", "/openreferral/")

FIX_CHARACTER = (
    "contains a control character (such as NUL) or an unpaired surrogate, which is never "
    "valid here: remove it and try again."
)


def bad_text(value: str, *, multiline: bool = True) -> bool:
    """True if ``value`` holds a character no text in Flourish may contain."""
    return bool((_BAD_IN_TEXT if multiline else _BAD_IN_NAME).search(value))


def _shown(name: str) -> str:
    """A name from the request, safe to echo in a message."""
    return repr(_BAD_IN_NAME.sub("?", name)[:40])


# --- Every request -------------------------------------------------------------------------
def _refusal(request: HttpRequest) -> str | None:
    """Why this request cannot be served as sent, or None."""
    if bad_text(request.path_info, multiline=False):
        return f"The address {FIX_CHARACTER}"
    for name, value in request.META.items():
        if name.startswith("HTTP_") and isinstance(value, str) and _BAD_IN_HEADER.search(value):
            header = name[5:].replace("_", "-").title()
            return f"The {header} header {FIX_CHARACTER}"
    for name, values in request.GET.lists():
        if bad_text(name, multiline=False) or any(bad_text(v) for v in values):
            return f"The query parameter {_shown(name)} {FIX_CHARACTER}"
        if len(name) > QUERY_VALUE_MAX_LENGTH or any(
            len(v) > QUERY_VALUE_MAX_LENGTH for v in values
        ):
            return (
                f"The query parameter {_shown(name)} is too long: no parameter here takes more "
                f"than {QUERY_VALUE_MAX_LENGTH} characters. Shorten it and try again."
            )
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        try:
            posted = request.POST
        except MultiPartParserError:
            return "The form data could not be read: send it again from the form."
        for name, values in posted.lists():
            if bad_text(name, multiline=False) or any(bad_text(v) for v in values):
                return f"The form field {_shown(name)} {FIX_CHARACTER}"
    return None


class HostileInputMiddleware:
    """Refuse, with a 400, input that no view could hand to the database or a parser."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        reason = _refusal(request)
        if reason is None:
            return self.get_response(request)
        if request.path_info.startswith("/fhir/"):
            from config.errors import fhir_error

            return fhir_error(400, reason)
        if request.path_info.startswith(API_PREFIXES):
            response = JsonResponse({"detail": reason}, status=400)
            if request.path_info.startswith("/openreferral/"):
                # The open feed answers every origin, errors included (directory.openreferral).
                response["Access-Control-Allow-Origin"] = "*"
            return response
        return HttpResponse(reason, status=400, content_type="text/plain; charset=utf-8")


# --- API bodies (REST framework parsers) ---------------------------------------------------
def _read(stream, parser_context) -> str:
    """The body as text, refused if larger than API_MAX_BODY_BYTES (read no further)."""
    limit = settings.API_MAX_BODY_BYTES
    raw = stream.read(limit + 1) if stream is not None else b""
    if len(raw) > limit:
        raise ParseError(
            f"The request body is too large: send at most {limit:,} bytes in one request."
        )
    encoding = parsers.get_encoding(parser_context or {})
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        raise ParseError(
            f"The request body is not valid {encoding}: send the JSON as UTF-8."
        ) from None


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth_exceeds(text: str, limit: int) -> bool:
    """True if arrays and objects in ``text`` nest deeper than ``limit``; a loop over the
    brackets outside strings, so 100,000 levels cost no recursion and stop at level limit+1."""
    depth = 0
    for char in _NOT_BRACKET.sub("", _JSON_STRING.sub('""', text)):
        depth += 1 if char in "[{" else -1
        if depth > limit:
            return True
    return False


def _first_bad_string(data) -> str | None:
    """Where in parsed JSON the first bad key or string is ("patient.name", "needs[2]"), or
    None; walked with a list, not recursion (the depth is already capped, but needn't be)."""
    pending = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if bad_text(value):
                return (path or "the body")[:60]
        elif isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else key
                if bad_text(key, multiline=False):
                    return _BAD_IN_NAME.sub("?", where)[:60]
                pending.append((where, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


class JSONParser(parsers.JSONParser):
    """REST framework's JSON parser, bounded: size, depth and characters are checked before a
    serializer sees the data."""

    def parse(self, stream, media_type=None, parser_context=None):
        text = _read(stream, parser_context)
        if json_depth_exceeds(text, JSON_MAX_DEPTH):
            raise ParseError(
                f"The JSON nests arrays and objects more than {JSON_MAX_DEPTH} levels deep; "
                "no request to this API needs more than a few."
            )
        try:
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        where = _first_bad_string(data)
        if where is not None:
            raise ParseError(f"The JSON value at {where} {FIX_CHARACTER}")
        return data


# --- Sign-in throttling --------------------------------------------------------------------
# django-axes's AccessAttempt.username column (and every other one of its username columns).
AXES_USERNAME_MAX_LENGTH = 255


def axes_username(request, credentials: dict | None = None) -> str | None:
    """The username django-axes records and counts failures under (AXES_USERNAME_CALLABLE).

    Whatever reaches ``authenticate()`` (a login form, the admin's, the API token view) is
    recorded by axes on failure; a username longer than its column or holding NUL made that a
    500. No account has such a name (Django's are at most 150 characters), so keeping the
    first 255 printable characters loses nothing: the attempt still counts, and still fails.
    """
    field = getattr(settings, "AXES_USERNAME_FORM_FIELD", "username")
    if credentials:
        username = credentials.get(field)
    else:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        username = data.get(field) if hasattr(data, "get") else None
    if username is None:
        return None
    return _BAD_IN_NAME.sub("", str(username))[:AXES_USERNAME_MAX_LENGTH]
