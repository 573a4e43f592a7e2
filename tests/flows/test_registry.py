"""Hot reload: valid changes are used by new calls, invalid ones rejected, running calls keep
the version they started with."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.registry import DEFAULT_FLOWS_DIR, FlowRegistry
from ivr.errors import ConfigError


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    for f in DEFAULT_FLOWS_DIR.glob("*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def test_valid_change_becomes_active_and_old_version_is_kept_by_holders(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir)
    running_call = registry.get("outbound_notice")
    path = flows_dir / "outbound_notice.yaml"
    path.write_text(path.read_text().replace("timeout_s: 4", "timeout_s: 6"))

    assert registry.reload() == ["outbound_notice"]
    new = registry.get("outbound_notice")
    assert new.version != running_call.version
    assert new.flow.nodes["notice"].timeout_s == 6  # type: ignore[union-attr]
    assert running_call.flow.nodes["notice"].timeout_s == 4  # type: ignore[union-attr]


def test_invalid_change_is_rejected_and_previous_version_stays(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir)
    before = registry.get("outbound_marketing")
    path = flows_dir / "outbound_marketing.yaml"
    path.write_text(path.read_text().replace("on_refused: refused", "on_refused: pitch"))

    assert registry.reload() == []
    assert registry.get("outbound_marketing") is before
    codes = [i.code for i in registry.rejected["outbound_marketing.yaml"]]
    assert "marketing_without_consent" in codes


def test_unchanged_files_are_not_reparsed(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir)
    assert registry.reload() == []


def test_broken_prompt_table_keeps_active_flows(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir)
    before = registry.get("inbound_service")
    (flows_dir / "prompts.yaml").write_text("prompts:\n  x: {colour: red}\n")
    assert registry.reload() == []
    assert registry.get("inbound_service") is before
    assert "prompts.yaml" in registry.rejected


def test_unknown_flow_name_is_a_config_error(flows_dir: Path) -> None:
    with pytest.raises(ConfigError, match="no flow named 'nope'"):
        FlowRegistry(flows_dir).get("nope")
