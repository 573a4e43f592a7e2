"""QA rules as versioned data: the pydantic model and the YAML parser (pure core).

A QA rules file holds one version: ``version``, ``effective_from``, scoring weights, the bot's
safe fallback sentence, the compliant-context lists (negation cues, idioms that are not
negations, resets, after-clause cues, mandated safe wording), the phrase rules (prohibited
promises, misleading comparisons, pressure tactics) and the mandatory statements per purpose.
:func:`parse_qa_rules` returns a frozen :class:`QaRules` or raises
:class:`compliance.rules.RulesError` whose issues name the file, line, field and why: a bad
regular expression, an unknown category or severity, a pattern rule without anchors, a rule
whose own ``examples`` do not behave (checked by :mod:`qa.matcher` on load). No IO here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from compliance.rules import RulesError, RulesIssue, validation_issues, yaml_issue
from ivr.yaml_lines import Located, YamlSyntaxError, parse_located


class Category(StrEnum):
    """What kind of prohibited speech a phrase rule finds."""

    PROHIBITED_PROMISE = "prohibited_promise"  # 保本, 保收益, 无风险, 稳赚不赔 ...
    MISLEADING_COMPARISON = "misleading_comparison"  # 和存款一样安全 ...
    PRESSURE_TACTIC = "pressure_tactic"  # 名额有限, 错过就没了 ...


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"


class Speaker(StrEnum):
    """Who spoke a turn. QA scores the bot and human agents; the caller is never scored."""

    BOT = "bot"
    AGENT = "agent"
    CALLER = "caller"


class StatementKind(StrEnum):
    DISCLOSURE = "disclosure"  # institution, staff/bot ID, recording notice
    CONSENT = "consent"  # the consent question
    RISK_WARNING = "risk_warning"


class When(StrEnum):
    START = "start"  # within the first ``within_turns`` turns of the bot/agent, before content
    BEFORE_MARKETING = "before_marketing"  # before the first marketing turn
    AFTER_MARKETING = "after_marketing"  # after the (last) marketing turn, before the call ends


def _regex(value: str) -> str:
    _no_unknown_class(value)
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError(
            "qa.bad_regex",
            "bad regular expression: {error} at position {position}",
            {"error": exc.msg, "position": exc.pos if exc.pos is not None else -1},
        ) from None
    return value


def _wording(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("qa.empty_wording", "empty wording")
    _no_unknown_class(value)
    return value


CLASS_REF = re.compile(r"\{([A-Z][A-Z0-9_]{0,31})\}")  # ``{NAME}``: a concept class of ``classes``


def _no_unknown_class(value: str) -> None:
    """A ``{NAME}`` still in a pattern or anchor after :func:`expand_classes` names no class."""
    unknown = CLASS_REF.search(value)
    if unknown:
        raise PydanticCustomError(
            "qa.unknown_class",
            "unknown concept class {name} (not in classes)",
            {"name": unknown.group(1)},
        )


MAX_EXPANSION = 1000  # wordings one phrase or exclusion with class references may become


def _each_wording(text: str, classes: dict[str, list[str]]) -> list[str] | None:
    """``text`` with its first ``{NAME}`` written as each wording of its class, recursively;
    ``None`` for an unknown class or more than ``MAX_EXPANSION`` wordings."""
    ref = CLASS_REF.search(text)
    if ref is None:
        return [text]
    out: list[str] = []
    for word in classes.get(ref.group(1), ()):
        more = _each_wording(text[: ref.start()] + word + text[ref.end() :], classes)
        if more is None or len(out) + len(more) > MAX_EXPANSION:
            return None
        out += more
    return out or None


def _wordings(entries: list[object], classes: dict[str, list[str]]) -> list[object]:
    """Phrases or exclusions with every ``{NAME}`` written as each of its class's wordings
    (every combination; the first in the entry's place, the rest appended)."""
    out: list[object] = []
    extra: list[object] = []
    for entry in entries:
        made = _each_wording(entry, classes) if isinstance(entry, str) else None
        if made is None:
            out.append(entry)  # left for the validators (not text, an unknown class, too many)
        else:
            out.append(made[0])
            extra.extend(made[1:])
    return out + extra


def expand_classes(data: object) -> object:
    """The raw rules data with every ``{NAME}`` of a pattern replaced by the alternation of its
    class's wordings (longest first, regex-escaped: a class lists words, not regexes), every
    anchor ``{NAME}`` by the class's wordings, and every phrase or exclusion holding ``{NAME}``
    by one wording per class member (all combinations; the first in its place, the rest
    appended, so the lines of the other entries stay where they are). Unknown names are left for the
    validators to report with their line; a class that is not a list of text is left for the
    ``classes`` field's own validation."""
    if not isinstance(data, dict) or not isinstance(data.get("classes"), dict):
        return data
    classes = {
        name: [w for w in words if isinstance(w, str) and w.strip()]
        for name, words in data["classes"].items()
        if isinstance(name, str) and isinstance(words, list)
    }
    alternation = {
        name: "(?:"
        + "|".join(re.escape("".join(w.split())) for w in sorted(ws, key=len, reverse=True))
        + ")"
        for name, ws in classes.items()
        if ws
    }

    def pattern(text: object) -> object:
        if not isinstance(text, str):
            return text
        return CLASS_REF.sub(lambda m: alternation.get(m.group(1), m.group(0)), text)

    rules = data.get("rules")
    if not isinstance(rules, list):
        return data
    out_rules: list[object] = []
    for rule in rules:
        if not isinstance(rule, dict):
            out_rules.append(rule)
            continue
        rule = dict(rule)
        if isinstance(rule.get("patterns"), list):
            rule["patterns"] = [pattern(p) for p in rule["patterns"]]
        for key in ("phrases", "exclude"):
            if isinstance(rule.get(key), list):
                rule[key] = _wordings(rule[key], classes)
        if isinstance(rule.get("anchors"), list):
            anchors: list[object] = []
            extra: list[object] = []
            for a in rule["anchors"]:
                ref = CLASS_REF.fullmatch(a) if isinstance(a, str) else None
                words = classes.get(ref.group(1), []) if ref else []
                if ref and words:
                    anchors.append(words[0])
                    extra.extend(words[1:])
                else:
                    anchors.append(a)
            rule["anchors"] = anchors + extra
        out_rules.append(rule)
    return {**data, "rules": out_rules}


Regex = Annotated[str, AfterValidator(_regex)]
Wording = Annotated[str, AfterValidator(_wording)]
RuleId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ClassName = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,31}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Examples(_Frozen):
    """Sentences the rule must flag (``hit``) and must leave alone (``clean``); checked on load."""

    hit: tuple[Wording, ...] = ()
    clean: tuple[Wording, ...] = ()


