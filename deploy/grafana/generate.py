"""Write the Grafana dashboards in deploy/grafana/dashboards/ (dashboards as code).

    .venv/bin/python deploy/grafana/generate.py

Edit the panels here, run it, and commit both; tests/unit/deploy/test_grafana.py fails when the
JSON files and this script disagree. Grafana loads the files through the provider in
provisioning/dashboards/ and queries the datasource with uid `prometheus`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
RI = "$__rate_interval"

SKILL_GROUPS = "security,account,payments,funding,refunds,cards,tech_support,general"
CHANNELS = "phone,email,chat,social"
PRIORITIES = "P1,P2,P3,P4"

Json = dict[str, Any]


@dataclass
class Panel:
    title: str
    exprs: list[tuple[str, str]]  # (PromQL, legend)
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 12
    height: int = 8
    stack: bool = False
    description: str = ""
    thresholds: list[tuple[float, str]] = field(default_factory=list)
    instant: bool = False
    base: str = "green"


def _targets(panel: Panel) -> list[Json]:
    return [
        {
            "datasource": DATASOURCE,
            "expr": expr,
            "legendFormat": legend,
            "refId": chr(ord("A") + i),
            "range": not panel.instant,
            "instant": panel.instant,
        }
        for i, (expr, legend) in enumerate(panel.exprs)
    ]


def _thresholds(panel: Panel) -> Json:
    steps: list[Json] = [{"color": panel.base, "value": None}]
    steps += [{"color": color, "value": value} for value, color in panel.thresholds]
    return {"mode": "absolute", "steps": steps}


def _panel(panel: Panel, pid: int, x: int, y: int) -> Json:
    out: Json = {
        "id": pid,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "targets": _targets(panel),
        "fieldConfig": {
            "defaults": {"unit": panel.unit, "thresholds": _thresholds(panel)},
            "overrides": [],
        },
    }
    if panel.kind == "timeseries":
        out["fieldConfig"]["defaults"]["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 20 if panel.stack else 0,
            "stacking": {"mode": "normal" if panel.stack else "none", "group": "A"},
            "showPoints": "never",
        }
        out["options"] = {
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif panel.kind == "stat":
        out["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "area",
            "textMode": "auto",
        }
    elif panel.kind == "bargauge":
        out["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "horizontal",
            "displayMode": "gradient",
            "showUnfilled": True,
        }
    elif panel.kind == "piechart":
        out["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "pieType": "donut",
            "legend": {"displayMode": "table", "placement": "right", "values": ["value"]},
        }
    return out


def _row(title: str, pid: int, y: int) -> Json:
    return {
        "id": pid,
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
        "panels": [],
    }


def _custom_var(name: str, label: str, values: str) -> Json:
    options = [{"text": "All", "value": "$__all", "selected": True}]
    options += [{"text": v, "value": v, "selected": False} for v in values.split(",")]
    return {
        "name": name,
        "label": label,
        "type": "custom",
        "query": values,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"text": ["All"], "value": ["$__all"]},
        "options": options,
        "hide": 0,
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    rows: Iterable[tuple[str, list[Panel]]],
    variables: Iterable[Json] = (),
) -> Json:
    panels: list[Json] = []
    pid, y = 1, 0
    for row_title, row_panels in rows:
        panels.append(_row(row_title, pid, y))
        pid, y, x, line_h = pid + 1, y + 1, 0, 0
        for panel in row_panels:
            if x + panel.width > 24:
                x, y, line_h = 0, y + line_h, 0
            panels.append(_panel(panel, pid, x, y))
            pid, x, line_h = pid + 1, x + panel.width, max(line_h, panel.height)
        y += line_h
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["switchboard"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": list(variables)},
        "annotations": {"list": []},
        "links": [
            {
                "title": "Switchboard",
                "type": "dashboards",
                "tags": ["switchboard"],
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
            }
        ],
        "panels": panels,
    }


INBOUND = 'job="intake", route=~"/v1/inbound/.*"'
SLA_GAUGE = "max by (priority, skill_group)"  # every SLA replica reports the same database view


def _intake_messages(extra: str = "") -> str:
    return f'switchboard_intake_messages_total{{channel=~"$channel"{extra}}}'


def intake() -> Json:
    msgs = _intake_messages()
    return dashboard(
        "switchboard-intake",
        "Switchboard / Intake traffic",
        "Inbound messages by channel and outcome, intake latency and errors.",
        [
            (
                "Now",
                [
                    Panel(
                        "Accepted messages/s",
                        [
                            (
                                "sum(rate(switchboard_intake_messages_total"
                                f'{{channel=~"$channel", outcome="accepted"}}[{RI}]))',
                                "accepted",
                            )
                        ],
                        kind="stat",
                        unit="reqps",
                        width=6,
                        height=4,
                    ),
                    Panel(
                        "Rejected share (4xx)",
                        [
                            (
                                "sum(rate("
                                + _intake_messages(', outcome!~"accepted|duplicate|unavailable"')
                                + f"[{RI}])) / sum(rate({msgs}[{RI}]))",
                                "rejected",
                            )
                        ],
                        kind="stat",
                        unit="percentunit",
                        width=6,
                        height=4,
                        thresholds=[(0.05, "orange"), (0.2, "red")],
                    ),
                    Panel(
                        "5xx share of inbound posts",
                        [
                            (
                                "sum(rate(switchboard_http_request_duration_seconds_count"
                                f'{{{INBOUND}, code=~"5.."}}[{RI}])) / '
                                "sum(rate(switchboard_http_request_duration_seconds_count"
                                f"{{{INBOUND}}}[{RI}]))",
                                "5xx",
                            )
                        ],
                        kind="stat",
                        unit="percentunit",
                        width=6,
                        height=4,
                        thresholds=[(0.01, "orange"), (0.05, "red")],
                    ),
                    Panel(
                        "Records waiting for Kafka acks",
                        [("sum(switchboard_intake_in_flight_records)", "in flight")],
                        kind="stat",
                        width=6,
                        height=4,
                    ),
                ],
            ),
            (
                "Traffic",
                [
                    Panel(
                        "Accepted messages/s by channel",
                        [
                            (
                                "sum by (channel) (rate(switchboard_intake_messages_total"
                                f'{{channel=~"$channel", outcome="accepted"}}[{RI}]))',
                                "{{channel}}",
                            )
                        ],
                        unit="reqps",
                        stack=True,
                    ),
                    Panel(
                        "Messages/s by outcome",
                        [(f"sum by (outcome) (rate({msgs}[{RI}]))", "{{outcome}}")],
                        unit="reqps",
                        stack=True,
                    ),
                    Panel(
                        "Not accepted, by channel and outcome",
                        [
                            (
                                "sum by (channel, outcome) (rate("
                                + _intake_messages(', outcome!="accepted"')
                                + f"[{RI}]))",
                                "{{channel}} {{outcome}}",
                            )
                        ],
                        unit="reqps",
                        width=24,
                        description="Duplicates are harmless re-posts; unauthorized/forbidden "
                        "point to an integration's token; unavailable is Kafka (503).",
                    ),
                ],
            ),
            (
                "Latency and errors",
                [
                    Panel(
                        "Inbound post latency",
                        [
                            (
                                f"histogram_quantile({q}, sum by (le) (rate("
                                f"switchboard_http_request_duration_seconds_bucket{{{INBOUND}}}"
                                f"[{RI}])))",
                                f"p{int(q * 100)}",
                            )
                            for q in (0.5, 0.95, 0.99)
                        ],
                        unit="s",
                    ),
                    Panel(
                        "Inbound responses/s by status code",
                        [
                            (
                                "sum by (code) (rate(switchboard_http_request_duration_seconds_count"
                                f"{{{INBOUND}}}[{RI}]))",
                                "{{code}}",
                            )
                        ],
                        unit="reqps",
                        stack=True,
                    ),
                    Panel(
                        "Kafka sends not acknowledged in time",
                        [
                            (
                                f"sum(rate(switchboard_intake_producer_errors_total[{RI}]))",
                                "producer errors/s",
                            )
                        ],
                        unit="reqps",
                        width=24,
                        height=6,
                    ),
                ],
            ),
        ],
        [_custom_var("channel", "Channel", CHANNELS)],
    )


def routing() -> Json:
    routed = (
        'switchboard_router_routed_total{channel=~"$channel", priority=~"$priority", '
        'skill_group=~"$skill_group"}'
    )
    return dashboard(
        "switchboard-routing",
        "Switchboard / Routing mix",
        "Routed tickets by priority, skill group and channel; redactions; claims.",
        [
            (
                "Routed",
                [
                    Panel(
                        "Routed messages/s by priority",
                        [(f"sum by (priority) (rate({routed}[{RI}]))", "{{priority}}")],
                        unit="reqps",
                        stack=True,
                    ),
                    Panel(
                        "Routed messages/s by skill group",
                        [(f"sum by (skill_group) (rate({routed}[{RI}]))", "{{skill_group}}")],
                        unit="reqps",
                        stack=True,
                    ),
                    Panel(
                        "Skill group x priority (time range)",
                        [
                            (
                                "sort_desc(sum by (skill_group, priority) "
                                f"(increase({routed}[$__range])))",
                                "{{skill_group}} {{priority}}",
                            )
                        ],
                        kind="bargauge",
                        instant=True,
                        height=12,
                    ),
                    Panel(
                        "By channel (time range)",
                        [
                            (
                                f"sum by (channel) (increase({routed}[$__range]))",
                                "{{channel}}",
                            )
                        ],
                        kind="piechart",
                        instant=True,
                        height=12,
                    ),
                ],
            ),
            (
                "Router",
                [
                    Panel(
                        "Consumed records/s by outcome",
                        [
                            (
                                f"sum by (outcome) (rate(switchboard_router_messages_total[{RI}]))",
                                "{{outcome}}",
                            )
                        ],
                        unit="reqps",
                        stack=True,
                    ),
                    Panel(
                        "Redactions/s by kind",
                        [
                            (
                                f"sum by (kind) (rate(switchboard_router_redactions_total[{RI}]))",
                                "{{kind}}",
                            )
                        ],
                        unit="reqps",
                        stack=True,
                    ),
                    Panel(
                        "Queue claims/s by outcome",
                        [
                            (
                                "sum by (outcome) (rate(switchboard_router_claims_total"
                                f'{{skill_group=~"$skill_group"}}[{RI}]))',
                                "{{outcome}}",
                            )
                        ],
                        unit="reqps",
                        stack=True,
                    ),
                    Panel(
                        "Lifecycle events/s by type",
                        [
                            (
                                "sum by (type) (rate(switchboard_router_lifecycle_events_total"
                                f"[{RI}]))",
                                "{{type}}",
                            )
                        ],
                        unit="reqps",
                        stack=True,
                    ),
                ],
            ),
        ],
        [
            _custom_var("channel", "Channel", CHANNELS),
            _custom_var("priority", "Priority", PRIORITIES),
            _custom_var("skill_group", "Skill group", SKILL_GROUPS),
        ],
    )


def queues() -> Json:
    sel = '{priority=~"$priority", skill_group=~"$skill_group"}'
    return dashboard(
        "switchboard-queues",
        "Switchboard / Queues and waits",
        "Open tickets and the oldest waiting ticket per skill group and priority.",
        [
            (
                "P1 now",
                [
                    Panel(
                        "Open P1 tickets",
                        [
                            (
                                f'sum({SLA_GAUGE} (switchboard_sla_open_tickets{{priority="P1"}}))',
                                "open",
                            )
                        ],
                        kind="stat",
                        width=6,
                        height=4,
                        thresholds=[(1, "orange")],
                    ),
                    Panel(
                        "Oldest P1 wait",
                        [
                            (
                                'max(switchboard_sla_oldest_wait_seconds{priority="P1"})',
                                "oldest",
                            )
                        ],
                        kind="stat",
                        unit="s",
                        width=6,
                        height=4,
                        thresholds=[(600, "orange"), (900, "red")],
                        description="P1 first-response target: 15 minutes.",
                    ),
                    Panel(
                        "Open tickets at risk",
                        [
                            (
                                f"sum({SLA_GAUGE} (switchboard_sla_at_risk_tickets{sel}))",
                                "at risk",
                            )
                        ],
                        kind="stat",
                        width=6,
                        height=4,
                        thresholds=[(1, "orange")],
                    ),
                    Panel(
                        "Open tickets breached",
                        [
                            (
                                f"sum({SLA_GAUGE} (switchboard_sla_breached_tickets{sel}))",
                                "breached",
                            )
                        ],
                        kind="stat",
                        width=6,
                        height=4,
                        thresholds=[(1, "red")],
                    ),
                ],
            ),
            (
                "Queues",
                [
                    Panel(
                        "Open tickets by skill group",
                        [
                            (
                                f"sum by (skill_group) ({SLA_GAUGE} "
                                f"(switchboard_sla_open_tickets{sel}))",
                                "{{skill_group}}",
                            )
                        ],
                        stack=True,
                    ),
                    Panel(
                        "Open tickets by priority",
                        [
                            (
                                f"sum by (priority) ({SLA_GAUGE} "
                                f"(switchboard_sla_open_tickets{sel}))",
                                "{{priority}}",
                            )
                        ],
                        stack=True,
                    ),
                    Panel(
                        "Oldest wait by skill group and priority",
                        [
                            (
                                f"{SLA_GAUGE} (switchboard_sla_oldest_wait_seconds{sel})",
                                "{{skill_group}} {{priority}}",
                            )
                        ],
                        unit="s",
                        width=24,
                        height=10,
                        thresholds=[(900, "red")],
                    ),
                    Panel(
                        "Oldest wait now",
                        [
                            (
                                f"sort_desc({SLA_GAUGE} "
                                f"(switchboard_sla_oldest_wait_seconds{sel}))",
                                "{{skill_group}} {{priority}}",
                            )
                        ],
                        kind="bargauge",
                        unit="s",
                        instant=True,
                        height=12,
                    ),
                    Panel(
                        "Claims/s by skill group",
                        [
                            (
                                "sum by (skill_group) (rate(switchboard_router_claims_total"
                                f'{{skill_group=~"$skill_group", outcome="claimed"}}[{RI}]))',
                                "{{skill_group}}",
                            )
                        ],
                        unit="reqps",
                        height=12,
                    ),
                ],
            ),
        ],
        [
            _custom_var("priority", "Priority", PRIORITIES),
            _custom_var("skill_group", "Skill group", SKILL_GROUPS),
        ],
    )


def sla() -> Json:
    sel = '{priority=~"$priority", skill_group=~"$skill_group"}'
    return dashboard(
        "switchboard-sla",
        "Switchboard / SLA compliance and escalations",
        "Targets met, breaches, escalations and response times.",
        [
            (
                "Compliance",
                [
                    Panel(
                        "Met ratio (clocks stopped in the last 24 h)",
                        [
                            (
                                f"min by (target, priority) (switchboard_sla_met_ratio{sel})",
                                "{{target}} {{priority}}",
                            )
                        ],
                        unit="percentunit",
                        thresholds=[(0.9, "orange"), (0.95, "green")],
                    ),
                    Panel(
                        "Met ratio now, by skill group",
                        [
                            (
                                "sort(min by (skill_group, target) "
                                f"(switchboard_sla_met_ratio{sel}))",
                                "{{skill_group}} {{target}}",
                            )
                        ],
                        kind="bargauge",
                        unit="percentunit",
                        instant=True,
                    ),
                    Panel(
                        "Breaches per hour by priority and target",
                        [
                            (
                                "sum by (priority, target) (rate(switchboard_sla_breaches_total"
                                f"{sel}[1h])) * 3600",
                                "{{priority}} {{target}}",
                            )
                        ],
                        stack=True,
                    ),
                    Panel(
                        "At-risk warnings per hour by priority and target",
                        [
                            (
                                "sum by (priority, target) (rate(switchboard_sla_at_risk_total"
                                f"{sel}[1h])) * 3600",
                                "{{priority}} {{target}}",
                            )
                        ],
                        stack=True,
                    ),
                    Panel(
                        "Open tickets breached / at risk by priority",
                        [
                            (
                                f"sum by (priority) ({SLA_GAUGE} "
                                f"(switchboard_sla_breached_tickets{sel}))",
                                "breached {{priority}}",
                            ),
                            (
                                f"sum by (priority) ({SLA_GAUGE} "
                                f"(switchboard_sla_at_risk_tickets{sel}))",
                                "at risk {{priority}}",
                            ),
                        ],
                        width=24,
                    ),
                ],
            ),
            (
                "Response times",
                [
                    Panel(
                        "First response p90 by priority (business time)",
                        [
                            (
                                "histogram_quantile(0.9, sum by (le, priority) (rate("
                                "switchboard_sla_first_response_seconds_bucket"
                                '{priority=~"$priority"}[1h])))',
                                "{{priority}}",
                            )
                        ],
                        unit="s",
                    ),
                    Panel(
                        "Resolution p90 by priority (business time)",
                        [
                            (
                                "histogram_quantile(0.9, sum by (le, priority) (rate("
                                f"switchboard_sla_resolution_seconds_bucket{sel}[6h])))",
                                "{{priority}}",
                            )
                        ],
                        unit="s",
                    ),
                ],
            ),
            (
                "Escalations",
                [
                    Panel(
                        "Escalations per hour by level and kind",
                        [
                            (
                                "sum by (level, kind) (rate(switchboard_sla_escalations_total"
                                "[1h])) * 3600",
                                "level {{level}} {{kind}}",
                            )
                        ],
                        stack=True,
                    ),
                    Panel(
                        "Escalation lateness (emitted minus due)",
                        [
                            (
                                f"histogram_quantile({q}, sum by (le) (rate("
                                f"switchboard_sla_escalation_lateness_seconds_bucket[{RI}])))",
                                f"p{int(q * 100)}",
                            )
                            for q in (0.5, 0.99)
                        ],
                        unit="s",
                    ),
                    Panel(
                        "Escalation timers scheduled",
                        [("sum by (instance) (switchboard_sla_timers)", "{{instance}}")],
                        width=24,
                        height=6,
                    ),
                ],
            ),
        ],
        [
            _custom_var("priority", "Priority", PRIORITIES),
            _custom_var("skill_group", "Skill group", SKILL_GROUPS),
        ],
    )


def pipeline() -> Json:
    jobs = 'job=~"intake|router|sla"'
    return dashboard(
        "switchboard-pipeline",
        "Switchboard / Pipeline health",
        "Targets, consumer lag, dead letters, errors, batch times and process resources.",
        [
            (
                "Health",
                [
                    Panel(
                        "Targets up",
                        [(f"sum by (job) (up{{{jobs}}})", "{{job}}")],
                        kind="stat",
                        width=8,
                        height=4,
                        base="red",
                        thresholds=[(1, "green")],
                    ),
                    Panel(
                        "Consumer lag (records)",
                        [
                            (
                                "sum by (group) (switchboard_consumer_lag_messages)",
                                "{{group}}",
                            )
                        ],
                        kind="stat",
                        width=8,
                        height=4,
                        thresholds=[(100, "orange"), (10000, "red")],
                    ),
                    Panel(
                        "Dead letters (time range)",
                        [
                            (
                                "sum(increase(switchboard_dead_letters_total[$__range]))",
                                "dead letters",
                            )
                        ],
                        kind="stat",
                        instant=True,
                        width=8,
                        height=4,
                        thresholds=[(1, "orange")],
                    ),
                ],
            ),
            (
                "Kafka",
                [
                    Panel(
                        "Consumer lag by group and topic",
                        [
                            (
                                "sum by (group, topic) (switchboard_consumer_lag_messages)",
                                "{{group}} {{topic}}",
                            )
                        ],
                    ),
                    Panel(
                        "Dead-lettered records by group and reason",
                        [
                            (
                                "sum by (group, reason) (increase(switchboard_dead_letters_total"
                                f"[{RI}]))",
                                "{{group}} {{reason}}",
                            )
                        ],
                        stack=True,
                    ),
                    Panel(
                        "Router batch duration",
                        [
                            (
                                f"histogram_quantile({q}, sum by (le) (rate("
                                f"switchboard_router_batch_duration_seconds_bucket[{RI}])))",
                                f"p{int(q * 100)}",
                            )
                            for q in (0.5, 0.99)
                        ],
                        unit="s",
                    ),
                    Panel(
                        "Intake: sends not acknowledged / records in flight",
                        [
                            (
                                f"sum(rate(switchboard_intake_producer_errors_total[{RI}]))",
                                "producer errors/s",
                            ),
                            ("sum(switchboard_intake_in_flight_records)", "in flight"),
                        ],
                    ),
                ],
            ),
            (
                "HTTP",
                [
                    Panel(
                        "5xx responses/s by service and route",
                        [
                            (
                                "sum by (job, route) (rate("
                                "switchboard_http_request_duration_seconds_count"
                                f'{{{jobs}, code=~"5.."}}[{RI}]))',
                                "{{job}} {{route}}",
                            )
                        ],
                        unit="reqps",
                    ),
                    Panel(
                        "p99 latency by service",
                        [
                            (
                                "histogram_quantile(0.99, sum by (le, job) (rate("
                                f"switchboard_http_request_duration_seconds_bucket{{{jobs}, "
                                f'route!~"/metrics|/healthz|/readyz"}}[{RI}])))',
                                "{{job}}",
                            )
                        ],
                        unit="s",
                    ),
                    Panel(
                        "Rules reloads by outcome",
                        [
                            (
                                "sum by (outcome) (increase(switchboard_router_rules_reloads_total"
                                f"[{RI}]))",
                                "{{outcome}}",
                            )
                        ],
                        width=24,
                        height=6,
                    ),
                ],
            ),
            (
                "Processes",
                [
                    Panel(
                        "CPU (cores) by process",
                        [
                            (
                                f"rate(process_cpu_seconds_total{{{jobs}}}[{RI}])",
                                "{{job}} {{instance}}",
                            )
                        ],
                    ),
                    Panel(
                        "Resident memory by process",
                        [
                            (
                                f"process_resident_memory_bytes{{{jobs}}}",
                                "{{job}} {{instance}}",
                            )
                        ],
                        unit="bytes",
                    ),
                ],
            ),
        ],
    )


DASHBOARDS = {
    "intake.json": intake,
    "routing.json": routing,
    "queues.json": queues,
    "sla.json": sla,
    "pipeline.json": pipeline,
}


def render() -> dict[str, str]:
    """File name -> JSON text, exactly as committed."""
    return {
        name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
