"""FreeSWITCH's XML configuration as the switch reads it: preprocessor, dialplan, queues.

:func:`preprocess` is ``switch_xml.c``'s line preprocessor: ``$${var}`` is replaced by the
global variable (empty when unset) on every line, a line holding ``<include>``, ``</include>``
or ``<?`` is dropped whole, and a line with ``<X-PRE-PROCESS cmd="set|include" data="..."/>``
is consumed: ``set`` defines a variable for the lines after it, ``include`` inserts the
preprocessed files its glob matches (relative to the including file's directory, sorted).

:class:`Dialplan` holds the contexts of the ``dialplan`` section and the mod_callcenter queues.
:meth:`Dialplan.route` hunts like mod_dialplan_xml: extensions in order, each condition's
``field`` (a caller-profile field or ``${var}``) matched against its ``expression``
(``break`` on-false by default, on-true, always, never), actions of a true condition with
``$1``... from its match, anti-actions of a false one; hunting stops after the first extension
that matched unless it has ``continue="true"``. :meth:`Dialplan.shipped` reads
``telephony/freeswitch/`` installed as its README says (``dialplan/public/*.xml`` inside the
stock public context, ``dialplan/*.xml`` beside it).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from telephony.simulator.callcenter_conf import (
    AgentConfig,
    QueueConfig,
    TierConfig,
    agent_config,
    queue_config,
    tier_config,
)
from telephony.simulator.fsstrings import expand_variables

__all__ = ["AgentConfig", "Dialplan", "DialplanError", "QueueConfig", "TierConfig", "preprocess"]

SHIPPED = Path(__file__).resolve().parents[1] / "freeswitch"
_GLOBAL = re.compile(r"\$\$\{([^}]*)\}")
_DIRECTIVE = re.compile(r'<X-PRE-PROCESS\s+cmd="([^"]*)"\s+data="([^"]*)"\s*/>', re.IGNORECASE)
_CAPTURE = re.compile(r"\$(\d)")


class DialplanError(ValueError):
    """The configuration does not load (an XML error, a bad regex)."""


def preprocess(path: Path, variables: dict[str, str], depth: int = 0) -> str:
    """The preprocessed text of ``path`` (``variables`` gains every ``set``)."""
    if depth > 100:
        raise DialplanError(f"{path}: includes nest too deep")
    out: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = _GLOBAL.sub(lambda m: variables.get(m.group(1), ""), line)
        if "<include>" in line or "</include>" in line or "<?" in line:
            continue
        directive = _DIRECTIVE.search(line)
        if directive is None:
            out.append(line)
            continue
        cmd, data = directive.group(1).lower(), directive.group(2)
        if cmd == "set" and "=" in data:
            name, _, value = data.partition("=")
            variables[name.strip()] = value.strip()
        elif cmd == "include":
            pattern = data if data.startswith("/") else str(path.parent / data)
            base = Path(pattern)
            for match in sorted(base.parent.glob(base.name)):
                out.append(preprocess(match, variables, depth + 1))
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class Condition:
    field: str | None
    expression: str | None
    breaks: str
    actions: tuple[tuple[str, str], ...]
    anti_actions: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Extension:
    name: str
    keep_hunting: bool
    conditions: tuple[Condition, ...]


def _actions(element: ET.Element, tag: str) -> tuple[tuple[str, str], ...]:
    return tuple((a.get("application", ""), a.get("data", "")) for a in element.findall(tag))


def _extension(element: ET.Element) -> Extension:
    conditions = []
    for cond in element.findall("condition"):
        expression = cond.get("expression")
        if expression is not None:
            try:
                re.compile(expression)
            except re.error as exc:
                raise DialplanError(f"extension {element.get('name')}: {exc}") from None
        conditions.append(
            Condition(
                cond.get("field"),
                expression,
                cond.get("break", "on-false"),
                _actions(cond, "action"),
                _actions(cond, "anti-action"),
            )
        )
    keep = element.get("continue", "false").lower() == "true"
    return Extension(element.get("name", ""), keep, tuple(conditions))


@dataclass
class Dialplan:
    """The contexts (name → extensions) and the callcenter queues, agents and tiers of one
    configuration."""

    contexts: dict[str, list[Extension]] = field(default_factory=dict)
    queues: dict[str, QueueConfig] = field(default_factory=dict)
    agents: dict[str, AgentConfig] = field(default_factory=dict)
    tiers: list[TierConfig] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_text(cls, text: str, variables: dict[str, str]) -> Dialplan:
        """Parse preprocessed configuration text (a ``<document>`` with sections)."""
        try:
            root = ET.fromstring(text)  # noqa: S314 - the switch's own configuration files
        except ET.ParseError as exc:
            raise DialplanError(f"configuration is not XML: {exc}") from None
        plan = cls(variables=variables)
        for section in root.iter("section"):
            if section.get("name") == "dialplan":
                for context in section.findall("context"):
                    name = context.get("name", "")
                    extensions = plan.contexts.setdefault(name, [])
                    extensions += [_extension(e) for e in context.findall("extension")]
            elif section.get("name") == "configuration":
                for conf in section.findall("configuration"):
                    if conf.get("name") == "callcenter.conf":
                        for queue in conf.iter("queue"):
                            config = queue_config(queue)
                            plan.queues[config.name] = config
                        for agent in conf.iter("agent"):
                            member = agent_config(agent)
                            plan.agents[member.name] = member
                        plan.tiers += [tier_config(t) for t in conf.iter("tier")]
        return plan

    @classmethod
    def load(cls, freeswitch_xml: Path, variables: Mapping[str, str] | None = None) -> Dialplan:
        """A whole FreeSWITCH configuration, from its ``freeswitch.xml``."""
        values = dict(variables or {})
        return cls.from_text(preprocess(freeswitch_xml, values), values)

    @classmethod
    def shipped(cls, variables: Mapping[str, str] | None = None, root: Path = SHIPPED) -> Dialplan:
        """``telephony/freeswitch/`` as installed: its ``vars.xml.fragment`` first, then
        ``variables`` (e.g. ``recordings_dir``), the public includes inside a public context."""
        values: dict[str, str] = {}
        preprocess(root / "vars.xml.fragment", values)
        values.update(variables or {})
        public = "\n".join(
            preprocess(p, values) for p in sorted((root / "dialplan" / "public").glob("*.xml"))
        )
        contexts = "\n".join(
            preprocess(p, values) for p in sorted((root / "dialplan").glob("*.xml"))
        )
        configs = "\n".join(
            preprocess(p, values) for p in sorted((root / "autoload_configs").glob("*.xml"))
        )
        text = (
            '<document type="freeswitch/xml"><section name="dialplan">'
            f'<context name="public">{public}</context>{contexts}</section>'
            f'<section name="configuration">{configs}</section></document>'
        )
        return cls.from_text(text, values)

    def route(
        self, context: str, fields: Mapping[str, str], variables: Mapping[str, str]
    ) -> list[tuple[str, str]] | None:
        """The applications for a call in ``context`` (``None``: no such context)."""
        extensions = self.contexts.get(context)
        if extensions is None:
            return None
        actions: list[tuple[str, str]] = []
        for extension in extensions:
            matched = self._hunt(extension, fields, variables, actions)
            if matched and not extension.keep_hunting:
                break
        return actions

    def _hunt(
        self,
        extension: Extension,
        fields: Mapping[str, str],
        variables: Mapping[str, str],
        actions: list[tuple[str, str]],
    ) -> bool:
        proceed = False
        for cond in extension.conditions:
            captures: tuple[str, ...] = ()
            if cond.field is None and cond.expression is None:
                ok = True
            else:
                name = cond.field or ""
                value = expand_variables(name, variables) if "$" in name else fields.get(name, "")
                match = re.search(cond.expression or "", value)
                ok = match is not None
                if match is not None:
                    captures = (match.group(0), *(g or "" for g in match.groups()))
            chosen = cond.actions if ok else cond.anti_actions
            actions += [(app, _substitute(data, captures)) for app, data in chosen]
            proceed = ok
            if (
                (cond.breaks == "on-false" and not ok)
                or (cond.breaks == "on-true" and ok)
                or cond.breaks == "always"
            ):
                break
        return proceed


def _substitute(data: str, captures: tuple[str, ...]) -> str:
    def group(m: re.Match[str]) -> str:
        index = int(m.group(1))
        return captures[index] if index < len(captures) else ""

    return _CAPTURE.sub(group, data) if captures else data
