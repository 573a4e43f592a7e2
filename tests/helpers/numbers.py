"""Fresh, valid mainland mobile numbers for tests (fake; unique within a session)."""

from __future__ import annotations

import itertools
import uuid

from ivr.phone import CustomerNumber, customer_number

_seq = itertools.count()


def fresh_number(prefix: str = "139") -> str:
    """A valid mobile number in E.164 (``+86139...``), unique per call in this session."""
    return f"+86{prefix}{uuid.uuid4().int % 10**4:04d}{next(_seq) % 10**4:04d}"


def fresh_mobile(prefix: str = "139") -> str:
    """The same as :func:`fresh_number`, in the national form a caller id carries."""
    return fresh_number(prefix)[3:]


def customer(number: str) -> CustomerNumber:
    """A test number as the customer value object the APIs take (made at the edge)."""
    made = customer_number(number)
    assert made is not None, "not a valid test number"
    return made
