"""FunASR in process: ``funasr.AutoModel`` from a local model folder, hub updates disabled.

Production deploys FunASR as its runtime WebSocket server (:mod:`speech.funasr_ws`); this adapter
runs the same models in our process (optional extra ``funasr``: funasr + CPU torch).

The folder is checked before FunASR sees it (:func:`check_funasr_model_dir`): FunASR treats a
path that does not exist as a model *name* and tries to download it, and a folder missing
``model.pt`` fails with a bare ``init_param does not exist`` — both mislead an operator on a
machine without internet. Our error names the missing file.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ivr.errors import ConfigError, DependencyUnavailableError
from speech.audio import Audio
from speech.context import ListenContext
from speech.ports import ASRStream, Transcript
from speech.text import clean_transcript

log = logging.getLogger(__name__)

_CJK_SPACE = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


def funasr_available() -> tuple[bool, str]:
    """Whether funasr and torch are importable (without importing them)."""
    for module, extra in (("torch", "torch==2.13.0"), ("funasr", "funasr")):
        if importlib.util.find_spec(module) is None:
            return False, f"{module} is not installed (pip install -e '.[funasr]', {extra})"
    return True, "funasr and torch installed"


def check_funasr_model_dir(model_dir: Path) -> None:
    """Raise :class:`ConfigError` naming the first missing file of a FunASR model folder.

    A folder is either described by ``configuration.json`` (``file_path_metas`` names its files)
    or holds ``config.yaml`` + ``model.pt``; a tokenizer needs ``tokens.json``/``tokens.txt``,
    and a frontend with CMVN needs ``am.mvn``.
    """
    if not model_dir.is_dir():
        raise ConfigError(f"FunASR model folder not found: {model_dir}")
    config_json = model_dir / "configuration.json"
    if config_json.is_file():
        try:
            metas = json.loads(config_json.read_text(encoding="utf-8")).get("file_path_metas", {})
        except ValueError as exc:
            raise ConfigError(f"{config_json} is not valid JSON: {exc}") from exc
        for name in _flatten_file_names(metas):
            if not (model_dir / name).is_file():
                raise ConfigError(
                    f"FunASR model folder {model_dir} lacks {name} (named in configuration.json)"
                )
        return
    config_yaml = model_dir / "config.yaml"
    if not config_yaml.is_file():
        raise ConfigError(f"FunASR model folder {model_dir} lacks required file config.yaml")
    if not (model_dir / "model.pt").is_file():
        raise ConfigError(f"FunASR model folder {model_dir} lacks required file model.pt")
    try:
        config = yaml.safe_load(config_yaml.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_yaml} is not valid YAML: {exc}") from exc
    if not isinstance(config, dict) or "model" not in config:
        raise ConfigError(f"{config_yaml} does not name a model class ('model:')")
    if config.get("tokenizer") and not any(
        (model_dir / n).is_file() for n in ("tokens.json", "tokens.txt")
    ):
        raise ConfigError(
            f"FunASR model folder {model_dir} lacks required file tokens.json (or tokens.txt)"
        )
    frontend_conf = config.get("frontend_conf") or {}
    needs_cmvn = isinstance(frontend_conf, dict) and "cmvn_file" in frontend_conf
    if needs_cmvn and not (model_dir / "am.mvn").is_file():
        raise ConfigError(f"FunASR model folder {model_dir} lacks required file am.mvn")


def _flatten_file_names(metas: Any) -> list[str]:
    if isinstance(metas, str):
        return [metas]
    if isinstance(metas, dict):
        return [n for v in metas.values() for n in _flatten_file_names(v)]
    if isinstance(metas, list):
        return [n for v in metas for n in _flatten_file_names(v)]
    return []


def _text_of(result: Any) -> str:
    if isinstance(result, list) and result:
        result = result[0]
    if isinstance(result, dict):
        return _CJK_SPACE.sub("", str(result.get("text", "")))
    return ""


class FunAsrASR:
    """FunASR ``AutoModel`` behind the :class:`~speech.ports.ASR` port (16 kHz models).

    ``streaming=True`` is for streaming models (``paraformer-zh-streaming``): the stream feeds
    600 ms chunks with the model's cache and yields partials. Otherwise a stream buffers the turn
    and decodes it at the end.
    """

    name = "funasr"

    def __init__(
        self,
        model_dir: Path,
        *,
        device: str = "cpu",
        ncpu: int = 2,
        streaming: bool = False,
        chunk_size: tuple[int, int, int] = (0, 10, 5),
    ) -> None:
        check_funasr_model_dir(model_dir)
        ok, detail = funasr_available()
        if not ok:
            raise DependencyUnavailableError(detail)
        from funasr import AutoModel  # type: ignore[import-not-found, import-untyped, unused-ignore]

        self.model_dir = model_dir
        self.streaming = streaming
        self.chunk_size = list(chunk_size)
        self._lock = threading.Lock()
        try:
            self._model: Any = AutoModel(
                model=str(model_dir),
                disable_update=True,
                disable_pbar=True,
                disable_log=True,
                device=device,
                ncpu=ncpu,
            )
        except (AssertionError, KeyError, RuntimeError, ValueError, OSError) as exc:
            raise ConfigError(f"FunASR could not load {model_dir}: {exc}") from exc

    def _generate(self, samples: np.ndarray[Any, Any], **kwargs: Any) -> str:
        with self._lock:
            result = self._model.generate(input=samples, disable_pbar=True, **kwargs)
        return _text_of(result)

    def transcribe_sync(self, audio: Audio, context: ListenContext | None = None) -> Transcript:
        """Recognise one utterance, blocking. A context's hotwords go to FunASR's ``hotword``
        (used by contextual Paraformer / SeACo models, ignored by the others)."""
        if audio.duration_s == 0:
            return Transcript(text="", engine=self.name)
        samples = audio.resampled(16000).as_float()
        extra: dict[str, Any] = {}
        if context is not None and context.hotwords:
            extra["hotword"] = " ".join(context.hotwords)
        text = clean_transcript(self._generate(samples, **extra))
        return Transcript(
            text=text,
            confidence=1.0 if text else 0.0,
            start_s=0.0,
            end_s=audio.duration_s,
            engine=self.name,
        )

    async def transcribe(self, audio: Audio, context: ListenContext | None = None) -> Transcript:
        return await asyncio.to_thread(self.transcribe_sync, audio, context)

    def open_stream(self, sample_rate: int, context: ListenContext | None = None) -> ASRStream:
        return FunAsrStream(self, sample_rate, context)


class FunAsrStream:
    """A FunASR stream: chunked decoding with cache (streaming models) or buffer + final."""

    def __init__(
        self, asr: FunAsrASR, sample_rate: int, context: ListenContext | None = None
    ) -> None:
        self._asr = asr
        self._rate = sample_rate
        self._context = context
        self._pcm = bytearray()
        self._pending = np.zeros(0, dtype=np.float32)
        self._cache: dict[str, Any] = {}
        self._text = ""
        self._chunk = 960 * asr.chunk_size[1]  # samples at 16 kHz (60 ms per unit)

    def _decode_chunk(self, chunk: np.ndarray[Any, Any], is_final: bool) -> str:
        return self._asr._generate(
            chunk,
            cache=self._cache,
            is_final=is_final,
            chunk_size=self._asr.chunk_size,
            encoder_chunk_look_back=4,
            decoder_chunk_look_back=1,
        )

    async def feed(self, pcm: bytes) -> list[Transcript]:
        self._pcm.extend(pcm)
        if not self._asr.streaming:
            return []
        new = Audio(pcm, self._rate).resampled(16000).as_float()
        self._pending = np.concatenate([self._pending, new])
        out: list[Transcript] = []
        while self._pending.size >= self._chunk:
            chunk, self._pending = self._pending[: self._chunk], self._pending[self._chunk :]
            piece = await asyncio.to_thread(self._decode_chunk, chunk, False)
            if piece:
                self._text += piece
                out.append(
                    Transcript(
                        text=clean_transcript(self._text), is_final=False, engine=self._asr.name
                    )
                )
        return out

    async def finish(self) -> Transcript:
        if not self._asr.streaming:
            return await self._asr.transcribe(Audio(bytes(self._pcm), self._rate), self._context)
        piece = await asyncio.to_thread(self._decode_chunk, self._pending, True)
        self._text += piece
        return Transcript(
            text=clean_transcript(self._text),
            confidence=1.0 if self._text else 0.0,
            end_s=len(self._pcm) / 2 / self._rate,
            engine=self._asr.name,
        )
