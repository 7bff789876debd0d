"""The API's refusals, documented once for every operation (a drf-spectacular post-processing hook).

Every 4xx the API sends has one of two shapes, both in ``components.schemas``:

* ``Error``: ``{"detail": "a plain message that says how to fix it"}``, sometimes with more
  (a 409 adds ``code``, ``version`` and ``status``). 401, 403, 404, 405, 409, 415 and 429.
* ``ValidationError``: the fields in error, each with its messages (nested for nested data,
  like ``{"patient": {"phone": ["Enter a phone number."]}}``), and sometimes a ``detail``
  (the directory search adds ``errors``). 400.

``document_errors`` adds to each operation the refusals any request to it can meet, so a new
view is documented without anyone remembering to: 400 (malformed or hostile input), 401 (a
token or session that is not, or no longer, valid), 403 and 401 where signing in is required, 404
where the path names something, 415 and 429 where a body is sent. A view documents its own
further refusals with ``extend_schema(responses={409: ...})``; one declared without a body (an
``OpenApiResponse(description=...)``) gets the shared shape here.
"""

from drf_spectacular.utils import inline_serializer


def results_of(name: str, serializer):
    """A list answered as ``{"results": [...]}`` (room for a count or paging later): the shape
    every list endpoint of the API has, documented the same way by each."""
    return inline_serializer(name, {"results": serializer(many=True)})


ERROR = {
    "type": "object",
    "description": "A refusal: `detail` says what went wrong and how to fix it.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "additionalProperties": True,
}
VALIDATION_ERROR = {
    "type": "object",
    "description": "The request was not valid: each field in error with its messages (an object "
    "of the same shape for nested data); `detail` when the whole request is at fault.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object"},
            {"type": "string"},
        ]
    },
}

DESCRIPTIONS = {
    400: "The request was not valid: the message says which field and why.",
    401: "Not signed in, or the token or session is not valid (any more): sign in again.",
    403: "Signed in, but this is not yours to see or do (or a session without its CSRF token).",
    404: "Not found, or not yours to see.",
    405: "This method is not allowed here.",
    409: "Someone changed it first: fetch it again and retry with the new version.",
    415: "Send the body as application/json.",
    429: "Too many requests: the Retry-After header says in how many seconds to try again.",
}

HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def _media_types(operation: dict) -> list[str]:
    """Errors come in the media types the operation answers in (JSON, and GeoJSON for maps)."""
    types = ["application/json"]
    for code, response in operation.get("responses", {}).items():
        if code.startswith("2"):
            types += [t for t in response.get("content", {}) if t not in types]
    return types


def _codes_for(operation: dict, path: str) -> set[int]:
    codes = {400, 401}
    if not any(requirement == {} for requirement in operation.get("security", [{}])):
        codes.add(403)
    if "{" in path:
        codes.add(404)
    if "requestBody" in operation:
        # A session-authenticated write without its CSRF token is a 403; writes are rate-limited.
        codes |= {403, 415, 429}
    return codes


def document_errors(result: dict, generator, request, public) -> dict:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("ValidationError", VALIDATION_ERROR)
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            media_types = _media_types(operation)
            declared = {int(code) for code in responses if code.isdigit()}
            for code in sorted(declared | _codes_for(operation, path)):
                if not 400 <= code < 500:
                    continue
                response = responses.setdefault(str(code), {})
                if not response.get("description"):
                    response["description"] = DESCRIPTIONS.get(code, "")
                if not response.get("content"):
                    name = "ValidationError" if code == 400 else "Error"
                    ref = {"$ref": f"#/components/schemas/{name}"}
                    response["content"] = {t: {"schema": ref} for t in media_types}
            operation["responses"] = dict(sorted(responses.items()))
    return result
