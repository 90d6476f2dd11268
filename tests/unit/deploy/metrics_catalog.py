"""The metrics the services export, and the PromQL that dashboards and alert rules use.

EXPORTED is the list every dashboard and rule is checked against (tests/unit/deploy) and that the
running stack is checked against (tests/e2e/test_metrics_exist.py). A metric renamed in a service
must be renamed here and in deploy/ together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
DASHBOARDS_DIR = ROOT / "deploy" / "grafana" / "dashboards"

SERVICES = ("intake", "router", "sla")
CONSUMERS = ("router", "sla")


@dataclass(frozen=True)
class Metric:
    name: str
    type: str  # counter | gauge | histogram
    labels: tuple[str, ...]
    services: tuple[str, ...]

    def series_names(self) -> tuple[str, ...]:
        """The names a query can select: a histogram only through its three series."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_count", f"{self.name}_sum")
        return (self.name,)


EXPORTED: tuple[Metric, ...] = (
    # every service
    Metric(
        "switchboard_http_request_duration_seconds",
        "histogram",
        ("route", "method", "code"),
        SERVICES,
    ),
    Metric("switchboard_consumer_lag_messages", "gauge", ("group", "topic"), CONSUMERS),
    Metric("switchboard_dead_letters_total", "counter", ("group", "reason"), CONSUMERS),
    # intake
    Metric("switchboard_intake_messages_total", "counter", ("channel", "outcome"), ("intake",)),
    Metric("switchboard_intake_producer_errors_total", "counter", (), ("intake",)),
    Metric("switchboard_intake_in_flight_records", "gauge", (), ("intake",)),
    # router
    Metric(
        "switchboard_router_routed_total",
        "counter",
        ("channel", "priority", "skill_group"),
        ("router",),
    ),
    Metric("switchboard_router_messages_total", "counter", ("outcome",), ("router",)),
    Metric("switchboard_router_redactions_total", "counter", ("kind",), ("router",)),
    Metric("switchboard_router_batch_duration_seconds", "histogram", (), ("router",)),
    Metric("switchboard_router_rules_reloads_total", "counter", ("outcome",), ("router",)),
    Metric("switchboard_router_claims_total", "counter", ("skill_group", "outcome"), ("router",)),
    Metric("switchboard_router_lifecycle_events_total", "counter", ("type",), ("router",)),
    # sla
    Metric("switchboard_sla_open_tickets", "gauge", ("priority", "skill_group"), ("sla",)),
    Metric("switchboard_sla_oldest_wait_seconds", "gauge", ("priority", "skill_group"), ("sla",)),
    Metric("switchboard_sla_at_risk_tickets", "gauge", ("priority", "skill_group"), ("sla",)),
    Metric("switchboard_sla_breached_tickets", "gauge", ("priority", "skill_group"), ("sla",)),
    Metric(
        "switchboard_sla_first_response_seconds", "histogram", ("priority", "channel"), ("sla",)
    ),
    Metric(
        "switchboard_sla_resolution_seconds", "histogram", ("priority", "skill_group"), ("sla",)
    ),
    Metric(
        "switchboard_sla_at_risk_total", "counter", ("target", "priority", "skill_group"), ("sla",)
    ),
    Metric(
        "switchboard_sla_breaches_total", "counter", ("target", "priority", "skill_group"), ("sla",)
    ),
    Metric("switchboard_sla_escalations_total", "counter", ("level", "kind", "target"), ("sla",)),
    Metric("switchboard_sla_met_ratio", "gauge", ("target", "priority", "skill_group"), ("sla",)),
    Metric("switchboard_sla_escalation_lateness_seconds", "histogram", (), ("sla",)),
    Metric("switchboard_sla_timers", "gauge", (), ("sla",)),
)

# prometheus_client's default collectors (Linux), in every service.
DEFAULT_COLLECTOR_METRICS: tuple[Metric, ...] = tuple(
    Metric(name, kind, (), SERVICES)
    for name, kind in (
        ("process_cpu_seconds_total", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_virtual_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_max_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
        ("python_info", "gauge"),
    )
)

# Labels Prometheus adds at scrape time; `le` on histogram buckets.
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "service", "endpoint"})

BY_NAME: dict[str, Metric] = {
    series: metric
    for metric in EXPORTED + DEFAULT_COLLECTOR_METRICS
    for series in metric.series_names()
}
BY_NAME["up"] = Metric("up", "gauge", (), ())


# --- PromQL --------------------------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTOR = re.compile(r"(?<![\w.$:])([a-zA-Z_:][\w:]*)\s*\{([^{}]*)\}")
_MATCHER_LABEL = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.$:])([a-zA-Z_:][\w:]*)(\s*\()?")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "inf",
        "nan",
        "atan2",
        # aggregation operators may stand before a `by (...)` clause instead of `(`
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    }
)


def _without_strings(expr: str) -> str:
    return _STRING.sub('""', expr)


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (function and keyword names left out)."""
    text = _without_strings(expr)
    text = _BRACES.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def selector_labels(expr: str) -> dict[str, set[str]]:
    """Label names used in matchers, per metric name: `m{a="x", b=~"y"}` -> {m: {a, b}}."""
    found: dict[str, set[str]] = {}
    for match in _SELECTOR.finditer(_without_strings(expr)):
        labels = {m.group(1) for m in _MATCHER_LABEL.finditer(match.group(2))}
        found.setdefault(match.group(1), set()).update(labels)
    return found


@dataclass(frozen=True)
class Expression:
    source: str  # where it comes from, for messages
    expr: str


def rule_expressions(rules_dir: Path = RULES_DIR) -> Iterator[Expression]:
    for path in sorted(rules_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in data["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                yield Expression(f"{path.name}:{name}", str(rule["expr"]))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_expressions(dashboards_dir: Path = DASHBOARDS_DIR) -> Iterator[Expression]:
    for path in sorted(dashboards_dir.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in _panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    yield Expression(f"{path.name}:{panel['title']}", target["expr"])
        for var in board.get("templating", {}).get("list", []):
            if var.get("type") == "query":
                query = var.get("query")
                text = query.get("query", "") if isinstance(query, dict) else str(query or "")
                label_values = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", text)
                yield Expression(
                    f"{path.name}:${var['name']}", label_values.group(1) if label_values else text
                )


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's variables so that promtool can parse the expression."""
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
    expr = expr.replace("$__range", "1h")
    return re.sub(r"\$\{?\w+\}?", ".*", expr)
