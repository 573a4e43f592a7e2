"""Write the fourth QA held-out split, ``tests/qa/eval/heldout4.tsv``, reproducibly.

    .venv/bin/python scripts/make_qa_heldout.py

Fresh phrasings written for this split (2026-12-01, the QA-live session) before the matcher
was run on them: sales talk a bank's or broker's agent might say, each template filled with a
product named by the seeded generator, every positive also written once with one ASR slip
(a homophone of one of its characters, from the table below), and negatives that reuse the
same words under negation, in mandated wording or in ordinary service talk. The same seed
writes the same file. The rules are never tuned to this split: its first-run numbers go in
its header (and ``tests/qa/test_qa_eval.py`` holds the matcher to them).
"""

from __future__ import annotations

import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "qa" / "eval" / "heldout4.tsv"
SEED = 20261201

PRODUCTS = ["这款产品", "咱们这个理财", "这支基金", "这个稳享计划", "这款养老理财", "这个新品"]

PROMISE = [
    "{p}本金一分都不会少，您放一百个心。",
    "{p}收益是铁定的，每年按时到账。",
    "买{p}就等着收钱吧，肯定赚。",
    "{p}年化五个点，这是板上钉钉的事。",
    "{p}一点风险都没有，比放家里还安全。",
    "我跟您打包票，{p}绝对不会亏钱。",
    "{p}保证您每年拿到百分之四的回报。",
    "{p}的收益率是锁死的，不会有任何变化。",
    "您放心，{p}稳赚不赔，好多老客户都买了。",
    "{p}亏了算我们的，本金我们兜底。",
    "{p}到期连本带息全部返还给您。",
    "{p}属于零风险投资，闭着眼睛买都行。",
    "投{p}肯定不会赔，这个我可以保证。",
    "{p}本金是有保障的，绝对安全。",
    "{p}收益固定，每个月稳定给您返利息。",
    "这个钱放{p}里只会涨不会跌。",
    "{p}是保本保息的，跟您说实话。",
    "选{p}没错的，收益百分之百有保证。",
    "{p}从来没有亏过，以后也不会亏。",
    "Our fund is risk-free and the return is guaranteed.",
]
COMPARISON = [
    "{p}跟存定期一样安全，就是利息高一些。",
    "您就把{p}当成银行存款好了。",
    "{p}比存款还稳当。",
    "{p}和国债一样，都是没有风险的。",
    "{p}其实就相当于存款，只不过收益高。",
    "{p}的安全性跟存在银行没两样。",
    "{p}等同于银行储蓄，您不用多想。",
    "{p}跟存款一回事，本金放着不会动。",
    "买{p}和把钱存银行一个道理。",
    "{p}一样受存款保险保护的。",
    "{p}的业绩比较基准就是您到手的收益。",
    "说白了{p}就是一种定期存款。",
    "{p}不输银行定期，还更灵活。",
    "{p}跟银行大额存单没什么区别。",
    "{p}预期收益就等于实际能拿到的。",
]
PRESSURE = [
    "{p}今天不买，明天就没有了。",
    "{p}名额只剩最后三个了，您抓紧。",
    "您现在不定，{p}下周就涨价了。",
    "赶紧下单吧，{p}错过就没有了。",
    "{p}额度马上就被抢光了。",
    "您再犹豫，{p}就来不及了。",
    "{p}这个利率就今天一天有。",
    "机会难得，{p}过了这个村就没这个店了。",
    "很多人都在抢{p}，您得赶快决定。",
    "今天必须把{p}定下来，不然就没份额了。",
    "别再考虑了，{p}现在就签吧。",
    "{p}仅剩两个名额，先到先得。",
    "您还等什么呢，{p}马上就停售了。",
    "过了今晚{p}就要下调收益了。",
    "这么好的{p}，还有什么好犹豫的。",
]
CLEAN = [
    "{p}不保本，也不保证收益，请您了解。",
    "理财产品都有风险，不存在稳赚不赔的说法。",
    "我们不能向您承诺任何收益。",
    "{p}不是存款，和银行存款不一样。",
    "业绩比较基准不代表实际收益，请您注意。",
    "您不用着急，可以考虑清楚再决定。",
    "{p}没有名额限制，您随时都可以买。",
    "任何说保本保收益的话都是违规的。",
    "{p}有亏损本金的可能，请您谨慎选择。",
    "过往业绩不代表未来表现。",
    "{p}的风险等级是中低风险，适合稳健型客户。",
    "请问您做过风险测评吗？",
    "您的定期存款利率是百分之一点五。",
    "这笔存款到期后会自动转存。",
    "您的转账已经到账了，请注意查收。",
    "请问还有什么可以帮您？",
    "{p}的认购期到本月底结束。",
    "您可以先看看产品说明书，不着急做决定。",
    "这个没问题，我帮您把资料发到手机上。",
    "{p}会不会亏，要看市场的情况。",
    "市场有风险，投资需谨慎。",
    "您可以随时赎回，不过可能会有手续费。",
    "我们不会催促您购买任何产品。",
    "银行存款受存款保险保护，理财产品不受。",
    "{p}不能跟存款相提并论，风险是不一样的。",
    "您如果还在犹豫，可以过几天再联系我们。",
    "这个收益不是固定的，会随市场波动。",
    "没有任何产品是零风险的。",
    "您的信用卡账单明天到期，请按时还款。",
    "本金可能会有损失，这一点要跟您说清楚。",
]

