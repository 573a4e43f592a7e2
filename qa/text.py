"""Text folding and sound codes for QA matching (pure; per-character caches, no per-line work).

Two per-character tables, both filled lazily and kept for the process:

- :data:`FOLD` turns any transcript into the matching alphabet: traditional → simplified
  (OpenCC, via :func:`speech.text.to_simplified`), full-width → half-width, upper → lower case,
  Arabic digits → Hanzi digits, spaces, hyphens and fillers (嗯 呃 唔) removed, punctuation →
  ``,`` (a clause boundary). Every character maps to at most one character, so a folded position
  maps back to the original text (:func:`original_offsets`).
- :data:`SOUND` maps each folded Hanzi to one private-use character standing for its *loose
  toneless syllable*: pypinyin's default reading without tone, with the initials zh/z, ch/c,
  sh/s, n/l and the finals ang/an, eng/en, ing/in, iang/ian, uang/uan merged (the slips Mandarin
  ASR makes: 宝本 for 保本, 分险 for 风险). Other characters map to themselves, and so do the
  negation characters (:data:`NEGATIONS`: 不 没 非 未 无 别): a pattern's gap that may not skip a
  negation then skips their homophones (五 for 无, 每 for 没, 为 for 未) on the sound string too.

:func:`fold_sounds` gives both strings of a line in one pass (:data:`FOLD_SOUND`: each
character's fold, each folded character followed by its code), what the whole check shares.

Matching a phrase on the sound string therefore finds the phrase, its homophones and its near
homophones with one exact (Aho-Corasick) search; :func:`toneless` gives the strict toneless
reading to tell exact homophones from loose ones. Pattern rules also run on the sound string
(each Hanzi of a regex translated the same way), so their ASR slips match too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache

from pypinyin import Style, pinyin

from speech.text import to_simplified

BOUNDARY = ","  # clause boundary; "?" is one too
_DELETE = frozenset(" \t\u3000\u00a0嗯呃唔-\u2010\u2011")  # hyphens: risk-free is riskfree
_KEEP_SYMBOLS = frozenset("%")
_DIGITS = "零一二三四五六七八九"
_SOUND_BASE = 0xE000  # Unicode private-use area: one code per loose syllable
NEGATIONS = frozenset("不没非未无别")  # their own sound (see the module docstring)


def _fold_char(ch: str) -> str | None:
    if ch in _DELETE or (ch.isspace() and ch not in "\n\r"):
        return None
    if ch in "\n\r":
        return BOUNDARY
    nf = unicodedata.normalize("NFKC", ch)
    if len(nf) != 1:
        nf = ch
    if nf in _KEEP_SYMBOLS:
        return nf
    if nf == "?":
        return "?"  # a clause boundary that also marks a question
    if "0" <= nf <= "9":
        return _DIGITS[ord(nf) - 48]
    cat = unicodedata.category(nf)
    if nf == "'" or nf == "\u2019":
        return None  # isn't → isnt
    if cat[0] in "PS" or cat in ("Cc", "Cf", "Zl", "Zp"):
        return BOUNDARY
    if "\u3400" <= nf <= "\u9fff" or "\uf900" <= nf <= "\ufaff":
        simple = to_simplified(nf)
        return simple if len(simple) == 1 else nf
    return nf.lower()


class _FoldTable(dict[int, str | None]):
    """``str.translate`` table: computes and remembers each character's fold on first sight."""

    def __missing__(self, code: int) -> str | None:
        folded = _fold_char(chr(code))
        self[code] = folded
        return folded


FOLD: dict[int, str | None] = _FoldTable()


def fold(text: str) -> str:
    """The matching form of ``text`` (see the module docstring)."""
    return text.translate(FOLD)


def original_offsets(text: str) -> list[int]:
    """For each character of ``fold(text)``, its index in ``text`` (plus one past the end)."""
    out = [i for i, ch in enumerate(text) if FOLD[ord(ch)] is not None]
    out.append(len(text))
    return out


