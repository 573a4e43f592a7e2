"""Speech benchmark: ASR real-time factor and latency per utterance (8 kHz telephone audio) for
each installed engine, TTS latency uncached vs cached, and the speech share of a turn's latency.

    .venv/bin/python bench/bench_speech.py [--limit 30] [--json]

Numbers are printed next to the targets of issue 7 (whisper-base RTF <= 0.3; turn latency p50
<= 1.2 s with cached prompts, which also includes Rasa) and the reference CER of the samples.
Run on an idle machine: the 2 cores are shared, and contention inflates every number.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "speech"))

from speech_support import FIXTURES, load_samples  # noqa: E402

from ivr.settings import Settings  # noqa: E402
from speech.audio import Audio, frames  # noqa: E402
from speech.cache import PromptCache  # noqa: E402
from speech.ports import VadEventKind  # noqa: E402
from speech.text import edit_distance, strip_for_scoring  # noqa: E402
from speech.vad import EndpointerConfig, make_vad  # noqa: E402

TARGET_RTF = 0.3
TARGET_TURN_P50_S = 1.2
REFERENCE_CER = 0.067
PROMPTS = [
    "您好，这里是示例银行智能客服，工号AI零零零一，本次通话将被录音。",
    "请问您是否同意我们向您介绍理财产品？",
    "投资有风险，理财需谨慎。",
    "好的，已为您登记，我们不会再致电打扰您，再见。",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_asr(name: str, transcribe: Any, limit: int) -> dict[str, Any]:
    samples = load_samples()[:limit]
    latencies, audio_s, errors, chars = [], 0.0, 0, 0
    transcribe(samples[0].audio)  # warm-up, not counted
    for sample in samples:
        audio = sample.audio
        started = time.perf_counter()
        text = transcribe(audio).text
        latencies.append(time.perf_counter() - started)
        audio_s += audio.duration_s
        errors += edit_distance(strip_for_scoring(sample.text), strip_for_scoring(text))
        chars += len(strip_for_scoring(sample.text))
    return {
        "engine": name,
        "utterances": len(samples),
        "audio_s": round(audio_s, 2),
        "rtf": round(sum(latencies) / audio_s, 3),
        "latency_p50_s": round(pct(latencies, 0.5), 3),
        "latency_p95_s": round(pct(latencies, 0.95), 3),
        "cer": round(errors / chars, 4),
    }


def bench_tts(name: str, tts: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cache = PromptCache(tts, Path(tmp))
        uncached, cached = [], []
        for text in PROMPTS:
            started = time.perf_counter()
            asyncio.run(cache.get(text))
            uncached.append(time.perf_counter() - started)
        fresh = PromptCache(tts, Path(tmp))  # new process: disk only
        for text in PROMPTS:
            started = time.perf_counter()
            assert fresh.lookup(text) is not None
            cached.append(time.perf_counter() - started)
        for text in PROMPTS:
            started = time.perf_counter()
            fresh.lookup(text)
            cached.append(time.perf_counter() - started)
    return {
        "engine": name,
        "prompts": len(PROMPTS),
        "uncached_p50_ms": round(1000 * statistics.median(uncached), 1),
        "cached_p50_ms": round(1000 * statistics.median(cached), 3),
    }


def bench_turn(transcribe: Any, cache: PromptCache, limit: int, end_ms: int) -> dict[str, Any]:
    """End of the caller's speech → bot audio ready: end-pointing (audio time) + VAD/ASR compute
    + cached prompt fetch. Rasa's share is not included (measured by ivr bench)."""
    samples = load_samples()[:limit]
    asyncio.run(cache.warm(PROMPTS[-1:]))
    totals, endpointing = [], []
    for sample in samples:
        audio = sample.audio + Audio.silence(1.5, sample.audio.sample_rate)
        vad = make_vad("webrtc", audio.sample_rate, EndpointerConfig(end_ms=end_ms))
        speech_end = None
        compute_started = time.perf_counter()
        for index, frame in enumerate(frames(audio.pcm, audio.sample_rate, 20)):
            for event in vad.process(frame):
                if event.kind is VadEventKind.SPEECH_END:
                    speech_end = event.t_s
                    detected_at = (index + 1) * 0.02
            if speech_end is not None:
                break
        if speech_end is None:
            continue
        utterance = audio.slice(0, detected_at)
        transcribe(utterance)
        assert cache.lookup(PROMPTS[-1]) is not None
        compute = time.perf_counter() - compute_started
        endpointing.append(detected_at - speech_end)
        totals.append(detected_at - speech_end + compute)
    return {
        "turns": len(totals),
        "end_silence_ms": end_ms,
        "endpointing_p50_s": round(pct(endpointing, 0.5), 3),
        "speech_turn_p50_s": round(pct(totals, 0.5), 3),
        "speech_turn_p95_s": round(pct(totals, 0.95), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=30, help="utterances (max 30)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    report: dict[str, Any] = {"asr": [], "tts": [], "notes": []}

    from speech.asr_whisper import WhisperASR

    whisper = WhisperASR.from_wheels(settings.data_dir / "models", cpu_threads=2)
    report["asr"].append(bench_asr("whisper-base int8 b5 30s", whisper.transcribe_sync, args.limit))
    fast = WhisperASR.from_wheels(
        settings.data_dir / "models",
        cpu_threads=2,
        window_s=settings.whisper_window_s,
        beam_size=settings.whisper_beam_size,
    )
    configured = f"b{settings.whisper_beam_size} {settings.whisper_window_s:g}s (configured)"
    report["asr"].append(
        bench_asr(f"whisper-base int8 {configured}", fast.transcribe_sync, args.limit)
    )

    if settings.funasr_model_dir is not None:
        from speech.asr_funasr import FunAsrASR

        funasr = FunAsrASR(settings.funasr_model_dir)
        report["asr"].append(bench_asr("funasr", funasr.transcribe_sync, args.limit))
    else:
        report["notes"].append("funasr: no IVR_FUNASR_MODEL_DIR (no weights here), not measured")

    from speech.fakes import ToneTTS
    from speech.tts_espeak import EspeakTTS

    report["tts"].append(bench_tts("espeak-ng cmn-latn-pinyin", EspeakTTS()))
    report["tts"].append(bench_tts("tone (baseline)", ToneTTS()))

    report["turn"] = []
    for label, asr in (("b5 30s window", whisper), (configured, fast)):
        with tempfile.TemporaryDirectory() as tmp:
            cache = PromptCache(EspeakTTS(), Path(tmp))
            turn = bench_turn(
                asr.transcribe_sync, cache, min(args.limit, 12), settings.vad_end_silence_ms
            )
            report["turn"].append({"asr": f"whisper-base {label}", **turn})
    report["targets"] = {
        "whisper_rtf": TARGET_RTF,
        "turn_p50_s": TARGET_TURN_P50_S,
        "reference_cer": REFERENCE_CER,
    }
    report["fixtures"] = str(FIXTURES)

    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print("ASR (8 kHz telephone utterances)")
    for row in report["asr"]:
        print(
            f"  {row['engine']:<26} RTF {row['rtf']:.3f} (target <= {TARGET_RTF})  "
            f"latency p50 {row['latency_p50_s']:.3f} s p95 {row['latency_p95_s']:.3f} s  "
            f"CER {100 * row['cer']:.1f} % (reference {100 * REFERENCE_CER:.1f} %)  "
            f"n={row['utterances']}"
        )
    print("TTS (uncached synthesis vs prompt cache)")
    for row in report["tts"]:
        print(
            f"  {row['engine']:<26} uncached p50 {row['uncached_p50_ms']:.1f} ms  "
            f"cached p50 {row['cached_p50_ms']:.3f} ms"
        )
    print("Turn, speech share (end of speech -> cached reply ready; Rasa excluded)")
    for turn in report["turn"]:
        print(
            f"  {turn['asr']:<26} p50 {turn['speech_turn_p50_s']:.3f} s "
            f"p95 {turn['speech_turn_p95_s']:.3f} s (end-pointing {turn['endpointing_p50_s']:.3f}"
            f" s at {turn['end_silence_ms']} ms end silence); target p50 <= "
            f"{TARGET_TURN_P50_S} s incl. Rasa"
        )
    for note in report["notes"]:
        print(f"  note: {note}")


if __name__ == "__main__":
    main()
