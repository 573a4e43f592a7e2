"""Fixtures of the fault soak: the campaigns' and flows' test helpers on the import path."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
for extra in (HERE, HERE.parent / "campaigns", HERE.parent / "flows"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))
