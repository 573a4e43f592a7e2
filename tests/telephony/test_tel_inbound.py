"""The inbound client against the simulated switch: auth, api, bgapi, originate, reconnect."""

from __future__ import annotations

import asyncio
import gc

import pytest
from helpers.wait import eventually

from ivr.errors import IvrError
from telephony.esl import Event
from telephony.esl.dialstring import Application
from telephony.inbound import InboundClient
from telephony.simulator import CallerScript, InboundSwitch


@pytest.fixture
async def switch():
    sim = InboundSwitch(outcomes={"13800000002": "USER_BUSY"})
    host, port = await sim.start()
    yield sim, host, port
    await sim.close()


async def test_api_bgapi_and_originate(switch) -> None:
    sim, host, port = switch
    client = InboundClient(host, port, "ClueCon")
    events: list[Event] = []
    client.add_listener(events.append)
    await client.connect()
    try:
        assert "is ready" in await client.api("status")
        assert (await client.api("no_such_command", "foo")).startswith("-ERR")
        assert "session(s) since startup" in await client.bgapi("status")
        ok = await client.originate(
            "sofia/gateway/carrier/13800000001", variables={"ivr_campaign": "c1"}
        )
        uuid = ok.uuid
        assert ok.ok and uuid is not None and uuid in sim.channels
        assert await client.uuid_setvar(uuid, "ivr_x", "1")
        assert await client.uuid_getvar(uuid, "ivr_x") == "1"
        assert await client.uuid_getvar(uuid, "nope") is None
        busy = await client.originate("sofia/gateway/carrier/13800000002")
        assert not busy.ok and busy.cause == "USER_BUSY"
        failed = await client.originate("error/no_answer")
        assert failed.cause == "NO_ANSWER"
        assert await client.uuid_kill(uuid)
        assert not await client.uuid_kill(uuid)

        def names() -> list[str]:
            return [e.name for e in events]

        await eventually(lambda: names().count("BACKGROUND_JOB") == 4)
        await eventually(lambda: "CHANNEL_HANGUP_COMPLETE" in names())
        assert "CHANNEL_CREATE" in names() and "CHANNEL_ANSWER" in names()
    finally:
        await client.close()


async def test_bad_password_is_refused(switch) -> None:
    _, host, port = switch
    client = InboundClient(host, port, "wrong-password")
    with pytest.raises(IvrError):
        await asyncio.wait_for(client.connect(), 5)
    await client.close()


async def test_reconnects_and_resubscribes(switch) -> None:
    sim, host, port = switch
    client = InboundClient(host, port, "ClueCon", backoff_s=(0.01, 0.1))
    await client.connect()
    try:
        await client.subscribe_filter("Event-Name", "BACKGROUND_JOB")
        sim.drop_connections()
        await eventually(lambda: client.connects == 2, 2.0)
        assert "is ready" in await client.bgapi("status")
        (listener,) = sim._listeners
        assert listener.filters == [("Event-Name", "BACKGROUND_JOB")]
        assert "BACKGROUND_JOB" in listener.events
    finally:
        await client.close()


async def test_uuid_exists_answers_true_or_false_and_an_outage_refuses_until_restored(
    switch,
) -> None:
    sim, host, port = switch
    client = InboundClient(host, port, "ClueCon", backoff_s=(0.01, 0.1))
    connects: list[int] = []
    client.add_connect_listener(connects.append)
    await client.connect()
    try:
        ok = await client.originate("sofia/gateway/carrier/13800000001")
        assert ok.uuid is not None
        # mod_commands: "true"/"false" without a newline, in an api/response like uuid_getvar's
        assert await client.api("uuid_exists", ok.uuid) == "true"
        assert await client.uuid_exists(ok.uuid)
        await sim.outage()
        await eventually(lambda: not client.ready, 2.0)
        sim._kill(sim.channels[ok.uuid], "NORMAL_CLEARING")  # hangs up with no one listening
        with pytest.raises(OSError):
            await asyncio.open_connection(host, port)
        assert connects == [1]
        await sim.restore()
        await eventually(lambda: connects == [1, 2], 3.0)
        assert not await client.uuid_exists(ok.uuid)
        assert ("uuid_exists", ok.uuid) in [(c, a) for _, c, a in sim.api_log]
    finally:
        await client.close()


def test_uuid_exists_reply_bytes() -> None:
    from telephony.esl import frames
    from telephony.simulator.api import run_api

    def kill(_c, _cause) -> None:
        return None

    body = run_api("uuid_exists", "00000000-0000-0000-0000-000000000000", {}, kill=kill)
    assert frames.api_response(body.encode()) == (
        b"Content-Type: api/response\nContent-Length: 5\n\nfalse"
    )


async def test_originate_into_the_outbound_server(start_server) -> None:
    from telephony.handler import DefaultHandler

    server = await start_server(DefaultHandler())
    sim = InboundSwitch(socket_target=(server.host, server.port), script=CallerScript())
    host, port = await sim.start()
    client = InboundClient(host, port, "ClueCon")
    await client.connect()
    try:
        result = await client.originate(
            "sofia/gateway/carrier/13800000009", Application("socket", "127.0.0.1:8084 async full")
        )
        assert result.ok
        await eventually(lambda: server.server.stats.completed == 1 and not sim.channels, 3.0)
    finally:
        await client.close()
        await sim.close()


async def test_a_dropped_connection_fails_every_command_in_flight_and_leaves_no_unretrieved_error(
    switch,
) -> None:
    """Commands in flight when the connection drops fail with the drop (the caller sees it), and
    no job future is left holding an exception nobody reads ("Future exception was never
    retrieved" in the soak's log: a drop reported while the bgapi's own send was failing)."""
    sim, host, port = switch
    loop = asyncio.get_running_loop()
    unretrieved: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: unretrieved.append(str(ctx.get("message"))))
    client = InboundClient(host, port, "ClueCon", backoff_s=(0.01, 0.1))
    await client.connect()
    try:
        for _ in range(5):
            jobs = [asyncio.create_task(client.bgapi("status", timeout_s=5.0)) for _ in range(40)]
            await asyncio.sleep(0)  # let the sends start: the drop lands on commands in flight
            sim.drop_connections()
            results = await asyncio.gather(*jobs, return_exceptions=True)
            assert all(isinstance(r, (str, IvrError)) for r in results), results
            await eventually(lambda: client.ready, 2.0)
        del jobs, results
        gc.collect()
        await asyncio.sleep(0)
        assert not [m for m in unretrieved if "never retrieved" in m]
    finally:
        loop.set_exception_handler(previous)
        await client.close()
