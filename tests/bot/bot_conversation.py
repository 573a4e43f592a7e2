"""Helpers for end-to-end conversations through the real Rasa and action servers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from helpers.numbers import fresh_mobile

from actions.scripts import DEFAULT_PRODUCT
from bot.caller_handles import CallerHandles
from bot.client import CallMetadata, RasaClient
from bot.directives import Callback, Directive, Hangup, Say, Transfer
from compliance.factory import build_service
from compliance.service import ComplianceService
from ivr.db import make_engine
from ivr.phone import CustomerNumber, customer_number
from ivr.settings import Settings
from records.evidence_store import SqlEvidenceLog
from records.sealed_number import NumberSealer

D = TypeVar("D", bound=Directive)
MARKETING_MARKERS = (DEFAULT_PRODUCT.script[:12], DEFAULT_PRODUCT.details[:12], "业绩比较基准")


@asynccontextmanager
async def compliance_for(settings: Settings) -> AsyncIterator[ComplianceService]:
    """The compliance service over the action server's stores (same SQLite file)."""
    engine = make_engine(settings.sqlalchemy_url)
    svc = build_service(
        settings, engine=engine, evidence=SqlEvidenceLog(engine), spool=None, migrate_db=False
    )
    try:
        yield svc
    finally:
        await svc.close()
        engine.dispose()


@asynccontextmanager
async def handles_for(settings: Settings) -> AsyncIterator[CallerHandles]:
    """The caller handles the app issues, in the action server's database (same keys)."""
    engine = make_engine(settings.sqlalchemy_url)
    try:
        yield CallerHandles(
            engine, NumberSealer.from_settings(settings), ttl_s=settings.esl_max_call_s
        )
    finally:
        engine.dispose()


def is_marketing(d: Directive) -> bool:
    if not isinstance(d, Say):
        return False
    return d.kind == "marketing" or any(marker in d.text for marker in MARKETING_MARKERS)


@dataclass
class Conversation:
    """One call: sends caller turns, keeps every directive, checks invariant 5 on each turn."""

    client: RasaClient
    svc: ComplianceService
    handles: CallerHandles
    purpose: str = "marketing"
    caller: str | None = field(default_factory=fresh_mobile)
    campaign: str = "wealth-q4"
    call_id: str = field(default_factory=lambda: f"call-{uuid.uuid4().hex}")
    turns: list[tuple[str, list[Directive]]] = field(default_factory=list)
    caller_handle: str | None = None
    """What Rasa gets for the caller: issued, as the app does, before the first turn."""

    @property
    def customer(self) -> CustomerNumber:
        """The caller as the compliance API takes it (these conversations have a number)."""
        made = customer_number(self.caller)
        assert made is not None
        return made

    async def meta(self) -> CallMetadata:
        if self.caller_handle is None and not self.turns:
            number = customer_number(self.caller) if self.caller else None
            self.caller_handle = await self.handles.issue(self.call_id, number)
        return CallMetadata(
            call_id=self.call_id,
            institution="测试银行",
            bot_id="AI-7001",
            purpose=self.purpose,
            campaign=self.campaign,
            caller_handle=self.caller_handle,
        )

    async def say(self, text: str) -> list[Directive]:
        directives = await self.client.send(self.call_id, text, await self.meta())
        self.turns.append((text, directives))
        if any(is_marketing(d) for d in directives):
            # invariant 5: marketing content only once consent is on record
            assert self.caller is not None
            assert await self.svc.has_valid_consent(self.customer, "marketing"), (
                f"marketing content without recorded consent after {text!r}"
            )
        return directives

    @property
    def all(self) -> list[Directive]:
        return [d for _, ds in self.turns for d in ds]

    def says(self, directives: list[Directive]) -> list[Say]:
        return [d for d in directives if isinstance(d, Say)]


def only(directives: list[Directive], kind: type[D]) -> list[D]:
    return [d for d in directives if isinstance(d, kind)]


def hangup(directives: list[Directive]) -> Hangup:
    found = only(directives, Hangup)
    assert len(found) == 1, f"expected one hangup in {directives}"
    assert directives[-1] == found[0], "the hangup must be the last directive"
    return found[0]


def transfer(directives: list[Directive]) -> Transfer:
    found = only(directives, Transfer)
    assert len(found) == 1, f"expected one transfer in {directives}"
    return found[0]


def callback(directives: list[Directive]) -> Callback:
    found = only(directives, Callback)
    assert len(found) == 1, f"expected one callback in {directives}"
    return found[0]
