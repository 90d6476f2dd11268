"""Session fixtures for the real stack: `infra_env` (Kafka + PostgreSQL) and `stack_env` (all).

Tests under tests/integration are marked `integration`, those under tests/e2e `e2e`.
The stack is brought up once the tests to run are known, before any test's timeout starts, and
only when a selected test asks for it; a stack that already runs is reused.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

try:
    from tests.stack import StackError, ensure_infra, ensure_stack
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from stack import StackError, ensure_infra, ensure_stack  # type: ignore[no-redef,import-not-found]

_HERE = Path(__file__).resolve().parent
_MARK_BY_FOLDER = {"integration": pytest.mark.integration, "e2e": pytest.mark.e2e}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = item.path.resolve().relative_to(_HERE).parts[0]
        except (ValueError, IndexError):
            continue
        if folder in _MARK_BY_FOLDER:
            item.add_marker(_MARK_BY_FOLDER[folder])


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    wanted = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    if "stack_env" in wanted:
        ensure, what = ensure_stack, "the whole native stack (deploy/native/up.sh)"
    elif "infra_env" in wanted:
        ensure, what = ensure_infra, "Kafka and PostgreSQL (deploy/native/infra.sh)"
    else:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"ensuring {what} is up")
    # Failures are remembered and raised by the fixtures, in the tests that need them.
    with contextlib.suppress(StackError):
        ensure()


@pytest.fixture(scope="session")
def infra_env() -> dict[str, str]:
    """KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL of a running Kafka and PostgreSQL."""
    return ensure_infra()


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    """The parsed .run/stack.env of the running stack (URLs, tokens, DATABASE_URL, Kafka)."""
    return ensure_stack()
