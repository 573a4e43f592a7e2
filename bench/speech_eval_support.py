"""Shared by the voice benchmarks: the evaluation sets, the dialogue state of each utterance,
a cached ASR pass, Rasa NLU in process (``bench/rasa_nlu.py`` in ``.venv-rasa``), and the scores.

Sets: ``eval`` is our own set made by ``scripts/make_speech_eval.py`` (``var/speech-eval``;
``tune`` and ``heldout`` splits), ``shared`` the 30 samples kept in ``tests/speech/fixtures``
(copies of ``../shared/speech-samples``). Each utterance is heard in one dialogue state, drawn
from a hash of its id (never from its label): at the consent question, at a menu, or in open
conversation, so that biasing is measured where a real call would apply it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "speech"))

from speech.audio import Audio, read_wav  # noqa: E402
from speech.context import ListenState  # noqa: E402
from speech.text import edit_distance, strip_for_scoring  # noqa: E402

EVAL_DIR = REPO / "var" / "speech-eval"
CACHE_DIR = EVAL_DIR / "asr-cache"
FIXTURES = REPO / "tests" / "speech" / "fixtures"
REFUSALS = frozenset({"refuse_contact", "deny"})  # at the consent question both end contact
MENU_WORDS = ("查询", "账单", "挂失", "投诉", "人工", "信用卡")


@dataclass(frozen=True)
class Utt:
    id: str
    set: str  # eval | shared
    split: str  # tune | heldout | shared
    intent: str
    text: str
    path: Path

    @property
    def audio(self) -> Audio:
        return read_wav(self.path)

    @property
    def state(self) -> ListenState:
        """The dialogue state the utterance is heard in (hash of the id, not the label)."""
        k = hashlib.sha256(self.id.encode()).digest()[0] % 3
        return (ListenState.CONSENT, ListenState.MENU, ListenState.CONVERSE)[k]


def load_eval(split: str = "all", root: Path = EVAL_DIR) -> list[Utt]:
    manifest = root / "manifest.tsv"
    if not manifest.is_file() and root == EVAL_DIR:
        print(f"[bench] {manifest} missing: making the evaluation set (a few minutes) ...")
        subprocess.run(
            ["nice", "-n", "10", sys.executable, str(REPO / "scripts" / "make_speech_eval.py")],
            check=True,
        )
    if not manifest.is_file():
        raise SystemExit(f"{manifest} missing: run scripts/make_speech_eval.py --out {root}")
    with manifest.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    out = [
        Utt(r["id"], "eval", r["split"], r["intent"], r["text"], root / "wav" / f"{r['id']}.wav")
        for r in rows
    ]
    return [u for u in out if split == "all" or u.split == split]


def load_shared() -> list[Utt]:
    with (FIXTURES / "manifest.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        Utt(r["file"], "shared", "shared", r["intent"], r["text"], FIXTURES / r["file"])
        for r in rows
    ]


def configured_whisper() -> Any:
    """Whisper-base as the app configures it (window, beam), two CPU threads."""
    from ivr.settings import Settings
    from speech.asr_whisper import WhisperASR

    settings = Settings()
    return WhisperASR.from_wheels(
        settings.data_dir / "models",
        cpu_threads=2,
        window_s=settings.whisper_window_s,
        beam_size=settings.whisper_beam_size,
    )


def asr_label(window_s: float, beam_size: int, min_confidence: float, bias: str = "none") -> str:
    """The ASR cache label of a Whisper configuration (``bias``: the biasing prompt, or none)."""
    version = f"min_conf={min_confidence}|clean=v2|budget=15/s|conf"  # post-processing
    return f"whisper|w{window_s}|b{beam_size}|ctx={bias}|{version}"


def cached_transcripts(
    label: str, items: Iterable[Utt], transcribe: Callable[[Utt], Any], use_cache: bool = True
) -> dict[str, Any]:
    """``transcribe`` over ``items`` (any JSON value per utterance), cached on disk per
    ``label`` (an engine configuration)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    safe = hashlib.sha256(label.encode()).hexdigest()[:16]
    path = CACHE_DIR / f"{safe}.json"
    cache: dict[str, Any] = json.loads(path.read_text()) if use_cache and path.exists() else {}
    changed = False
    for item in items:
        key = f"{item.set}/{item.id}"
        if key not in cache:
            cache[key] = transcribe(item)
            changed = True
    if changed:
        path.write_text(json.dumps(cache, ensure_ascii=False, indent=0))
    return cache


class RasaNlu:
    """A trained Rasa model parsing in one ``.venv-rasa`` process (see bench/rasa_nlu.py)."""

    def __init__(self, model: Path | None = None) -> None:
        from shell.rasa_model import RASA_VENV, ensure_model, rasa_env

        self.model = model or ensure_model().path
        self.proc = subprocess.Popen(
            [
                str(RASA_VENV / "bin" / "python"),
                str(REPO / "bench" / "rasa_nlu.py"),
                str(self.model),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=rasa_env(),
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()
        if not ready.strip():
            raise SystemExit(f"Rasa NLU failed to load {self.model}")

    def parse(self, text: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(text, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def intents(self, texts: Iterable[str]) -> list[dict[str, Any]]:
        return [self.parse(t) for t in texts]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)

    def __enter__(self) -> RasaNlu:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Scores:
    n: int
    cer: float
    intent_acc: float
    refusal_recall: float
    false_dnc: float
    refusal_as_consent: int
    wrong: tuple[tuple[str, str, str, str], ...]  # id, heard, truth, predicted


def score(items: list[Utt], heard: dict[str, str], predicted: dict[str, str]) -> Scores:
    """CER over speech, intent accuracy (no_input right when nothing was heard), and at the
    consent question: refusal recall (refuse_contact/deny predicted as one of them) and
    false-DNC rate (anything else predicted as one of them)."""
    errors = chars = right = 0
    refusals = caught = others = false_dnc = as_consent = 0
    wrong = []
    for item in items:
        key = f"{item.set}/{item.id}"
        text, got = heard[key], predicted[key]
        if item.text:
            errors += edit_distance(strip_for_scoring(item.text), strip_for_scoring(text))
            chars += len(strip_for_scoring(item.text))
        if got == item.intent:
            right += 1
        else:
            wrong.append((item.id, text, item.intent, got))
        if item.intent in REFUSALS:
            refusals += 1
            caught += got in REFUSALS
            as_consent += got == "affirm"
        else:
            others += 1
            false_dnc += got in REFUSALS
    return Scores(
        n=len(items),
        cer=errors / max(1, chars),
        intent_acc=right / max(1, len(items)),
        refusal_recall=caught / max(1, refusals),
        false_dnc=false_dnc / max(1, others),
        refusal_as_consent=as_consent,
        wrong=tuple(wrong),
    )


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started
