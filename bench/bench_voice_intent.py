"""End-to-end voice understanding: audio → VAD-gated ASR → Rasa NLU → intent, on our own
evaluation set (held-out and tuning splits) and on the shared samples; with and without
context biasing.

    .venv/bin/python bench/bench_voice_intent.py [--split heldout] [--no-cache] [--json]
        [--model models/<hash>.tar.gz] [--profile configured|accuracy] [--show-errors]

Needs the set (``nice -n 10 .venv/bin/python scripts/make_speech_eval.py``, ~2 min). ASR output
is cached per engine configuration under ``var/speech-eval/asr-cache`` (``--no-cache`` redoes
it); NLU runs the trained model of the current data (``ivr train``) unless ``--model`` names
another. Reported: CER, intent accuracy (a noise-only clip is right when nothing is heard), and
at the consent question refusal recall (refuse_contact/deny heard as one of them) and the
false-DNC rate (anything else heard as one), beside the issue's targets; and through the
consent policy (``bench/refusal_safety.py``) with the recogniser's ``Transcript.clear`` flag
(Whisper's confidence below ``WhisperASR.clear_confidence``: confirmed, never a clear answer),
without its sound rule (``sounds_like_refusal``) and as if every transcript were clear, with what
the confirmations cost (non-refusals asked).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from refusal_safety import policy_available, score_policy
from speech_eval_support import (
    RasaNlu,
    Utt,
    asr_label,
    cached_transcripts,
    load_eval,
    load_shared,
    score,
)

from ivr.settings import Settings
from speech.context import expect

TARGETS = {"intent_acc": 0.92, "refusal_recall": 0.98, "false_dnc": 0.01}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="all", choices=("heldout", "tune", "all"))
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--profile", default="configured", choices=("configured", "accuracy"))
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--biasing", default="both", choices=("off", "on", "both"))
    args = parser.parse_args()
    settings = Settings()
    from speech.asr_whisper import WhisperASR

    window, beam = (
        (settings.whisper_window_s, settings.whisper_beam_size)
        if args.profile == "configured"
        else (30.0, 5)
    )
    asr = WhisperASR.from_wheels(
        settings.data_dir / "models",
        cpu_threads=2,
        window_s=window,
        beam_size=beam,
        use_context=True,  # measured here either way; IVR_ASR_BIASING decides in the app
    )
    splits = ("tune", "heldout") if args.split == "all" else (args.split,)
    sets = {f"eval/{s}": load_eval(s) for s in splits}
    sets["shared"] = load_shared()
    report: dict[str, Any] = {"profile": f"whisper-base int8 window {window:g} s beam {beam}"}
    rows: list[dict[str, Any]] = []
    with RasaNlu(args.model) as nlu:
        report["model"] = nlu.model.name
        passes = {"off": (False,), "on": (True,), "both": (False, True)}[args.biasing]
        for biased in passes:
            bias = f"v1:{expect('consent').prompt_text}" if biased else "none"
            label = asr_label(window, beam, asr.min_confidence, bias)

            def run(item: Utt, biased: bool = biased) -> tuple[str, float]:
                ctx = expect(item.state) if biased else None
                heard = asr.transcribe_sync(item.audio, context=ctx)
                return heard.text, heard.confidence

            for name, items in sets.items():
                cached = cached_transcripts(label, items, run, use_cache=not args.no_cache)
                heard = {key: text for key, (text, _) in cached.items()}
                # Transcript.clear, from the cached confidence (the adapter's own threshold)
                clear = [cached[f"{i.set}/{i.id}"][1] >= asr.clear_confidence for i in items]
                predicted = {}
                parses: list[dict[str, Any] | None] = []
                for item in items:
                    key = f"{item.set}/{item.id}"
                    text = heard[key]
                    parse = nlu.parse(text) if text.strip() else None
                    parses.append(parse)
                    predicted[key] = parse["intent"] if parse else "no_input"
                s = score(items, heard, predicted)
                policy = []
                if policy_available():
                    # the policy as configured; without its sound rule (the policy before);
                    # as if every transcript were clear
                    texts = [heard[f"{i.set}/{i.id}"] for i in items]
                    for uses_clear, sound in ((True, True), (True, False), (False, True)):
                        scored = score_policy(
                            [i.intent for i in items],
                            parses,
                            clear if uses_clear else None,
                            texts,
                            sound,
                        )
                        for p in scored:
                            policy.append(
                                {
                                    "question": p.question,
                                    "uses_clear": uses_clear,
                                    "sound_rule": sound,
                                    "recall": round(p.recall, 4),
                                    "false_dnc": round(p.false_dnc_rate, 4),
                                    "confirmed": p.confirmed,
                                    "asked_non_refusals": p.asked,
                                    "refusal_as_consent": p.refusal_as_consent,
                                    "asked_consent_again": p.asked_again,
                                    "affirm_granted": p.consent_granted,
                                    "rules_version": p.rules_version,
                                }
                            )
                rows.append(
                    {
                        "set": name,
                        "biasing": biased,
                        "n": s.n,
                        "cer": round(s.cer, 4),
                        "intent_acc": round(s.intent_acc, 4),
                        "refusal_recall": round(s.refusal_recall, 4),
                        "false_dnc": round(s.false_dnc, 4),
                        "refusal_as_consent": s.refusal_as_consent,
                        "not_clear": clear.count(False),
                        "errors": [list(w) for w in s.wrong],
                        "policy": policy,
                    }
                )
    report["rows"] = rows
    report["targets"] = TARGETS
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"Voice → intent ({report['profile']}; NLU model {report['model']})")
    for r in rows:
        print(
            f"  {r['set']:<13} biasing {'on ' if r['biasing'] else 'off'}  n={r['n']:<3} "
            f"CER {100 * r['cer']:5.1f} %  intent {r['intent_acc']:.3f} (target >= "
            f"{TARGETS['intent_acc']})  refusal recall {r['refusal_recall']:.3f} (>= "
            f"{TARGETS['refusal_recall']})  false DNC {100 * r['false_dnc']:.1f} % (<= 1 %)  "
            f"refusal taken as consent {r['refusal_as_consent']}  not heard clearly "
            f"{r['not_clear']}"
        )
        for p in r["policy"]:
            variant = (" (clear flag ignored)" if not p["uses_clear"] else "") + (
                "" if p["sound_rule"] else " (no sound rule)"
            )
            print(
                f"      policy{variant} at "
                f"{p['question']:<16} refusal recall {p['recall']:.3f}  false DNC "
                f"{100 * p['false_dnc']:.1f} %  ({p['confirmed']} caught by a confirmation, "
                f"{p['asked_non_refusals']} non-refusals asked, {p['asked_consent_again']} asked "
                f"the consent question again, {p['affirm_granted']} yeses granted)  refusal taken "
                f"as consent {p['refusal_as_consent']}"
            )
        if args.show_errors:
            for e in r["errors"]:
                print(f"      {e[0]}: heard {e[1]!r} truth {e[2]} got {e[3]}")


if __name__ == "__main__":
    main()
