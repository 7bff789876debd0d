"""Schemathesis over the API's own OpenAPI schema (/api/schema/), tallied.

Used by tests/test_api_contract.py (in-process over WSGI, a few examples per operation, in the
test suite) and by ``make fuzz`` (the app served by gunicorn as in production, thousands of
calls). For every operation Schemathesis generates requests from the schema, both valid ones and
ones that break it, and each answer is checked: never a server error, and the status code,
content type, headers and body as the schema documents them. Nothing stops at the first failure:
the tally keeps the first example of each distinct one, with a curl line to reproduce it.
"""

import time
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@dataclass
class Tally:
    calls: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: int = 0
    mismatches: int = 0
    # The first example of each distinct failure: (operation, failure title) -> report.
    examples: dict = field(default_factory=dict)
    # (operation, mode) pairs Schemathesis cannot generate a request for.
    nothing_to_generate: set = field(default_factory=set)

    def summary(self) -> str:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"calls: {self.calls}\n5xx: {self.server_errors}\nschema mismatches: "
            f"{self.mismatches}\nstatus codes: {statuses}"
        )

    def report(self) -> str:
        return "\n\n".join(self.examples.values())


def _record(tally: Tally, case, response, failures, label: str) -> None:
    if response.status_code >= 500:
        tally.server_errors += 1
    if any(f.title != "Server error" for f in failures):
        tally.mismatches += 1
    for failure in failures:
        key = (case.operation.label, failure.title, getattr(failure, "status_code", None))
        if key not in tally.examples:
            curl = case.as_curl_command(headers=dict(response.request.headers))
            body = response.text[:500] if response.text else ""
            tally.examples[key] = (
                f"[{label}] {case.operation.label}: {failure.title} "
                f"(HTTP {response.status_code})\n{failure.message[:1500]}\n"
                f"answer: {body}\nreproduce: {curl}"
            )


def exercise(
    schema,
    tally: Tally,
    *,
    label: str,
    max_examples: int,
    budget_s: float,
    seed: int | None = None,
    known: dict[str, dict] | None = None,
    **call_kwargs,
) -> Tally:
    """Every operation in ``schema``, ``max_examples`` requests in each mode (fewer if
    ``budget_s`` runs out), sent with ``call_kwargs`` (``base_url``, ``headers``, ``cookies``).

    Generated ids find nothing, so ``known`` maps a path prefix to path parameters of things
    that exist (``{"/api/referrals/{id}": {"id": ...}}``): those operations run again on them."""
    deadline = time.monotonic() + budget_s
    headers = call_kwargs.get("headers")
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=_signs_out_last)
    runs = []
    for operation in operations:
        runs.append((operation, None))
        for prefix, parameters in (known or {}).items():
            if operation.path.startswith(prefix):
                runs.append((operation, parameters))
    for operation, path_parameters in runs:
        for mode in MODES:
            if time.monotonic() > deadline:
                return tally
            key = (operation.label, mode, bool(path_parameters))
            if key in tally.nothing_to_generate:
                continue
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            @hypothesis_settings(
                max_examples=max_examples,
                deadline=None,
                database=None,
                derandomize=seed is None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def one(case):
                if time.monotonic() > deadline:
                    return
                response = case.call(**call_kwargs)
                tally.calls += 1
                tally.statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except FailureGroup as group:
                    _record(tally, case, response, group.exceptions, label)

            if seed is not None:
                one = seed_with(seed)(one)
            try:
                one()
            except Unsatisfiable:
                # Nothing in the operation can be made invalid (no parameters, or free text).
                tally.nothing_to_generate.add(key)
    return tally


def _signs_out_last(operation) -> bool:
    """Signing out (or revoking a token) ends the caller's credentials: do those last."""
    return "logout" in operation.path or operation.method.upper() == "DELETE"


def seed_with(seed: int):
    from hypothesis import seed as hypothesis_seed

    return hypothesis_seed(seed)
