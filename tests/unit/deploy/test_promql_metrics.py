"""Every metric a dashboard or alert rule queries is one the services export (metrics_catalog)."""

from __future__ import annotations

import pytest

from tests.unit.deploy.metrics_catalog import (
    BY_NAME,
    EXPORTED,
    TARGET_LABELS,
    Expression,
    dashboard_expressions,
    metric_names,
    rule_expressions,
    selector_labels,
)

RULES = list(rule_expressions())
DASHBOARDS = list(dashboard_expressions())


def _ids(exprs: list[Expression]) -> list[str]:
    return [e.source for e in exprs]


def test_expressions_are_found() -> None:
    assert len(RULES) >= 10
    assert len(DASHBOARDS) >= 40


@pytest.mark.parametrize("expression", RULES + DASHBOARDS, ids=_ids(RULES + DASHBOARDS))
def test_metric_names_are_exported(expression: Expression) -> None:
    names = metric_names(expression.expr)
    assert names, f"no metric found in {expression.expr!r}"
    unknown = sorted(n for n in names if n not in BY_NAME)
    assert not unknown, (
        f"{expression.source} queries {unknown}, which no service exports "
        "(a histogram is queried as _bucket/_count/_sum)"
    )


@pytest.mark.parametrize("expression", RULES + DASHBOARDS, ids=_ids(RULES + DASHBOARDS))
def test_label_matchers_use_the_metrics_labels(expression: Expression) -> None:
    for name, labels in selector_labels(expression.expr).items():
        metric = BY_NAME[name]
        allowed = set(metric.labels) | TARGET_LABELS | {"__name__"}
        if name.endswith("_bucket"):
            allowed.add("le")
        extra = sorted(labels - allowed)
        assert not extra, f"{expression.source}: {name} has no label(s) {extra}"


def test_every_exported_metric_is_on_a_dashboard() -> None:
    used = set().union(*(metric_names(e.expr) for e in DASHBOARDS))
    missing = [m.name for m in EXPORTED if not set(m.series_names()) & used]
    assert not missing, f"exported but on no dashboard: {missing}"


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (job) (rate(a_total{job="x", code=~"5.."}[5m]))', {"a_total"}),
        (
            "histogram_quantile(0.99, sum by (le) (rate(h_seconds_bucket[$__rate_interval])))",
            {"h_seconds_bucket"},
        ),
        ("x / on (priority) group_left\n sum by (priority) (y) > 0.05", {"x", "y"}),
        ('a unless a offset 15m or absent(up{job="b"})', {"a", "up"}),
        ("sum(rate(x[1h])) * 3600 > 1e3 and bool y", {"x", "y"}),
    ],
)
def test_metric_name_extraction(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_selector_label_extraction() -> None:
    expr = 'rate(m_total{channel=~"$channel", outcome!="a{b}"}[5m]) + n{job="x"}'
    assert selector_labels(expr) == {"m_total": {"channel", "outcome"}, "n": {"job"}}