# Templates that also say what another category forbids (labelled with both).
ALSO = {
    "{p}和国债一样，都是没有风险的。": "prohibited_promise",
    "{p}跟存款一回事，本金放着不会动。": "prohibited_promise",
}

# One ASR slip per positive: a character written as a homophone or near homophone, as
# Mandarin ASR confuses them (toneless same syllable, or zh/z, ch/c, sh/s, n/l, -ng/-n).
SLIPS = {
    "保": "宝",
    "险": "显",
    "风": "分",
    "赚": "转",
    "亏": "魁",
    "赔": "陪",
    "证": "正",
    "存": "纯",
    "款": "宽",
    "定": "订",
    "额": "鹅",
    "抢": "枪",
    "稳": "吻",
    "收": "首",
    "益": "义",
    "本": "奔",
    "买": "卖",
    "天": "添",
    "签": "千",
    "零": "灵",
}


def slipped(text: str, rng: random.Random) -> str | None:
    spots = [i for i, ch in enumerate(text) if ch in SLIPS]
    if not spots:
        return None
    i = rng.choice(spots)
    return text[:i] + SLIPS[text[i]] + text[i + 1 :]


def lines() -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    out: list[tuple[str, str]] = []
    for label, templates in (
        ("prohibited_promise", PROMISE),
        ("misleading_comparison", COMPARISON),
        ("pressure_tactic", PRESSURE),
    ):
        for template in templates:
            labels = ",".join(sorted({label, ALSO.get(template, label)}))
            text = template.format(p=rng.choice(PRODUCTS))
            out.append((labels, text))
            slip = slipped(text, rng)
            if slip is not None and slip != text:
                out.append((labels, slip))
    for template in CLEAN:
        out.append(("clean", template.format(p=rng.choice(PRODUCTS))))
    return out


def main() -> None:
    header = [
        "# Fourth held-out split (2026-12-01, QA-live session), written by "
        "scripts/make_qa_heldout.py (seed 20261201) before the matcher first ran on it; "
        'never used to tune the rules. labels: comma-separated categories or "clean".',
    ]
    old = OUT.read_text(encoding="utf-8").splitlines() if OUT.exists() else []
    header += [h for h in old if h.startswith("# first run")]  # the measured header stays
    body = ["labels\ttext", *(f"{label}\t{text}" for label, text in lines())]
    OUT.write_text("\n".join(header + body) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(body) - 1} lines")


if __name__ == "__main__":
    main()
