"""The dialler's group commit of queue writes (campaigns.writes) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa
from camp_support import fresh_numbers

from campaigns.claims import Claim
from campaigns.model import Disposition
from campaigns.tables import attempts
from campaigns.writes import (
    CancelNumber,
    Finish,
    GroupWriter,
    MarkDialling,
    Renew,
    Requeue,
    Write,
)
from records.timeutil import from_db


def states(env, camp) -> dict[str, str]:
    with env.engine.connect() as conn:
        return {
            r.id: r.state
            for r in conn.execute(
                sa.select(attempts.c.id, attempts.c.state).where(attempts.c.campaign_id == camp.id)
            )
        }


async def test_concurrent_writes_commit_together_each_with_its_own_result(env, tmp_path) -> None:
    camp = env.campaign()
    env.load(camp, tmp_path, fresh_numbers(30))
    env.start(camp)
    now = env.clock()
    claimed = env.queue.claim("w1", camp.id, now=now, limit=30, lease_s=30)
    assert len(claimed) == 30
    writer = GroupWriter(env.queue.write)
    marks = [MarkDialling(a.id, "w1", "95588", now, 30.0) for a in claimed[:20]]
    stolen = [MarkDialling(a.id, "w2", "95588", now, 30.0) for a in claimed[20:25]]  # not w2's
    requeues = [Requeue(a.id, now + timedelta(minutes=5), ("paced",)) for a in claimed[25:]]
    writes: list[Write] = [*marks, *stolen, *requeues]
    results = await asyncio.gather(*(writer.write(w) for w in writes))
    assert results[:20] == [True] * 20
    assert results[20:25] == [False] * 5  # the claim is w1's: w2 may not dial it
    assert writer.batches < len(results)  # written together, not one transaction each
    got = states(env, camp)
    assert [got[a.id] for a in claimed[:20]] == ["dialling"] * 20
    assert [got[a.id] for a in claimed[20:25]] == ["claimed"] * 5
    assert [got[a.id] for a in claimed[25:]] == ["queued"] * 5
    ends = [Finish(a.id, Disposition.BUSY, now, retry_at=now) for a in claimed[:20]]
    next_ids = await asyncio.gather(*(writer.write(w) for w in ends))
    got = states(env, camp)
    assert all(isinstance(i, str) and got[i] == "queued" for i in next_ids)
    assert [got[a.id] for a in claimed[:20]] == ["done"] * 20


async def test_a_refusal_in_the_batch_cancels_a_retry_queued_in_the_same_batch(env, tmp_path):
    number = fresh_numbers(1)
    one, two = env.campaign(), env.campaign()
    for camp in (one, two):
        env.load(camp, tmp_path, number)
        env.start(camp)
    now = env.clock()
    a1 = env.queue.claim("w1", one.id, now=now, limit=1, lease_s=30)[0]
    assert env.queue.claim("w1", two.id, now=now, limit=1, lease_s=30) == []  # number busy
    env.queue.requeue(a1.id, due_at=now)
    # call 1 of campaign two is busy (retry queued) while campaign one's call refused
    a2 = env.queue.claim("w1", two.id, now=now, limit=1, lease_s=30)[0]
    results = env.queue.write(
        [
            CancelNumber(a2.number_bi, Disposition.DNC, now),
            Finish(a2.id, Disposition.BUSY, now, retry_at=now),
        ]
    )
    retry = results[1]
    assert isinstance(retry, str)
    assert states(env, two)[retry] == "cancelled"
    assert states(env, one)[a1.id] == "cancelled"


async def test_a_write_that_fails_fails_alone(env, tmp_path) -> None:
    camp = env.campaign()
    env.load(camp, tmp_path, fresh_numbers(4))
    env.start(camp)
    now = env.clock()
    claimed = env.queue.claim("w1", camp.id, now=now, limit=4, lease_s=30)

    def commit(ws):
        if any(isinstance(w, MarkDialling) and w.attempt_id == claimed[0].id for w in ws):
            raise RuntimeError("this one")
        return env.queue.write(ws)

    writer = GroupWriter(commit)
    results = await asyncio.gather(
        *(writer.write(MarkDialling(a.id, "w1", "95588", now, 30.0)) for a in claimed),
        return_exceptions=True,
    )
    assert isinstance(results[0], RuntimeError)
    assert results[1:] == [True, True, True]
    got = states(env, camp)
    assert got[claimed[0].id] == "claimed"  # never marked: never originated
    assert [got[a.id] for a in claimed[1:]] == ["dialling"] * 3


async def test_lease_renewal_goes_through_the_group_commit_beside_finishes(env, tmp_path) -> None:
    """A renewal of every live attempt and the finishes of half of them, at once: one batch
    order, no deadlock (PostgreSQL's detector fails one of two transactions that lock the
    same rows in different orders), the finished closed, the others' leases extended."""
    camp = env.campaign()
    env.load(camp, tmp_path, fresh_numbers(120))
    env.start(camp)
    now = env.clock()
    claimed = env.queue.claim("w1", camp.id, now=now, limit=120, lease_s=30)
    writer = GroupWriter(env.queue.write)
    assert all(
        await asyncio.gather(*(writer.write(MarkDialling(a.id, "w1", "95588", now, 30.0))
                               for a in claimed))
    )  # fmt: skip
    until = now + timedelta(minutes=10)
    ids = tuple(a.id for a in claimed)
    done = [Finish(a.id, Disposition.COMPLETED, now) for a in claimed[::2]]
    await asyncio.gather(
        writer.write(Renew("w1", ids, until)),
        writer.write(Renew("w2", ids, now + timedelta(hours=5))),  # not w2's: no effect
        *(writer.write(f) for f in done),
    )
    got = states(env, camp)
    assert [got[a.id] for a in claimed[::2]] == ["done"] * 60
    assert [got[a.id] for a in claimed[1::2]] == ["dialling"] * 60
    with env.engine.connect() as conn:
        leases = {
            r.id: r.lease_until
            for r in conn.execute(
                sa.select(attempts.c.id, attempts.c.lease_until).where(attempts.c.id.in_(ids))
            )
        }
    live = {from_db(leases[a.id]) for a in claimed[1::2]}
    assert live == {until}


