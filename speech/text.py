"""Text helpers for recognised Mandarin: Simplified Chinese, number normalisation, CER.

Pure functions, no IO (OpenCC's tables are loaded once, lazily, on first use).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

_DIGITS = "零一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿")


@lru_cache(maxsize=1)
def _opencc() -> Any:
    import opencc  # lazy: opencc-python-reimplemented, part of the speech extra

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional to Simplified Chinese (OpenCC t2s); text without Hanzi is returned as is."""
    if not any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return text
    return str(_opencc().convert(text))


def _four_digits(n: int) -> str:
    out: list[str] = []
    zero = False
    for power in (3, 2, 1, 0):
        d = (n // 10**power) % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[d] + _SMALL_UNITS[power])
    return "".join(out)


def int_to_hanzi(n: int) -> str:
    """An integer as spoken Mandarin: 3 → 三, 15 → 十五, 50000 → 五万, 1008 → 一千零八."""
    if n < 0:
        return "负" + int_to_hanzi(-n)
    if n == 0:
        return "零"
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    if len(groups) > len(_BIG_UNITS):
        return "".join(_DIGITS[int(c)] for c in str(n))
    out = ""
    need_zero = False
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or g < 1000):
            out += "零"
        out += _four_digits(g) + _BIG_UNITS[i]
        need_zero = False
    if out.startswith("一十"):
        out = out[1:]
    return out


def _digit_run(match: re.Match[str]) -> str:
    return _number_words(match.group(0))


def _number_words(run: str) -> str:
    if "." in run:
        whole, frac = run.split(".", 1)
        return int_to_hanzi(int(whole)) + "点" + "".join(_DIGITS[int(c)] for c in frac)
    if run.startswith("0") or len(run) > 5:
        return "".join(
            _DIGITS[int(c)] for c in run
        )  # codes, phone and card numbers: digit by digit
    return int_to_hanzi(int(run))


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


def normalize_numbers(text: str) -> str:
    """Arabic numerals to the Hanzi a caller says: 3点 → 三点, 5万 → 五万, 50% → 百分之五十.

    Runs starting with 0 or longer than five digits (codes, phone or card numbers) are read
    digit by digit. Full-width digits are folded first.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _PERCENT.sub(lambda m: "百分之" + _number_words(m.group(1)), text)
    return _NUMBER.sub(_digit_run, text)


_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def strip_for_scoring(text: str) -> str:
    """Text reduced to the characters that count for CER: no spaces or punctuation."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text)).lower()


def edit_distance(ref: str, hyp: str) -> int:
    """Levenshtein distance between two strings (characters)."""
    prev = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        cur = [i]
        for j, hc in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rc != hc)))
        prev = cur
    return prev[-1]


def cer(ref: str, hyp: str) -> float:
    """Character error rate of one hypothesis (punctuation and spaces ignored)."""
    r = strip_for_scoring(ref)
    return edit_distance(r, strip_for_scoring(hyp)) / max(1, len(r))


_SPEECH_PUNCT = re.compile(r"[\s,，.。!！?？、;；:：…~]+")


def clean_transcript(text: str) -> str:
    """Post-process raw recogniser output: Simplified, numbers in Hanzi, the engine's
    punctuation as single spaces (a pause; the NLU data is written that way), trimmed."""
    return _SPEECH_PUNCT.sub(" ", normalize_numbers(to_simplified(text))).strip()
