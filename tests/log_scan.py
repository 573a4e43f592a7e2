"""Customer data in log lines: the detector and the pytest plugin that scans a whole test run.

Every log record of the run reaches :class:`LogScanHandler` (on the root logger; the app's own
loggers are opened to DEBUG so nothing they say is missed). A record whose text (message and
traceback) holds a clear phone number, DTMF digits or a caller's words fails the session, with
the test, the logger and what was found (masked): invariant 11 and the logging rule of
``ARCHITECTURE.md`` checked on everything the tests make the code log.

Precise on purpose, so other work is not failed by noise: a phone number is a run of 7-15
digits (optionally ``+``, or grouped 3-4-4) standing alone that :func:`ivr.phone.customer_number`
accepts as a valid number (call ids, UUIDs, ports, timestamps and masked numbers are not);
DTMF is ``dtmf``/``digits`` followed by ``=``/``:`` and keypad characters; a transcript is
``transcript``/``text``/``heard``/``said``/``utterance`` followed by ``=``/``:`` and Chinese
characters, or any run of 4+ Chinese characters (the bot speaks Mandarin, so Chinese text in a
log line is what someone said or was told).
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ivr.phone import customer_number, mask

ROOT = Path(__file__).resolve().parent.parent
APP_LOGGERS: tuple[str, ...] = tuple(
    tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]["packages"]
)
"""The app's packages (``[tool.mypy] packages``): their loggers are opened to DEBUG."""

_NUMBER = re.compile(r"(?<![\w*+.:/#%-])(\+?\d{7,15}|\d{3}[ -]\d{4}[ -]\d{4})(?![\w*.:/%-])")
_DTMF = re.compile(r"(?i)(?<![\w])(?:dtmf|digits)\s*[=:]\s*['\"]?([0-9*#]+)")
_SAID = re.compile(
    r"(?i)(?<![\w])(?:transcript|text|heard|said|utterance)\s*[=:]\s*['\"]?[\u3400-\u9fff]"
)
_HAN_RUN = re.compile(r"[\u3400-\u9fff]{4,}")


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of customer data found in one log line (``sample`` is masked)."""

    test: str
    logger: str
    what: str
    sample: str

    def __str__(self) -> str:
        return f"{self.test}: logger {self.logger!r}: {self.what} ({self.sample})"


def scan_text(text: str) -> list[tuple[str, str]]:
    """``(what, masked sample)`` for each piece of customer data in ``text``."""
    found: list[tuple[str, str]] = []
    for match in _NUMBER.finditer(text):
        candidate = match.group(1)
        if customer_number(candidate) is not None:
            found.append(("clear phone number", mask(candidate)))
    for match in _DTMF.finditer(text):
        found.append(("DTMF digits", "*" * len(match.group(1))))
    if _SAID.search(text) or _HAN_RUN.search(text):
        found.append(("transcript (Chinese text)", "…"))
    return found


def record_text(record: logging.LogRecord) -> str:
    """What a handler would write for ``record``: message, traceback and stack."""
    try:
        text = record.getMessage()
    except Exception as exc:  # a broken format string: scan the raw parts
        text = f"{record.msg!s} {record.args!r} ({type(exc).__name__})"
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    elif record.exc_text:
        text += "\n" + record.exc_text
    if record.stack_info:
        text += "\n" + record.stack_info
    return text


class LogScanHandler(logging.Handler):
    """Collects the findings of every record it is given, tagged with the running test."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.findings: list[Finding] = []
        self.current_test = "(collection or session setup)"
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        hits = scan_text(record_text(record))
        if not hits:
            return
        with self._guard:
            for what, sample in hits:
                self.findings.append(Finding(self.current_test, record.name, what, sample))

    def install(self) -> None:
        """Attach to the root logger (again, if a test reconfigured logging) and open the app's
        loggers to DEBUG."""
        root = logging.getLogger()
        if self not in root.handlers:
            root.addHandler(self)
        for name in APP_LOGGERS:
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET or logger.level > logging.DEBUG:
                logger.setLevel(logging.DEBUG)
