"""``api callcenter_config ...`` against the simulated mod_callcenter, with its replies.

The argument is split like ``switch_separate_string(cmd, ' ', argv, 8)`` (quotes group words,
so ``agent set status senior-1001@default 'On Break'``); the replies are mod_callcenter's
(``+OK``, ``-ERR Agent not found!``, ``-ERR Invalid Agent Status!``, ``-ERR Invalid!``, a bare
count, ``|``-separated tables ending in ``+OK``).
"""

from __future__ import annotations

from collections.abc import Sequence

from telephony.simulator.callcenter import (
    AGENT_STATES,
    AGENT_STATUSES,
    AGENT_TYPES,
    TIER_STATES,
    Agent,
    CallCenter,
    Tier,
)
from telephony.simulator.fsstrings import separate_string

SYNTAX = (
    "callcenter_config agent add [name] [type] | callcenter_config agent del [name] | "
    "callcenter_config agent set status [agent_name] [status] | "
    "callcenter_config agent set state [agent_name] [state] | "
    "callcenter_config agent get status [agent_name] | callcenter_config agent list | "
    "callcenter_config tier add [queue_name] [agent_name] [level] [position] | "
    "callcenter_config tier set state [queue_name] [agent_name] [state] | "
    "callcenter_config tier del [queue_name] [agent_name] | callcenter_config tier list | "
    "callcenter_config queue list | callcenter_config queue list agents [queue_name] [status] | "
    "callcenter_config queue list members [queue_name] | "
    "callcenter_config queue count agents [queue_name] [status] | "
    "callcenter_config queue count members [queue_name]"
)
INVALID = "-ERR Invalid!\n"
AGENT_COLUMNS = (
    "name|system|uuid|type|contact|status|state|max_no_answer|wrap_up_time|reject_delay_time|"
    "busy_delay_time|no_answer_delay_time|last_bridge_start|last_bridge_end|last_offered_call|"
    "last_status_change|no_answer_count|calls_answered|talk_time|ready_time"
)
MEMBER_COLUMNS = (
    "queue|system|uuid|session_uuid|cid_number|cid_name|system_epoch|joined_epoch|"
    "rejoined_epoch|bridge_epoch|abandoned_epoch|base_score|skill_score|serving_agent|"
    "serving_system|state"
)
TIER_COLUMNS = "queue|agent|state|level|position"
INTEGER_KEYS = (
    "max_no_answer",
    "wrap_up_time",
    "reject_delay_time",
    "busy_delay_time",
    "no_answer_delay_time",
    "ready_time",
)


def callcenter_config(center: CallCenter, arg: str) -> str:
    """The text mod_callcenter answers to ``callcenter_config <arg>``."""
    if not arg.strip():
        return f"-USAGE: {SYNTAX}\n"
    argv = separate_string(arg, " ", 8)
    if len(argv) < 2:
        return INVALID
    section, action, rest = argv[0].lower(), argv[1].lower(), argv[2:]
    if section == "agent":
        return _agent(center, action, rest)
    if section == "tier":
        return _tier(center, action, rest)
    if section == "queue":
        return _queue(center, action, rest)
    return ""


def _named(names: Sequence[str], value: str) -> str | None:
    return next((n for n in names if n.lower() == value.lower()), None)


def _agent(center: CallCenter, action: str, rest: list[str]) -> str:
    if action == "add":
        if len(rest) < 2:
            return INVALID
        if _named(AGENT_TYPES, rest[1]) is None:
            return "-ERR Agent type invalid!\n"
        if rest[0] in center.agents:
            return "-ERR Agent already exist!\n"
        center.agents[rest[0]] = Agent(rest[0], type=rest[1])
        return "+OK\n"
    if action == "del":
        if not rest:
            return INVALID
        center.agents.pop(rest[0], None)
        center.tiers = [t for t in center.tiers if t.agent != rest[0]]
        return "+OK\n"
    if action == "set":
        if len(rest) < 3:
            return INVALID
        return _agent_set(center, rest[0].lower(), rest[1], rest[2])
    if action == "get":
        if len(rest) < 2:
            return INVALID
        agent = center.agents.get(rest[1])
        if agent is None:
            return "-ERR Agent not found!\n"
        if rest[0].lower() != "status":
            return "-ERR Invalid Agent Update KEY!\n"
        return agent.status
    if action == "list":
        rows = [_agent_row(a) for a in center.agents.values()]
        return _table(AGENT_COLUMNS, rows)
    return ""


def _agent_set(center: CallCenter, key: str, name: str, value: str) -> str:
    agent = center.agents.get(name)
    if agent is None:
        return "-ERR Agent not found!\n"
    if key == "status":
        status = _named(AGENT_STATUSES, value)
        if status is None:
            return "-ERR Invalid Agent Status!\n"
        center.set_status(agent, status)
    elif key == "state":
        state = _named(AGENT_STATES, value)
        if state is None:
            return "-ERR Invalid Agent State!\n"
        center.set_state(agent, state)
    elif key == "contact":
        agent.contact = value
    elif key == "type":
        kind = _named(AGENT_TYPES, value)
        if kind is None:
            return "-ERR Invalid Agent Type!\n"
        agent.type = kind
    elif key in INTEGER_KEYS:
        setattr(agent, key, int(value) if value.lstrip("-").isdigit() else 0)
    elif key != "uuid":
        return "-ERR Invalid Agent Update KEY!\n"
    return "+OK\n"


