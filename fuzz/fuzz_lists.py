"""Campaign list harness: :mod:`campaigns.listfile` on raw file bytes, CSV and XLSX alike.

The importer's reading path without SQL: :func:`read_cells` (the first input byte picks the
file name the upload had, ``.csv`` or ``.xlsx``), :func:`check_header` for a flow whose prompts
use ``{amount}``, then :func:`check_row` on every row. Contract: rows, per-row
:class:`RowError`\\ s or a :class:`ListFileError` for the file; nothing else escapes (a
malformed workbook, a binary CSV, an absurd time zone are the user's errors, not crashes).
Properties: a row error names a row after the header and a column of the header, and never
repeats the digits the cell held (it may be a customer's number).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from campaigns.listfile import ListFileError, RowError, check_header, check_row, read_cells

PLACEHOLDERS = {"amount"}
NAMES = (Path("list.csv"), Path("list.xlsx"))


def check(data: bytes) -> None:
    if not data:
        return
    path, body = NAMES[data[0] % 2], data[1:]
    try:
        cells = iter(read_cells(path, body))
        header_cells = next(cells, None)
        if header_cells is None:
            return
        header = check_header(header_cells, PLACEHOLDERS)
        for n, row in enumerate(cells, start=2):
            result = check_row(n, row, header, "CN")
            if isinstance(result, RowError):
                if result.row != n or result.column not in header.columns:
                    raise AssertionError(f"row error at the wrong place: {result}")
                at = header.columns.index(result.column)
                cell = row[at] if at < len(row) else ""
                digits = "".join(ch for ch in cell if ch.isdigit())
                if len(digits) >= 4 and digits in "".join(ch for ch in result.why if ch.isdigit()):
                    raise AssertionError("a row error repeats the cell's digits")
    except ListFileError:
        return


def _xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


SAMPLE = [
    ["number", "name", "timezone", "amount"],
    ["13912345678", "张三", "Asia/Shanghai", "1000"],
    ["+86 139 1234 5679", "", "", "20"],
    ["12345", "bad", "Mars/Olympus", "3"],
    ["", "", "", ""],
]


def seeds() -> Iterator[bytes]:
    csv_text = "\n".join(",".join(str(c) for c in row) for row in SAMPLE) + "\n"
    yield b"\x00" + csv_text.encode("utf-8")
    yield b"\x00" + b"\xef\xbb\xbfnumber,amount\r\n02161234567,5\r\n"
    yield b"\x01" + _xlsx([[*r[:3], 1000.0 if i else r[3]] for i, r in enumerate(SAMPLE)])
