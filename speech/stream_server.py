"""Streaming mode: FreeSWITCH pushes the caller's L16 audio to us over WebSocket.

Compatible with mod_audio_fork (``uuid_audio_fork <uuid> start ws://host:port/audio/<uuid>
mono 8k {"uuid":"<uuid>"}``, sub-protocol ``audio.drachtio.org``) and mod_audio_stream
(``uuid_audio_stream <uuid> start ws://host:port/audio/<uuid> mono 8k {...}``): the module
connects, sends its metadata as a first text frame (JSON), then binary frames of 16-bit
little-endian mono PCM at the requested rate (8k or 16k), and closes when the fork stops.

For each call the server runs a VAD (end-of-turn tuned) and a :class:`BargeInController` over
the audio, and publishes :class:`CallAudio` events the call session awaits: VAD events,
:class:`~speech.bargein.StopPrompt` (send ``uuid_break``), :class:`Utterance` (the caller's
turn, audio included) and — when an ASR is given — :class:`Recognised`.

Before each caller turn the session says what the dialogue expects
(``CallAudio.expect(speech.context.expect(state))``): the ASR is biased with it, and with a
:class:`~speech.endpointing.TurnEnder` the turn ends after that state's silence, with the
transcript already recognised speculatively during the silence (see ``speech.endpointing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import websockets
from websockets.asyncio.server import Server, ServerConnection
from websockets.typing import Subprotocol

from ivr.errors import IvrError, RemoteProtocolError
from speech.audio import Audio
from speech.bargein import (
    Action,
    BargeInConfig,
    BargeInController,
    CaptureUtterance,
    PromptKind,
    SpeechIgnored,
    StopPrompt,
)
from speech.context import ListenContext
from speech.endpointing import EndpointPolicy, EndTurn, Speculate, TurnEnder
from speech.ports import ASR, VAD, Transcript, VadEvent
from speech.vad import StreamingVad

log = logging.getLogger(__name__)

SUBPROTOCOLS = (Subprotocol("audio.drachtio.org"),)


@dataclass(frozen=True)
class Utterance:
    """The caller's turn: audio between ``start_s`` and ``end_s`` of the call's audio clock."""

    audio: Audio
    start_s: float
    end_s: float
    barged_in: bool


@dataclass(frozen=True)
class Recognised:
    """ASR result of an :class:`Utterance`."""

    transcript: Transcript
    utterance: Utterance


@dataclass(frozen=True)
class RecognitionFailed:
    """ASR of an :class:`Utterance` failed (engine down, bad model); the session re-prompts."""

    reason: str
    utterance: Utterance


@dataclass(frozen=True)
class StreamClosed:
    """FreeSWITCH closed the fork (hang-up or ``uuid_audio_fork stop``)."""

    at_s: float


CallEvent = (
    VadEvent
    | StopPrompt
    | SpeechIgnored
    | Utterance
    | Recognised
    | RecognitionFailed
    | StreamClosed
)


class CallAudio:
    """The audio side of one call: feed frames, drive prompts, await events. Transport-free."""

    def __init__(
        self,
        call_uuid: str,
        sample_rate: int,
        vad: VAD,
        *,
        asr: ASR | None = None,
        barge_in: BargeInConfig | None = None,
        keep_s: float = 60.0,
        turn_ender: TurnEnder | None = None,
    ) -> None:
        self.call_uuid = call_uuid
        self.sample_rate = sample_rate
        self.metadata: dict[str, Any] = {}
        self.events: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._vad = vad
        self._asr = asr
        self._controller = BargeInController(barge_in)
        self._pcm = bytearray()
        self._base_s = 0.0  # audio clock time of self._pcm[0]
        self._keep_bytes = int(2 * sample_rate * keep_s)
        self._received_bytes = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._context: ListenContext | None = None
        # speculative end-pointing needs the segmenter's state: only with our StreamingVad
        self._ender = turn_ender if isinstance(vad, StreamingVad) and asr is not None else None
        self._speculations: dict[tuple[float, float], asyncio.Task[Transcript]] = {}

    @property
    def context(self) -> ListenContext | None:
        """What the next caller turn is expected to be (set by :meth:`expect`)."""
        return self._context

    def expect(self, context: ListenContext | None) -> None:
        """The dialogue's expectation for the coming turns: biases the ASR and, with a turn
        ender, sets the state's end-of-turn silence."""
        self._context = context
        if self._ender is not None:
            default = self._ender.policy.end_silence_ms
            self._ender.set_policy(EndpointPolicy.for_context(context, default))

    @property
    def now_s(self) -> float:
        """The call's audio clock: seconds of caller audio received."""
        return self._received_bytes / 2 / self.sample_rate

    def prompt_started(self, prompt_id: str, kind: PromptKind, node_allows_barge_in: bool) -> None:
        """The bot began playing a prompt (the session calls this when it sends playback)."""
        self._publish(
            self._controller.prompt_started(prompt_id, kind, node_allows_barge_in, self.now_s)
        )

    def prompt_finished(self) -> None:
        """The prompt ended (PLAYBACK_STOP)."""
        self._publish(self._controller.prompt_finished(self.now_s))

    def feed(self, pcm: bytes) -> None:
        """Add caller audio (any length of 16-bit PCM at ``sample_rate``)."""
        self._pcm.extend(pcm)
        self._received_bytes += len(pcm)
        excess = len(self._pcm) - self._keep_bytes
        if excess > 0:
            excess -= excess % 2
            del self._pcm[:excess]
            self._base_s += excess / 2 / self.sample_rate
        for event in self._vad.process(pcm):
            self._on_vad(event)
        if self._vad.in_speech:
            self._publish(self._controller.tick(self.now_s))
        if self._ender is not None:
            self._end_turn_early()

    def _on_vad(self, event: VadEvent) -> None:
        self.events.put_nowait(event)
        self._publish(self._controller.on_vad(event))

    def _end_turn_early(self) -> None:
        """Speculative recognition during the silence; end the turn once the state's silence
        has passed and the speculation is in (speech.endpointing)."""
        assert self._ender is not None and isinstance(self._vad, StreamingVad)
        ep = self._vad.endpointer
        start = self._controller.capture_start()  # None: this speech will not be a turn
        actions = self._ender.on_frame(
            ep.in_speech and start is not None, start, ep.last_speech_end_s, ep.trailing_silence_s
        )
        for action in actions:
            if isinstance(action, Speculate):
                self._speculate(action)
            elif isinstance(action, EndTurn):
                for event in ep.end_now():
                    self._on_vad(event)
                self._ender.turn_ended()

    def _speculate(self, action: Speculate) -> None:
        assert self._asr is not None and self._ender is not None
        span = (action.start_s, action.end_s)
        for stale in [k for k in self._speculations if k != span]:
            self._speculations.pop(stale).cancel()  # speech went on: never awaited
        audio = self._slice(*span)
        task = asyncio.get_running_loop().create_task(self._asr.transcribe(audio, self._context))
        self._speculations[span] = task
        ender = self._ender

        def done(t: asyncio.Task[Transcript]) -> None:
            if not t.cancelled() and t.exception() is None:
                ender.speculation_done(span, t.result().text)

        task.add_done_callback(done)

    def close(self) -> None:
        """End of audio: close an open segment and announce the end."""
        for event in self._vad.flush():
            self.events.put_nowait(event)
            self._publish(self._controller.on_vad(event))
        self.events.put_nowait(StreamClosed(self.now_s))

    def _publish(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, CaptureUtterance):
                utterance = Utterance(
                    self._slice(action.start_s, action.end_s),
                    action.start_s,
                    action.end_s,
                    action.barged_in,
                )
                self.events.put_nowait(utterance)
                if self._asr is not None:
                    task = asyncio.get_running_loop().create_task(self._recognise(utterance))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            else:
                self.events.put_nowait(action)

    def _slice(self, start_s: float, end_s: float, pad_s: float = 0.2) -> Audio:
        buffered = Audio(bytes(self._pcm), self.sample_rate)
        return buffered.slice(start_s - self._base_s - pad_s, end_s - self._base_s + pad_s)

    async def _recognise(self, utterance: Utterance) -> None:
        assert self._asr is not None
        speculation = self._speculations.pop((utterance.start_s, utterance.end_s), None)
        try:
            if speculation is not None:  # recognised during the silence: the same audio
                transcript = await speculation
            else:
                transcript = await self._asr.transcribe(utterance.audio, self._context)
        except IvrError as exc:
            log.warning("ASR failed on call %s: %s", self.call_uuid, type(exc).__name__)
            self.events.put_nowait(RecognitionFailed(str(exc), utterance))
            return
        self.events.put_nowait(Recognised(transcript, utterance))

    async def next_event(self, timeout_s: float | None = None) -> CallEvent:
        """The next event (raises TimeoutError after ``timeout_s``)."""
        return await asyncio.wait_for(self.events.get(), timeout_s)


