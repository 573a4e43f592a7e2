"""QA benchmark: matching lines/s on one core beside a naive baseline (and beside the matcher
of another git revision, ``--against REV``), the time from an ASR final (and from a blocked bot
sentence) to its live alert read back from the Redis stream through the path calls use, and
precision/recall per category on every evaluation split (a blind split, ``heldout10``, only
with ``--blind``: it is scored once, by whoever runs it last).

    .venv/bin/python bench/bench_qa.py [LINES] [--against REV] [--check-only] [--blind]

The whole check (rules, then the learned second stage, :mod:`qa.second_stage`) is measured
beside the rules alone (``--check-only``: that part only), as the service runs it
(:meth:`qa.compiled.CompiledRules.check`, which keeps the results of lines it saw: the corpus
repeats lines as call-centre speech does) and uncached (:func:`qa.second_stage.check_line` on
every line: what distinct lines cost). With ``--against REV`` both are measured in REV's tree
too, in the same run.

``--against REV`` exports REV's tree to a temporary folder and runs the same matching
measurement there, interleaved with this tree's, best of three each (the host is shared: the
best run is the least disturbed one). Needs Redis on 127.0.0.1:6379 for the latency part
(skipped with a note when absent).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pypinyin import lazy_pinyin
from rapidfuzz import fuzz
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.ports import InspectedCall, SpokenTurn  # noqa: E402
from ivr.db import make_engine, migrate  # noqa: E402
from ivr.settings import Settings  # noqa: E402
from qa.call_port import CallInspection  # noqa: E402
from qa.evaluation import BLIND_SPLITS, evaluate, format_evaluation, parse_labelled  # noqa: E402
from qa.model import DEFAULT_MODEL_PATH, load_model  # noqa: E402
from qa.reload import DEFAULT_RULES_PATH, load_rules_file  # noqa: E402
from qa.text import fold, sounds  # noqa: E402
from speech.text import to_simplified  # noqa: E402

EVAL = ROOT / "tests" / "qa" / "eval"


ROUTINE = [
    "您好，请问有什么可以帮您？",
    "好的，我帮您查询一下，请稍等。",
    "您的卡片已经成功挂失。",
    "请问您是本人吗？",
    "这笔款项预计明天到账。",
    "感谢您的耐心等待。",
    "您还有其他问题吗？",
    "您的信用卡本期账单金额是三千二百元。",
    "请您在手机银行里修改密码。",
    "好的，没问题。",
    "我现在为您转接人工服务。",
    "您的申请已经提交成功。",
    "这个需要您带身份证到网点办理。",
    "您的验证码请不要告诉他人。",
    "请问您方便说一下您的姓名吗？",
    "祝您生活愉快，再见。",
    "您的积分可以在商城兑换礼品。",
    "目前这个业务只能在工作日办理。",
    "您说的情况我已经记录了。",
]


def corpus(n: int) -> list[str]:
    """Call-centre lines: ~80 % routine service talk, ~10 % compliant product talk from the
    labelled set (negations, mandated wording), ~10 % prohibited wording (with ASR slips)."""
    items = parse_labelled((EVAL / "tuning.tsv").read_text()) + parse_labelled(
        (EVAL / "heldout.tsv").read_text()
    )
    clean = [i.text for i in items if not i.labels]
    dirty = [i.text for i in items if i.labels]
    rng = random.Random(7)
    out = []
    for _ in range(n):
        r = rng.random()
        pool = dirty if r < 0.1 else clean if r < 0.2 else ROUTINE
        out.append(rng.choice(pool))
    return out


def naive_scan(line: str, phrases: list[tuple[str, str]]) -> int:
    """Per line: OpenCC, pypinyin of the whole line, then every phrase by pinyin substring and
    a fuzzy ratio: what one writes without per-character caches or one-pass automata."""
    text = to_simplified(line)
    joined = " ".join(lazy_pinyin(text))
    found = 0
    for phrase, pinyin in phrases:
        if phrase in text or pinyin in joined or fuzz.partial_ratio(pinyin, joined) > 95:
            found += 1
    return found


def matcher_speed(n: int, runs: int = 3) -> tuple[float, float, int]:
    """Lines/s (CPU time, best of ``runs``) of this tree's matcher on the mixed corpus and on
    the labelled lines only (every line a hit or a near miss), and the hits found."""
    matcher = load_rules_file(DEFAULT_RULES_PATH).matcher
    lines = corpus(n)
    items = parse_labelled((EVAL / "tuning.tsv").read_text()) + parse_labelled(
        (EVAL / "heldout.tsv").read_text()
    )
    dense = [items[i % len(items)].text for i in range(n // 4)]
    for line in lines[:2000] + dense[:2000]:  # warm the per-character caches
        matcher.scan(line)

    def best(sample: list[str]) -> float:
        rates = []
        for _ in range(runs):
            t0 = time.process_time()
            for line in sample:
                matcher.scan(line)
            rates.append(len(sample) / (time.process_time() - t0))
        return max(rates)

    hits = sum(len(matcher.scan(line)) for line in lines)
    return best(lines), best(dense), hits


def _best(sample: list[str], fn: Any, runs: int, fresh: Any = None) -> float:
    """Lines/s of ``fn`` over ``sample`` (CPU time, best of ``runs``; ``fresh()`` before each
    run, outside the timing: a cold cache every run)."""
    rates = []
    for _ in range(runs):
        if fresh is not None:
            fresh()
        t0 = time.process_time()
        for line in sample:
            fn(line)
        rates.append(len(sample) / (time.process_time() - t0))
    return max(rates)


def check_rates(n: int, runs: int = 3) -> tuple[float, float]:
    """The whole check's lines/s on the mixed corpus: as the service runs it (each run from a
    cold line cache, if this tree has one) and uncached (``check_line`` on every line)."""
    from qa.second_stage import check_line

    compiled = load_rules_file(DEFAULT_RULES_PATH, load_model(DEFAULT_MODEL_PATH))
    lines = corpus(n)
    for line in lines[:2000]:  # the per-character tables, the pattern gates
        check_line(compiled.matcher, compiled.stage, line)
    kept = getattr(compiled, "_lines", None)
    service = _best(lines, compiled.check, runs, kept.clear if kept is not None else None)
    uncached = _best(lines, lambda line: check_line(compiled.matcher, compiled.stage, line), runs)
    return service, uncached


def check_speed(n: int, rev: str | None = None, runs: int = 3) -> None:
    """The whole check (rules, then the learned second stage on lines its gate lets through)
    beside the rules alone, lines/s on the mixed corpus and on the labelled lines; as the
    service runs it and uncached; with ``rev``, the same in that revision's tree."""
    from qa.second_stage import check_line

    compiled = load_rules_file(DEFAULT_RULES_PATH, load_model(DEFAULT_MODEL_PATH))
    assert compiled.stage is not None
    model = compiled.stage.model
    lines = corpus(n)
    items = parse_labelled((EVAL / "tuning.tsv").read_text()) + parse_labelled(
        (EVAL / "heldout.tsv").read_text()
    )
    dense = [items[i % len(items)].text for i in range(n // 4)]
    for line in lines[:2000] + dense[:2000]:
        compiled.check(line)

    def uncached(line: str) -> object:
        return check_line(compiled.matcher, compiled.stage, line)

    gated = sum(model.gated(fold(line), sounds(fold(line))) for line in lines) / len(lines)
    flagged = sum(len(compiled.check(line).model_hits) for line in lines)
    print(
        f"whole check (rules + model {model.version}; the model on the {gated:.0%} of lines "
        f"its gate lets through; {flagged} model hits; {len(set(lines)):,} distinct lines in "
        f"the mixed corpus of {len(lines):,})"
    )
    for name, sample in (("mixed corpus", lines), ("labelled lines only", dense)):
        rules_only = _best(sample, compiled.matcher.scan, runs)
        both = _best(sample, compiled.check, runs, compiled._lines.clear)
        cold = _best(sample, uncached, runs)
        print(
            f"  {name:<20} rules + model {both:>10,.0f} lines/s ({1e6 / both:.1f} us/line; "
            f"uncached {cold:,.0f} lines/s); rules alone {rules_only:,.0f} lines/s"
        )
    gated_lines = [line for line in lines if model.gated(fold(line), sounds(fold(line)))][:5000]
    score = _best(gated_lines, model.score, runs)
    print(f"  model scoring alone, gated lines: {score:,.0f} lines/s ({1e6 / score:.1f} us/line)")
    if rev:
        ours = check_rates(n, runs)
        theirs = against(rev, n, "--check-rates")
        if theirs is not None:
            print(
                f"  same run, mixed corpus: this tree {ours[0]:,.0f} lines/s (uncached "
                f"{ours[1]:,.0f}); at {rev} {theirs[0]:,.0f} lines/s (uncached {theirs[1]:,.0f})"
            )
    print("  target             >= 50,000 lines/s (mixed corpus)")


def against(rev: str, n: int, what: str = "--speed-only") -> tuple[float, ...] | None:
    """:func:`matcher_speed` (or with ``--check-rates``, :func:`check_rates`) of revision
    ``rev`` (its tree exported, this script run in it)."""
    with tempfile.TemporaryDirectory(prefix="bench-qa-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=False
        )
        if archive.returncode != 0:
            print(f"  --against {rev}: git archive failed: {archive.stderr.decode().strip()}")
            return None
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        script = Path(tmp) / "bench" / "bench_qa_current.py"
        script.write_text(Path(__file__).read_text(encoding="utf-8"), encoding="utf-8")
        out = subprocess.run(
            [sys.executable, str(script), str(n), what],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(f"  --against {rev}: failed: {out.stderr.strip()[-300:]}")
            return None
        return tuple(float(x) for x in out.stdout.split())


def bench_matching(n: int, rev: str | None) -> None:
    compiled = load_rules_file(DEFAULT_RULES_PATH)
    lines = corpus(n)
    chars = sum(map(len, lines))
    phrases = [(p, " ".join(lazy_pinyin(p))) for r in compiled.rules.rules for p in r.phrases]
    sample = lines[:2000]
    t1 = time.process_time()
    for line in sample:
        naive_scan(line, phrases)
    bt = time.process_time() - t1
    ours: list[tuple[float, float, int]] = []
    theirs: list[tuple[float, float, int]] = []
    for _ in range(3 if rev else 1):  # interleaved: both see the same load
        ours.append(matcher_speed(n))
        if rev:
            other = against(rev, n)
            if other is not None:
                theirs.append((other[0], other[1], int(other[2])))
    mixed, hits = max(t[0] for t in ours), ours[0][2]
    dense = max(t[1] for t in ours)
    print(f"matching: {n} lines ({chars / n:.0f} chars avg), {hits} hits, CPU time, best run")
    print(f"  matcher            {mixed:>10,.0f} lines/s  ({1e6 / mixed:.1f} us/line)")
    if theirs:
        o_mixed, o_hits = max(t[0] for t in theirs), theirs[0][2]
        print(
            f"  matcher at {rev:<8}{o_mixed:>10,.0f} lines/s  ({1e6 / o_mixed:.1f} us/line, "
            f"{o_hits} hits{'' if o_hits == hits else ': NOT THE SAME'})   "
            f"speed-up {mixed / o_mixed:.2f}x"
        )
    print(
        f"  naive baseline     {len(sample) / bt:>10,.0f} lines/s  ({1e6 * bt / len(sample):.1f} "
        f"us/line; OpenCC + pypinyin per line, {len(phrases)} phrases each)"
    )
    print("  target             >= 50,000 lines/s")
    print(f"  labelled lines only (each a hit or a near miss): {dense:,.0f} lines/s", end="")
    if theirs:
        o_dense = max(t[1] for t in theirs)
        print(f"; at {rev}: {o_dense:,.0f} lines/s ({dense / o_dense:.2f}x)")
    else:
        print()


async def bench_latency(count: int = 400) -> None:
    """ASR final -> alert, and blocked bot sentence -> alert, through what calls use: the
    orchestrator's port (``flows.ports.SpeechInspection``) as ``qa.service.build_call_qa``
    builds it (QaHooks, the supervised publisher, the Redis stream), read back by XREAD."""
    from qa.service import build_call_qa
    from records.evidence_store import SqlEvidenceLog

    url = "redis://127.0.0.1:6379/0"
    logging.getLogger("qa").setLevel(logging.ERROR)  # one warning per blocked sentence
    reader = Redis.from_url(url, decode_responses=True)
    try:
        await reader.ping()
    except Exception:
        print("alert latency: skipped (no Redis on 127.0.0.1:6379)")
        return
    prefix = f"bench-qa-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="bench-qa-") as tmp:
        db = f"sqlite:///{tmp}/qa.db"
        await asyncio.to_thread(migrate, db)
        settings = Settings(
            data_dir=Path(tmp), database_url=db, redis_url=url, redis_key_prefix=prefix
        )
        engine = make_engine(db)
        qa = await build_call_qa(settings, SqlEvidenceLog(engine), engine)
        assert isinstance(qa, CallInspection)
        key = f"{prefix}:qa:alerts"
        try:
            for what in ("agent final", "bot sentence"):
                ms = await _latencies(qa, reader, key, what, count)
                p99 = ms[int(0.99 * (len(ms) - 1))]
                print(
                    f"alert latency, {what} -> alert read back from the Redis stream "
                    f"({len(ms)} alerts): p50 {statistics.median(ms):.2f} ms  p99 {p99:.2f} ms  "
                    f"max {ms[-1]:.2f} ms   (target p99 <= 200 ms; the 1 s claim)"
                )
        finally:
            await qa.aclose()
            await reader.delete(key)
            engine.dispose()
    t = time.perf_counter()
    for _ in range(200):
        await reader.ping()
    print(f"  baseline: Redis PING round trip {1000 * (time.perf_counter() - t) / 200:.2f} ms")
    await reader.aclose()


async def _latencies(
    qa: CallInspection, reader: Redis, key: str, what: str, count: int
) -> list[float]:
    fed: dict[str, float] = {}
    seen: list[float] = []
    newest = await reader.xrevrange(key, count=1)
    last: str = str(newest[0][0]) if newest else "0-0"

    async def consume() -> None:
        nonlocal last
        while len(seen) < count:
            reply: Any = await reader.xread({key: last}, block=2000, count=100)
            for _k, entries in reply or ():
                for entry_id, fields in entries:
                    last = entry_id
                    started = fed.pop(fields["call_id"], None)
                    if started is not None:  # one alert per fed line (its first)
                        seen.append(1000 * (time.perf_counter() - started))

    consumer = asyncio.create_task(consume())
    lines = ["这款理财零分险，名额有限。", "您好，这个产品保本，您放心。"]
    for i in range(count):
        call = InspectedCall(f"{what[:3]}-{i}", "marketing", "bench", None, "AI-7", "测试银行")
        fed[call.call_id] = time.perf_counter()
        if what == "agent final":
            qa.heard(call, SpokenTurn("agent", lines[i % 2], 1000 * i, 1000 * i + 900))
        else:
            qa.vet_bot_sentence(call, lines[i % 2], "reply", 1000 * i)
        await asyncio.sleep(0.002)  # a new final every 2 ms: far more than one call makes
    await asyncio.wait_for(consumer, 30)
    return sorted(seen)


BLIND = BLIND_SPLITS  # written to be run once, by the lead: scored only with --blind


def bench_quality(blind: bool) -> None:
    compiled = load_rules_file(DEFAULT_RULES_PATH, load_model(DEFAULT_MODEL_PATH))
    for name in sorted(p.stem for p in EVAL.glob("*.tsv")):
        if name in BLIND and not blind:
            print(f"{name}: blind split, not scored (pass --blind to score it)")
            continue
        items = parse_labelled((EVAL / f"{name}.tsv").read_text())
        print(format_evaluation(name + " (rules)", evaluate(compiled.matcher, items)))
        ev = evaluate(compiled.matcher, items, stage=compiled.stage)
        print(format_evaluation(name + " (rules + model)", ev))


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 100_000
    if "--speed-only" in sys.argv:  # what --against runs in another revision's tree
        print(*matcher_speed(n))
        return
    if "--check-rates" in sys.argv:  # what --against runs for the whole check
        print(*check_rates(n))
        return
    rev = None
    if "--against" in sys.argv:
        i = sys.argv.index("--against")
        rev = sys.argv[i + 1]
        args = [a for a in args if a != rev]
        n = int(args[0]) if args else 100_000
    if "--check-only" in sys.argv:  # the whole check (rules + model) only
        check_speed(n, rev)
        return
    print(f"bench_qa: {os.cpu_count()} CPUs, shared with other work (numbers vary with load)")
    bench_quality("--blind" in sys.argv)
    bench_matching(n, rev)
    if "--no-model" not in sys.argv:
        check_speed(n, rev)
    asyncio.run(bench_latency())


if __name__ == "__main__":
    main()
