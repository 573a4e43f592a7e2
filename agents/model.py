"""An agent's working status and what each change asks of mod_callcenter (pure).

The product's statuses are ``logged_out``, ``on_break`` (signed in, not taking calls: where a
login lands), ``ready``, ``on_call`` (the switch bridged a caller) and ``wrap_up`` (after a
call, until the agent is ready again). :func:`plan_change` takes the current status and an
action, and returns the new status with the ``callcenter_config agent set`` commands that make
mod_callcenter agree, or raises :class:`AgentTransitionError`:

=============  ==========================================  ==================================
status         mod_callcenter                              gets calls
=============  ==========================================  ==================================
logged_out     status ``Logged Out``                       no (and not present in the queue)
on_break       status ``On Break``                         no (present: callers keep waiting)
ready          status ``Available``, state ``Waiting``     yes
on_call        (set by the switch: ``In a queue call``)    no
wrap_up        state ``Idle`` (status stays ``Available``) no
=============  ==========================================  ==================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ivr.errors import IvrError


class AgentStatus(StrEnum):
    LOGGED_OUT = "logged_out"
    ON_BREAK = "on_break"
    READY = "ready"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


class AgentAction(StrEnum):
    LOGIN = "login"
    READY = "ready"
    BREAK = "break"
    WRAP_UP = "wrap_up"
    LOGOUT = "logout"
    CALL_STARTED = "call_started"  # the switch: bridge-agent-start
    CALL_ENDED = "call_ended"  # the switch: bridge-agent-end


class AgentTransitionError(IvrError):
    """The action is not possible from the agent's current status (e.g. logout on a call)."""


S, A = AgentStatus, AgentAction

# action -> (statuses it may start from, status it leads to)
_TRANSITIONS: dict[AgentAction, tuple[frozenset[AgentStatus], AgentStatus]] = {
    A.LOGIN: (frozenset({S.LOGGED_OUT}), S.ON_BREAK),
    A.READY: (frozenset({S.ON_BREAK, S.WRAP_UP, S.READY}), S.READY),
    A.BREAK: (frozenset({S.READY, S.WRAP_UP, S.ON_BREAK}), S.ON_BREAK),
    A.WRAP_UP: (frozenset({S.READY, S.ON_CALL, S.WRAP_UP}), S.WRAP_UP),
    A.LOGOUT: (frozenset({S.ON_BREAK, S.READY, S.WRAP_UP, S.LOGGED_OUT}), S.LOGGED_OUT),
    A.CALL_STARTED: (frozenset(AgentStatus), S.ON_CALL),
    A.CALL_ENDED: (frozenset({S.ON_CALL}), S.WRAP_UP),
}

# what mod_callcenter is told when an agent enters a status: (key, value) of
# ``callcenter_config agent set <key> <agent> <value>``
SWITCH_COMMANDS: dict[AgentStatus, tuple[tuple[str, str], ...]] = {
    S.LOGGED_OUT: (("status", "Logged Out"),),
    S.ON_BREAK: (("status", "On Break"),),
    S.READY: (("status", "Available"), ("state", "Waiting")),
    S.ON_CALL: (),
    S.WRAP_UP: (("state", "Idle"),),
}


@dataclass(frozen=True, slots=True)
class AgentChange:
    """The outcome of an action: the new status and the switch commands to send."""

    before: AgentStatus
    after: AgentStatus
    action: AgentAction
    commands: tuple[tuple[str, str], ...]


def plan_change(current: AgentStatus, action: AgentAction) -> AgentChange:
    """What ``action`` does to an agent in ``current`` (raises :class:`AgentTransitionError`)."""
    sources, target = _TRANSITIONS[action]
    if current not in sources:
        raise AgentTransitionError(
            f"cannot {action.value} while {current.value}",
            code="agents.cannot_act",
            params={"agent_action": action.value, "agent_status": current.value},
        )
    commands = SWITCH_COMMANDS[target] if target != current else ()
    if action is A.CALL_ENDED:
        commands = SWITCH_COMMANDS[S.WRAP_UP]  # mod_callcenter put the agent back to Waiting
    return AgentChange(current, target, action, commands)


def config_arg(agent: str, key: str, value: str) -> str:
    """The ``callcenter_config`` argument setting ``key`` of ``agent`` (quoted: a status such
    as ``On Break`` holds a space and mod_callcenter splits on spaces outside quotes)."""
    return f"agent set {key} {agent} '{value}'"
