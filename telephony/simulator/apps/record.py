"""Recording (mod_dptools): ``record`` (the caller, until silence) and ``record_session``.

``record <path> [<max_s> [<threshold> [<silence_s>]]]`` writes the caller's scripted audio (or
silence) as a real WAV and reports ``record_ms`` and ``silence_hits_exhausted``.
``record_session <path>`` records the whole call: when the call ends (or
``stop_record_session``) the simulator writes a WAV of the call's length there, stereo when
``RECORD_STEREO=true`` (caller left, IVR right), like FreeSWITCH's media bug.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telephony.simulator.fsstrings import separate_string
from telephony.simulator.media import duration_ms, write_wav

if TYPE_CHECKING:
    from telephony.simulator.apps import Application
    from telephony.simulator.outbound import SimulatedCall

MAX_SESSION_MS = 600_000


def _int(argv: list[str], index: int, default: int) -> int:
    return int(argv[index]) if len(argv) > index and argv[index].isdigit() else default


async def record(call: SimulatedCall, arg: str) -> str:
    argv = separate_string(arg)
    if not argv:
        return "_none_"
    raw_path, max_s = argv[0], _int(argv, 1, 0)
    if call.script.turns:
        return await _record_turn(call, raw_path, max_s)
    path = call.record_path(raw_path)
    silence_s = _int(argv, 3, 3)
    call.emit("RECORD_START", [("Record-File-Path", raw_path)])
    script = call.script
    speech = duration_ms(str(script.utterance)) if script.utterance else None
    talk_ms = speech if speech is not None else script.speech_ms
    hung = await call.caller_hangs_up_during("record", talk_ms)
    if not hung:
        hung = await call.clock.sleep(talk_ms + silence_s * 1000)
    limit = max_s * 1000 if max_s else talk_ms
    recorded = write_wav(path, min(talk_ms, limit), script.utterance)
    call.result.recordings.append(path)
    call.channel.variables.update(
        record_ms=str(recorded),
        record_seconds=str(recorded // 1000),
        record_samples=str(recorded * 8),
        silence_hits_exhausted="false" if hung else "true",
    )
    call.emit("RECORD_STOP", [("Record-File-Path", raw_path)])
    return "_none_"


async def _record_turn(call: SimulatedCall, raw_path: str, max_s: int) -> str:
    """record in a turn-scripted conversation: the caller's next turn goes into the file."""
    path = call.record_path(raw_path)
    call.emit("RECORD_START", [("Record-File-Path", raw_path)])
    turn = call.keypad.next_turn()
    talk_ms = 0
    if turn.action == "hangup":
        call.start_hangup("NORMAL_CLEARING", "caller")
    elif turn.action == "digits":
        call.keypad.digits = list(turn.digits)
        await call.keypad.press(len(turn.digits), "")
        talk_ms = 200
    elif turn.action == "say":
        talk_ms = (duration_ms(str(turn.audio)) if turn.audio else None) or 1500
        call.streaming.say(turn)
        await call.clock.sleep(talk_ms)
    else:
        talk_ms = max_s * 1000 if max_s else 3000
        await call.clock.sleep(talk_ms)
    source = turn.audio if turn.action == "say" else None
    recorded = write_wav(path, talk_ms, source)
    sidecar = path.with_name(path.name + ".transcript.txt")
    if turn.action == "say" and turn.transcript is not None:
        sidecar.write_text(turn.transcript, encoding="utf-8")
    else:
        sidecar.unlink(missing_ok=True)
    call.result.recordings.append(path)
    call.channel.variables.update(
        record_ms=str(recorded),
        record_seconds=str(recorded // 1000),
        record_samples=str(recorded * 8),
        silence_hits_exhausted="true" if turn.action in ("say", "silent") else "false",
    )
    call.emit("RECORD_STOP", [("Record-File-Path", raw_path)])
    return "_none_"


async def record_session(call: SimulatedCall, arg: str) -> str:
    stereo = call.channel.variables.get("RECORD_STEREO", "").lower() == "true"
    call.session_records[arg] = (call.record_path(arg), call.clock.media_ms(), stereo)
    call.emit("RECORD_START", [("Record-File-Path", arg)])
    return "_none_"


async def stop_record_session(call: SimulatedCall, arg: str) -> str:
    finish_session_records(call, only=arg)
    return "_none_"


def finish_session_records(call: SimulatedCall, only: str | None = None) -> None:
    """Write the WAV of every running ``record_session`` (or only ``only``)."""
    for raw, (target, started, stereo) in list(call.session_records.items()):
        if only is not None and raw != only:
            continue
        del call.session_records[raw]
        elapsed = int(call.clock.media_ms() - started)
        write_wav(target, min(max(elapsed, 0), MAX_SESSION_MS), channels=2 if stereo else 1)
        call.result.recordings.append(target)
        call.emit("RECORD_STOP", [("Record-File-Path", raw)])


APPLICATIONS: dict[str, Application] = {
    "record": record,
    "record_session": record_session,
    "stop_record_session": stop_record_session,
}
