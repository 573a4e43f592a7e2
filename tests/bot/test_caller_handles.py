"""Caller handles: the app's opaque stand-in for the customer's number in every message to Rasa
(issue #12, defect 5), on a real migrated SQLite database with the real key ring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.clock import FakeClock
from helpers.numbers import customer, fresh_number

from bot.caller_handles import UNAVAILABLE, CallerHandles, caller_handles
from bot.client import RasaClient
from bot.rasa_bot import RasaBot
from ivr.db import make_engine, migrate
from ivr.errors import IntegrityError, StoreUnavailableError
from ivr.settings import Settings
from records.sealed_number import NumberSealer

TTL_S = 3600.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    migrate(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def sealer(tmp_path: Path) -> NumberSealer:
    return NumberSealer.from_settings(Settings(data_dir=tmp_path))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def handles(engine: sa.Engine, sealer: NumberSealer, clock: FakeClock) -> CallerHandles:
    return CallerHandles(engine, sealer, ttl_s=TTL_S, clock=clock)


async def test_a_handle_resolves_to_the_number_and_holds_nothing_of_it(
    handles: CallerHandles, engine: sa.Engine
) -> None:
    number = customer(fresh_number())
    handle = await handles.issue("call-1", number)
    assert handle is not None and handle.startswith("ch_") and len(handle) >= 32
    for digits in (number.e164, number.e164[3:], number.e164[-8:]):
        assert digits not in handle
    assert await handles.resolve(handle) == number
    with engine.connect() as conn:
        (row,) = conn.execute(sa.select(caller_handles)).all()
    stored = repr(tuple(row)).encode() + b"".join(v for v in row if isinstance(v, bytes))
    assert number.e164[3:].encode() not in stored and handle.encode() not in stored
    assert row.call_id == "call-1" and row.masked_number == number.masked


async def test_every_conversation_gets_its_own_unguessable_handle(handles: CallerHandles) -> None:
    number = customer(fresh_number())
    first, second = await handles.issue("call-1", number), await handles.issue("call-2", number)
    assert first != second
    assert first is not None
    assert await handles.resolve(first[:-1] + ("A" if first[-1] != "A" else "B")) is None
    assert await handles.resolve("ch_" + "x" * 32) is None


async def test_a_caller_without_a_usable_number_gets_no_handle(handles: CallerHandles) -> None:
    assert await handles.issue("call-1", None) is None
    assert await handles.resolve(None) is None
    assert await handles.resolve(UNAVAILABLE) is None


async def test_a_handle_expires_with_the_call_and_is_purged(
    handles: CallerHandles, engine: sa.Engine, clock: FakeClock
) -> None:
    old = await handles.issue("call-old", customer(fresh_number()))
    clock.advance(seconds=TTL_S - 1)
    assert await handles.resolve(old) is not None
    clock.advance(seconds=1)
    assert await handles.resolve(old) is None
    await handles.issue("call-new", customer(fresh_number()))
    with engine.connect() as conn:
        calls = conn.execute(sa.select(caller_handles.c.call_id)).scalars().all()
    assert calls == ["call-new"]


async def test_revoke_forgets_the_calls_handles(handles: CallerHandles) -> None:
    handle = await handles.issue("call-1", customer(fresh_number()))
    assert await handles.revoke("call-1") == 1
    assert await handles.resolve(handle) is None


async def test_a_sealed_number_moved_to_another_handle_does_not_open(
    handles: CallerHandles, engine: sa.Engine
) -> None:
    mine = await handles.issue("call-1", customer(fresh_number()))
    theirs = await handles.issue("call-2", customer(fresh_number()))
    assert mine is not None and theirs is not None
    with engine.begin() as conn:
        rows = {r.call_id: r for r in conn.execute(sa.select(caller_handles))}
        conn.execute(
            caller_handles.update()
            .where(caller_handles.c.call_id == "call-2")
            .values(
                number_sealed=rows["call-1"].number_sealed,
                wrapped_key=rows["call-1"].wrapped_key,
                customer_bi=rows["call-1"].customer_bi,
            )
        )
    with pytest.raises(IntegrityError):
        await handles.resolve(theirs)


async def test_store_failure_is_translated_and_the_bot_sends_unavailable(
    sealer: NumberSealer, clock: FakeClock, tmp_path: Path
) -> None:
    broken = CallerHandles(
        sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}"), sealer, ttl_s=TTL_S
    )
    with pytest.raises(StoreUnavailableError):
        await broken.issue("call-1", customer(fresh_number()))
    with pytest.raises(StoreUnavailableError):
        await broken.resolve("ch_" + "x" * 32)
    bot = RasaBot(RasaClient("http://127.0.0.1:1"), broken)
    assert await bot.caller_handle("call-1", customer(fresh_number())) == UNAVAILABLE
    assert await bot.caller_handle("call-1", None) is None
    await bot.aclose()


def test_a_handle_needs_a_lifetime(engine: sa.Engine, sealer: NumberSealer) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        CallerHandles(engine, sealer, ttl_s=0)
