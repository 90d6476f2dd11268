"""No input can produce a 5xx: schemathesis against the OpenAPI document the live intake serves.

Every operation of ``GET /v1/openapi.json`` gets generated requests, valid by the schema
(positive) and invalid (negative, for operations that take input), sent to the running
intake. Each answer must not be a 5xx, must use a status, content type, headers and body the
document declares, and every 4xx must be ``application/problem+json``. Valid posts become
real messages on Kafka that the router routes: that is intended.

Cases per operation and mode are bounded (``EXAMPLES``) so the module runs in about a minute.
"""

from __future__ import annotations

import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.intake.openapi import openapi_document

try:
    from tests.stack import read_env_file
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from stack import read_env_file  # type: ignore[no-redef,import-not-found]

EXAMPLES = 40
STACK_ENV = Path(__file__).resolve().parents[2] / ".run" / "stack.env"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# The documented operations, known without the network so that each gets its own test id;
# the live document must list the same ones (test_live_document_is_this_code).
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in openapi_document()["paths"].items()
    for method in item
    if path != "/v1/openapi.json"  # schemathesis does not test the document's own URL
]


def _running(env: dict[str, str]) -> bool:
    try:
        with urllib.request.urlopen(f"{env['INTAKE_URL']}/healthz", timeout=2) as resp:
            return resp.status == 200
    except (OSError, KeyError):
        return False


@pytest.fixture(scope="module")
def intake(request: pytest.FixtureRequest) -> dict[str, str]:
    """The running stack's settings; the session's ``stack_env`` brings it up when it is not."""
    if STACK_ENV.exists():
        env = read_env_file(STACK_ENV)
        if _running(env):
            return env
    stack: dict[str, str] = request.getfixturevalue("stack_env")
    return stack


@pytest.fixture(scope="module")
def schema(intake: dict[str, str]) -> Any:
    return schemathesis.openapi.from_url(f"{intake['INTAKE_URL']}/v1/openapi.json")


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def _operation(schema: Any, label: str) -> Any:
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label == label:
            return operation
    raise AssertionError(f"{label} is not in the live document")


def _has_input(operation: Any) -> bool:
    definition = operation.definition.raw
    return bool(definition.get("requestBody") or definition.get("parameters"))


def _fuzz(strategy: Any, check: Callable[[Any], None]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        check(case)

    run()


def test_live_document_is_this_code(schema: Any) -> None:
    live = sorted(result.ok().label for result in schema.get_all_operations())
    assert live == sorted(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_input_gets_a_5xx_or_an_undocumented_answer(
    schema: Any,
    intake: dict[str, str],
    session: requests.Session,
    label: str,
) -> None:
    operation = _operation(schema, label)
    auth = {"Authorization": f"Bearer {intake['INTAKE_TOKEN']}"}
    statuses: Counter[int] = Counter()

    def check(case: Any) -> None:
        response = case.call_and_validate(
            base_url=intake["INTAKE_URL"], session=session, headers=auth, checks=CHECKS
        )
        statuses[response.status_code] += 1
        if 400 <= response.status_code < 500:
            content_type = response.headers.get("content-type", [""])[0]
            assert content_type.startswith("application/problem+json"), (
                f"{response.status_code} answered as {content_type!r}"
            )

    modes = [GenerationMode.POSITIVE]
    if _has_input(operation):
        modes.append(GenerationMode.NEGATIVE)
    for mode in modes:
        _fuzz(operation.as_strategy(generation_mode=mode), check)
    print(f"{label}: {sum(statuses.values())} cases, statuses {dict(sorted(statuses.items()))}")
    assert statuses, "no case was sent"
    assert all(status < 500 for status in statuses)
