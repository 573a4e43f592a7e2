"""Turn latency: end of the caller's speech → the reply can start, and what the first captured
turn was understood as, for fixed end-pointing (today: 600 ms of silence, then ASR) beside
per-state end-pointing with speculative recognition (``speech.endpointing.TurnEnder``).

    .venv/bin/python bench/bench_turn_latency.py [--split heldout] [--limit N] [--json]

Audio is streamed in 20 ms frames through the real VAD; ASR (Whisper, configured profile,
context of the utterance's dialogue state) and Rasa NLU run for real and their compute time is
measured; audio time and compute time add as they would in a live call (the audio keeps
arriving while ASR runs). The reply is a prompt-cache hit (measured). Latency = time the turn
is judged over − end of the last speech frame + remaining ASR + NLU + cache lookup.
Accuracy: the intent of the *first* turn the end-pointer cuts (what the bot acts on) — cutting
"嗯……不需要" after "嗯" would be an error here. Target p50 <= 0.6 s.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speech_eval_support import RasaNlu, Utt, configured_whisper, load_eval

from ivr.settings import Settings
from speech.audio import Audio, frames
from speech.cache import PromptCache
from speech.context import expect
from speech.endpointing import EndpointPolicy, EndTurn, Speculate, TurnEnder
from speech.ports import VadEventKind
from speech.text import edit_distance, strip_for_scoring
from speech.vad import EndpointerConfig, make_vad

TARGET_P50_S = 0.6
PAD_S = 0.2  # the utterance slice's padding (speech.stream_server.CallAudio._slice)
REPLY = "好的，已为您登记，我们不会再致电打扰您，再见。"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _slice(audio: Audio, start: float, end: float) -> Audio:
    return audio.slice(max(0.0, start - PAD_S), end + PAD_S)


def fixed(item: Utt, asr: Any, end_ms: int) -> tuple[float, str, float]:
    """Today: the VAD ends the segment after ``end_ms``; ASR starts then."""
    audio = item.audio + Audio.silence(2.0, 8000)
    vad = make_vad("webrtc", 8000, EndpointerConfig(end_ms=end_ms))
    start = None
    for index, frame in enumerate(frames(audio.pcm, 8000, 20)):
        for event in vad.process(frame):
            if event.kind is VadEventKind.SPEECH_START:
                start = event.t_s
            elif start is not None:
                detected = (index + 1) * 0.02
                began = time.perf_counter()
                text = asr.transcribe_sync(
                    _slice(audio, start, event.t_s), context=expect(item.state)
                ).text
                compute = time.perf_counter() - began
                return detected - event.t_s + compute, text, compute
    return -1.0, "", 0.0


def speculative(item: Utt, asr: Any, end_ms: int | None = None) -> tuple[float, str, float]:
    """Per-state end silence (or ``end_ms`` for every state), speculative ASR at the first
    pause, hesitation-aware."""
    context = expect(item.state)
    policy = EndpointPolicy.for_context(context)
    if end_ms is not None:
        policy = EndpointPolicy(end_silence_ms=end_ms)
    audio = item.audio + Audio.silence(2.0, 8000)
    vad = make_vad("webrtc", 8000, EndpointerConfig(end_ms=policy.hesitation_ms))
    ender = TurnEnder(policy)
    pending: tuple[tuple[float, float], str, float] | None = None  # span, text, ready at (audio s)
    results: dict[tuple[float, float], str] = {}
    busy_until = 0.0  # ASR is one worker: a new speculation waits for the previous one
    compute_total = 0.0
    for index, frame in enumerate(frames(audio.pcm, 8000, 20)):
        now = (index + 1) * 0.02
        events = vad.process(frame)
        ep = vad.endpointer
        if pending is not None and now >= pending[2]:
            ender.speculation_done(pending[0], pending[1])
            results[pending[0]] = pending[1]
            pending = None
        for event in events:
            if event.kind is VadEventKind.SPEECH_END and ep.segment_start_s is None:
                span = ender.speculated_span
                ender.turn_ended()
                return _finish(audio, asr, context, results, span, event.t_s, now, busy_until)
        for action in ender.on_frame(
            ep.in_speech, ep.segment_start_s, ep.last_speech_end_s, ep.trailing_silence_s
        ):
            if isinstance(action, Speculate):
                began = time.perf_counter()
                text = asr.transcribe_sync(
                    _slice(audio, action.start_s, action.end_s), context=context
                ).text
                compute = time.perf_counter() - began
                compute_total += compute
                ready = max(now, busy_until) + compute
                busy_until = ready
                pending = ((action.start_s, action.end_s), text, ready)
                if ready <= now:
                    ender.speculation_done(pending[0], text)
            elif isinstance(action, EndTurn):
                end_s = ep.last_speech_end_s
                span = ender.speculated_span
                assert span is not None
                text = results.get(span) or (pending[1] if pending else "")
                vad.endpointer.end_now()
                ender.turn_ended()
                return now - end_s, text, compute_total
    return -1.0, "", compute_total


def _finish(
    audio: Audio,
    asr: Any,
    context: Any,
    results: dict[tuple[float, float], str],
    span: tuple[float, float] | None,
    end_s: float,
    now: float,
    busy_until: float,
) -> tuple[float, str, float]:
    """The VAD ended the segment itself (hesitation path): reuse a matching speculation."""
    if span is not None and span[1] == end_s and span in results:
        return now - end_s, results[span], 0.0
    start = span[0] if span is not None else max(0.0, end_s - 10)
    began = time.perf_counter()
    text = asr.transcribe_sync(_slice(audio, start, end_s), context=context).text
    compute = time.perf_counter() - began
    return max(now, busy_until) + compute - end_s, text, compute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="heldout", choices=("heldout", "tune", "all"))
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--also-end-ms", default="", help="comma list: speculative with this end silence too"
    )
    args = parser.parse_args()
    settings = Settings()
    from speech.tts_espeak import EspeakTTS

    asr = configured_whisper()
    items = [u for u in load_eval(args.split) if u.text]
    if args.limit:
        items = items[: args.limit]
    asr.transcribe_sync(items[0].audio)  # warm-up
    report: dict[str, Any] = {"n": len(items), "rows": []}
    with tempfile.TemporaryDirectory() as tmp, RasaNlu() as nlu:
        cache = PromptCache(EspeakTTS(), Path(tmp))
        import asyncio

        asyncio.run(cache.warm([REPLY]))
        configs: list[tuple[str, Callable[[Utt], tuple[float, str, float]]]] = [
            (
                f"fixed {settings.vad_end_silence_ms} ms",
                lambda u: fixed(u, asr, settings.vad_end_silence_ms),
            ),
            ("per-state + speculative", lambda u: speculative(u, asr)),
        ]
        for ms in (int(x) for x in args.also_end_ms.split(",") if x.strip()):
            configs.append(
                (f"speculative {ms} ms", functools.partial(speculative, asr=asr, end_ms=ms))
            )
        for label, run in configs:
            latencies, right, errors, chars, computes = [], 0, 0, 0, []
            for item in items:
                latency, text, compute = run(item)
                began = time.perf_counter()
                intent = nlu.parse(text)["intent"] if text.strip() else "no_input"
                assert cache.lookup(REPLY) is not None
                tail = time.perf_counter() - began
                if latency < 0:
                    continue
                latencies.append(latency + tail)
                computes.append(compute)
                right += intent == item.intent
                errors += edit_distance(strip_for_scoring(item.text), strip_for_scoring(text))
                chars += len(strip_for_scoring(item.text))
            report["rows"].append(
                {
                    "config": label,
                    "turns": len(latencies),
                    "p50_s": round(pct(latencies, 0.5), 3),
                    "p95_s": round(pct(latencies, 0.95), 3),
                    "mean_s": round(statistics.mean(latencies), 3),
                    "first_turn_intent_acc": round(right / max(1, len(latencies)), 4),
                    "first_turn_cer": round(errors / max(1, chars), 4),
                    "asr_compute_per_turn_s": round(statistics.mean(computes), 3),
                }
            )
    report["target_p50_s"] = TARGET_P50_S
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"Turn latency, end of speech -> reply can start ({args.split}, n={len(items)})")
    for r in report["rows"]:
        print(
            f"  {r['config']:<26} p50 {r['p50_s']:.3f} s (target <= {TARGET_P50_S})  p95 "
            f"{r['p95_s']:.3f} s  first-turn intent {r['first_turn_intent_acc']:.3f}  CER "
            f"{100 * r['first_turn_cer']:.1f} %  ASR compute/turn "
            f"{r['asr_compute_per_turn_s']:.3f} s"
        )


if __name__ == "__main__":
    main()
