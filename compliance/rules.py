"""Compliance rules as versioned data: the pydantic model and the YAML parser (pure core).

A rules file holds one rules version: ``version``, ``effective_from``, one policy per purpose
(call window in callee local time, daily cap, consent mode and validity), regional overrides and
the consent policy (how a caller's answer is read: :mod:`compliance.consent_rules`).
:func:`parse_rules` turns YAML text into a frozen :class:`RuleSet` or raises
:class:`RulesError` whose ``issues`` name the file, line, field and why (English, and a message
code with parameters for the console: ``rules.*``, ``value.*``). No IO here: reading
and watching the file is :mod:`compliance.reload`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from compliance.consent_rules import ConsentPolicyRules
from ivr.errors import ConfigError, Param
from ivr.messages import value_code, value_params
from ivr.yaml_lines import Located, YamlSyntaxError, line_for, parse_located

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ConsentMode(StrEnum):
    """When consent is needed for a purpose."""

    BEFORE_DIAL = "before_dial"  # on file and unexpired before the number may be dialled
    IN_CALL = "in_call"  # asked at the start of the call, before any purpose content
    NONE = "none"


def _parse_hhmm(value: object) -> time:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 08:00 as a sexagesimal int (480); accept it as minutes.
        if 0 <= value < 24 * 60:
            return time(value // 60, value % 60)
        raise PydanticCustomError("rules.time_format", "expected a time as 'HH:MM'")
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _HHMM.match(value):
        raise PydanticCustomError("rules.time_format", "expected a time as 'HH:MM' (00:00-23:59)")
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


class Window(BaseModel):
    """A daily window ``[start, end)`` in callee local time; end of day is ``"24:00"``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time | None = Field(default=None, description="None means end of day (24:00)")

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, v: object) -> time:
        return _parse_hhmm(v)

    @field_validator("end", mode="before")
    @classmethod
    def _end(cls, v: object) -> time | None:
        if v in ("24:00", 24 * 60) or v is None:
            return None
        return _parse_hhmm(v)

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.end is not None and self.end <= self.start:
            raise PydanticCustomError(
                "rules.window_order",
                "window end must be after start (calls windows do not wrap midnight)",
            )
        return self

    @property
    def start_minute(self) -> int:
        return self.start.hour * 60 + self.start.minute

    @property
    def end_minute(self) -> int:
        return 24 * 60 if self.end is None else self.end.hour * 60 + self.end.minute


class PurposePolicy(BaseModel):
    """What the gate enforces for one call purpose."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: Window | None = Field(default=None, description="None: any time of day")
    daily_cap: int = Field(
        ge=0, le=100, description="calls per customer per local day, all purposes"
    )
    consent: ConsentMode = ConsentMode.NONE
    consent_valid_days: int | None = Field(default=None, ge=1, le=3650)

    @model_validator(mode="after")
    def _consent_validity(self) -> PurposePolicy:
        if self.consent is not ConsentMode.NONE and self.consent_valid_days is None:
            raise PydanticCustomError(
                "rules.consent_valid_days",
                "consent_valid_days is required when consent is not 'none'",
            )
        return self


class OverrideMatch(BaseModel):
    """Which numbers an override applies to: any listed E.164 prefix or region matches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    e164_prefixes: tuple[str, ...] = ()
    regions: tuple[str, ...] = Field(
        default=(), description="ISO country ('CN') or the customer profile region ('CN-SH')"
    )

    @field_validator("e164_prefixes")
    @classmethod
    def _prefixes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            if not re.fullmatch(r"\+\d{1,14}", p):
                raise PydanticCustomError(
                    "rules.prefix_format",
                    "prefix {prefix} must look like '+8621'",
                    {"prefix": repr(p)},
                )
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> OverrideMatch:
        if not self.e164_prefixes and not self.regions:
            raise PydanticCustomError(
                "rules.override_empty", "an override must match at least one prefix or region"
            )
        return self


