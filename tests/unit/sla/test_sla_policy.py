"""The shipped policy table, rule precedence, and validation errors that name the key."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.sla.policy import (
    DEFAULT_POLICY_PATH,
    Policy,
    PolicyError,
    TicketFacts,
    load_policy,
    parse_policy,
)
from shared.models import CHANNELS, PRIORITIES, SKILL_GROUPS, TicketRouted

M, H = timedelta(minutes=1), timedelta(hours=1)
BD = 8 * H  # one business day of the shipped business calendar


def facts(
    priority: str,
    channel: str,
    skill: str = "general",
    intent: str | None = None,
    visibility: str | None = None,
) -> TicketFacts:
    return TicketFacts(priority, channel, skill, intent, visibility)  # type: ignore[arg-type]


def target(policy: Policy, f: TicketFacts, name: str) -> tuple[timedelta, str]:
    t = policy.target_for(f, name)  # type: ignore[arg-type]
    return t.duration, t.calendar


# --- the shipped defaults (docs/sla-policies.md) ----------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("visibility", [None, "public", "private"])
def test_p1_answered_within_15_minutes_around_the_clock_everywhere(
    policy: Policy, channel: str, visibility: str | None
) -> None:
    f = facts("P1", channel, "security", visibility=visibility)
    assert target(policy, f, "first_response") == (15 * M, "24x7")
    assert target(policy, f, "next_response") == (15 * M, "24x7")
    assert target(policy, f, "resolution") == (24 * H, "24x7")


RESPONSE_TABLE = {
    # priority: phone, email, chat, social (private)
    "P2": [(H, "24x7"), (BD, "business"), (15 * M, "24x7"), (H, "24x7")],
    "P3": [(4 * H, "business"), (BD, "business"), (30 * M, "24x7"), (4 * H, "business")],
    "P4": [(BD, "business"), (BD, "business"), (H, "24x7"), (BD, "business")],
}


@pytest.mark.parametrize("priority", ["P2", "P3", "P4"])
@pytest.mark.parametrize("skill", SKILL_GROUPS)
def test_response_table(policy: Policy, priority: str, skill: str) -> None:
    for channel, expected in zip(CHANNELS, RESPONSE_TABLE[priority], strict=True):
        for name in ("first_response", "next_response"):
            assert target(policy, facts(priority, channel, skill), name) == expected, channel
    public = facts(priority, "social", skill, visibility="public")
    assert target(policy, public, "first_response") == (H, "24x7")


def test_email_first_response_within_one_business_day(policy: Policy) -> None:
    f = facts("P3", "email", "account")
    assert target(policy, f, "first_response") == (BD, "business")
    cal = policy.calendar("business")
    created = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)  # Friday 17:30 in Shanghai
    assert cal.add(created, BD) == datetime(2026, 3, 9, 9, 30, tzinfo=UTC)  # Monday 17:30


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (facts("P2", "chat", "funding", "funding.topup_not_arrived"), (48 * H, "24x7")),
        (facts("P3", "email", "funding", "funding.topup_missing"), (48 * H, "24x7")),
        (facts("P2", "email", "refunds", "refunds.not_received"), (7 * BD, "business")),
        (facts("P1", "chat", "refunds"), (7 * BD, "business")),
        (facts("P2", "phone", "payments"), (48 * H, "24x7")),
        (facts("P3", "chat", "account"), (3 * BD, "business")),
        (facts("P4", "social", "general", visibility="private"), (5 * BD, "business")),
    ],
)
def test_resolution_targets(policy: Policy, f: TicketFacts, expected: tuple[Any, str]) -> None:
    assert target(policy, f, "resolution") == expected


def test_targets_say_which_rule_gave_them(policy: Policy) -> None:
    got = policy.targets_for(facts("P2", "social", "payments", visibility="public"))
    assert got["first_response"].rule == "social-public"
    assert got["resolution"].rule == "resolve-p2"


def test_shipped_policy_settings(policy: Policy) -> None:
    assert policy.at_risk_share == 0.8
    assert [(s.level, s.kind, s.escalate_to) for s in policy.ladder] == [
        (1, "at_risk", "team_lead"),
        (2, "breached", "supervisor"),
        (3, "breached", "manager"),
    ]
    assert policy.ladder[2].after_share == 0.5
    business = policy.calendar("business")
    assert business.tz.key == "Asia/Shanghai"
    assert policy.calendars_missing_holidays(2026) == []
    assert policy.calendars_missing_holidays(2027) == ["business"]


def test_every_combination_resolves(policy: Policy) -> None:
    for p in PRIORITIES:
        for c in CHANNELS:
            for s in SKILL_GROUPS:
                assert len(policy.targets_for(facts(p, c, s, intent="anything.else"))) == 3


def test_facts_from_a_routed_event() -> None:
    now = datetime(2026, 3, 2, tzinfo=UTC)
    event = TicketRouted(
        ticket_id="t1", message_id="m1", channel="social", priority="P2", skill_group="payments",
        intent="payments.failed", language="en", ticket_created_at=now, routed_at=now,
        change="created", visibility="public",
    )  # fmt: skip
    assert TicketFacts.from_routed(event) == facts(
        "P2", "social", "payments", "payments.failed", "public"
    )


# --- precedence -------------------------------------------------------------------------------


def doc(*rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    fallback = {
        "name": "fallback",
        "match": {},
        **{t: {"within": "1h", "calendar": "24x7"} for t in ("first_response", "next_response")},
        "resolution": {"within": "1d", "calendar": "24x7"},
    }
    return {"rules": [fallback, *rules], **extra}


def fr(name: str, within: str, **match: Any) -> dict[str, Any]:
    return {"name": name, "match": match, "first_response": {"within": within, "calendar": "24x7"}}


def winner(policy: Policy, f: TicketFacts) -> str:
    return policy.target_for(f, "first_response").rule


def test_more_dimensions_win() -> None:
    p = parse_policy(
        doc(fr("prio", "5m", priority="P2"), fr("prio+chan", "9m", priority="P2", channel="chat"))
    )
    assert winner(p, facts("P2", "chat")) == "prio+chan"
    assert winner(p, facts("P2", "email")) == "prio"
    assert winner(p, facts("P3", "email")) == "fallback"


def test_equal_counts_go_to_the_stronger_dimension() -> None:
    p = parse_policy(
        doc(
            fr("channel", "1m", channel="chat"),
            fr("priority", "2m", priority="P2"),
            fr("skill", "3m", skill_group="funding"),
            fr("intent", "4m", intent="funding.topup_not_arrived"),
            fr("visibility", "5m", visibility="public"),
        )
    )
    assert winner(p, facts("P2", "chat", "funding", "funding.topup_not_arrived", "public")) == (
        "intent"
    )
    assert winner(p, facts("P2", "chat", "funding", None, "public")) == "skill"
    assert winner(p, facts("P2", "chat", "general", None, "public")) == "priority"
    assert winner(p, facts("P3", "chat", "general", None, "public")) == "channel"
    assert winner(p, facts("P3", "social", "general", None, "public")) == "visibility"


def test_ties_go_to_the_rule_written_first_and_lists_count_as_one() -> None:
    p = parse_policy(
        doc(fr("first", "1m", priority=["P2", "P3"]), fr("second", "2m", priority="P2"))
    )
    assert winner(p, facts("P2", "chat")) == "first"
    assert winner(p, facts("P3", "chat")) == "first"


def test_rules_without_intent_never_need_one_and_intent_rules_need_it() -> None:
    p = parse_policy(doc(fr("intent", "1m", intent=["a.b", "c.d"])))
    assert winner(p, facts("P2", "chat", intent="c.d")) == "intent"
    assert winner(p, facts("P2", "chat")) == "fallback"


# --- validation -------------------------------------------------------------------------------


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    return data


def broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(shipped())
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(colour="red"), "unknown key 'colour'"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(at_risk_share=1.2), "at_risk_share"),
        (lambda d: d.update(at_risk_share=True), "at_risk_share"),
        (lambda d: d.update(rules=[]), "rules: expected a non-empty list"),
        (
            lambda d: d["rules"][1]["match"].update(prio="P1"),
            r"rules\[1\].match: unknown key 'prio'",
        ),
        (
            lambda d: d["rules"][1]["match"].update(priority="P9"),
            r"rules\[1\].match.priority: 'P9'",
        ),
        (lambda d: d["rules"][1]["match"].update(channel=[]), r"rules\[1\].match.channel"),
        (lambda d: d["rules"][1]["match"].update(skill_group="fraud"), "match.skill_group"),
        (lambda d: d["rules"][1]["match"].update(visibility="secret"), "match.visibility"),
        (lambda d: d["rules"][1]["first_response"].update(within="soon"), "first_response.within"),
        (lambda d: d["rules"][1]["first_response"].update(within="0m"), "longer than zero"),
        (lambda d: d["rules"][1]["resolution"].update(calendar="moon"), "unknown calendar 'moon'"),
        (lambda d: d["rules"][1]["resolution"].update(within="2bd"), "need a business calendar"),
        (lambda d: d["rules"][1]["resolution"].pop("calendar"), r"rules\[1\].resolution: expected"),
        (lambda d: d["rules"][1]["resolution"].update(by="x"), "unknown key 'by'"),
        (lambda d: d["rules"][1].update(sla="x"), r"rules\[1\]: unknown key 'sla'"),
        (lambda d: d["rules"].append({"match": {"priority": "P1"}}), "gives no target"),
        (lambda d: d["rules"].append("p1 15m"), "expected a mapping"),
        (lambda d: d.update(rules=d["rules"][1:2]), "no rule gives first_response"),
        (lambda d: d["calendars"].update({"24x7": {}}), "built in"),
        (lambda d: d["calendars"].update(night=3), "calendars.night: expected a mapping"),
        (lambda d: d["calendars"]["business"].update(timezone="Asia/Beijing"), "unknown time zone"),
        (lambda d: d["calendars"]["business"].update(timezone=8), "calendars.business.timezone"),
        (lambda d: d["calendars"]["business"].pop("hours"), "calendars.business.hours: missing"),
        (lambda d: d["calendars"]["business"].update(hours={"mon": ["9-5"]}), "hours.mon"),
        (lambda d: d["calendars"]["business"].update(hours={"mon": [780]}), "hours.mon"),
        (lambda d: d["calendars"]["business"].update(holidays="mars"), "holidays: no holiday"),
        (lambda d: d["calendars"]["business"].update(holidays=1), "calendars.business.holidays"),
        (lambda d: d["calendars"]["business"].update(opens="x"), "calendars.business.opens"),
        (lambda d: d["calendars"]["business"].update(business_day="1bd"), "business_day"),
        (lambda d: d["calendars"]["business"].update(business_day="lots"), "business_day"),
        (lambda d: d["calendars"]["business"].update(makeup_day="09:00-18:00"), "makeup_day"),
        (lambda d: d.update(ladder={"level": 1}), "ladder: expected a list"),
        (lambda d: d["ladder"][1].update(level=1), r"ladder\[1\].level: levels must increase"),
        (lambda d: d["ladder"][1].update(level=0), r"ladder\[1\].level: expected a positive"),
        (lambda d: d["ladder"][1].update(kind="late"), r"ladder\[1\].kind"),
        (lambda d: d["ladder"][1].update(escalate_to=""), r"ladder\[1\].escalate_to"),
        (lambda d: d["ladder"][1].update(whom="x"), r"ladder\[1\].whom: unknown key"),
        (lambda d: d["ladder"][0].update(after="10m"), r"ladder\[0\]: an at_risk step"),
        (lambda d: d["ladder"][2].pop("after"), r"ladder\[2\].after: a later breach"),
        (lambda d: d["ladder"][2].update(after="half"), r"ladder\[2\].after"),
        (lambda d: d["ladder"][2].update(after="x%"), r"ladder\[2\].after: expected a share"),
        (lambda d: d["ladder"][2].update(after="0%"), r"ladder\[2\].after: must be more"),
        (lambda d: d["ladder"][2].update(after="1bd"), r"ladder\[2\].after: expected a positive"),
        (lambda d: d["ladder"].append("x"), r"ladder\[3\]: expected"),
        (
            lambda d: d["ladder"].append({"level": 9, "kind": "at_risk", "escalate_to": "x"}),
            r"ladder\[3\]: an at_risk step comes before breaches",
        ),
    ],
)
def test_errors_name_the_key(change: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(broken(change), source="p.yaml")


def test_error_messages_start_with_the_source() -> None:
    with pytest.raises(PolicyError, match=r"^p.yaml: at_risk_share"):
        parse_policy(broken(lambda d: d.update(at_risk_share=0)), source="p.yaml")
    with pytest.raises(PolicyError, match="top level"):
        parse_policy(["rules"])


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)


def test_custom_ladder_calendars_and_holiday_folder(tmp_path: Path) -> None:
    (tmp_path / "cn.yaml").write_text("years:\n  2027:\n    holidays: [2027-01-01]\n")
    data = broken(
        lambda d: d.update(
            at_risk_share=0.5,
            ladder=[
                {"level": 1, "kind": "breached", "escalate_to": "supervisor"},
                {"level": 2, "kind": "breached", "escalate_to": "manager", "after": "30m"},
            ],
        )
    )
    data["calendars"]["uk"] = {"timezone": "Europe/London", "hours": {"mon-fri": ["09:00-17:00"]}}
    data["calendars"]["business"]["business_day"] = "7h"
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    p = load_policy(path, holidays_dir=tmp_path)
    assert p.at_risk_share == 0.5
    assert p.ladder[1].after == 30 * M
    assert p.calendar("uk").tz.key == "Europe/London"
    assert p.calendars_missing_holidays(2027) == []
    assert p.target_for(facts("P3", "email"), "first_response").duration == 7 * H
