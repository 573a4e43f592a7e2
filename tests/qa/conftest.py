"""QA test fixtures: the shipped rules, compiled once per session."""

from __future__ import annotations

import pytest

from qa.compiled import CompiledRules
from qa.reload import DEFAULT_RULES_PATH, load_rules_file


@pytest.fixture(scope="session")
def shipped() -> CompiledRules:
    return load_rules_file(DEFAULT_RULES_PATH)
