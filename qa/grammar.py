"""Synthetic training lines for QA's learned second stage, written from the rules' concept
classes (pure, deterministic: a seeded ``random.Random``, no IO).

The rules' ``classes`` (:attr:`qa.rules.QaRules.classes`) name the ways sales talk says one
concept (``CERTAIN``: 保证, 保准, 铁定 ...; ``DEPOSIT``: 存款, 国债, 余额宝 ...). The grammar here
puts them together into sentences, with speaker fillers around them:

* positives per category, the same ideas the concept rules match (certain x gain, the money
  x not lost, a deposit-like product x as safe, now x not acting x the offer gone ...), so the
  model learns the concept words in more contexts than the labelled lines give it;
* clean lines that hold the same vocabulary without the breach: service talk with dates and
  deadlines (今天扣款成功了, 下个月再来取), honest product talk (去年收益是百分之六, 也会亏的),
  facts about deposits (存款利率这周下调了), polite endings (您不方便我们改天再说): the words a
  model over-learns from positives alone, in the lines that call centres mostly say.

Both kinds get the same speaker fillers (您放心, 跟您说实话 ...), so a filler is no evidence either
way. The trainer negates, reports and asks about the positives itself
(``scripts/train_qa_model.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

from qa.rules import Category

Classes = Mapping[str, Sequence[str]]

OPEN = (
    "",
    "",
    "您放心，",
    "跟您说实话，",
    "大姐，",
    "王先生，",
    "那个，",
    "说白了，",
    "我跟您讲，",
    "嗯，",
)
CLOSE = ("。", "。", "的。", "，您放心。", "，这个您记住。", "！", "，真的。")
PRODUCT = (
    "这款产品",
    "这个理财",
    "我们这个基金",
    "这份保险",
    "这个年金",
    "这期产品",
    "这个计划",
    "它",
)
NUMBER = ("三", "四", "五", "六", "八", "十", "两", "二十", "三千", "五万")
UNIT = ("个点", "万", "千块", "块钱")
PAST = ("上周", "昨天", "这周", "上个月", "前几天", "月初")
TIME = (
    "今天",
    "明天",
    "后天",
    "这周",
    "下周",
    "下个月",
    "月底",
    "刚才",
    "上次",
    "昨天",
    "周五",
    "下午",
)
SERVICE = (
    "您的{acc}扣款成功了",
    "您的{acc}已经到账了",
    "是您{acc}的最后还款日，提醒您别忘了",
    "您要的{doc}已经准备好了，{t}来取就行",
    "我们{t}再给您回电话",
    "您{t}有空的话可以来网点办理",
    "{acc}的账单{t}会寄给您",
    "系统{t}晚上要维护，其间暂停服务",
    "您预约的业务{t}可以办理",
    "{doc}我{t}帮您打印好",
)
ACCOUNT = ("信用卡", "基金定投", "房贷", "车贷", "保单", "工资卡", "水电费", "这笔转账")
DOC = ("收入证明", "流水", "回单", "存款证明", "保单合同", "对账单")
HONEST = (
    "{p}去年的收益率是百分之{n}，前年是负百分之{m}",
    "{p}的收益跟市场挂钩，市场跌它也会跌",
    "{p}也会亏的，净值会有波动",
    "{p}有亏损的可能，您要想清楚",
    "{p}的风险等级是中等，适合稳健型以上的客户",
    "{p}的业绩比较基准是百分之{n}，不代表实际收益",
    "{p}过去几年有涨有跌，{t}的净值是一点零{n}",
    "您的本金没有动，变化的是收益部分",
    "风险和收益是成正比的，收益高风险也高",
    "{p}的收益不确定，历史业绩不代表未来",
)
DEPOSIT_FACT = (
    "{d}的利率{past}刚下调了",
    "{d}这一期已经发完了，下一期要等{t}",
    "{d}是保本的，理财不是",
    "{d}今天存明天就开始计息",
    "{d}和理财是两回事，风险不一样",
    "{d}的利息按实际天数计算",
)
POLITE = (
    "您要是{t}不方便，我们改天再说",
    "您不需要的话我就不打扰了",
    "您上次说不想买，那我就不推荐了",
    "{t}就到这儿吧，您回去好好休息",
    "您慢慢考虑，不着急",
    "您可以和家人商量好了再决定",
    "额度是够的，您{t}再来也可以",
    "这个产品全年开放，您什么时候买都行",
)


def _pick(rng: random.Random, words: Sequence[str]) -> str:
    return words[rng.randrange(len(words))]


def _positive(cat: Category, c: Classes, rng: random.Random) -> str:
    p = _pick(rng, PRODUCT)
    n = _pick(rng, NUMBER) + _pick(rng, UNIT)
    w: Callable[[str], str] = lambda name: _pick(rng, c[name])  # noqa: E731
    forms: tuple[Callable[[], str], ...]
    if cat is Category.PROHIBITED_PROMISE:
        forms = (
            lambda: f"{p}{w('CERTAIN')}能{w('GAIN')}",
            lambda: f"{p}每年{w('CERTAIN')}能{w('COLLECT')}{n}",
            lambda: f"{w('MONEY')}放{p}里{w('NOT_LOST')}",
            lambda: f"{w('RETURN')}是{w('CERTAIN_PRED')}",
            lambda: f"{p}的{w('RETURN')}，{w('CERTAIN_PRED')}",
            lambda: f"亏了{w('PARTY')}{w('COVER')}",
            lambda: f"{w('RETURN')}一年至少{n}",
        )
    elif cat is Category.MISLEADING_COMPARISON:
        forms = (
            lambda: f"{p}跟{w('DEPOSIT_KIND')}一样{w('SAFE')}",
            lambda: f"{p}比{w('DEPOSIT')}还{w('SAFE')}",
            lambda: f"{w('DEPOSIT')}都没{p}{w('SAFE')}",
            lambda: f"{p}就相当于{w('DEPOSIT_KIND')}",
            lambda: f"放{w('DEPOSIT_KIND')}不如放{p}，一样{w('SAFE')}",
        )
    else:
        forms = (
            lambda: f"{w('NOW')}不{w('ACT')}的话，{w('OFFER')}就{w('GONE')}",
            lambda: f"等您考虑好了，{w('OFFER')}早{w('GONE')}",
            lambda: f"{w('OFFER')}马上就要关了，您赶紧{w('ACT')}",
            lambda: f"{w('OFFER')}就剩最后{_pick(rng, NUMBER)}份了，您{w('NOW')}就{w('ACT')}吧",
        )
    said = forms[rng.randrange(len(forms))]()
    close = _pick(rng, CLOSE)
    if said.endswith("的") and close.startswith("的"):
        close = close[1:]
    return _pick(rng, OPEN) + said + close


def _clean(c: Classes, rng: random.Random) -> str:
    fills = {
        "p": _pick(rng, PRODUCT),
        "n": _pick(rng, NUMBER[:6]),
        "m": _pick(rng, NUMBER[:4]),
        "t": _pick(rng, TIME),
        "past": _pick(rng, PAST),
        "acc": _pick(rng, ACCOUNT),
        "doc": _pick(rng, DOC),
        "d": _pick(rng, c.get("DEPOSIT_KIND", ("存款",))),
    }
    groups = (SERVICE, SERVICE, HONEST, DEPOSIT_FACT, POLITE)  # service talk twice as often
    k = rng.randrange(len(groups))
    lead = fills["t"] if k < 2 and rng.random() < 0.5 else ""
    # the speaker's fillers as often as in the positives: no filler is evidence of a breach
    return _pick(rng, OPEN) + lead + _pick(rng, groups[k]).format(**fills) + _pick(rng, CLOSE)


NEEDED = (
    "CERTAIN",
    "GAIN",
    "COLLECT",
    "MONEY",
    "NOT_LOST",
    "RETURN",
    "CERTAIN_PRED",
    "PARTY",
    "COVER",
    "DEPOSIT_KIND",
    "DEPOSIT",
    "SAFE",
    "NOW",
    "ACT",
    "OFFER",
    "GONE",
)


def grammar_lines(
    classes: Classes, positives: int, cleans: int, seed: int = 20261202
) -> list[tuple[frozenset[Category], str]]:
    """``positives`` lines per category and ``cleans`` clean lines, distinct, in a fixed order
    for a given seed; raises ``KeyError`` when the rules lack a class the grammar uses."""
    missing = [n for n in NEEDED if not classes.get(n)]
    if missing:
        raise KeyError(f"the rules have no concept class {', '.join(missing)}")
    rng = random.Random(seed)
    out: list[tuple[frozenset[Category], str]] = []
    seen: set[str] = set()
    wanted = [(frozenset({cat}), positives) for cat in Category] + [(frozenset(), cleans)]
    for labels, count in wanted:
        made = tries = 0
        while made < count and tries < count * 20:
            tries += 1
            cat = next(iter(labels), None)
            line = _positive(cat, classes, rng) if cat is not None else _clean(classes, rng)
            if line not in seen:
                seen.add(line)
                out.append((labels, line))
                made += 1
    return out
