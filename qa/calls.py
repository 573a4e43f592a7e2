"""Whole-call QA (pure): prohibited wording in every bot/agent turn, mandatory statements,
score and pass/fail, each finding with speaker, offset into the recording, phrase and rule.

:func:`inspect_call` takes the call's ordered turns (who spoke, what, when, and the kind of
prompt when the orchestrator knows it: ``disclosure``, ``consent``, ``marketing``,
``risk_warning``) and the compiled rules, and returns a :class:`CallQa` recording the rules
version. The caller's own words are never scored; caller turns only show when a mandated
statement was talked over. The statement checks are in :mod:`qa.mandatory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from qa.compiled import CompiledRules
from qa.matcher import Hit
from qa.rules import Severity, Speaker
from qa.second_stage import ModelHit
from qa.verdict import SpeechContext

SCORED = (Speaker.BOT, Speaker.AGENT)


@dataclass(frozen=True, slots=True)
class Turn:
    """One utterance of a call. ``start_ms``/``end_ms``: offsets into the recording."""

    speaker: Speaker
    text: str
    start_ms: int
    end_ms: int | None = None
    kind: str | None = None  # disclosure | consent | marketing | risk_warning | prompt | reply
    cut_off: bool = False  # its playback was broken off before the end
    talked_over: bool = False  # the other side spoke while it played


class FindingKind(StrEnum):
    HIT = "hit"  # prohibited wording was said
    BLOCKED = "blocked"  # a bot sentence with prohibited wording, stopped before synthesis
    MISSING = "missing"  # a mandatory statement was not said
    LATE = "late"  # it was said, but not where it must be
    INCOMPLETE = "incomplete"  # not said in full (cut off, truncated)
    TALKED_OVER = "talked_over"  # said while the caller spoke over it
    MODEL = "model"  # the learned stage flags a line the rules did not, for review (no points)


@dataclass(frozen=True, slots=True)
class Finding:
    """One QA finding of a call."""

    kind: FindingKind
    rule: str  # phrase rule id or mandatory statement id
    category: str  # phrase category, or "mandatory"
    severity: Severity
    speaker: Speaker | None
    offset_ms: int | None
    phrase: str  # what was said (hits) or what is missing
    wording: str = ""  # the rule wording matched
    how: str = ""
    turn: int | None = None
    rules_version: str = ""  # the version that found it, when not the result's (blocked)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity.value,
            "speaker": self.speaker.value if self.speaker else None,
            "offset_ms": self.offset_ms,
            "phrase": self.phrase,
            "wording": self.wording,
            "how": self.how,
            "turn": self.turn,
            "rules_version": self.rules_version or None,
        }


@dataclass(frozen=True, slots=True)
class CallQa:
    """The QA result of one call."""

    call_id: str
    rules_version: str
    score: int
    passed: bool
    findings: tuple[Finding, ...]
    context: SpeechContext = field(compare=False)
    model_version: str | None = None  # the learned stage's (None: rules only)

    def as_dict(self) -> dict[str, object]:
        return {
            "call_id": self.call_id,
            "rules_version": self.rules_version,
            "model_version": self.model_version,
            "score": self.score,
            "passed": self.passed,
            "findings": [f.as_dict() for f in self.findings],
        }


def hit_offset_ms(turn: Turn, hit: Hit) -> int:
    """Where in the recording a hit was said: the turn's start, plus the hit's share of the
    turn's duration when that is known."""
    if turn.end_ms is None or turn.end_ms <= turn.start_ms or not turn.text:
        return turn.start_ms
    return turn.start_ms + (turn.end_ms - turn.start_ms) * hit.start // len(turn.text)


def hit_finding(turn: Turn, index: int | None, hit: Hit) -> Finding:
    return Finding(
        FindingKind.HIT,
        hit.rule_id,
        hit.category.value,
        hit.severity,
        turn.speaker,
        hit_offset_ms(turn, hit),
        hit.said,
        hit.wording,
        hit.how.value,
        index,
    )


def model_finding(turn: Turn, index: int | None, hit: ModelHit) -> Finding:
    """A line the model flags (the rules did not, in that category): the whole sentence as
    phrase, the model version as rule, the score as how; minor, for review, costs no points."""
    return Finding(
        FindingKind.MODEL,
        hit.model_version,
        hit.category.value,
        Severity.MINOR,
        turn.speaker,
        turn.start_ms,
        hit.phrase,
        "",
        f"p={hit.score:.4f}",
        index,
    )


def blocked_findings(
    hits: Sequence[Hit], offset_ms: int, rules_version: str
) -> tuple[Finding, ...]:
    """The findings of a bot sentence the gate stopped (:func:`qa.verdict.check_bot_sentence`):
    one per hit, speaker bot, at the offset it would have been said, with the version that
    stopped it. It was never spoken (the caller heard the safe fallback), so it is no turn."""
    return tuple(
        Finding(
            FindingKind.BLOCKED,
            h.rule_id,
            h.category.value,
            h.severity,
            Speaker.BOT,
            offset_ms,
            h.said,
            h.wording,
            h.how.value,
            None,
            rules_version,
        )
        for h in hits
    )


def inspect_call(
    turns: Sequence[Turn],
    context: SpeechContext,
    rules: CompiledRules,
    blocked: Sequence[Finding] = (),
) -> CallQa:
    """QA of a whole call: every finding (``blocked``: the bot sentences the gate stopped
    during the call, :func:`blocked_findings`), the score and whether it passed."""
    from qa.mandatory import statement_findings

    findings: list[Finding] = list(blocked)
    for i, turn in enumerate(turns):
        if turn.speaker in SCORED and turn.text:
            line = rules.check(turn.text, turn.speaker)
            findings.extend(hit_finding(turn, i, h) for h in line.hits)
            findings.extend(model_finding(turn, i, m) for m in line.model_hits)
    findings.extend(statement_findings(turns, context, rules))
    findings.sort(key=lambda f: (f.offset_ms if f.offset_ms is not None else 1 << 62, f.rule))
    return score_call(context, rules, findings)


def score_call(context: SpeechContext, rules: CompiledRules, findings: Sequence[Finding]) -> CallQa:
    """Score: 100 minus the points of each finding (overlapping hits of one category in one
    turn count once), never below 0; passed = no critical finding and score >= pass mark.
    A blocked bot sentence costs nothing: it was never said (the gate did its job); it is
    listed so the flow or bot that produced it can be fixed. A model finding costs nothing
    either: it is a guess for a reviewer, not a proven breach."""
    scoring = rules.rules.scoring
    counted: set[tuple[object, ...]] = set()
    lost = 0
    scored = [f for f in findings if f.kind not in (FindingKind.BLOCKED, FindingKind.MODEL)]
    for f in scored:
        key: tuple[object, ...] = (
            f.kind,
            f.category,
            f.turn,
            f.rule if f.kind != FindingKind.HIT else "",
        )
        if f.kind == FindingKind.HIT and key in counted:
            continue
        counted.add(key)
        lost += scoring.points(f.severity)
    score = max(0, 100 - lost)
    passed = score >= scoring.pass_mark and not any(f.severity is Severity.CRITICAL for f in scored)
    return CallQa(
        context.call_id,
        rules.version,
        score,
        passed,
        tuple(findings),
        context,
        rules.model_version,
    )
