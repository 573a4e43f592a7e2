"""The kernel's YAML-with-line-numbers loader: plain data and lines, or an error naming a line."""

from __future__ import annotations

import pytest

from ivr.yaml_lines import YamlSyntaxError, line_for, parse_located


def test_data_and_the_line_of_every_key_and_item() -> None:
    located = parse_located(b"a: 1\nb:\n  - x\n  - {c: 2}\n")
    assert located.data == {"a": 1, "b": ["x", {"c": 2}]}
    assert located.lines[("b", 1)] == 4
    assert line_for(located, ("b", 1, "c")) == 4
    assert line_for(located, ("b", "tag-of-a-union", 0)) == 3  # parts not in the data skipped


@pytest.mark.parametrize(
    ("source", "line", "why"),
    [
        ("ok: 1\n名字: 营销\n".encode("gbk"), 2, "not UTF-8"),
        (b"a: 1\nb: \x00\x01", 2, "binary"),
        (b"a: 1\nb: !!python/object/apply:os.getcwd []\n", 2, "unsupported tag"),
        (b"a: 1\nb: !!python/name:os.system ''\n", 2, "constructor"),
        (b"a: 1\nb: !custom 3\n", 2, "constructor"),
        (b"a: 1\na: 2\n", 2, "duplicate key 'a'"),
        (b"a: [1, 2\n", 2, "expected"),
        (b"a: &x [*x]\n", 1, "nested deeper"),
        (b"a: \x07\n", 1, "not allowed"),
    ],
)
def test_anything_but_plain_yaml_data_is_an_error_with_a_line(
    source: bytes, line: int, why: str
) -> None:
    with pytest.raises(YamlSyntaxError) as info:
        parse_located(source)
    assert info.value.line == line
    assert why in str(info.value)


def test_duplicate_key_names_its_path() -> None:
    with pytest.raises(YamlSyntaxError) as info:
        parse_located("top:\n  k: 1\n  k: 2\n")
    assert info.value.field == "top.k"


def test_an_empty_document_has_no_data() -> None:
    assert parse_located("# only a comment\n").data is None
    assert parse_located(b"\xef\xbb\xbfa: 1\n").data == {"a": 1}  # a UTF-8 BOM is fine
