"""Post-call QA of a stored recording (adapter): split the stereo channels, cut each into
utterances with the VAD, transcribe them with the configured ASR, and inspect the call.

FreeSWITCH records stereo with the caller on the left channel and what the caller hears (the
bot or the human agent) on the right (``RECORD_STEREO``); a mono recording is taken as the
bot/agent side only. Turns carry offsets into the recording, so every finding points at the
moment it was said. The recording is fetched through the vault's audited path.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ivr.errors import ConfigError
from qa.calls import CallQa, Turn, inspect_call
from qa.compiled import CompiledRules
from qa.rules import Speaker
from qa.store import QaResultStore
from qa.verdict import SpeechContext
from records.vault import Actor, RecordingInfo, Vault
from speech.audio import Audio
from speech.ports import ASR, VAD
from speech.vad import speech_segments

PAD_S = 0.15
MAX_SEGMENT_S = 25.0
QA_ACTOR = Actor("qa-batch", "compliance_officer")
QA_REASON = "quality inspection (post-call QA)"


def split_channels(wav: bytes) -> tuple[Audio | None, Audio]:
    """``(caller, bot_or_agent)`` channels of a 16-bit PCM WAV (mono: no caller channel)."""
    try:
        with wave.open(io.BytesIO(wav), "rb") as handle:
            width, channels = handle.getsampwidth(), handle.getnchannels()
            rate, raw = handle.getframerate(), handle.readframes(handle.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ConfigError(f"not a readable PCM WAV recording: {exc}") from exc
    if width != 2:
        raise ConfigError(f"only 16-bit PCM recordings are supported (got {8 * width}-bit)")
    samples = np.frombuffer(raw, dtype="<i2")
    if channels == 1:
        return None, Audio(samples.tobytes(), rate)
    frames = samples.reshape(-1, channels)
    left = np.ascontiguousarray(frames[:, 0])
    right = np.ascontiguousarray(frames[:, 1])
    return Audio(left.tobytes(), rate), Audio(right.tobytes(), rate)


async def transcribe_channel(audio: Audio, speaker: Speaker, asr: ASR, vad: VAD) -> list[Turn]:
    """One channel as turns: each VAD speech segment (padded, split when very long) is
    transcribed; silence gives no turn."""
    if audio.sample_rate not in (8000, 16000):
        audio = audio.resampled(8000)
    turns: list[Turn] = []
    for start, end in speech_segments(audio, vad):
        s = max(0.0, start - PAD_S)
        e = min(audio.duration_s, end + PAD_S)
        while s < e:
            piece_end = min(e, s + MAX_SEGMENT_S)
            heard = await asr.transcribe(audio.slice(s, piece_end))
            if not heard.is_empty:
                turns.append(Turn(speaker, heard.text, int(s * 1000), int(piece_end * 1000)))
            s = piece_end
    return turns


async def transcribe_recording(
    wav: bytes, asr: ASR, make_vad: Callable[[int], VAD], other: Speaker = Speaker.AGENT
) -> list[Turn]:
    """Both channels of a recording as one list of turns ordered by time."""
    caller, agent = split_channels(wav)
    turns = await transcribe_channel(agent, other, asr, make_vad(agent.sample_rate))
    if caller is not None:
        turns += await transcribe_channel(caller, Speaker.CALLER, asr, make_vad(caller.sample_rate))
    return sorted(turns, key=lambda t: (t.start_ms, t.speaker != Speaker.CALLER))


@dataclass(frozen=True, slots=True)
class RecordingQa:
    """Post-call QA of recordings from the vault into the result store."""

    vault: Vault
    store: QaResultStore
    asr: ASR
    make_vad: Callable[[int], VAD]
    rules: Callable[[], CompiledRules]
    institution: str
    bot_ids: frozenset[str] = frozenset()

    def context(self, info: RecordingInfo) -> SpeechContext:
        purposes = self.rules().rules.mandatory.purposes
        purpose = (
            info.business_type
            if info.business_type in purposes
            else ("marketing" if info.campaign else "service")
        )
        return SpeechContext(
            call_id=info.call_id,
            purpose=purpose,
            campaign=info.campaign,
            flow=info.flow_version,
            agent_id=info.agent_id,
            institution=self.institution,
        )

    async def inspect(self, recording_id: str) -> tuple[str, CallQa]:
        """Fetch (audited), transcribe, inspect and store one recording's QA result."""
        fetched = self.vault.fetch(QA_ACTOR, recording_id, QA_REASON)
        info = fetched.info
        if fetched.data is None:
            raise ConfigError(f"recording {recording_id} came back without data")
        other = Speaker.BOT if info.agent_id in self.bot_ids else Speaker.AGENT
        turns = await transcribe_recording(fetched.data, self.asr, self.make_vad, other)
        result = inspect_call(turns, self.context(info), self.rules())
        result_id = await self.store.save(
            result,
            source="recording",
            call_started_at=info.started_at,
            recording_id=recording_id,
        )
        return result_id, result
