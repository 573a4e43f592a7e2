"""Mandatory statements of a call (pure): disclosure at the start, the consent question before
marketing content, the risk warning after it, in full and not talked over.

Which statements a call needs comes from its purpose (``mandatory.purposes``). A turn is
product content when the orchestrator marked it ``marketing``, or, for a turn of unknown kind
(an agent's words transcribed from the recording), when it contains a marketing marker and is
not itself a mandated statement. Wordings are compared by sound (:mod:`qa.text`), so the
checks hold on transcripts with ASR slips; ``{institution}`` and ``{agent_id}`` are filled
from the call's context.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rapidfuzz import fuzz

from qa.calls import SCORED, Finding, FindingKind, Turn
from qa.compiled import CompiledRules
from qa.rules import Statement, When
from qa.text import fold, sounds
from qa.verdict import SpeechContext

_KNOWN_KINDS = {"disclosure", "consent", "marketing", "risk_warning"}


def _sound(text: str) -> str:
    return sounds(fold(text)).replace(",", "").replace("?", "")


def _wordings(options: Sequence[str], context: SpeechContext) -> list[str]:
    values = {"{institution}": context.institution, "{agent_id}": context.agent_id}
    out = []
    for option in options:
        for placeholder, value in values.items():
            if placeholder in option:
                option = option.replace(placeholder, value or "")
        if option.strip():
            out.append(_sound(option))
    return [w for w in out if w]


def _says_all(statement: Statement, context: SpeechContext, text: str) -> list[str]:
    """The elements of ``statement`` that ``text`` does not contain."""
    heard = _sound(text)
    return [
        name
        for name, options in statement.elements.items()
        if not any(w in heard for w in _wordings(options, context))
    ]


def _full_text_score(statement: Statement, text: str) -> float:
    if not statement.full_text:
        return 100.0
    want, heard = _sound(statement.full_text), _sound(text)
    if len(heard) < len(want):
        return fuzz.ratio(want, heard)  # a truncated statement is not the statement
    return fuzz.partial_ratio(want, heard)


def _satisfies(statement: Statement, context: SpeechContext, turn: Turn) -> bool:
    if statement.elements and _says_all(statement, context, turn.text):
        return False
    if statement.full_text and turn.kind != statement.kind.value:
        return _full_text_score(statement, turn.text) >= statement.min_similarity
    return True


def _is_marketing(
    turn: Turn, rules: CompiledRules, statements: Sequence[Statement], context: SpeechContext
) -> bool:
    if turn.kind == "marketing":
        return True
    if turn.kind in _KNOWN_KINDS:
        return False
    if any(_satisfies(s, context, turn) for s in statements):
        return False
    heard = _sound(turn.text)
    return any(_sound(m) in heard for m in rules.rules.mandatory.marketing_markers)


def _talked_over(turn: Turn, turns: Sequence[Turn]) -> bool:
    if turn.talked_over:
        return True
    if turn.end_ms is None:
        return False
    return any(
        t.speaker not in SCORED
        and t.text.strip()
        and t.start_ms < turn.end_ms
        and (t.end_ms or t.start_ms) > turn.start_ms
        for t in turns
    )


def statement_findings(
    turns: Sequence[Turn], context: SpeechContext, rules: CompiledRules
) -> Iterator[Finding]:
    """One finding per mandatory statement of the call's purpose that is missing or wrong."""
    mandatory = rules.rules.mandatory
    ids = mandatory.purposes.get(context.purpose, ())
    statements = [mandatory.statements[i] for i in ids]
    spoken = [(i, t) for i, t in enumerate(turns) if t.speaker in SCORED and t.text.strip()]
    marketing = [i for i, t in spoken if _is_marketing(t, rules, statements, context)]
    first_marketing = marketing[0] if marketing else None
    for sid, statement in zip(ids, statements, strict=True):
        yield from _check(sid, statement, turns, spoken, first_marketing, context)


def _finding(
    kind: FindingKind, sid: str, st: Statement, turn: Turn | None, idx: int | None, why: str
) -> Finding:
    return Finding(
        kind,
        sid,
        "mandatory",
        st.severity,
        turn.speaker if turn else None,
        turn.start_ms if turn else None,
        why,
        st.kind.value,
        "",
        idx,
    )


def _check(
    sid: str,
    st: Statement,
    turns: Sequence[Turn],
    spoken: Sequence[tuple[int, Turn]],
    first_marketing: int | None,
    context: SpeechContext,
) -> Iterator[Finding]:
    if st.when is When.START:
        head = [
            (i, t)
            for i, t in spoken[: st.within_turns]
            if first_marketing is None or i < first_marketing
        ]
        missing = set(st.elements)
        for _, t in head:
            missing &= set(_says_all(st, context, t.text))
        if not missing:
            return
        later = [(i, t) for i, t in spoken if not _says_all(st, context, t.text)]
        if later:
            i, t = later[0]
            yield _finding(
                FindingKind.LATE, sid, st, t, i, f"{st.kind.value} not at the start of the call"
            )
        else:
            yield _finding(
                FindingKind.MISSING,
                sid,
                st,
                None,
                None,
                f"{st.kind.value} missing: {', '.join(sorted(missing))}",
            )
        return
    if first_marketing is None:
        return  # no product content: no consent question or risk warning needed
    if st.when is When.BEFORE_MARKETING:
        before = [(i, t) for i, t in spoken if i < first_marketing and _satisfies(st, context, t)]
        if not before:
            t = turns[first_marketing]
            yield _finding(
                FindingKind.MISSING,
                sid,
                st,
                t,
                first_marketing,
                f"marketing content before the {st.kind.value} question",
            )
        return
    after = [
        (i, t)
        for i, t in spoken
        if i > first_marketing and (t.kind == st.kind.value or _satisfies(st, context, t))
    ]
    if not after:
        yield _finding(
            FindingKind.MISSING,
            sid,
            st,
            None,
            None,
            f"{st.kind.value} missing after product content",
        )
        return
    i, t = after[0]
    if t.cut_off or _full_text_score(st, t.text) < st.min_similarity:
        yield _finding(FindingKind.INCOMPLETE, sid, st, t, i, f"{st.kind.value} not spoken in full")
    elif st.not_talked_over and _talked_over(t, turns):
        yield _finding(
            FindingKind.TALKED_OVER, sid, st, t, i, f"{st.kind.value} talked over by the caller"
        )
