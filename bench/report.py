"""The results: a table on stdout and the JSON file beside it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _get(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _num(value: Any, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}{unit}"
    return str(value)


def _row(
    what: str, value: str, p50: str = "", p99: str = "", baseline: str = "", note: str = ""
) -> tuple[str, ...]:
    return (what, value, p50, p99, baseline, note)


def _rounds(intake: Mapping[str, Any]) -> str:
    """``, median of 0.58 0.61 0.63``: the ratio of each round, no-op and intake in turn."""
    ratios = [r.get("ratio") for r in intake.get("rounds") or []]
    if len(ratios) < 2:
        return ""
    return ", median of " + " ".join(_num(r, "", 2) for r in ratios)


def rows(results: Mapping[str, Any]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    intake = results.get("intake") or {}
    if "skipped" in intake:
        out.append(_row("intake", "skipped", note=str(intake["skipped"])[:60]))
    elif intake:
        noop = intake.get("noop", {})
        notes = {
            "isolated": f"ratio {_num(intake.get('ratio'), '', 2)} (≥ 0.6){_rounds(intake)}",
            "intake": f"ratio {_num(intake.get('ratio_stack'), '', 2)}; router, SLA consuming",
        }
        labels = (
            ("noop", "intake baseline: aiohttp no-op"),
            ("isolated", "intake chat, 1 process"),
            ("intake", "intake chat, the stack's"),
        )
        for key, label in labels:
            r = intake.get(key, {})
            if "skipped" in r:
                out.append(_row(label, "skipped", note=str(r["skipped"])[:60]))
                continue
            out.append(
                _row(
                    label,
                    _num(r.get("rps"), " msg/s"),
                    _num(r.get("p50_ms"), " ms", 2),
                    _num(r.get("p99_ms"), " ms", 2),
                    "" if key == "noop" else _num(noop.get("rps"), " msg/s"),
                    notes.get(key, ""),
                )
            )
        reuse = intake.get("reuseport") or {}
        if "skipped" in reuse:
            out.append(_row("intake SO_REUSEPORT", "skipped", note=str(reuse["skipped"])[:60]))
        elif reuse:
            r = reuse.get("intake", {})
            note = f"x{_num(reuse.get('vs_single_intake'), '', 2)} of one process"
            if reuse.get("ratio") is not None:
                note += f", ratio {_num(reuse.get('ratio'), '', 2)}"
            out.append(
                _row(
                    f"intake x{reuse.get('processes')} (SO_REUSEPORT)",
                    _num(r.get("rps"), " msg/s"),
                    _num(r.get("p50_ms"), " ms", 2),
                    _num(r.get("p99_ms"), " ms", 2),
                    _num(_get(reuse, "noop.rps"), " msg/s"),
                    note,
                )
            )
    pipeline = results.get("pipeline") or {}
    if "skipped" in pipeline:
        out.append(_row("router pipeline", "skipped", note=str(pipeline["skipped"])[:60]))
    elif pipeline:
        base = pipeline.get("baseline", {})
        drain = pipeline.get("drain", {})
        out.append(
            _row(
                "router drain: 202 → routed",
                _num(drain.get("rate"), " msg/s"),
                _num(_get(drain, "latency.p50_ms"), " ms"),
                _num(_get(drain, "latency.p99_ms"), " ms"),
                _num(base.get("rate"), " msg/s"),
                f"ratio {_num(pipeline.get('ratio'), '', 2)}; target ≥ 2,000 msg/s:"
                f" {_num(pipeline.get('meets_target'))}",
            )
        )
        out.append(
            _row(
                "router steady (10–90 %)",
                _num(drain.get("steady_rate"), " msg/s"),
                baseline=_num(base.get("steady_rate"), " msg/s"),
            )
        )
        paced = pipeline.get("paced", {})
        if paced:
            out.append(
                _row(
                    f"e2e 202 → routed @ {paced.get('rate')}/s",
                    _num(paced.get("routed"), " routed"),
                    _num(_get(paced, "latency.p50_ms"), " ms", 1),
                    _num(_get(paced, "latency.p99_ms"), " ms", 1),
                    "",
                    f"baseline @ same rate p50/p99 "
                    f"{_num(_get(base, 'paced.latency.p50_ms'), '', 1)}/"
                    f"{_num(_get(base, 'paced.latency.p99_ms'), ' ms', 1)}",
                )
            )
        if drain.get("sla_lag_left"):
            out.append(
                _row(
                    "sla consumer, same batch",
                    _num(drain.get("sla_rate_lower_bound"), " msg/s"),
                    note=f"still {_num(drain.get('sla_lag_left'))} behind when the bench moved on",
                )
            )
        if drain.get("sla_caught_up_s") is not None:
            out.append(
                _row(
                    "sla consumer, same batch",
                    _num(drain.get("sla_rate"), " msg/s"),
                    note=f"caught up {_num(drain.get('sla_caught_up_s'), ' s', 1)} after the first post",
                )
            )
    backlog = results.get("backlog") or {}
    if backlog.get("router_rate") is not None:
        out.append(
            _row(
                "router: intake's backlog",
                _num(backlog.get("router_rate"), " msg/s"),
                note=f"{_num(backlog.get('router_drained'))} msgs in {_num(backlog.get('router_s'), ' s', 1)}",
            )
        )
    sla = results.get("sla") or {}
    if "skipped" in sla:
        out.append(_row("sla timers", "skipped", note=str(sla["skipped"])[:60]))
    elif sla:
        spread = sla.get("spread", {})
        out.append(
            _row(
                f"sla lateness, {_num(sla.get('tickets'))} tickets",
                _num(spread.get("fire_rate"), " timers/s"),
                _num(_get(spread, "published_lateness.p50_ms"), " ms", 1),
                _num(_get(spread, "published_lateness.p99_ms"), " ms", 1),
                "",
                f"target p99 ≤ 1 s: {_num(sla.get('meets_target'))}",
            )
        )
        burst = sla.get("burst", {})
        if burst:
            out.append(
                _row(
                    f"sla burst: {_num(burst.get('timers'))} due at once",
                    _num(burst.get("fire_rate"), " timers/s"),
                    _num(_get(burst, "published_lateness.p50_ms"), " ms", 1),
                    _num(_get(burst, "published_lateness.p99_ms"), " ms", 1),
                )
            )
        out.append(
            _row(
                "sla adopt timers (refresh)",
                _num(sla.get("refresh_rate"), " timers/s"),
                note=f"{_num(sla.get('timers_in_heap'))} in the heap,"
                f" start-up {_num(sla.get('startup_loaded'))} loaded in"
                f" {sla.get('startup_refresh_s', '-')} s,"
                f" {_num(sla.get('bytes_per_timer'))} B of RSS per timer",
            )
        )
    memory = results.get("memory") or {}
    for role, snap in (memory.get("after") or {}).items():
        before = (memory.get("before") or {}).get(role, {})
        out.append(
            _row(
                f"RSS {role}",
                _num((snap.get("VmRSS") or 0) / 1024, " MiB", 1),
                note=(
                    f"before {_num((before.get('VmRSS') or 0) / 1024, ' MiB', 1)},"
                    f" peak {_num((snap.get('VmHWM') or 0) / 1024, ' MiB', 1)}"
                ),
            )
        )
    return out


def warnings(results: Mapping[str, Any]) -> list[str]:
    out = []
    for phase in ("pipeline", "sla", "intake", "backlog"):
        data = results.get(phase) or {}
        for key in ("error", "disturbed"):
            if data.get(key):
                out.append(f"{phase}: {key}: {data[key]}")
    return out


def table(results: Mapping[str, Any]) -> str:
    header = ("measure", "value", "p50", "p99", "baseline", "notes")
    body = rows(results)
    widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in (header, tuple("-" * w for w in widths), *body)
    ]
    lines += [f"WARNING {w}" for w in warnings(results)]
    return "\n".join(lines)


def write_json(results: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