def _tier(center: CallCenter, action: str, rest: list[str]) -> str:
    if action == "add":
        if len(rest) < 4:
            return INVALID
        queue, name = rest[0], rest[1]
        if queue not in center.queues:
            return "-ERR Queue not found!\n"
        if name not in center.agents:
            return "-ERR Agent not found!\n"
        if any(t.queue == queue and t.agent == name for t in center.tiers):
            return "-ERR Tier already exist!\n"
        center.tiers.append(Tier(queue, name, _int(rest[2]), _int(rest[3])))
        return "+OK\n"
    if action == "set":
        if len(rest) < 4:
            return INVALID
        key, queue, name, value = rest[0].lower(), rest[1], rest[2], rest[3]
        tier = next((t for t in center.tiers if t.queue == queue and t.agent == name), None)
        if tier is None:
            return "-ERR Agent not found!\n"
        if key == "state":
            state = _named(TIER_STATES, value)
            if state is None:
                return "-ERR Invalid Tier State!\n"
            tier.state = state
        elif key in ("level", "position"):
            setattr(tier, key, _int(value))
        else:
            return "-ERR Invalid Tier Update KEY!\n"
        return "+OK\n"
    if action == "del":
        if len(rest) < 2:
            return INVALID
        center.tiers = [t for t in center.tiers if not (t.queue == rest[0] and t.agent == rest[1])]
        return "+OK\n"
    if action == "list":
        tiers = sorted(center.tiers, key=lambda t: (t.level, t.position))
        return _table(TIER_COLUMNS, [_tier_row(t) for t in tiers])
    return ""


def _queue(center: CallCenter, action: str, rest: list[str]) -> str:
    if action in ("load", "reload"):
        if not rest:
            return INVALID
        return "+OK\n" if rest[0] in center.queues else "-ERR Invalid Queue not found!\n"
    if action == "unload":
        return "+OK\n" if rest else INVALID
    if action not in ("list", "count"):
        return ""
    if not rest:
        if action == "count":
            return f"{len(center.queues)}\n"
        lines = [
            f"{q.name}|{q.strategy}|{q.moh_sound}|{q.time_base_score}|"
            f"{str(q.tier_rules_apply).lower()}|{q.tier_rule_wait_second}|"
            f"{str(q.tier_rule_wait_multiply_level).lower()}|"
            f"{str(q.tier_rule_no_agent_no_wait).lower()}|60|false|{q.max_wait}|"
            f"{q.max_wait_no_agent}|{q.max_wait_no_agent_time_reached}|"
            for q in center.queues.values()
        ]
        head = (
            "name|strategy|moh_sound|time_base_score|tier_rules_apply|tier_rule_wait_second|"
            "tier_rule_wait_multiply_level|tier_rule_no_agent_no_wait|discard_abandoned_after|"
            "abandoned_resume_allowed|max_wait_time|max_wait_time_with_no_agent|"
            "max_wait_time_with_no_agent_time_reached|record_template\n"
        )
        return head + "".join(line + "\n" for line in lines) + "+OK\n"
    sub = rest[0].lower()
    queue = rest[1] if len(rest) > 1 else ""
    status = rest[2] if len(rest) > 2 else None
    if sub == "agents":
        names = [t.agent for t in center.tiers if t.queue == queue]
        agents = [
            center.agents[n]
            for n in names
            if status is None or center.agents[n].status.lower() == status.lower()
        ]
        if action == "count":
            return f"{len(agents)}\n"
        return _table(AGENT_COLUMNS, [_agent_row(a) for a in agents])
    if sub == "members":
        members = [m for m in center.members if m.queue == queue]
        if action == "count":
            return f"{len(members)}\n"
        rows = [
            f"{m.queue}|single_box|{m.uuid}|{m.session_uuid}|{m.cid_number}|{m.cid_number}|"
            f"{int(m.system_joined)}|{int(m.joined)}|0|0|0|{m.base_score}|0|{m.agent or ''}|"
            f"{'single_box' if m.agent else ''}|{m.state}"
            for m in members
        ]
        return _table(MEMBER_COLUMNS, rows)
    if sub == "tiers":
        tiers = [t for t in center.tiers if t.queue == queue]
        if action == "count":
            return f"{len(tiers)}\n"
        return _table(TIER_COLUMNS, [_tier_row(t) for t in tiers])
    return INVALID


def _int(text: str) -> int:
    return int(text) if text.lstrip("-").isdigit() else 0


def _table(columns: str, rows: list[str]) -> str:
    """``list_result_callback``: the header only when there are rows, then ``+OK``."""
    if not rows:
        return "+OK\n"
    return columns + "\n" + "".join(r + "\n" for r in rows) + "+OK\n"


def _agent_row(a: Agent) -> str:
    return (
        f"{a.name}|single_box||{a.type}|{a.contact}|{a.status}|{a.state}|{a.max_no_answer}|"
        f"{a.wrap_up_time}|{a.reject_delay_time}|{a.busy_delay_time}|{a.no_answer_delay_time}|"
        f"{int(a.last_bridge_start)}|{int(a.last_bridge_end)}|{int(a.last_offered_call)}|"
        f"{int(a.last_status_change)}|{a.no_answer_count}|{a.calls_answered}|"
        f"{int(a.talk_time)}|{a.ready_time}"
    )


def _tier_row(t: Tier) -> str:
    return f"{t.queue}|{t.agent}|{t.state}|{t.level}|{t.position}"