async def test_a_claim_rides_in_the_batch_of_the_writes_waiting_and_sees_their_effect(
    env, tmp_path
) -> None:
    """A claim sent beside a finish goes in the same transaction, after it: the finished
    attempt's number is free again, so the claim can take that number's retry at once."""
    camp = env.campaign()
    (number,) = fresh_numbers(1)
    env.load(camp, tmp_path, [number])
    env.start(camp)
    now = env.clock()
    (first,) = env.queue.claim("w1", camp.id, now=now, limit=5, lease_s=30)
    writer = GroupWriter(env.queue.write)
    end, claimed = await asyncio.gather(
        writer.write(Finish(first.id, Disposition.BUSY, now, retry_at=now)),
        writer.write(Claim("w1", camp.id, now, 5, 30.0)),
    )
    assert writer.batches == 1
    assert isinstance(claimed, list) and [a.id for a in claimed] == [end]
    assert claimed[0].attempt_no == 2 and claimed[0].previous == (Disposition.BUSY,)


def _synchronous(conn: sa.Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())


async def test_on_sqlite_only_a_batch_with_a_dialling_mark_syncs_and_the_ledger_always_does(
    sqlite_env, tmp_path
) -> None:
    """The queue's writes run on connections of their own: a batch with a ``dialling`` mark
    commits with ``synchronous=FULL`` (durable before the originate), the others with
    ``NORMAL``; the engine the DNC and consent ledger writes on stays ``FULL`` throughout."""
    env = sqlite_env
    camp = env.campaign()
    env.load(camp, tmp_path, fresh_numbers(2))
    env.start(camp)
    now = env.clock()
    seen: list[int] = []
    writes_engine = env.queue._writes
    assert writes_engine is not env.engine

    @sa.event.listens_for(writes_engine, "commit")
    def _on_commit(conn: sa.Connection) -> None:
        seen.append(_synchronous(conn))

    a, b = env.queue.claim("w1", camp.id, now=now, limit=2, lease_s=30)
    assert env.queue.mark_dialling(a.id, "w1", caller_id="95588", now=now, lease_s=30)
    env.queue.requeue(b.id, due_at=now)
    assert seen == [1, 2, 1]  # NORMAL (claim), FULL (mark), NORMAL (requeue)
    with env.engine.connect() as conn:
        assert _synchronous(conn) == 2  # FULL where the ledger writes


async def test_a_marked_attempt_goes_back_only_when_its_requeue_says_it_was_never_originated(
    env, tmp_path
) -> None:
    """A ``dialling`` attempt whose permit, asked again, was refused (nothing originated) goes
    back to the queue with its number freed; a plain requeue never touches a ``dialling`` one
    (it may have a leg)."""
    camp = env.campaign()
    env.load(camp, tmp_path, fresh_numbers(2))
    env.start(camp)
    now = env.clock()
    a, b = env.queue.claim("w1", camp.id, now=now, limit=2, lease_s=30)
    writer = GroupWriter(env.queue.write)
    for att in (a, b):
        assert await writer.write(MarkDialling(att.id, "w1", "95588", now, 30.0))
    await asyncio.gather(
        writer.write(Requeue(a.id, now, ("store_unavailable",), marked=True)),
        writer.write(Requeue(b.id, now, ("paced",))),
    )
    got = states(env, camp)
    assert (got[a.id], got[b.id]) == ("queued", "dialling")
    again = env.queue.claim("w1", camp.id, now=now, limit=2, lease_s=30)
    assert [x.id for x in again] == [a.id]  # its number is free again; b's is still busy
