"""Prometheus configuration and alert rules: promtool check + promtool test, and the conventions.

promtool comes from Debian's `prometheus` package (`make test` installs it when missing). Without
it these tests are skipped on a developer machine and fail in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PROM = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
TEST_FILES = sorted((PROM / "tests").glob("*.yml"))
RUNBOOKS = PROM / "runbooks.md"

# SPEC §5 / the ops issue: the conditions that must page or warn.
REQUIRED_ALERTS = {
    "SwitchboardServiceDown",  # up == 0
    "SwitchboardP1WaitingPastTarget",  # a P1 waiting past its target
    "SwitchboardSLABreachRateHigh",  # breach rate
    "SwitchboardConsumerLagGrowing",  # consumer lag
    "SwitchboardIntakeErrorRatioHigh",  # intake 5xx/503 ratio
    "SwitchboardDeadLetters",  # dead-lettered messages
}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool missing: apt-get install -y prometheus (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def _alerts() -> list[dict[str, Any]]:
    alerts = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            alerts += [rule for rule in group["rules"] if "alert" in rule]
    return alerts


def _tests() -> list[dict[str, Any]]:
    cases = []
    for path in TEST_FILES:
        cases += yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
    return cases


def test_files_exist() -> None:
    assert RULE_FILES, "no rule files in deploy/prometheus/rules"
    assert TEST_FILES, "no promtool test files in deploy/prometheus/tests"


def test_promtool_check_rules(promtool: str) -> None:
    proc = _run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_test_rules(promtool: str) -> None:
    proc = _run(promtool, "test", "rules", *map(str, TEST_FILES))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_check_native_config(promtool: str) -> None:
    proc = _run(promtool, "check", "config", str(PROM / "prometheus-native.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_check_compose_config(promtool: str) -> None:
    # The rule paths are container paths (/etc/prometheus/rules): check the syntax only here;
    # test_compose.py checks that the rules directory is mounted there.
    proc = _run(promtool, "check", "config", "--syntax-only", str(PROM / "prometheus.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_required_alerts_exist() -> None:
    names = {a["alert"] for a in _alerts()}
    assert names >= REQUIRED_ALERTS, f"missing: {sorted(REQUIRED_ALERTS - names)}"
    assert len(names) == len(_alerts()), "alert names must be unique"


def test_p1_alert_covers_breach_and_fifteen_minute_wait() -> None:
    (p1,) = [a for a in _alerts() if a["alert"] == "SwitchboardP1WaitingPastTarget"]
    expr = re.sub(r"\s+", " ", p1["expr"])
    assert 'switchboard_sla_breached_tickets{priority="P1"}) > 0' in expr
    assert 'switchboard_sla_oldest_wait_seconds{priority="P1"}) > 900' in expr
    assert p1["labels"]["severity"] == "critical"


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: a["alert"])
def test_alert_has_severity_summary_and_runbook(alert: dict[str, Any]) -> None:
    assert alert["labels"]["severity"] in {"critical", "warning"}
    annotations = alert["annotations"]
    assert annotations.get("summary", "").strip()
    runbook = annotations.get("runbook", "")
    path, _, anchor = runbook.partition("#")
    assert (ROOT / path).resolve() == RUNBOOKS.resolve(), runbook
    headings = {
        line[3:].strip().lower()
        for line in RUNBOOKS.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }
    assert anchor == alert["alert"].lower() and anchor in headings, (
        f"runbooks.md needs a '## {alert['alert']}' section"
    )


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: a["alert"])
def test_alert_is_unit_tested_firing_and_not_firing(alert: dict[str, Any]) -> None:
    checks = [
        check
        for case in _tests()
        for check in case.get("alert_rule_test", [])
        if check["alertname"] == alert["alert"]
    ]
    assert any(check.get("exp_alerts") for check in checks), "no test where it fires"
    assert any(not check.get("exp_alerts") for check in checks), "no test where it stays quiet"


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-native.yml"])
def test_scrape_jobs_are_the_three_services(config: str) -> None:
    data = yaml.safe_load((PROM / config).read_text(encoding="utf-8"))
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in data["scrape_configs"]
    }
    for job, port in {"intake": 8081, "router": 8082, "sla": 8083}.items():
        assert len(targets[job]) == 1 and targets[job][0].endswith(f":{port}"), (job, targets)
    assert data["rule_files"], "no rule files loaded"


def test_native_config_loads_the_rules_directory() -> None:
    data = yaml.safe_load((PROM / "prometheus-native.yml").read_text(encoding="utf-8"))
    loaded = {p for pattern in data["rule_files"] for p in PROM.glob(pattern)}
    assert set(RULE_FILES) <= loaded
