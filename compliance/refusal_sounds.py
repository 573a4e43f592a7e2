"""Does an utterance *sound* like refusal wording? (pure; toneless pinyin, rapidfuzz)

Whisper on a phone line writes refusals with other characters of the same or a near sound
(你们别再骚扰我了 as 你们别再扫扬我了), and the NLU reads some refusals, even heard right, as
another intent (我没这个打算 as ``wrong_number``). :func:`refusal_similarity` compares the
utterance's loose toneless pinyin (each Hanzi's default reading without tone, with the initials
zh/z, ch/c, sh/s, n/l and the finals ang/an, eng/en, ing/in merged: :func:`qa.text.toneless`,
:func:`qa.text.loose`) with each refusal phrase's, letter by letter, the phrase aligned with its
best-matching stretch of the utterance (:func:`rapidfuzz.fuzz.partial_ratio_alignment`): 1.0 is
a homophone, a one-letter slip in a three-syllable phrase ~0.9. The stretch must hold the
phrase's negations (不 bu, 没 mei, 别 bie: Whisper writes them as homophones, 部 for 不, so
their sound survives), and an utterance shorter than a phrase is never matched against it (a
bare 需要 must not match 不需要). The consent policy (:mod:`compliance.consent_policy`) uses it
only to *ask* ("您是说不需要了，对吗？"), never to refuse or to grant consent.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz import fuzz

from qa.text import NEGATIONS, is_hanzi, loose, toneless


@lru_cache(maxsize=4096)
def loose_pinyin(text: str) -> str:
    """The loose toneless pinyin of the Hanzi in ``text``, syllables joined by spaces (other
    characters dropped: punctuation, fillers' spacing and Latin letters carry no sound here)."""
    return " ".join(loose(toneless(ch)) for ch in text if is_hanzi(ch))


@lru_cache(maxsize=1024)
def _negations(phrase: str) -> frozenset[str]:
    """The syllables of the phrase's negation characters (不 bu, 没 mei, 别 bie, ...)."""
    return frozenset(loose(toneless(ch)) for ch in phrase if ch in NEGATIONS)


def _syllables_in(said: str, start: int, end: int) -> set[str]:
    """The syllables of ``said`` that overlap its letters ``start:end``."""
    out, at = set(), 0
    for syllable in said.split(" "):
        if at < end and at + len(syllable) > start:
            out.add(syllable)
        at += len(syllable) + 1
    return out


def refusal_similarity(text: str, phrases: Iterable[str]) -> float:
    """The best similarity (0..1) of any phrase's pinyin to a stretch of ``text``'s pinyin that
    holds the phrase's negations (以后再联系我 is not 别再联系我: 后 is no 别)."""
    said = loose_pinyin(text)
    best = 0.0
    for phrase in phrases:
        target = loose_pinyin(phrase)
        if not target or len(said) < len(target):
            continue
        found = fuzz.partial_ratio_alignment(target, said)
        if found is None or found.score / 100.0 <= best:
            continue
        if _negations(phrase) <= _syllables_in(said, found.dest_start, found.dest_end):
            best = found.score / 100.0
        if best >= 1.0:
            break
    return best
