"""The log scanner that fails a test run whose log lines carry customer data (tests/log_scan.py):
what it must find, and the look-alikes it must leave alone (so it never fails others' work on
noise)."""

from __future__ import annotations

import logging

import pytest
from log_scan import LogScanHandler, scan_text


@pytest.mark.parametrize(
    "line",
    [
        "caller 13912345678 refused",
        "number +8613912345678 added",
        "dialling 0086 139 1234 5678",
        "callback to 138-1234-5678",
        "fixed line 01012345678",
        "got dtmf=1234# from the caller",
        "digits: '*9'",
        "transcript='不需要了'",
        "caller said 我要投诉你们的服务",
    ],
)
def test_customer_data_is_found(line: str) -> None:
    assert scan_text(line)


@pytest.mark.parametrize(
    "line",
    [
        "DNC added 139****5678 (refusal) by bot",
        "call 550e8400-e29b-41d4-a716-446655440000 ended",
        "Event-Date-Timestamp: 1795787782314185",
        "listening on 127.0.0.1:8084, pid 1234567",
        "rules version 2025.11-1, seq 20261201",
        "collect max_digits=4 timeout=5000",
        "took 1380013800042 ns",
        "extension ***0 (withheld)",
        "blind index 7d50f046243f98259f8a7ac35b3d2213b5a1d14090d06cd2486b7bb12676a72f",
    ],
)
def test_look_alikes_are_not_customer_data(line: str) -> None:
    assert scan_text(line) == []


def test_the_handler_masks_what_it_reports_and_names_the_test() -> None:
    handler = LogScanHandler()
    handler.current_test = "tests/x.py::test_y"
    logger = logging.getLogger("flows.scan-probe")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # the probe's clear number must not reach the session's scanner
    try:
        logger.info("caller %s pressed", "13912345678")
        logger.debug("masked %s only", "139****5678")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert [str(f) for f in handler.findings] == [
        "tests/x.py::test_y: logger 'flows.scan-probe': clear phone number (139****5678)"
    ]
