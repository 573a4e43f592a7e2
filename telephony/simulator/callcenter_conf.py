"""``callcenter.conf`` as mod_callcenter reads it: queues (with their parameters), agents, tiers.

Parameter names, defaults and ranges follow ``mod_callcenter.c`` (``queue_set_config``,
``load_agent``, ``load_tier``): ``strategy`` defaults to ``longest-idle-agent``,
``time-base-score`` to ``queue``, ``tier-rule-no-agent-no-wait`` to true,
``max-wait-time-with-no-agent-time-reached`` to 5, the other integers to 0 (0 = no limit).
An agent from the file starts ``Logged Out`` unless its ``status`` says otherwise; a tier
starts ``Ready`` at level 1, position 1.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

STRATEGIES = frozenset(
    {
        "ring-all",
        "longest-idle-agent",
        "round-robin",
        "top-down",
        "agent-with-least-talk-time",
        "agent-with-fewest-calls",
        "sequentially-by-agent-order",
        "random",
        "ring-progressively",
    }
)


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """The mod_callcenter queue settings the simulator honours (seconds; 0 = no limit)."""

    name: str
    max_wait: int = 0
    max_wait_no_agent: int = 0
    max_wait_no_agent_time_reached: int = 5
    moh_sound: str = ""
    strategy: str = "longest-idle-agent"
    time_base_score: str = "queue"
    tier_rules_apply: bool = False
    tier_rule_wait_second: int = 0
    tier_rule_wait_multiply_level: bool = False
    tier_rule_no_agent_no_wait: bool = True
    announce_sound: str = ""
    announce_frequency: int = 0


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """One ``<agent>`` line."""

    name: str
    type: str = "callback"
    contact: str = ""
    status: str = "Logged Out"
    max_no_answer: int = 0
    wrap_up_time: int = 0
    reject_delay_time: int = 0
    busy_delay_time: int = 0


@dataclass(frozen=True, slots=True)
class TierConfig:
    """One ``<tier>`` line: ``agent`` serves ``queue`` at ``level`` (lower first)."""

    queue: str
    agent: str
    level: int = 1
    position: int = 1


def _number(value: str | None, default: int) -> int:
    text = (value or "").strip()
    return int(text) if text.isdigit() else default


def _flag(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "yes", "on", "1")


def queue_config(element: ET.Element) -> QueueConfig:
    """A ``<queue name=...>`` element with its ``<param>`` children."""
    params = {p.get("name", ""): p.get("value", "") for p in element.findall("param")}
    strategy = params.get("strategy") or "longest-idle-agent"
    return QueueConfig(
        name=element.get("name", ""),
        max_wait=_number(params.get("max-wait-time"), 0),
        max_wait_no_agent=_number(params.get("max-wait-time-with-no-agent"), 0),
        max_wait_no_agent_time_reached=_number(
            params.get("max-wait-time-with-no-agent-time-reached"), 5
        ),
        moh_sound=params.get("moh-sound", ""),
        strategy=strategy if strategy in STRATEGIES else "longest-idle-agent",
        time_base_score=params.get("time-base-score") or "queue",
        tier_rules_apply=_flag(params.get("tier-rules-apply"), False),
        tier_rule_wait_second=_number(params.get("tier-rule-wait-second"), 0),
        tier_rule_wait_multiply_level=_flag(params.get("tier-rule-wait-multiply-level"), False),
        tier_rule_no_agent_no_wait=_flag(params.get("tier-rule-no-agent-no-wait"), True),
        announce_sound=params.get("announce-sound", ""),
        announce_frequency=_number(params.get("announce-frequency"), 0),
    )


def agent_config(element: ET.Element) -> AgentConfig:
    return AgentConfig(
        name=element.get("name", ""),
        type=element.get("type", "callback"),
        contact=element.get("contact", ""),
        status=element.get("status") or "Logged Out",
        max_no_answer=_number(element.get("max-no-answer"), 0),
        wrap_up_time=_number(element.get("wrap-up-time"), 0),
        reject_delay_time=_number(element.get("reject-delay-time"), 0),
        busy_delay_time=_number(element.get("busy-delay-time"), 0),
    )


def tier_config(element: ET.Element) -> TierConfig:
    return TierConfig(
        queue=element.get("queue", ""),
        agent=element.get("agent", ""),
        level=_number(element.get("level"), 1),
        position=_number(element.get("position"), 1),
    )
