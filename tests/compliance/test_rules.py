"""Rules as versioned data (inv13): validation with file/line/field/why, the holder's versions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cmp_support import rules_text

from compliance.reload import LoadedRules, RulesHolder, load_rules_file
from compliance.rules import ConsentMode, RulesError, parse_rules
from ivr.settings import Settings


def test_shipped_rules_are_valid_and_match_the_regulation() -> None:
    rules = load_rules_file(Settings().rules_path).rules
    mk = rules.purposes["marketing"]
    assert mk.window is not None
    assert (mk.window.start_minute, mk.window.end_minute) == (8 * 60, 22 * 60)
    assert mk.daily_cap == 3 and mk.consent is ConsentMode.IN_CALL
    assert {"marketing", "service", "collection", "risk_notice"} <= set(rules.purposes)
    assert all(p.daily_cap <= 3 for p in rules.purposes.values())


def test_errors_name_file_line_field_and_why() -> None:
    text = (
        rules_text()
        .replace("daily_cap: 100", "daily_cap: -1")
        .replace("consent: in_call", "consent: maybe")
    )
    with pytest.raises(RulesError) as info:
        parse_rules(text, "rules.yaml")
    issues = {i.field: i for i in info.value.issues}
    assert set(issues) == {"purposes.marketing.consent", "purposes.bulk.daily_cap"}
    cap = issues["purposes.bulk.daily_cap"]
    assert cap.source == "rules.yaml"
    assert text.splitlines()[cap.line - 1].strip() == "daily_cap: -1"  # type: ignore[operator]
    assert "greater than or equal to 0" in cap.why
    assert str(cap).startswith(f"rules.yaml:{cap.line}: purposes.bulk.daily_cap:")


@pytest.mark.parametrize(
    ("mutation", "field"),
    [
        (lambda t: t.replace('start: "08:00"', 'start: "25:00"', 1), "window.start"),
        (lambda t: t.replace('end: "22:00"', 'end: "07:00"', 1), "window"),
        (lambda t: t.replace('"2020-01-01T00:00:00+08:00"', '"2020-01-01T00:00:00"'), "effective"),
        (lambda t: t.replace("Asia/Shanghai", "Asia/Atlantis"), "default_zone"),
        (lambda t: t + "surprise: 1\n", "surprise"),
        (lambda t: t.replace("    consent_valid_days: 30\n", "", 1), "marketing"),
        (lambda t: t.replace("purposes:", "purposes: [", 1), ""),
        (lambda t: t + "version: again\n", "version"),
        (lambda t: "", ""),
    ],
)
def test_invalid_files_are_rejected(mutation: object, field: str) -> None:
    with pytest.raises(RulesError) as info:
        parse_rules(mutation(rules_text()), "r.yaml")  # type: ignore[operator]
    assert any(field in i.field for i in info.value.issues), info.value.issues


def test_unquoted_times_are_understood() -> None:
    rules = parse_rules(rules_text().replace('"08:00"', "08:00").replace('"22:00"', "22:00"))
    w = rules.purposes["marketing"].window
    assert w is not None and (w.start_minute, w.end_minute) == (480, 1320)


def _lr(version: str, eff: str, digest: str = "d") -> LoadedRules:
    text = rules_text(version).replace("2020-01-01T00:00:00+08:00", eff)
    return LoadedRules(parse_rules(text), digest + version, "t")


def test_holder_picks_the_version_in_effect() -> None:
    holder = RulesHolder(_lr("v1", "2025-01-01T00:00:00+08:00"))
    assert holder.install(_lr("v2", "2025-06-01T00:00:00+08:00"))
    assert not holder.install(_lr("v2", "2025-06-01T00:00:00+08:00"))  # same content: no-op
    assert holder.at(datetime(2025, 3, 1, tzinfo=UTC)).version == "v1"
    assert holder.at(datetime(2025, 7, 1, tzinfo=UTC)).version == "v2"
    assert holder.at(datetime(2024, 1, 1, tzinfo=UTC)).version == "v1"  # nothing older
    with pytest.raises(RulesError, match="already loaded with different content"):
        holder.install(_lr("v2", "2025-06-01T00:00:00+08:00", digest="other"))
