"""Reading a campaign list file, CSV or XLSX (openpyxl), and checking each row (no SQL).

A list has one row per customer: ``number`` (required), optional ``name`` and ``timezone``
(IANA, e.g. ``Asia/Urumqi``), and one column per ``{placeholder}`` the flow's prompts use
(:func:`flow_placeholders`). Header problems (no ``number`` column, an unknown column, a
placeholder without a column, an empty file, a file that is neither UTF-8 CSV nor XLSX) are a
:class:`ListFileError` before anything is written; row problems are :class:`RowError`\\ s
(row, column, why) and the other rows are imported. Numbers become
:class:`ivr.phone.CustomerNumber` here, at the edge; an error never repeats the number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaigns.model import CampaignError
from ivr.errors import Param
from ivr.phone import CustomerNumber, customer_number

NUMBER, NAME, TIMEZONE = "number", "name", "timezone"
APP_VARIABLES = frozenset({"institution", "bot_id", "call_id", "caller_index"})
"""Placeholders the app fills itself (not list columns)."""
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_CELL = 200


class ListFileError(CampaignError):
    """The file as a whole cannot be imported (nothing was written)."""

    code = "list.invalid"


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based, the header is row 1
    column: str
    why: str  # English; ``code`` and ``params`` are its message for a translation
    code: str = "list.row_invalid"
    params: Mapping[str, Param] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "row": self.row,
            "column": self.column,
            "why": self.why,
            "code": self.code,
            "params": dict(self.params),
        }


@dataclass(frozen=True, slots=True)
class ListRow:
    row: int
    number: CustomerNumber
    name: str | None
    timezone: str | None
    variables: Mapping[str, str]


def flow_placeholders(prompt_texts: Mapping[str, str | None], used: set[str],
                      defaults: set[str]) -> set[str]:  # fmt: skip
    """The ``{placeholders}`` of the prompts ``used`` that neither the app nor the flow's own
    ``variables`` fill: the list must supply them."""
    names: set[str] = set()
    for pid in used:
        text = prompt_texts.get(pid) or ""
        names.update(_PLACEHOLDER.findall(text))
    return names - APP_VARIABLES - defaults


def prompt_ids(node_data: Any, table: Mapping[str, object]) -> set[str]:
    """Every prompt id a flow's nodes name (fields called ``prompt``/``*_prompt(s)``)."""
    found: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and "prompt" in key and value in table:
            found.add(value)

    walk(node_data)
    return found


def _cells_csv(data: bytes) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ListFileError("the CSV file is not UTF-8 text", code="list.not_utf8") from None
    if "\x00" in text:
        raise ListFileError("the CSV file holds binary data", code="list.binary")
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as exc:
        raise ListFileError(
            f"malformed CSV: {exc}", code="list.malformed_csv", params={"detail": str(exc)}
        ) from None


def _cells_xlsx(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    # An uploaded workbook is untrusted bytes: whatever openpyxl, zipfile, zlib or the XML
    # parser raise on it (BadZipFile, zlib.error, KeyError, ParseError, TypeError...) means the
    # file is not a readable workbook, a user's error; found by fuzz/fuzz_lists.py.
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - see above
        raise ListFileError(
            f"not a readable XLSX workbook ({type(exc).__name__})", code="list.bad_xlsx"
        ) from None
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield ["" if v is None else _cell_text(v) for v in values]
    except Exception as exc:  # noqa: BLE001 - see above
        raise ListFileError(
            f"not a readable XLSX workbook ({type(exc).__name__})", code="list.bad_xlsx"
        ) from None
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number typed into a spreadsheet cell
    return str(value)


def read_cells(path: Path, data: bytes) -> Iterator[list[str]]:
    """The file's rows as lists of text cells (the header first)."""
    if path.suffix.lower() == ".xlsx" or data[:2] == b"PK":
        return _cells_xlsx(data)
    if path.suffix.lower() in (".csv", ".txt", ""):
        return _cells_csv(data)
    raise ListFileError(
        f"unsupported list file type {path.suffix!r} (CSV or XLSX)",
        code="list.file_type",
        params={"suffix": path.suffix},
    )


@dataclass(frozen=True, slots=True)
class Header:
    columns: tuple[str, ...]

    def index(self, name: str) -> int | None:
        return self.columns.index(name) if name in self.columns else None


def check_header(cells: list[str], required: set[str]) -> Header:
    """The header row checked against the columns the flow needs."""
    columns = tuple(c.strip().lower() for c in cells)
    while columns and not columns[-1]:
        columns = columns[:-1]
    if NUMBER not in columns:
        raise ListFileError("the list has no 'number' column", code="list.no_number_column")
    dup = sorted({c for c in columns if columns.count(c) > 1})
    if dup:
        raise ListFileError(
            f"duplicate columns: {', '.join(dup)}",
            code="list.duplicate_columns",
            params={"columns": ", ".join(dup)},
        )
    known = {NUMBER, NAME, TIMEZONE} | required
    unknown = [c or "(empty)" for c in columns if c not in known]
    if unknown:
        expected = ", ".join([NUMBER, NAME, TIMEZONE, *sorted(required)])
        raise ListFileError(
            f"unknown columns: {', '.join(unknown)} (expected {expected})",
            code="list.unknown_columns",
            params={"columns": ", ".join(unknown), "expected": expected},
        )
    missing = sorted(required - set(columns))
    if missing:
        raise ListFileError(
            f"the flow's prompts need columns: {', '.join(missing)}",
            code="list.missing_columns",
            params={"columns": ", ".join(missing)},
        )
    return Header(columns)


def check_row(
    row_no: int, cells: list[str], header: Header, region: str
) -> ListRow | RowError | None:
    """One data row: the row, its first error, or ``None`` for a blank line."""
    values = {c: (cells[i].strip() if i < len(cells) else "") for i, c in enumerate(header.columns)}
    if not any(values.values()) and not any(c.strip() for c in cells):
        return None
    for column, value in values.items():
        if len(value) > MAX_CELL:
            return RowError(
                row_no,
                column,
                f"longer than {MAX_CELL} characters",
                "list.cell_too_long",
                {"max": MAX_CELL},
            )
    raw = values[NUMBER]
    if not raw:
        return RowError(row_no, NUMBER, "empty", "list.number_empty")
    number = customer_number(raw, region)
    if number is None:
        return RowError(row_no, NUMBER, "not a valid phone number", "list.number_invalid")
    tz = values.get(TIMEZONE) or None
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            return RowError(
                row_no,
                TIMEZONE,
                "unknown time zone (IANA name, e.g. Asia/Shanghai)",
                "list.timezone_unknown",
            )
    variables = {}
    for column, value in values.items():
        if column in (NUMBER, NAME, TIMEZONE):
            continue
        if not value:
            return RowError(
                row_no, column, "empty (the flow's prompts use it)", "list.variable_empty"
            )
        variables[column] = value
    return ListRow(row_no, number, values.get(NAME) or None, tz, variables)
