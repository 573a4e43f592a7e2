"""Write the QA held-out splits 4 and 5, ``tests/qa/eval/heldout4.tsv`` and ``heldout5.tsv``,
reproducibly.

    .venv/bin/python scripts/make_qa_heldout.py

Fresh phrasings written for each split before the matcher was run on them: sales talk a bank's
or broker's agent might say, each template filled with a product named by the seeded
generator, every positive also written once with one ASR slip (a homophone of one of its
characters, from the split's table), and negatives that reuse the same words under negation,
in mandated wording, in callers' questions or in ordinary service talk. The same seed writes
the same file. Split 4 (2026-12-01, the QA-live session) was run once, then became tuning data
(its misses were read and the rules generalised). Split 5 (2026-12-01, the QA session: new
templates, products and slips, written before the generalised rules were run on them) is never
tuned on: its first-run numbers go in its header (and ``tests/qa/test_qa_eval.py`` holds the
matcher to them).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import NamedTuple

EVAL = Path(__file__).resolve().parent.parent / "tests" / "qa" / "eval"
OUT = EVAL / "heldout4.tsv"
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


def slipped(text: str, rng: random.Random, slips: dict[str, str] = SLIPS) -> str | None:
    spots = [i for i, ch in enumerate(text) if ch in slips]
    if not spots:
        return None
    i = rng.choice(spots)
    return text[:i] + slips[text[i]] + text[i + 1 :]


class Split(NamedTuple):
    """One held-out split: its templates, products, slips and seed."""

    seed: int
    products: list[str]
    promise: list[str]
    comparison: list[str]
    pressure: list[str]
    clean: list[str]
    also: dict[str, str]
    slips: dict[str, str]
    header: str


def lines(split: int = 4) -> list[tuple[str, str]]:
    """The labelled lines of held-out split ``split`` (4 or 5), in file order."""
    spec = SPLITS[split]
    rng = random.Random(spec.seed)
    out: list[tuple[str, str]] = []
    for label, templates in (
        ("prohibited_promise", spec.promise),
        ("misleading_comparison", spec.comparison),
        ("pressure_tactic", spec.pressure),
    ):
        for template in templates:
            labels = ",".join(sorted({label, *spec.also.get(template, label).split(",")}))
            text = template.format(p=rng.choice(spec.products))
            out.append((labels, text))
            slip = slipped(text, rng, spec.slips)
            if slip is not None and slip != text:
                out.append((labels, slip))
    for template in spec.clean:
        out.append(("clean", template.format(p=rng.choice(spec.products))))
    return out


def write(split: int) -> None:
    out = EVAL / f"heldout{split}.tsv"
    header = [SPLITS[split].header]
    old = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
    header += [h for h in old if h.startswith("# first run")]  # the measured header stays
    body = ["labels\ttext", *(f"{label}\t{text}" for label, text in lines(split))]
    out.write_text("\n".join(header + body) + "\n", encoding="utf-8")
    print(f"{out}: {len(body) - 1} lines")


# ---- split 5 (2026-12-01, the QA session), written before the matcher ran on it --------------

PRODUCTS5 = ["这款稳盈宝", "咱们行这个年金计划", "这只债券基金", "我们这个季季红", "这个安心理财"]

PROMISE5 = [
    "{p}您投多少，到期就能拿回多少，外加收益。",
    "{p}的回报我可以给您写保证书。",
    "说句实在话，{p}根本不存在亏的可能。",
    "{p}收益稳稳当当的，年年都有。",
    "{p}给您的年化是百分之四点五，一分都不会少给。",
    "买{p}您就放宽心，肯定是赚的。",
    "{p}这几年从来没出现过亏损，以后也一样。",
    "{p}是稳赢的买卖，您不用多想。",
    "{p}承诺年化不低于百分之三点八。",
    "{p}的本金我们是全额保障的。",
    "{p}没有任何亏损的可能性。",
    "{p}收益都是提前定好的，到期一分不差打给您。",
    "您投{p}，本和息一分不少都能拿回来。",
    "{p}就是稳稳地赚钱，风险可以忽略不计。",
    "我敢保证{p}明年还是这么高的收益。",
    "{p}属于保本型的，本金没有任何风险。",
    "{p}基本上是只赚不亏的。",
    "{p}放心买，赔了我个人给您补上。",
    "This plan is guaranteed to pay five percent every year.",
    "There is zero chance you lose your principal.",
]
COMPARISON5 = [
    "{p}您就当是存了个三年定期。",
    "{p}跟您在银行存的定期是一个性质的。",
    "{p}安全程度和存款是一个级别的。",
    "{p}说到底就是银行的储蓄产品。",
    "{p}比您存活期划算多了，而且同样没风险。",
    "{p}和存款的区别就是利息更高。",
    "{p}的预期收益基本就是您最后能拿到的。",
    "{p}有国家信用做担保，和国债差不多。",
    "{p}跟大额存单一样稳当。",
    "{p}就跟把钱放在银行保险柜里一样安全。",
    "{p}跟存银行没什么两样，还比存银行利息高。",
    "{p}可以理解为一种高利息的存款。",
    "{p}也在存款保险的保障范围内。",
    "{p}是银行发行的，跟存款一样有保障。",
    "It works just like a savings account, only with better interest.",
]
PRESSURE5 = [
    "{p}这期额度已经卖掉八成了，您得快点。",
    "您要是今天不签，这个利率我就没法给您留了。",
    "{p}下午三点就截止认购了，抓紧时间。",
    "{p}现在不上车，以后就没机会了。",
    "{p}很抢手，一放出来就被抢完了。",
    "我这边只能给您保留到明天上午。",
    "{p}这个价格只到这周五。",
    "您今天定下来，我马上给您锁定额度。",
    "{p}库存就剩这么点了，晚一天都不一定有。",
    "好多客户一早就来排队买{p}了，您还犹豫啥。",
    "{p}错过这一期，要再等半年。",
    "您就别再琢磨了，{p}赶紧定了吧。",
    "{p}过了月底就要恢复原来的利率了。",
    "{p}的名额是领导特批的，过时不候。",
    "Only two spots are left, you need to decide today.",
]
CLEAN5 = [
    "{p}不承诺保本，也不承诺最低收益。",
    "理财非存款，产品有风险，投资需谨慎。",
    "请问{p}会不会亏本啊？",
    "这个产品有没有风险？",
    "是不是和存款一样安全呢？",
    "{p}过往的收益不代表以后也能拿到。",
    "{p}的收益会有波动，可能低于业绩比较基准。",
    "如果有人跟您说稳赚不赔，那一定是骗人的。",
    "{p}跟存款不一样，不受存款保险保护。",
    "您可以回去和家人商量，考虑好了再联系我。",
    "这款产品随时可以申购，没有额度限制。",
    "您的存款到期后本息会自动转存。",
    "我们的定期存款利率是固定的，到期按约定付息。",
    "您不着急，什么时候想好了都可以办。",
    "我们不会保证任何收益，请您理性投资。",
    "本金存在亏损的风险，请您知悉。",
    "这个不是保本产品，请您注意。",
    "请您先完成风险测评再购买。",
    "您的银行卡已经成功激活。",
    "您这个月的账单已经出来了。",
    "请问您是想办理存款还是理财？",
    "稳赚不赔的说法是不存在的。",
    "基金的净值每天都会变化。",
    "您的信用卡额度已经调整好了。",
    "现在办理的话，大约三个工作日到账。",
    "今天的业务已经办理完成了，感谢您的耐心。",
    "这个活动名额充足，您不用着急。",
    "国债和理财产品的风险是不一样的。",
    "{p}的风险等级是R3，请确认您能承受。",
    "我理解您想要稳健一点的产品。",
    "如果您不了解这个产品，建议先不要购买。",
    "您说的保本理财现在已经没有了。",
    "No investment is risk-free, please read the prospectus.",
    "We cannot guarantee any returns on this fund.",
    "您是想今天办还是改天办？都可以的。",
]
ALSO5 = {
    "{p}比您存活期划算多了，而且同样没风险。": "prohibited_promise",
    "{p}有国家信用做担保，和国债差不多。": "prohibited_promise",
    "{p}属于保本型的，本金没有任何风险。": "prohibited_promise",
}
# split 5's slips: other characters than split 4's, a few of them near homophones (c/ch, s/sh,
# -n/-ng) as a southern speaker's ASR mishears them
SLIPS5 = {
    "金": "今",
    "息": "希",
    "利": "力",
    "赚": "攥",
    "险": "鲜",
    "亏": "窥",
    "证": "政",
    "本": "笨",
    "收": "搜",
    "益": "意",
    "存": "村",
    "储": "除",
    "期": "其",
    "定": "丁",
    "额": "饿",
    "抢": "强",
    "名": "明",
    "稳": "问",
    "赔": "培",
    "担": "单",
    "风": "疯",
    "安": "按",
    "全": "权",
    "错": "搓",
    "犹": "由",
    "签": "迁",
    "截": "姐",
    "剩": "胜",
}

SPLITS = {
    4: Split(
        SEED,
        PRODUCTS,
        PROMISE,
        COMPARISON,
        PRESSURE,
        CLEAN,
        ALSO,
        SLIPS,
        "# Fourth held-out split (2026-12-01, QA-live session), written by "
        "scripts/make_qa_heldout.py (seed 20261201) before the matcher first ran on it; "
        "after that run its misses were read and the rules generalised (2026-12-01.5): "
        'tuning data now. labels: comma-separated categories or "clean".',
    ),
    5: Split(
        20261202,
        PRODUCTS5,
        PROMISE5,
        COMPARISON5,
        PRESSURE5,
        CLEAN5,
        ALSO5,
        SLIPS5,
        "# Fifth held-out split (2026-12-01, QA session), written by scripts/make_qa_heldout.py "
        "(seed 20261202) before the matcher first ran on it; never used to tune the rules. "
        'labels: comma-separated categories or "clean".',
    ),
}


def main() -> None:
    for split in SPLITS:
        write(split)


if __name__ == "__main__":
    main()
