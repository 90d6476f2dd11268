"""Shared SLA fixtures: the shipped policy and a China business calendar."""

from __future__ import annotations

import pytest

from services.sla.calendar import Calendar, Holidays, parse_week
from services.sla.policy import Policy, load_policy


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="session")
def cn_business() -> Calendar:
    return Calendar(
        "business",
        week=parse_week({"mon-fri": ["09:00-12:00", "13:00-18:00"]}),
        holidays=Holidays.load("cn"),
    )
