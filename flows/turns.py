"""Taking turns with the caller: the two implementations of the orchestrator's turn port
(:class:`flows.ports.TurnTaking`): how a prompt plays and how the caller's next turn is heard.

- :class:`RecordedTurns` (record mode): a prompt is a ``playback``; a turn is the digits pressed
  over the prompt just played (they count, issue 13 item 1), else a ``record`` with silence
  detection and ASR of its WAV, which is deleted after use (no clear caller audio kept).
- :class:`StreamedTurns` (stream mode, ``audio_mode="stream"``): the caller's audio is forked at
  answer (``uuid_audio_fork`` → :class:`speech.stream_server.AudioForkServer`); prompts are
  announced to the call's :class:`~speech.stream_server.CallAudio`, caller speech over an
  interruptible prompt stops it (``uuid_break``) and becomes the next turn, speech over a
  disclosure or risk warning is ignored (invariant 4), and a turn is the next recognised
  utterance. When the fork ends mid-call the call goes on in record mode.

:func:`open_turns` picks one for a call. Logs carry the call id and node only.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from flows.call import CallDeps, CallFacts
from flows.interpreter import Digits, NoInput
from flows.ports import TurnTaking
from flows.streamed import StreamedAudio
from speech.bargein import NEVER_INTERRUPTIBLE, PromptKind, SpeechIgnored, StopPrompt
from speech.context import ListenState, expect
from speech.ports import Transcript, VadEvent, VadEventKind
from speech.stream_server import RecognitionFailed
from telephony.call_control import CallControl
from telephony.errors import CallEndedError
from telephony.session import CallSession

log = logging.getLogger(__name__)

Heard = Digits | NoInput | Transcript  # a digit turn, nothing, or what was recognised


def speech_unavailable(deps: CallDeps, call: CallFacts) -> NoInput:
    """Any ASR engine failure: DTMF only for the rest of the call."""
    call.asr_down = True
    deps.note(call, "ivr", "speech recognition unavailable: DTMF only", code="call.asr_unavailable")
    return NoInput()


class RecordedTurns:
    """Record mode: ``playback`` for prompts, ``record`` + ASR for turns."""

    def __init__(self, deps: CallDeps) -> None:
        self.deps = deps

    async def play(
        self,
        session: CallSession,
        call: CallFacts,
        source: str,
        tag: str,
        kind: PromptKind,
        barge_in: bool,
    ) -> tuple[str, bool]:
        return await session.play(source), False

    async def hear(
        self, session: CallSession, call: CallFacts, timeout_s: float | None, state: ListenState
    ) -> Heard:
        cfg = self.deps.config
        early = session.drain_dtmf()  # pressed over the prompt just played: they count
        if early:
            self.deps.note_keys(call, early)
            return Digits(early)
        wav = call.scratch / f"turn-{call.offset_ms()}.wav"
        await session.record(
            str(wav), max_seconds=cfg.record_max_s, silence_seconds=cfg.record_silence_s
        )
        digits = session.drain_dtmf()
        if digits:
            self.deps.note_keys(call, digits)
            return Digits(digits)
        try:
            if not wav.exists():
                return Transcript(text="")
            return await self.deps.listener.transcribe(wav)
        except Exception:  # any engine failure: fall back to DTMF for the rest of the call
            log.exception("call %s: ASR failed; DTMF only from now on", call.call_id)
            return speech_unavailable(self.deps, call)
        finally:
            wav.unlink(missing_ok=True)  # caller audio: not kept past its turn

    async def close(self, session: CallSession) -> None:
        return None


class StreamedTurns:
    """Stream mode over the call's forked audio (record mode once the fork has ended)."""

    def __init__(
        self, deps: CallDeps, stream: StreamedAudio, control: CallControl, fallback: RecordedTurns
    ) -> None:
        self.deps = deps
        self.stream = stream
        self.control = control
        self.fallback = fallback
        self.ended = False  # the fork ended: record mode from now on

    async def play(
        self,
        session: CallSession,
        call: CallFacts,
        source: str,
        tag: str,
        kind: PromptKind,
        barge_in: bool,
    ) -> tuple[str, bool]:
        """Play ``source`` while the call's audio decides barge-in; returns the playback's
        response and whether caller speech broke it off."""
        stream = self.stream
        if self.ended or stream.closed:
            return await self.fallback.play(session, call, source, tag, kind, barge_in)
        # told before the playback is sent: the audio clock is then not past its start; the
        # tag is unique per playback, so a late StopPrompt can never break a later prompt
        stream.prompts += 1
        tag = f"{tag}#{stream.prompts}"
        stream.audio.prompt_started(tag, kind, barge_in)
        playing = asyncio.ensure_future(session.play(source))
        broken = False
        try:
            while not playing.done():
                getter = stream.next_event()
                racing: set[asyncio.Future[Any]] = {playing, getter}
                await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    break
                event = stream.take()
                if isinstance(event, StopPrompt):
                    if event.prompt_id == tag and not broken and kind not in NEVER_INTERRUPTIBLE:
                        broken = True
                        log.info("call %s: barge-in at node %s", call.call_id, call.last_node)
                        await self.control.break_playback()
                elif isinstance(event, SpeechIgnored):
                    call.talked_over = True  # QA: a locked prompt was spoken over
                    log.info(
                        "call %s: caller spoke over the %s at node %s; it plays on",
                        call.call_id,
                        event.kind.value,
                        call.last_node,
                    )
                else:
                    stream.keep(event)
            response = await playing
        finally:
            if not playing.done():
                playing.cancel()
            stream.audio.prompt_finished()
        return response, broken

    async def hear(
        self, session: CallSession, call: CallFacts, timeout_s: float | None, state: ListenState
    ) -> Heard:
        """The next recognised utterance (one that barged in included), unless a digit comes
        first (pressed over the prompt included) or nobody speaks within ``timeout_s``."""
        if self.ended:
            return await self.fallback.hear(session, call, timeout_s, state)
        stream = self.stream
        stream.audio.expect(expect(state))
        cfg = self.deps.config
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout_s if timeout_s is not None else cfg.listen_timeout_s)
        dtmf = asyncio.ensure_future(session.wait_for_dtmf(1))
        try:
            while True:
                if dtmf.done():
                    digits = dtmf.result() + session.drain_dtmf()  # raises on hang-up
                    self.deps.note_keys(call, digits)
                    return Digits(digits)
                if stream.finals:
                    final = stream.finals.popleft()
                    if isinstance(final, RecognitionFailed):
                        log.warning("call %s: ASR failed; DTMF only from now on", call.call_id)
                        return speech_unavailable(self.deps, call)
                    if final.transcript.text.strip():
                        return final.transcript
                    continue  # noise without words: keep listening
                if stream.closed:
                    if session.is_hung_up:
                        raise CallEndedError(session.hangup_cause)
                    log.warning("call %s: audio fork ended; record mode", call.call_id)
                    await self.close(session)
                    return await self.fallback.hear(session, call, timeout_s, state)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return NoInput()
                getter = stream.next_event()
                racing: set[asyncio.Future[Any]] = {getter, dtmf}
                await asyncio.wait(racing, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    event = stream.take()
                    if isinstance(event, VadEvent) and event.kind is VadEventKind.SPEECH_START:
                        # the caller is talking: give the utterance time to end
                        deadline = max(deadline, loop.time() + cfg.record_max_s)
                    stream.keep(event)
        finally:
            if not dtmf.done():
                dtmf.cancel()

    async def close(self, session: CallSession) -> None:
        """Stop reading the fork (and stop the fork if it still runs)."""
        if self.ended:
            return
        self.ended = True
        self.stream.close()
        if not self.stream.closed and not session.is_hung_up:
            await self.control.stop_audio_fork()


async def open_turns(
    deps: CallDeps, session: CallSession, call: CallFacts, control: CallControl
) -> TurnTaking:
    """Stream mode when configured and the fork connects in time, else record mode."""
    recorded = RecordedTurns(deps)
    streams = deps.audio_streams
    if deps.config.audio_mode != "stream" or streams is None:
        return recorded
    if not await control.start_audio_fork(f"{streams.url}/audio/{session.uuid}"):
        log.warning("call %s: audio fork refused; record mode for this call", call.call_id)
        return recorded
    try:
        audio = await streams.call(session.uuid, timeout_s=deps.config.stream_connect_s)
    except TimeoutError:
        log.warning("call %s: audio fork did not connect; record mode", call.call_id)
        await control.stop_audio_fork()
        return recorded
    log.info("call %s: caller audio streamed", call.call_id)
    return StreamedTurns(deps, StreamedAudio(audio), control, recorded)
