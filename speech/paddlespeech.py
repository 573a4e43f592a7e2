"""PaddleSpeech: TTS and ASR in process from local config/checkpoint folders, and a client of
``paddlespeech_server``'s HTTP API.

In process (optional: ``paddlepaddle`` + ``paddlespeech``, heavy, not installed by default) the
executors are given explicit local paths so nothing is downloaded; the folders are checked first
and a missing file is named. Layout, as in PaddleSpeech's released model archives:

- acoustic model folder (e.g. ``fastspeech2_csmsc``): ``default.yaml``, one ``*.pdz``
  checkpoint, ``speech_stats.npy``, ``phone_id_map.txt``;
- vocoder folder (e.g. ``mb_melgan_csmsc``): ``default.yaml``, one ``*.pdz``,
  ``feats_stats.npy``;
- ASR folder (e.g. ``conformer_wenetspeech``): a ``*.yaml`` config and a ``*.pdparams``
  checkpoint.

HTTP API (``paddlespeech/server/restful``): ``POST /paddlespeech/tts`` with ``{"text", "spk_id",
"speed", "volume", "sample_rate": 0|8000|16000, "save_path"}`` answers ``{"success", "code",
"message": {"description"}, "result": {"sample_rate", "duration", "audio": base64 WAV, ...}}``;
``POST /paddlespeech/asr`` with ``{"audio": base64 WAV, "audio_format": "wav", "sample_rate",
"lang": "zh_cn", "punc"}`` answers ``{"success", "code", "message", "result": {"transcription"}}``.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ivr.errors import ConfigError, DependencyUnavailableError, RemoteProtocolError
from speech.audio import TELEPHONE_RATES, Audio, normalize, read_wav, wav_bytes, wav_from_bytes
from speech.buffered import BufferedStream
from speech.context import ListenContext
from speech.ports import ASRStream, Transcript
from speech.text import clean_transcript


def paddlespeech_available() -> tuple[bool, str]:
    """Whether paddlepaddle and paddlespeech are importable (without importing them)."""
    for module, dist in (("paddle", "paddlepaddle"), ("paddlespeech", "paddlespeech")):
        if importlib.util.find_spec(module) is None:
            return False, f"{dist} is not installed"
    return True, "paddlepaddle and paddlespeech installed"


def _one(folder: Path, pattern: str, what: str) -> Path:
    found = sorted(folder.glob(pattern))
    if not found:
        raise ConfigError(f"PaddleSpeech {what} folder {folder} lacks a {pattern} file")
    return found[-1]


def _need(folder: Path, name: str, what: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise ConfigError(f"PaddleSpeech {what} folder {folder} lacks required file {name}")
    return path


@dataclass(frozen=True)
class TtsModelFiles:
    """Resolved local files of an acoustic model + vocoder pair."""

    am_config: Path
    am_ckpt: Path
    am_stat: Path
    phones_dict: Path
    voc_config: Path
    voc_ckpt: Path
    voc_stat: Path


def resolve_tts_files(am_dir: Path, voc_dir: Path) -> TtsModelFiles:
    """Check both folders and name the first missing file in a :class:`ConfigError`."""
    for folder, what in ((am_dir, "acoustic model"), (voc_dir, "vocoder")):
        if not folder.is_dir():
            raise ConfigError(f"PaddleSpeech {what} folder not found: {folder}")
    return TtsModelFiles(
        am_config=_need(am_dir, "default.yaml", "acoustic model"),
        am_ckpt=_one(am_dir, "*.pdz", "acoustic model"),
        am_stat=_need(am_dir, "speech_stats.npy", "acoustic model"),
        phones_dict=_need(am_dir, "phone_id_map.txt", "acoustic model"),
        voc_config=_need(voc_dir, "default.yaml", "vocoder"),
        voc_ckpt=_one(voc_dir, "*.pdz", "vocoder"),
        voc_stat=_need(voc_dir, "feats_stats.npy", "vocoder"),
    )


def resolve_asr_files(asr_dir: Path) -> tuple[Path, Path]:
    """(config, checkpoint) of a PaddleSpeech ASR folder, or a clear :class:`ConfigError`."""
    if not asr_dir.is_dir():
        raise ConfigError(f"PaddleSpeech ASR folder not found: {asr_dir}")
    config = next(iter(sorted(asr_dir.glob("*.yaml")) + sorted(asr_dir.glob("conf/*.yaml"))), None)
    if config is None:
        raise ConfigError(f"PaddleSpeech ASR folder {asr_dir} lacks a *.yaml config file")
    return config, _one(asr_dir, "**/*.pdparams", "ASR")


class PaddleSpeechTTS:
    """PaddleSpeech ``TTSExecutor`` with local model files (FastSpeech2 + MB-MelGAN, CSMSC)."""

    name = "paddlespeech"

    def __init__(
        self,
        am_dir: Path,
        voc_dir: Path,
        *,
        am: str = "fastspeech2_csmsc",
        voc: str = "mb_melgan_csmsc",
        spk_id: int = 0,
    ) -> None:
        self.files = resolve_tts_files(am_dir, voc_dir)
        ok, detail = paddlespeech_available()
        if not ok:
            raise DependencyUnavailableError(f"{detail} (pip install paddlepaddle paddlespeech)")
        from paddlespeech.cli.tts.infer import TTSExecutor  # type: ignore[import-not-found, import-untyped, unused-ignore]

        self.am = am
        self.voc = voc
        self.voice = f"{am}+{voc}#{spk_id}"
        self.spk_id = spk_id
        self._executor: Any = TTSExecutor()
        self._lock = threading.Lock()

    @property
    def cache_identity(self) -> str:
        return f"paddlespeech|{self.voice}|{self.files.am_ckpt.name}|{self.files.voc_ckpt.name}"

    def synthesize_sync(self, text: str, sample_rate: int = 8000) -> Audio:
        """Synthesize, blocking."""
        f = self.files
        with tempfile.TemporaryDirectory(prefix="pdtts-") as tmp, self._lock:
            out = Path(tmp) / "out.wav"
            self._executor(
                text=text,
                am=self.am,
                am_config=str(f.am_config),
                am_ckpt=str(f.am_ckpt),
                am_stat=str(f.am_stat),
                phones_dict=str(f.phones_dict),
                spk_id=self.spk_id,
                voc=self.voc,
                voc_config=str(f.voc_config),
                voc_ckpt=str(f.voc_ckpt),
                voc_stat=str(f.voc_stat),
                lang="zh",
                device="cpu",
                output=str(out),
            )
            audio = read_wav(out)
        return normalize(audio.resampled(sample_rate), target_rms_dbfs=-18.0)

    async def synthesize(self, text: str, sample_rate: int = 8000) -> Audio:
        return await asyncio.to_thread(self.synthesize_sync, text, sample_rate)


class PaddleSpeechASR:
    """PaddleSpeech ``ASRExecutor`` with a local config and checkpoint (16 kHz models)."""

    name = "paddlespeech"

    def __init__(self, asr_dir: Path, *, model: str = "conformer_wenetspeech") -> None:
        self.config, self.ckpt = resolve_asr_files(asr_dir)
        ok, detail = paddlespeech_available()
        if not ok:
            raise DependencyUnavailableError(f"{detail} (pip install paddlepaddle paddlespeech)")
        from paddlespeech.cli.asr.infer import ASRExecutor  # type: ignore[import-not-found, import-untyped, unused-ignore]

        self.model = model
        self._executor: Any = ASRExecutor()
        self._lock = threading.Lock()

    def transcribe_sync(self, audio: Audio, context: ListenContext | None = None) -> Transcript:
        """Recognise one utterance, blocking (PaddleSpeech has no biasing: context unused)."""
        with tempfile.TemporaryDirectory(prefix="pdasr-") as tmp, self._lock:
            path = Path(tmp) / "in.wav"
            path.write_bytes(wav_bytes(audio.resampled(16000)))
            text = self._executor(
                audio_file=str(path),
                model=self.model,
                lang="zh",
                sample_rate=16000,
                config=str(self.config),
                # ASRExecutor appends .pdparams itself (found by scripts/paddlespeech_check.py)
                ckpt_path=str(self.ckpt.with_suffix("")),
                force_yes=True,
                device="cpu",
            )
        text = clean_transcript(str(text))
        return Transcript(
            text=text, confidence=1.0 if text else 0.0, end_s=audio.duration_s, engine=self.name
        )

    async def transcribe(self, audio: Audio, context: ListenContext | None = None) -> Transcript:
        return await asyncio.to_thread(self.transcribe_sync, audio)

    def open_stream(self, sample_rate: int, context: ListenContext | None = None) -> ASRStream:
        return BufferedStream(self, sample_rate, context)


def _check_reply(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise DependencyUnavailableError(f"paddlespeech_server {what}: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise RemoteProtocolError(f"paddlespeech_server {what}: reply is not JSON") from exc
    if not isinstance(body, dict):
        raise RemoteProtocolError(f"paddlespeech_server {what}: reply is not an object")
    if not body.get("success"):
        message = body.get("message") or {}
        desc = message.get("description") if isinstance(message, dict) else message
        raise DependencyUnavailableError(
            f"paddlespeech_server {what} failed: code {body.get('code')}: {desc}"
        )
    result = body.get("result")
    if not isinstance(result, dict):
        raise RemoteProtocolError(f"paddlespeech_server {what}: reply has no result")
    return result


class PaddleSpeechServerTTS:
    """``paddlespeech_server`` TTS over HTTP behind the :class:`~speech.ports.TTS` port."""

    name = "paddlespeech-server"

    def __init__(
        self,
        url: str,
        *,
        spk_id: int = 0,
        speed: float = 1.0,
        volume: float = 1.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.spk_id = spk_id
        self.speed = speed
        self.volume = volume
        self.timeout_s = timeout_s
        self.voice = f"spk{spk_id}"

    @property
    def cache_identity(self) -> str:
        return f"paddlespeech-server|{self.url}|{self.voice}|{self.speed}|{self.volume}"

    async def synthesize(self, text: str, sample_rate: int = 8000) -> Audio:
        if sample_rate not in TELEPHONE_RATES:
            raise ValueError(f"sample rate must be one of {TELEPHONE_RATES}")
        payload = {
            "text": text,
            "spk_id": self.spk_id,
            "speed": self.speed,
            "volume": self.volume,
            "sample_rate": sample_rate,
            "save_path": None,
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(f"{self.url}/paddlespeech/tts", json=payload)
        except httpx.HTTPError as exc:
            raise DependencyUnavailableError(f"paddlespeech_server unreachable: {exc}") from exc
        result = _check_reply(response, "tts")
        try:
            audio = wav_from_bytes(base64.b64decode(str(result["audio"])))
        except (KeyError, ValueError, ConfigError) as exc:
            raise RemoteProtocolError(f"paddlespeech_server tts: bad audio: {exc}") from exc
        return audio if audio.sample_rate == sample_rate else audio.resampled(sample_rate)


class PaddleSpeechServerASR:
    """``paddlespeech_server`` ASR over HTTP behind the :class:`~speech.ports.ASR` port."""

    name = "paddlespeech-server"

    def __init__(self, url: str, *, punc: bool = False, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.punc = punc
        self.timeout_s = timeout_s

    async def transcribe(self, audio: Audio, context: ListenContext | None = None) -> Transcript:
        """Recognise through paddlespeech_server (no biasing: context unused)."""
        audio16 = audio.resampled(16000)
        payload = {
            "audio": base64.b64encode(wav_bytes(audio16)).decode("ascii"),
            "audio_format": "wav",
            "sample_rate": 16000,
            "lang": "zh_cn",
            "punc": self.punc,
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(f"{self.url}/paddlespeech/asr", json=payload)
        except httpx.HTTPError as exc:
            raise DependencyUnavailableError(f"paddlespeech_server unreachable: {exc}") from exc
        result = _check_reply(response, "asr")
        text = clean_transcript(str(result.get("transcription", "")))
        return Transcript(
            text=text, confidence=1.0 if text else 0.0, end_s=audio.duration_s, engine=self.name
        )

    def open_stream(self, sample_rate: int, context: ListenContext | None = None) -> ASRStream:
        return BufferedStream(self, sample_rate, context)
