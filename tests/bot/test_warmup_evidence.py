"""The Rasa warm-up is not a call (issue 13 item 7): it writes no ``disclosure_played`` and no
other evidence for its ``warmup-…`` sender."""

from __future__ import annotations

import pytest

from ivr.db import make_engine
from records.evidence_store import SqlEvidenceLog
from shell.services import rasa_ready

pytestmark = pytest.mark.rasa


def test_rasa_warm_up_writes_no_evidence(rasa_stack) -> None:
    assert rasa_ready(rasa_stack.rasa_url)()  # one more warm-up turn, answered
    log = SqlEvidenceLog(make_engine(rasa_stack.settings.sqlalchemy_url))
    warmups = [e for e in log.entries() if (e.call_id or "").startswith("warmup-")]
    assert warmups == []
