"""The pure matcher: prohibited wording, ASR slips, compliant context, odd input."""

from __future__ import annotations

import pytest

from qa.compiled import CompiledRules
from qa.matcher import MatchKind
from qa.rules import Category, Speaker


def categories(shipped: CompiledRules, text: str) -> set[Category]:
    return {h.category for h in shipped.matcher.scan(text)}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("这个产品保本保收益", Category.PROHIBITED_PROMISE),
        ("这款理财无风险", Category.PROHIBITED_PROMISE),
        ("这个基金零风险", Category.PROHIBITED_PROMISE),
        ("放心，稳赚不赔", Category.PROHIBITED_PROMISE),
        ("We promise guaranteed returns", Category.PROHIBITED_PROMISE),
        ("和银行存款一样安全", Category.MISLEADING_COMPARISON),
        ("名额有限，错过就没了", Category.PRESSURE_TACTIC),
    ],
)
def test_prohibited_wording_is_flagged(
    shipped: CompiledRules, text: str, category: Category
) -> None:
    assert category in categories(shipped, text)


@pytest.mark.parametrize(
    ("slip", "how"),
    [
        ("这个产品宝本", MatchKind.HOMOPHONE),  # 宝本 for 保本
        ("这个产品无分险", MatchKind.NEAR_HOMOPHONE),  # fen for feng
        ("这个产品零奉献", MatchKind.HOMOPHONE),  # 奉献 for 风险
        ("放心买，稳转不赔", MatchKind.HOMOPHONE),
    ],
)
def test_asr_slips_still_match(shipped: CompiledRules, slip: str, how: MatchKind) -> None:
    hits = shipped.matcher.scan(slip)
    assert [h.how for h in hits] == [how]
    assert hits[0].category is Category.PROHIBITED_PROMISE


@pytest.mark.parametrize(
    "text",
    [
        "本产品不保本不保收益",
        "业绩比较基准不代表实际收益",
        "没有任何产品是零风险的",
        "理财非存款，产品有风险，投资须谨慎。",
        "这个产品不是保本的",
        "本產品不保本，投資有風險。",
        "保本保收益的说法是违规的",
        "请确保本人接听",
        "我马上为您办理",
        "",
        "   ，。！",
    ],
)
def test_compliant_wording_is_not_flagged(shipped: CompiledRules, text: str) -> None:
    assert shipped.matcher.scan(text) == ()


def test_double_negation_is_still_a_promise(shipped: CompiledRules) -> None:
    assert Category.PROHIBITED_PROMISE in categories(shipped, "这个产品不是不保本")


def test_a_negation_does_not_reach_over_but(shipped: CompiledRules) -> None:
    assert Category.PROHIBITED_PROMISE in categories(shipped, "不用担心，这个产品保本")
    assert Category.PROHIBITED_PROMISE in categories(shipped, "我不骗您但是这个保本")


def test_hit_offsets_point_into_the_text_as_given(shipped: CompiledRules) -> None:
    text = "您好 ， 這 款 產品 零 風 險 的"
    (hit,) = shipped.matcher.scan(text)
    assert text[hit.start : hit.end] == hit.said == "零 風 險"
    assert hit.wording == "零风险"


def test_traditional_fullwidth_and_digits_are_folded(shipped: CompiledRules) -> None:
    assert categories(shipped, "穩賺不賠") == {Category.PROHIBITED_PROMISE}
    assert categories(shipped, "ＧＵＡＲＡＮＴＥＥＤ　ＲＥＴＵＲＮ") == {
        Category.PROHIBITED_PROMISE
    }
    assert categories(shipped, "只剩2个名额") == {Category.PRESSURE_TACTIC}


def test_enormous_transcripts_are_matched_whole(shipped: CompiledRules) -> None:
    filler = "您好请问还有什么可以帮您。" * 4000  # 52,000 characters
    text = filler + "这个产品保本" + filler + "零风险"
    hits = shipped.matcher.scan(text)
    assert [h.said for h in hits] == ["保本", "零风险"]
    assert text[hits[1].start : hits[1].end] == "零风险"


def test_rules_apply_to_their_speakers(shipped: CompiledRules) -> None:
    assert shipped.matcher.scan("这个产品保本吧", Speaker.CALLER) == ()
    assert shipped.matcher.scan("这个产品保本", Speaker.BOT)


@pytest.mark.parametrize(
    ("text", "category"),
    [  # one idea, said in ways no phrase lists: the slots of a wording family
        ("您的本钱放我们这儿，一分一厘都动不了", Category.PROHIBITED_PROMISE),
        ("老本儿肯定保得住", Category.PROHIBITED_PROMISE),
        ("收益稳定在百分之三点八左右", Category.PROHIBITED_PROMISE),
        ("安全性跟大额存单是同一个级别的", Category.MISLEADING_COMPARISON),
        ("国债有多安全，这个就有多安全", Category.MISLEADING_COMPARISON),
        ("九点前不付款，这份额就自动释放了", Category.PRESSURE_TACTIC),
        ("您别跟家里人商量了，自己定了吧", Category.PRESSURE_TACTIC),
    ],
)
def test_wording_families_flag_unlisted_wording(
    shipped: CompiledRules, text: str, category: Category
) -> None:
    assert category in categories(shipped, text)


def test_a_homophone_of_a_negation_is_no_negation_in_a_gap(shipped: CompiledRules) -> None:
    """By sound, a gap that may not skip 无 may still skip 五 (its homophone): the slipped
    订期 (for 定期) matches across 五年 as 定期 does."""
    said = "就相当于您在我们行存了一笔五年订期"
    assert Category.MISLEADING_COMPARISON in categories(shipped, said)
    assert categories(shipped, "就相当于您在我们行存了一笔不是定期的钱") == set()


def test_a_fuzzy_window_that_drops_a_negation_is_no_match(shipped: CompiledRules) -> None:
    # 和存款的区别 is one edit from 和存款没区别, and says the opposite
    assert categories(shipped, "这个产品和存款的区别在于，它不保本，收益也不固定。") == set()