def is_hanzi(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


@lru_cache(maxsize=65536)
def toneless(ch: str) -> str:
    """The default toneless pinyin of one Hanzi (the character itself otherwise)."""
    if not is_hanzi(ch):
        return ch
    return str(pinyin(ch, style=Style.NORMAL, heteronym=False, errors="default")[0][0])


_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_FINALS = (("iang", "ian"), ("uang", "uan"), ("ang", "an"), ("eng", "en"), ("ing", "in"))


def loose(syllable: str) -> str:
    """A toneless syllable with the initials and finals ASR confuses merged."""
    for long, short in _INITIALS:
        if syllable.startswith(long) and len(syllable) > len(long):
            syllable = short + syllable[len(long) :]
            break
    for long, short in _FINALS:
        if syllable.endswith(long):
            return syllable[: -len(long)] + short
    return syllable


_CODES: dict[str, str] = {}
_SYLLABLES: dict[str, str] = {}  # code -> loose syllable


def sound_code(syllable: str) -> str:
    """The one private-use character standing for a loose syllable (stable per process: codes
    are given out in the order syllables are first seen, so they differ between processes;
    :func:`spelled_sounds` and :func:`coded_sounds` convert to and from a stable spelling)."""
    code = _CODES.get(syllable)
    if code is None:
        code = chr(_SOUND_BASE + len(_CODES))
        _CODES[syllable] = code
        _SYLLABLES[code] = syllable
    return code


def spelled_sounds(sound: str) -> str:
    """A sound string spelled stably across processes: its syllables, space-separated, each
    other character (kept as it is in a sound string) written with a leading ``'``."""
    return " ".join(_SYLLABLES.get(ch) or "'" + ch for ch in sound)


def coded_sounds(spelled: str) -> str:
    """The sound string of this process that :func:`spelled_sounds` spelled."""
    return "".join(t[1:] if t.startswith("'") else sound_code(t) for t in spelled.split(" "))


def _sound_char(ch: str) -> str:
    if not is_hanzi(ch) or ch in NEGATIONS:
        return ch
    return sound_code(loose(toneless(ch)))


class _CharTable(dict[int, str]):
    """``str.translate`` table computing each character's code on first sight."""

    def __init__(self, code_of: Callable[[str], str]) -> None:
        super().__init__()
        self._code_of = code_of

    def __missing__(self, code: int) -> str:
        out = self._code_of(chr(code))
        self[code] = out
        return out


SOUND: dict[int, str] = _CharTable(_sound_char)


def sounds(folded: str) -> str:
    """The sound string of folded text: same length, one code per Hanzi."""
    return folded.translate(SOUND)


class _FoldSoundTable(dict[int, str]):
    """``str.translate`` table: each character's fold, each folded character followed by its
    sound code (computed on first sight from :data:`FOLD` and :data:`SOUND`)."""

    def __missing__(self, code: int) -> str:
        folded = FOLD[code] or ""
        both = "".join(ch + SOUND[ord(ch)] for ch in folded)
        self[code] = both
        return both


FOLD_SOUND: dict[int, str] = _FoldSoundTable()


def fold_sounds(text: str) -> tuple[str, str]:
    """``(fold(text), sounds(fold(text)))`` in one pass over ``text``."""
    both = text.translate(FOLD_SOUND)
    return both[0::2], both[1::2]


def phrase_sounds(folded: str) -> set[str]:
    """Sound strings of a rule phrase: per-character readings, plus the reading in context
    when pypinyin reads a polyphonic character differently inside the phrase (e.g. 行 háng)."""
    out = {sounds(folded)}
    if any(is_hanzi(ch) for ch in folded):
        readings = pinyin(folded, style=Style.NORMAL, heteronym=False, errors="default")
        if len(readings) == len(folded):
            out.add(
                "".join(
                    sound_code(loose(r[0])) if is_hanzi(ch) and ch not in NEGATIONS else ch
                    for ch, r in zip(folded, readings, strict=True)
                )
            )
    return out