class PhraseRule(_Frozen):
    """One prohibited-speech rule: wordings matched by sound, and/or regexes with anchors."""

    id: RuleId
    category: Category
    severity: Severity = Severity.MAJOR
    description: str = ""
    phrases: tuple[Wording, ...] = ()
    patterns: tuple[Regex, ...] = Field(
        default=(), description="regexes over the folded text (Hanzi matched by sound)"
    )
    anchors: tuple[Wording, ...] = Field(
        default=(), description="wordings one of which every pattern match contains"
    )
    exclude: tuple[Wording, ...] = Field(
        default=(), description="longer wordings containing a phrase that are not a hit"
    )
    strict_sound_max: int = Field(
        default=2, ge=0, le=16, description="phrases this short need exact toneless homophones"
    )
    fuzzy_min: int = Field(
        default=5, ge=3, le=64, description="phrases this long also match with one edit"
    )
    negatable: bool = True
    speakers: tuple[Speaker, ...] = (Speaker.BOT, Speaker.AGENT)
    examples: Examples = Examples()

    @model_validator(mode="after")
    def _something_to_match(self) -> PhraseRule:
        if not self.phrases and not self.patterns:
            raise PydanticCustomError("qa.rule_empty", "a rule needs phrases or patterns")
        if self.patterns and not self.anchors:
            raise PydanticCustomError(
                "qa.patterns_without_anchors",
                "a rule with patterns needs anchors (wordings a match contains)",
            )
        return self


class Negation(_Frozen):
    """Compliant context: what makes a matched wording not a prohibited statement."""

    cues: Mapping[str, int] = Field(
        description="negation cue -> how many characters may stand between it and the match"
    )
    not_cues: tuple[Wording, ...] = Field(
        default=(), description="idioms that contain a cue but negate nothing (不仅, 不用担心)"
    )
    resets: tuple[Wording, ...] = Field(
        default=(), description="words a negation does not reach over (但是, 而且)"
    )
    after: tuple[Regex, ...] = Field(
        default=(), description="regexes matched at the start of the rest of the clause"
    )

    @model_validator(mode="after")
    def _gaps(self) -> Negation:
        for cue, gap in self.cues.items():
            if not cue.strip() or not 0 <= gap <= 32:
                raise PydanticCustomError(
                    "qa.cue_gap", "cue {cue}: gap must be 0..32", {"cue": repr(cue)}
                )
        return self