class Override(BaseModel):
    """A regional override: stricter (or different) window or cap for matching numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    match: OverrideMatch
    purposes: tuple[str, ...] = Field(min_length=1)
    window: Window | None = None
    daily_cap: int | None = Field(default=None, ge=0, le=100)


class RuleSet(BaseModel):
    """One version of the rules. Frozen; compare versions by ``version`` string."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1, max_length=64)
    effective_from: datetime
    default_zone: str = "Asia/Shanghai"
    purposes: Mapping[str, PurposePolicy] = Field(min_length=1)
    overrides: tuple[Override, ...] = ()
    consent_policy: ConsentPolicyRules = Field(
        description="how callers' answers are read (compliance.consent_policy)"
    )

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: object) -> object:
        return str(v) if isinstance(v, int | float) else v

    @field_validator("effective_from")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise PydanticCustomError(
                "rules.effective_from_naive",
                "effective_from needs a UTC offset, e.g. {example}",
                {"example": "2025-01-01T00:00:00+08:00"},
            )
        return v

    @field_validator("default_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PydanticCustomError(
                "rules.unknown_zone", "unknown time zone {zone}", {"zone": repr(v)}
            ) from exc
        return v

    @field_validator("purposes")
    @classmethod
    def _purpose_names(cls, v: Mapping[str, PurposePolicy]) -> Mapping[str, PurposePolicy]:
        for name in v:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
                raise PydanticCustomError(
                    "rules.purpose_name",
                    "purpose name {purpose} must be lower_snake_case",
                    {"purpose": repr(name)},
                )
        return v

    @model_validator(mode="after")
    def _override_purposes(self) -> RuleSet:
        for i, o in enumerate(self.overrides):
            for p in o.purposes:
                if p not in self.purposes:
                    raise PydanticCustomError(
                        "rules.override_unknown_purpose",
                        "overrides[{index}] ({override}) names unknown purpose {purpose}",
                        {"index": i, "override": o.name, "purpose": repr(p)},
                    )
        return self

    def policy_for(
        self, purpose: str, e164: str, country: str | None, profile_region: str | None
    ) -> PurposePolicy | None:
        """The effective policy: the purpose's, with every matching override applied in order."""
        base = self.purposes.get(purpose)
        if base is None:
            return None
        policy = base
        for o in self.overrides:
            if purpose not in o.purposes:
                continue
            hit = any(e164.startswith(p) for p in o.match.e164_prefixes) or any(
                r in (country, profile_region) for r in o.match.regions
            )
            if not hit:
                continue
            update: dict[str, Any] = {}
            if o.window is not None:
                update["window"] = o.window
            if o.daily_cap is not None:
                update["daily_cap"] = o.daily_cap
            policy = policy.model_copy(update=update)
        return policy


@dataclass(frozen=True, slots=True)
class RulesIssue:
    """One problem in a rules file."""

    source: str
    line: int | None  # 1-based
    field: str
    why: str  # English
    code: str = "value.invalid"  # the message code of ``why`` (rules.*, qa.*, value.*)
    params: Mapping[str, Param] = dataclass_field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.field or '(file)'}: {self.why}"

    def message_params(self) -> dict[str, Param]:
        """The parameters of message ``issue.rules``: line, field, the English ``why`` and
        ``error_code`` (the code of ``why``, translated in place) with its own parameters."""
        return {
            **self.params,
            "line": self.line or 1,
            "field": self.field or "(file)",
            "why": self.why,
            "error_code": self.code,
        }


class RulesError(ConfigError):
    """A rules file was rejected; ``issues`` says where and why."""

    def __init__(self, issues: Sequence[RulesIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


def parse_rules(text: str | bytes, source: str = "<rules>") -> RuleSet:
    """Parse and validate one rules document (text, or the file's bytes). Raises
    :class:`RulesError` with every issue; never another exception."""
    try:
        located = parse_located(text)
    except YamlSyntaxError as exc:
        raise RulesError([yaml_issue(source, exc)]) from None
    if located.data is None:
        raise RulesError([RulesIssue(source, None, "", "the file is empty", "rules.empty")])
    if not isinstance(located.data, dict):
        raise RulesError(
            [
                RulesIssue(
                    source,
                    line_for(located, ()),
                    "",
                    "top level must be a mapping",
                    "rules.top_level",
                )
            ]
        )
    try:
        return RuleSet.model_validate(located.data)
    except ValidationError as exc:
        raise RulesError(validation_issues(exc, located, source)) from None


def yaml_issue(source: str, exc: YamlSyntaxError, why: str | None = None) -> RulesIssue:
    """A YAML syntax error (or a duplicate key) as an issue with code ``rules.yaml_syntax``."""
    return RulesIssue(
        source, exc.line, exc.field, why or str(exc), "rules.yaml_syntax", {"error": str(exc)}
    )


def validation_issues(exc: ValidationError, located: Located, source: str) -> list[RulesIssue]:
    """Every error of a rules model's validation as an issue with its line and message code:
    a validator's own code (``rules.*``, ``qa.*``), else the pydantic type's ``value.*``."""
    issues = []
    for err in exc.errors():
        kind = str(err["type"])
        custom = kind.startswith(("rules.", "qa."))
        issues.append(
            RulesIssue(
                source,
                line_for(located, tuple(err["loc"])),
                ".".join(str(p) for p in err["loc"]),
                err["msg"],
                kind if custom else value_code(kind),
                value_params(err),
            )
        )
    return issues
