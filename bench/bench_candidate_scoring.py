"""State-conditioned candidate scoring on the audio (issue 17), measured: does scoring the
dialogue state's expected phrases against Whisper's encoded audio beat the free transcript?

    .venv/bin/python bench/bench_candidate_scoring.py [--split tune] [--margin 0.0] [--json]

Per utterance (heard in its dialogue state, ``speech_eval_support.Utt.state``): the VAD-gated
audio is encoded once (CTranslate2 ``Whisper.encode``), decoded freely as the product does
(beam, no timestamps), then the free transcript and every expected phrase of the state
(``speech.context.expect(...).hotwords``: consent answers, menu words, refusal and complaint
words) are scored against the same encoder output with ``Whisper.align`` (per-token
probabilities; length-normalised log-likelihood). A phrase replaces the free transcript for the
NLU when its score beats the free one by ``--margin`` (negative: a prior for expected phrases).
Reported: how often a phrase wins, intent accuracy and refusal recall / false DNC with and
without it, and the added compute per turn (encode and decode beside the scoring).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speech_eval_support import MENU_WORDS, RasaNlu, Utt, configured_whisper, load_eval, score

from speech.asr_whisper import WhisperASR
from speech.context import expect
from speech.text import clean_transcript
from speech.vad import make_vad, speech_span


def _mean_logprob(probs: list[float]) -> float:
    return float(np.mean(np.log(np.maximum(np.asarray(probs), 1e-9))))


def scored(asr: WhisperASR, item: Utt) -> dict[str, Any]:
    """Free transcript, its score and each expected phrase's score, with timings."""
    import ctranslate2  # type: ignore[import-untyped, import-not-found, unused-ignore]

    audio = item.audio
    span = speech_span(audio, make_vad("webrtc", audio.sample_rate), pad_s=0.3)
    if span is None:
        return {"free": "", "phrases": {}}
    pcm = audio.slice(*span).resampled(16000, quality="LQ").as_float()
    # the bench reaches into the adapter's loaded model and tokenizer on purpose
    model: Any = asr._model
    tok: Any = asr._tokenizer
    features = model.feature_extractor(pcm)
    frames = min(features.shape[-1], asr.window_frames)
    padded = np.zeros((features.shape[0], asr.window_frames), dtype=np.float32)
    padded[:, :frames] = features[:, :frames]
    start = [*tok.sot_sequence, tok.no_timestamps]
    t0 = time.perf_counter()
    encoded = model.model.encode(
        ctranslate2.StorageView.from_array(np.ascontiguousarray(padded[None])), to_cpu=True
    )
    t1 = time.perf_counter()
    result = model.model.generate(
        encoded,
        [start],
        beam_size=asr.beam_size,
        max_length=asr.token_budget(frames / 100.0),
        return_scores=True,
        return_no_speech_prob=True,
        suppress_tokens=asr._suppress,
    )[0]
    t2 = time.perf_counter()
    free_tokens = [t for t in result.sequences_ids[0] if t < tok.eot]
    confidence = float(np.exp(result.scores[0])) * (1.0 - float(result.no_speech_prob))
    free = clean_transcript(tok.decode(free_tokens)) if confidence >= asr.min_confidence else ""
    context = expect(item.state, MENU_WORDS if item.state == "menu" else ())
    phrases = list(context.hotwords)
    sequences = [free_tokens or tok.encode("嗯"), *(tok.encode(p) for p in phrases)]
    array = np.array(encoded)
    scores: list[float] = []
    for i in range(0, len(sequences), 8):  # align batches must match the encoder batch
        batch = sequences[i : i + 8]
        repeated = ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.repeat(array, len(batch), axis=0))
        )
        for aligned in model.model.align(repeated, start, batch, [frames] * len(batch)):
            scores.append(_mean_logprob(aligned.text_token_probs))
    t3 = time.perf_counter()
    return {
        "free": free,
        "free_score": scores[0],
        "phrases": dict(zip(phrases, scores[1:], strict=True)),
        "encode_s": t1 - t0,
        "decode_s": t2 - t1,
        "score_s": t3 - t2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="tune", choices=("tune", "heldout"))
    parser.add_argument("--margin", type=float, nargs="*", default=[0.0, -0.3, -0.7, -1.5])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    asr: WhisperASR = configured_whisper()
    items = load_eval(args.split)
    runs = {f"{i.set}/{i.id}": scored(asr, i) for i in items}
    report: dict[str, Any] = {"split": args.split, "n": len(items), "rows": []}
    timed = [r for r in runs.values() if "score_s" in r]
    for key in ("encode_s", "decode_s", "score_s"):
        report[f"{key}_p50"] = round(statistics.median(r[key] for r in timed), 3)
    with RasaNlu() as nlu:
        for margin in (None, *args.margin):
            heard, wins = {}, 0
            for key, r in runs.items():
                text = r["free"]
                if margin is not None and text and r["phrases"]:
                    phrase, best = max(r["phrases"].items(), key=lambda kv: kv[1])
                    if best > r["free_score"] + margin:
                        text, wins = phrase, wins + 1
                heard[key] = text
            predicted = {
                k: (nlu.parse(t)["intent"] if t.strip() else "no_input") for k, t in heard.items()
            }
            s = score(items, heard, predicted)
            report["rows"].append(
                {
                    "margin": margin,
                    "phrase_won": wins,
                    "intent_acc": round(s.intent_acc, 4),
                    "refusal_recall": round(s.refusal_recall, 4),
                    "false_dnc": round(s.false_dnc, 4),
                }
            )
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(
        f"Candidate scoring, {args.split} split (n={len(items)}): per turn p50 encode "
        f"{report['encode_s_p50']} s, free decode {report['decode_s_p50']} s, scoring the "
        f"state's phrases {report['score_s_p50']} s"
    )
    for row in report["rows"]:
        label = "free transcript" if row["margin"] is None else f"margin {row['margin']:+.1f}"
        print(
            f"  {label:<16} phrase chosen {row['phrase_won']:>3}  intent {row['intent_acc']:.3f}"
            f"  refusal recall {row['refusal_recall']:.3f}  false DNC "
            f"{100 * row['false_dnc']:.1f} %"
        )


if __name__ == "__main__":
    main()