def _rate_of(value: Any) -> int:
    text = str(value).lower().removesuffix("hz")
    if text.endswith("k"):
        return int(float(text[:-1]) * 1000)
    return int(text)


class AudioForkServer:
    """WebSocket server for mod_audio_fork / mod_audio_stream connections, one per call."""

    def __init__(
        self,
        vad_factory: Callable[[int], VAD],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        asr: ASR | None = None,
        barge_in: BargeInConfig | None = None,
        default_rate: int = 8000,
        turn_policy: EndpointPolicy | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._vad_factory = vad_factory
        self._asr = asr
        self._barge_in = barge_in
        self._turn_policy = turn_policy  # None: the VAD alone ends turns
        self._default_rate = default_rate
        self._server: Server | None = None
        self._calls: dict[str, CallAudio] = {}
        self._waiters: dict[str, asyncio.Future[CallAudio]] = {}

    async def start(self) -> None:
        """Listen (``port`` 0 picks a free port, readable afterwards)."""
        self._server = await websockets.serve(
            self._handle,
            self.host,
            self.port,
            subprotocols=list(SUBPROTOCOLS),
            select_subprotocol=_any_subprotocol,
            max_size=2**20,
        )
        sock = next(iter(self._server.sockets))
        self.port = int(sock.getsockname()[1])
        log.info("audio fork server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Close the listener and every connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        """The base URL FreeSWITCH connects to (append ``/audio/<uuid>``)."""
        return f"ws://{self.host}:{self.port}"

    async def call(self, call_uuid: str, timeout_s: float = 10.0) -> CallAudio:
        """The call's audio once FreeSWITCH has connected its fork."""
        if call_uuid in self._calls:
            return self._calls[call_uuid]
        future = self._waiters.setdefault(call_uuid, asyncio.get_running_loop().create_future())
        return await asyncio.wait_for(asyncio.shield(future), timeout_s)

    def _register(self, call: CallAudio) -> None:
        self._calls[call.call_uuid] = call
        waiter = self._waiters.pop(call.call_uuid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(call)

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else "/"
        parts = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        call_uuid = parts.path.rstrip("/").rsplit("/", 1)[-1] if parts.path.strip("/") else ""
        rate = _rate_of(query.get("rate", self._default_rate))
        call: CallAudio | None = None
        try:
            async for message in ws:
                if isinstance(message, str):
                    if call is not None:
                        continue  # later text frames (none expected) are ignored
                    try:
                        metadata = json.loads(message) if message.strip() else {}
                    except ValueError as exc:
                        raise RemoteProtocolError("audio fork metadata is not JSON") from exc
                    if not isinstance(metadata, dict):
                        raise RemoteProtocolError("audio fork metadata is not a JSON object")
                    call_uuid = str(metadata.get("uuid") or metadata.get("call_uuid") or call_uuid)
                    if "sampleRate" in metadata:
                        rate = _rate_of(metadata["sampleRate"])
                    call = self._open(call_uuid, rate, metadata)
                    continue
                if call is None:
                    call = self._open(call_uuid, rate, {})
                call.feed(message)
        except RemoteProtocolError as exc:
            log.warning("audio fork protocol error on call %s: %s", call_uuid or "?", exc)
            await ws.close(1002, "protocol error")
        except websockets.ConnectionClosed:
            pass
        finally:
            if call is not None:
                call.close()
                self._calls.pop(call.call_uuid, None)

    def _open(self, call_uuid: str, rate: int, metadata: dict[str, Any]) -> CallAudio:
        if not call_uuid:
            raise RemoteProtocolError("audio fork names no call (path /audio/<uuid> or uuid)")
        if rate not in (8000, 16000):
            raise RemoteProtocolError(f"unsupported sample rate {rate}")
        ender = TurnEnder(self._turn_policy) if self._turn_policy is not None else None
        call = CallAudio(
            call_uuid,
            rate,
            self._vad_factory(rate),
            asr=self._asr,
            barge_in=self._barge_in,
            turn_ender=ender,
        )
        call.metadata = metadata
        self._register(call)
        log.info("audio fork opened for call %s at %d Hz", call_uuid, rate)
        return call


def _any_subprotocol(connection: ServerConnection, offered: Any) -> Any:
    """Accept mod_audio_fork's sub-protocol when offered, and clients that offer none."""
    for name in offered:
        if name in SUBPROTOCOLS:
            return name
    return None


async def wait_closed(call: CallAudio) -> list[CallEvent]:
    """Drain a call's events up to :class:`StreamClosed` (tests and tools)."""
    out: list[CallEvent] = []
    while True:
        event = await call.events.get()
        out.append(event)
        if isinstance(event, StreamClosed):
            with contextlib.suppress(Exception):
                await asyncio.gather(*list(call._tasks))
            while not call.events.empty():
                out.append(call.events.get_nowait())
            return out
