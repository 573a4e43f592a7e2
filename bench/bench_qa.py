"""QA benchmark: matching lines/s on one core beside a naive baseline, ASR final -> live alert
latency over Redis Streams, and precision/recall per category on both evaluation splits.

    .venv/bin/python bench/bench_qa.py [LINES]

Needs Redis on 127.0.0.1:6379 for the latency part (skipped with a note when absent).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

from pypinyin import lazy_pinyin
from rapidfuzz import fuzz
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.alerts import RedisAlertStream  # noqa: E402
from qa.evaluation import evaluate, format_evaluation, parse_labelled  # noqa: E402
from qa.hooks import AsrFinal, QaHooks  # noqa: E402
from qa.reload import DEFAULT_RULES_PATH, QaRulesHolder, load_rules_file  # noqa: E402
from qa.rules import Speaker  # noqa: E402
from qa.verdict import SpeechContext  # noqa: E402
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


def bench_matching(n: int) -> None:
    compiled = load_rules_file(DEFAULT_RULES_PATH)
    matcher = compiled.matcher
    lines = corpus(n)
    chars = sum(map(len, lines))
    for line in lines[:2000]:  # warm the per-character caches
        matcher.scan(line)
    t0 = time.process_time()
    hits = sum(len(matcher.scan(line)) for line in lines)
    dt = time.process_time() - t0
    phrases = [(p, " ".join(lazy_pinyin(p))) for r in compiled.rules.rules for p in r.phrases]
    sample = lines[:2000]
    t1 = time.process_time()
    for line in sample:
        naive_scan(line, phrases)
    bt = time.process_time() - t1
    print(f"matching: {n} lines ({chars / n:.0f} chars avg), {hits} hits")
    print(f"  matcher            {n / dt:>10,.0f} lines/s  ({1e6 * dt / n:.1f} us/line, CPU time)")
    print(
        f"  naive baseline     {len(sample) / bt:>10,.0f} lines/s  ({1e6 * bt / len(sample):.1f} "
        f"us/line; OpenCC + pypinyin per line, {len(phrases)} phrases each)"
    )
    print(
        f"  speed-up           {(n / dt) / (len(sample) / bt):>10.1f}x   (target >= 50,000 lines/s)"
    )
    items = parse_labelled((EVAL / "tuning.tsv").read_text()) + parse_labelled(
        (EVAL / "heldout.tsv").read_text()
    )
    dense = [items[i % len(items)].text for i in range(n // 2)]
    t2 = time.process_time()
    for line in dense:
        matcher.scan(line)
    d2 = time.process_time() - t2
    print(
        f"  matcher, labelled set only (each line a hit or a near miss): "
        f"{len(dense) / d2:,.0f} lines/s ({1e6 * d2 / len(dense):.1f} us/line)"
    )


async def bench_latency(count: int = 400) -> None:
    redis = Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    try:
        await redis.ping()
    except Exception:
        print("alert latency: skipped (no Redis on 127.0.0.1:6379)")
        return
    prefix = f"bench-qa-{uuid.uuid4().hex[:8]}"
    stream = RedisAlertStream(redis, prefix)

    class NoEvidence:
        async def append(self, kind: object, *, call_id: str | None, payload: object) -> None:
            raise AssertionError("no evidence in this benchmark")

    compiled = load_rules_file(DEFAULT_RULES_PATH)
    hooks = QaHooks(QaRulesHolder(compiled), stream, NoEvidence(), None)  # type: ignore[arg-type]
    await hooks.start()
    reader = Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    seen: list[float] = []
    fed: dict[str, float] = {}

    async def consume() -> None:
        last = "0-0"
        while len(seen) < count:
            reply = await reader.xread({stream.key: last}, block=2000, count=100)
            for _k, entries in reply or ():
                for entry_id, fields in entries:
                    last = entry_id
                    seen.append(time.perf_counter() - fed[fields["call_id"]])

    consumer = asyncio.create_task(consume())
    ctx_lines = ["您好，这个产品保本保收益，您放心。", "这款理财零分险，名额有限。"]
    try:
        for i in range(count):
            call_id = f"call-{i}"
            fed[call_id] = time.perf_counter()
            alerts = hooks.heard(
                AsrFinal(Speaker.AGENT, ctx_lines[i % 2][:9], 1000 * i, 1000 * i + 900),
                SpeechContext(call_id=call_id, purpose="marketing"),
            )
            assert len(alerts) == 1, alerts
            await asyncio.sleep(0.002)
        await asyncio.wait_for(consumer, 30)
    finally:
        await hooks.close()
        await redis.delete(stream.key)
        await redis.aclose()
        await reader.aclose()
    ms = sorted(1000 * s for s in seen)
    p99 = ms[int(0.99 * (len(ms) - 1))]
    print(f"alert latency (ASR final -> alert read from the Redis stream), {len(ms)} alerts:")
    print(
        f"  p50 {statistics.median(ms):.2f} ms  p99 {p99:.2f} ms  max {ms[-1]:.2f} ms"
        "   (target p99 <= 200 ms)"
    )
    rtt = Redis.from_url("redis://127.0.0.1:6379/0")
    t = time.perf_counter()
    for _ in range(200):
        await rtt.ping()
    print(f"  baseline: Redis PING round trip {1000 * (time.perf_counter() - t) / 200:.2f} ms")
    await rtt.aclose()


def bench_quality() -> None:
    matcher = load_rules_file(DEFAULT_RULES_PATH).matcher
    for name in ("tuning", "heldout"):
        items = parse_labelled((EVAL / f"{name}.tsv").read_text())
        print(format_evaluation(name, evaluate(matcher, items)))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(f"bench_qa: {os.cpu_count()} CPUs, shared with other work (numbers vary with load)")
    bench_quality()
    bench_matching(n)
    asyncio.run(bench_latency())


if __name__ == "__main__":
    main()