class Scoring(_Frozen):
    """Points a call loses per hit or missing statement, and the pass mark."""

    critical: int = Field(default=40, ge=0, le=100)
    major: int = Field(default=20, ge=0, le=100)
    minor: int = Field(default=5, ge=0, le=100)
    pass_mark: int = Field(default=80, ge=0, le=100)

    def points(self, severity: Severity) -> int:
        return {Severity.CRITICAL: self.critical, Severity.MAJOR: self.major}.get(
            severity, self.minor
        )


class Statement(_Frozen):
    """A mandatory statement: where it must come and what it must contain."""

    kind: StatementKind
    when: When
    severity: Severity = Severity.CRITICAL
    description: str = ""
    elements: Mapping[str, tuple[Wording, ...]] = Field(
        default_factory=dict,
        description="element -> wordings, any of which shows it ({institution}, {agent_id})",
    )
    full_text: str | None = Field(
        default=None, description="the mandated wording, to be spoken in full"
    )
    min_similarity: int = Field(default=85, ge=50, le=100)
    within_turns: int = Field(default=2, ge=1, le=20)
    not_talked_over: bool = False

    @model_validator(mode="after")
    def _content(self) -> Statement:
        if not self.elements and not self.full_text:
            raise PydanticCustomError(
                "qa.statement_empty", "a statement needs elements or full_text"
            )
        return self


class Mandatory(_Frozen):
    statements: Mapping[RuleId, Statement] = Field(default_factory=dict)
    purposes: Mapping[str, tuple[RuleId, ...]] = Field(
        default_factory=dict, description="call purpose -> statements it must contain"
    )
    marketing_markers: tuple[Wording, ...] = Field(
        default=(), description="wordings that make a turn of unknown kind product content"
    )

    @model_validator(mode="after")
    def _known(self) -> Mandatory:
        for purpose, ids in self.purposes.items():
            for sid in ids:
                if sid not in self.statements:
                    raise PydanticCustomError(
                        "qa.unknown_statement",
                        "purpose {purpose} names unknown statement {statement}",
                        {"purpose": repr(purpose), "statement": repr(sid)},
                    )
        return self


class QaRules(_Frozen):
    """One version of the QA rules. Frozen; results record ``version``."""

    version: str = Field(min_length=1, max_length=64)
    effective_from: datetime
    scoring: Scoring = Scoring()
    bot_fallback: Wording = Field(description="what the bot says instead of a blocked sentence")
    negation: Negation
    safe_phrases: tuple[Wording, ...] = Field(
        default=(), description="mandated wording: a match inside it is not a hit"
    )
    classes: Mapping[ClassName, tuple[Wording, ...]] = Field(
        default_factory=dict,
        description="concept classes: NAME -> wordings; {NAME} in a pattern or an anchor"
        " stands for any of them (expanded on load)",
    )
    rules: tuple[PhraseRule, ...] = Field(min_length=1)
    mandatory: Mandatory = Mandatory()

    @model_validator(mode="before")
    @classmethod
    def _version_text(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("version"), int | float):
            data = {**data, "version": str(data["version"])}
        return expand_classes(data)

    @model_validator(mode="after")
    def _checks(self) -> QaRules:
        if self.effective_from.tzinfo is None:
            raise PydanticCustomError(
                "rules.effective_from_naive",
                "effective_from needs a UTC offset, e.g. {example}",
                {"example": "2026-12-01T00:00:00+08:00"},
            )
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise PydanticCustomError(
                    "qa.duplicate_rule", "duplicate rule id {rule}", {"rule": repr(rule.id)}
                )
            seen.add(rule.id)
        return self


def parse_qa_rules(text: str, source: str = "<qa rules>") -> tuple[QaRules, Located]:
    """Parse and validate a QA rules document; the located data gives lines for later checks.

    Raises :class:`RulesError` listing every issue with its file and line.
    """
    try:
        located = parse_located(text)
    except YamlSyntaxError as exc:
        raise RulesError([yaml_issue(source, exc, f"not valid YAML: {exc}")]) from None
    if located.data is None:
        raise RulesError([RulesIssue(source, None, "", "the file is empty", "rules.empty")])
    if not isinstance(located.data, dict):
        raise RulesError(
            [RulesIssue(source, 1, "", "top level must be a mapping", "rules.top_level")]
        )
    try:
        return QaRules.model_validate(located.data), located
    except ValidationError as exc:
        raise RulesError(validation_issues(exc, located, source)) from None
