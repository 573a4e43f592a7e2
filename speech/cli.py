"""`ivr speech ...` commands: transcribe a WAV, synthesise text, warm the prompt cache, run VAD.

These print results for the operator who asked; nothing here writes transcripts to logs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from ivr.errors import IvrError
from ivr.output import JSON_OPTION, emit, fail
from ivr.settings import get_settings


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ivr` app."""
    speech_app = typer.Typer(
        help="Speech engines: ASR, TTS, VAD, prompt cache.", no_args_is_help=True
    )

    @speech_app.command("transcribe")
    def transcribe(
        wav: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="16-bit PCM WAV")],
        engine: Annotated[str, typer.Option(help="ASR engine (default: IVR_ASR_ENGINE)")] = "",
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Recognise one WAV file."""
        from speech.audio import read_wav
        from speech.factory import build_asr

        try:
            asr = build_asr(get_settings(), engine or None)
            result = asyncio.run(asr.transcribe(read_wav(wav)))
        except IvrError as exc:
            raise fail(str(exc)) from exc
        data = {
            "text": result.text,
            "confidence": result.confidence,
            "start_s": result.start_s,
            "end_s": result.end_s,
            "engine": result.engine,
        }
        emit(data, as_json, lambda d: f"{d['text']}  (confidence {d['confidence']})")

    @speech_app.command("say")
    def say(
        text: Annotated[str, typer.Argument(help="text to synthesise")],
        out: Annotated[Path, typer.Option("--out", "-o", help="output WAV")] = Path("say.wav"),
        rate: Annotated[int, typer.Option(help="8000 or 16000")] = 8000,
        engine: Annotated[str, typer.Option(help="TTS engine (default: IVR_TTS_ENGINE)")] = "",
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Synthesise text to a WAV file (through the prompt cache)."""
        from speech.audio import write_wav
        from speech.factory import build_cached_tts

        try:
            tts = build_cached_tts(get_settings(), engine or None)
            audio = asyncio.run(tts.synthesize(text, rate))
        except IvrError as exc:
            raise fail(str(exc)) from exc
        write_wav(out, audio)
        emit(
            {"path": str(out), "duration_s": round(audio.duration_s, 3), "rate": rate},
            as_json,
            lambda d: f"wrote {d['path']} ({d['duration_s']} s)",
        )

    @speech_app.command("warm")
    def warm(
        prompts: Annotated[
            Path, typer.Argument(exists=True, dir_okay=False, help="text file, one per line")
        ],
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Pre-synthesise static prompts into the on-disk cache."""
        from speech.factory import build_prompt_cache

        texts = [line.strip() for line in prompts.read_text(encoding="utf-8").splitlines()]
        try:
            report = asyncio.run(build_prompt_cache(get_settings()).warm(texts))
        except IvrError as exc:
            raise fail(str(exc)) from exc
        emit(
            {
                "total": report.total,
                "synthesized": report.synthesized,
                "already_cached": report.already_cached,
            },
            as_json,
            lambda d: f"{d['total']} prompts, {d['synthesized']} synthesised",
        )

    @speech_app.command("vad")
    def vad(
        wav: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="16-bit PCM WAV")],
        as_json: bool = JSON_OPTION,
    ) -> None:
        """List the speech segments of a WAV file."""
        from speech.audio import read_wav
        from speech.factory import build_vad

        audio = read_wav(wav)
        if audio.sample_rate not in (8000, 16000):
            audio = audio.resampled(16000)
        from speech.vad import speech_segments

        segments = speech_segments(audio, build_vad(get_settings(), audio.sample_rate))
        emit(
            [{"start_s": a, "end_s": b} for a, b in segments],
            as_json,
            lambda d: "\n".join(f"{s['start_s']:.2f}-{s['end_s']:.2f}" for s in d) or "no speech",
        )

    app.add_typer(speech_app, name="speech")
