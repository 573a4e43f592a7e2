"""The flow interpreter: a pure step machine over a validated :class:`~flows.model.Flow`.

It yields *instructions* (speak, gather, ask consent, converse with the bot, transfer, call a
webhook, open a callback ticket, hang up) and is resumed with their *results*; conditions,
variables and business hours are evaluated inside, with ``now`` passed in by the caller. The
orchestrator executes instructions against telephony, speech, the bot, compliance and records.
Defence in depth for invariant 5: a marketing prompt is never emitted unless consent for the
flow's purpose was granted in this run (or was on file when the call started).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Generator, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flows.model import (
    BotNode,
    BusinessHoursNode,
    CallbackTicketNode,
    CollectDigitsNode,
    Condition,
    ConditionNode,
    ConsentGateNode,
    DisclosureNode,
    Flow,
    HangupNode,
    MenuNode,
    PlayNode,
    Prompt,
    SetNode,
    TransferNode,
    WebhookNode,
)
from flows.steps import (
    AskConsent,
    BotOutcome,
    CallWebhook,
    ConsentAnswer,
    Converse,
    Digits,
    Done,
    Gather,
    HangupCall,
    Instruction,
    NoInput,
    OpenCallbackTicket,
    Played,
    Result,
    Speak,
    TransferCall,
    TransferOutcome,
    Utterance,
    WebhookResult,
)
from ivr.errors import LocalProtocolError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

__all__ = [
    "DAY_NAMES",
    "AskConsent",
    "BotOutcome",
    "CallWebhook",
    "ConsentAnswer",
    "Converse",
    "Digits",
    "Done",
    "FlowRun",
    "Gather",
    "HangupCall",
    "Instruction",
    "NoInput",
    "OpenCallbackTicket",
    "Played",
    "Result",
    "Speak",
    "TransferCall",
    "TransferOutcome",
    "Utterance",
    "WebhookResult",
    "render",
]

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "in": lambda value, expected: value in expected,
    "not_in": lambda value, expected: value not in expected,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def render(template: str, variables: Mapping[str, Any]) -> str:
    """Fill ``{name}`` placeholders from ``variables``; unknown names stay as written."""
    return _PLACEHOLDER.sub(lambda m: str(variables.get(m.group(1), m.group(0))), template)


class FlowRun:
    """One call's walk through one flow version. Drive with :meth:`start` / :meth:`resume`."""

    def __init__(
        self,
        flow: Flow,
        prompts: Mapping[str, Prompt],
        variables: Mapping[str, Any],
        *,
        consent_on_file: bool = False,
    ) -> None:
        self.flow = flow
        self.prompts = {**prompts, **flow.prompts}
        self.variables: dict[str, Any] = {**flow.variables, **variables}
        self.consented = consent_on_file
        self.path: list[str] = []
        self.finished = False
        self._now: datetime | None = None
        self._no_agent_queue: str | None = None
        """The queue of the last transfer that found no agent (a ticket without a queue of its
        own is filed there, with that queue's SLA: a senior caller stays a senior ticket)."""
        self._steps = self._walk()

    def start(self, now: datetime) -> Instruction:
        self._now = now
        return next(self._steps)

    def resume(self, result: Result, now: datetime) -> Instruction | None:
        """Feed the result of the last instruction; ``None`` once the flow has ended."""
        self._now = now
        try:
            return self._steps.send(result)
        except StopIteration:
            self.finished = True
            return None

    # ---- internals ----

    def _speak(self, node: str, prompt_id: str, barge_in: bool | None, kind: str) -> Speak:
        prompt = self.prompts[prompt_id]
        marketing = prompt.marketing or kind == "marketing"
        if marketing and not self.consented:
            raise LocalProtocolError(f"marketing prompt {prompt_id!r} before consent (inv. 5)")
        return Speak(
            node=node,
            prompt_id=prompt_id,
            text=render(prompt.text, self.variables) if prompt.text is not None else None,
            audio=prompt.audio,
            barge_in=prompt.barge_in if barge_in is None else barge_in,
            kind="marketing" if marketing else kind,
        )

    def _walk(self) -> Generator[Instruction, Result, None]:
        node_id = self.flow.start
        while True:
            self.path.append(node_id)
            node = self.flow.nodes[node_id]
            match node:
                case DisclosureNode():
                    yield self._speak(node_id, node.prompt, False, "disclosure")
                    node_id = node.next
                case PlayNode():
                    kind = "marketing" if node.marketing else "prompt"
                    yield self._speak(node_id, node.prompt, node.barge_in, kind)
                    node_id = node.next
                case MenuNode():
                    node_id = yield from self._menu(node_id, node)
                case CollectDigitsNode():
                    node_id = yield from self._collect(node_id, node)
                case ConsentGateNode():
                    purpose = node.purpose or self.flow.purpose
                    ask = AskConsent(
                        node_id,
                        self._speak(node_id, node.prompt, False, "consent"),
                        purpose,
                        node.scope,
                        node.timeout_s,
                        node.retries,
                    )
                    answer = yield ask
                    outcome = answer.outcome if isinstance(answer, ConsentAnswer) else "no_answer"
                    if outcome == "granted":
                        self.consented = True
                        node_id = node.on_granted
                    elif outcome == "refused":
                        node_id = node.on_refused
                    else:
                        node_id = node.on_no_answer
                case BotNode():
                    bot_result = yield Converse(node_id, node.max_turns)
                    after = yield from self._after_bot(node_id, node, bot_result)
                    if after is None:
                        return
                    node_id = after
                case TransferNode():
                    notice = (
                        self._speak(node_id, node.prompt, False, "prompt") if node.prompt else None
                    )
                    result = yield TransferCall(
                        node_id, node.queue, node.priority, node.reason, notice
                    )
                    if isinstance(result, TransferOutcome) and result.connected:
                        return
                    self._no_agent_queue = node.queue
                    node_id = node.on_no_agent
                case BusinessHoursNode():
                    node_id = node.open if self._is_open(node) else node.closed
                case ConditionNode():
                    node_id = next((c.next for c in node.cases if self._matches(c)), node.default)
                case SetNode():
                    for key, value in node.values.items():
                        self.variables[key] = (
                            render(value, self.variables) if isinstance(value, str) else value
                        )
                    node_id = node.next
                case WebhookNode():
                    result = yield CallWebhook(
                        node_id,
                        render(node.url, self.variables),
                        node.method,
                        {
                            k: render(v, self.variables) if isinstance(v, str) else v
                            for k, v in node.body.items()
                        },
                        node.timeout_s,
                    )
                    if isinstance(result, WebhookResult) and result.ok:
                        for variable, key in node.save.items():
                            if key in result.data:
                                self.variables[variable] = result.data[key]
                        node_id = node.next
                    else:
                        node_id = node.on_failure
                case CallbackTicketNode():
                    notice = (
                        self._speak(node_id, node.prompt, False, "prompt") if node.prompt else None
                    )
                    queue = node.queue or self._no_agent_queue or "general"
                    yield OpenCallbackTicket(node_id, queue, node.reason, notice)
                    node_id = node.next
                case HangupNode():
                    goodbye = (
                        self._speak(node_id, node.prompt, False, "prompt") if node.prompt else None
                    )
                    yield HangupCall(node_id, node.cause, goodbye)
                    return

    def _menu(self, node_id: str, node: MenuNode) -> Generator[Instruction, Result, str]:
        valid = "".join(node.options)
        for attempt in range(node.retries + 1):
            prompt = self._speak(node_id, node.prompt, None, "prompt")
            result = yield Gather(node_id, prompt, 1, 1, "", node.timeout_s, valid, node.speech)
            if isinstance(result, Digits) and result.digits in node.options:
                return node.options[result.digits]
            if isinstance(result, Utterance) and result.intent in node.intents:
                return node.intents[result.intent]
            if attempt < node.retries:
                retry_prompt = node.no_input_prompt if isinstance(result, NoInput) else None
                yield self._speak(node_id, retry_prompt or node.invalid_prompt, True, "prompt")
        return node.on_failure

    def _collect(
        self, node_id: str, node: CollectDigitsNode
    ) -> Generator[Instruction, Result, str]:
        for attempt in range(node.retries + 1):
            prompt = self._speak(node_id, node.prompt, None, "prompt")
            result = yield Gather(
                node_id,
                prompt,
                node.min_digits,
                node.max_digits,
                node.terminator,
                node.timeout_s,
                None,
                False,
            )
            if isinstance(result, Digits) and (
                node.min_digits <= len(result.digits) <= node.max_digits
            ):
                self.variables[node.variable] = result.digits
                return node.next
            if attempt < node.retries:
                yield self._speak(node_id, node.invalid_prompt, True, "prompt")
        return node.on_failure

    def _after_bot(
        self, node_id: str, node: BotNode, outcome: Result
    ) -> Generator[Instruction, Result, str | None]:
        """The next node after the bot, or ``None`` when the call ended here."""
        if not isinstance(outcome, BotOutcome) or outcome.outcome == "failure":
            return node.on_failure
        if outcome.outcome == "transfer":
            if node.on_transfer:
                self.variables.update(
                    transfer_queue=outcome.queue,
                    transfer_priority=outcome.priority,
                    transfer_reason=outcome.reason,
                )
                return node.on_transfer
            result = yield TransferCall(
                node_id,
                outcome.queue or "general",
                outcome.priority or 5,
                outcome.reason or "bot",
                None,
            )
            if isinstance(result, TransferOutcome) and result.connected:
                return None
            return node.on_failure
        if node.on_hangup:
            return node.on_hangup
        yield HangupCall(node_id, "NORMAL_CLEARING", None)
        return None

    def _is_open(self, node: BusinessHoursNode) -> bool:
        assert self._now is not None
        local = self._now.astimezone(ZoneInfo(node.timezone))
        day = DAY_NAMES[local.weekday()]
        clock = local.time().replace(tzinfo=None)
        return any(day in h.days and h.open <= clock < h.close for h in node.hours)

    def _matches(self, condition: Condition) -> bool:
        present = condition.variable in self.variables
        value = self.variables.get(condition.variable)
        op, expected = condition.op, condition.value
        if op == "exists":
            return present
        if op == "missing":
            return not present
        if not present:
            return False
        try:
            return bool(_COMPARE[op](value, expected))
        except TypeError:
            return False
