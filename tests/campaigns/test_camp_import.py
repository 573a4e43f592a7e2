"""List import (issue 14 item 2): CSV and XLSX, per-row errors, placeholders, merged duplicates,
sealed numbers only, idempotent re-import; bad files write nothing."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from camp_support import cust, fresh_numbers
from openpyxl import Workbook

from campaigns.listfile import ListFileError
from campaigns.queue import contact_context
from campaigns.tables import attempts, contacts, imports
from records.sealed_number import SealedNumber


def rows_of(env, table) -> list[dict[str, Any]]:
    with env.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table))]


def test_csv_import_seals_numbers_merges_duplicates_and_reports_rows(sqlite_env, tmp_path) -> None:
    env = sqlite_env
    camp = env.campaign()
    a, b = fresh_numbers(2)
    text = (
        "number,name,timezone,product\n"
        f"{a},张三,,稳健理财\n"
        f"+86 {a[:3]} {a[3:7]} {a[7:]},张三,,稳健理财\n"  # the same number written otherwise
        "12345,bad,,x\n"
        f"{b},,Mars/Olympus,x\n"
        f"{b},李四,Asia/Urumqi,\n"
        "\n"
        f"{b},李四,Asia/Urumqi,理财\n"
    )
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    result = env.importer.import_file(camp, path, placeholders={"product"}, now=env.clock())
    assert (result.rows, result.accepted, result.merged) == (6, 2, 1)
    assert [(e.row, e.column, e.why) for e in result.errors] == [
        (4, "number", "not a valid phone number"),
        (5, "timezone", "unknown time zone (IANA name, e.g. Asia/Shanghai)"),
        (6, "product", "empty (the flow's prompts use it)"),
    ]
    assert all(a[-4:] not in str(e.as_dict()) for e in result.errors)  # never the number
    stored = rows_of(env, contacts)
    assert len(stored) == 2 and len(rows_of(env, attempts)) == 2
    raw = path.read_bytes()
    for row in stored:  # inv11: only blind index, masked form and ciphertext
        assert a.encode() not in row["number_sealed"] and b.encode() not in row["number_sealed"]
        assert "*" in row["masked_number"]
        sealed = SealedNumber(row["number_bi"], row["masked_number"], row["key_id"],
                              row["wrapped_key"], row["number_sealed"])  # fmt: skip
        opened = env.sealer.unseal(sealed, contact_context(row["id"]))
        assert opened in (cust(a), cust(b))
    assert raw  # (the file itself is the caller's)
    again = env.importer.import_file(camp, path, placeholders={"product"}, now=env.clock())
    assert again.repeated and again.accepted == 2
    assert len(rows_of(env, contacts)) == 2 and len(rows_of(env, imports)) == 1


def test_xlsx_import(sqlite_env, tmp_path) -> None:
    env = sqlite_env
    camp = env.campaign()
    numbers = fresh_numbers(3)
    book = Workbook()
    sheet = book.active
    sheet.append(["Number", "Name"])
    for n in numbers:
        sheet.append([int(n), "客户"])  # typed as numbers in the spreadsheet
    sheet.append(["not a number", "x"])
    path = tmp_path / "list.xlsx"
    book.save(path)
    result = env.importer.import_file(camp, path, placeholders=set(), now=env.clock())
    assert (result.accepted, len(result.errors)) == (3, 1)
    assert result.errors[0].row == 5


@pytest.mark.parametrize(
    ("content", "placeholders", "why", "code"),
    [
        (b"", set(), "empty", "list.empty"),
        (b"name\nx\n", set(), "no 'number' column", "list.no_number_column"),
        (
            b"number,colour\n13900000000,red\n",
            set(),
            "unknown columns: colour",
            "list.unknown_columns",
        ),
        (b"number\n13900000000\n", {"product"}, "need columns: product", "list.missing_columns"),
        (b"number\n", set(), "no rows", "list.no_rows"),
        (b"\xff\xfe\x00n\x00u", set(), "not UTF-8", "list.not_utf8"),
        (b"PK\x03\x04garbage", set(), "XLSX", "list.bad_xlsx"),
    ],
)
def test_bad_files_are_refused_and_write_nothing(sqlite_env, tmp_path, content, placeholders,
                                                 why, code) -> None:  # fmt: skip
    """Each refusal names its own message code (the console says why in Chinese, not the
    generic 'the list cannot be imported')."""
    env = sqlite_env
    camp = env.campaign()
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ListFileError, match=why) as refused:
        env.importer.import_file(camp, path, placeholders=placeholders, now=env.clock())
    assert refused.value.code == code
    assert rows_of(env, contacts) == [] and rows_of(env, imports) == []
