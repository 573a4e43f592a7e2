"""100 concurrent simulated calls, 10 of which misbehave: only those end, each with evidence."""

from __future__ import annotations

import asyncio
from pathlib import Path

from telephony.server import ServerConfig
from telephony.session import CallSession
from telephony.simulator import CallerScript, Fault, SimulatedCall

FAULTS = [
    (Fault.MALFORMED_FRAME, 5),
    (Fault.UNKNOWN_CONTENT_TYPE, 6),
    (Fault.BAD_JSON_EVENT, 7),
    (Fault.GARBAGE, 4),
    (Fault.DROP_CONNECTION, 2),
    (Fault.DROP_CONNECTION, 6),
    (Fault.TRUNCATED_FRAME, 5),
    (Fault.STOP_READING, 4),
    (Fault.STOP_READING, 6),
    (Fault.MALFORMED_FRAME, 1),
]


async def test_hundred_calls_ten_misbehave(start_server, tmp_path: Path) -> None:
    digits_seen: dict[str, str] = {}

    async def flow(session: CallSession) -> None:
        await session.answer()
        await session.play("tone_stream://%(500,0,440)")
        digits_seen[session.uuid] = await session.play_and_get_digits(
            "tone_stream://%(200,0,600)", max_digits=4
        )
        await session.set_variable("ivr_step", "done")
        await session.hangup()

    # Generous reply timeout: under a loaded machine a well-behaved call must not time out; the
    # stalled callers stall longer than it, so they still end as peer timeouts.
    config = ServerConfig(reply_timeout_s=4.0, write_timeout_s=4.0, finish_timeout_s=4.0)
    server = await start_server(flow, config)
    calls: list[tuple[SimulatedCall, Fault | None]] = []
    fault_iter = iter(FAULTS)
    for i in range(100):
        fault, after = next(fault_iter) if i % 10 == 3 else (None, 0)
        script = CallerScript(digits=f"{i % 10}{(i * 7) % 10}#", fault=fault, fault_after=after)
        call = SimulatedCall(script, time_scale=0.001, record_dir=tmp_path, stall_s=10.0)
        calls.append((call, fault))

    results = await asyncio.gather(
        *(call.run(server.host, server.port, deadline_s=30) for call, _ in calls)
    )
    await server.server.wait_idle()

    stats = server.server.stats
    assert stats.aborted == 10 and stats.completed == 90
    bad = {r.uuid for r, (_, fault) in zip(results, calls, strict=True) if fault is not None}
    good = [r for r, (_, fault) in zip(results, calls, strict=True) if fault is None]
    assert len(bad) == 10
    assert {e[0] for e in server.evidence.entries} == {"call_aborted"}
    assert {e[1] for e in server.evidence.entries} == bad
    reasons = {e[2]["reason"] for e in server.evidence.entries}
    assert reasons == {"protocol_error", "connection_dropped", "peer_timeout"}
    for result, (call, _) in zip(results, calls, strict=True):
        if result.uuid in bad:
            continue
        assert result.got_exit and result.hangup_by == "ivr" and not result.timed_out
        assert digits_seen[result.uuid] == call.script.digits.rstrip("#")
    assert len(good) == 90
