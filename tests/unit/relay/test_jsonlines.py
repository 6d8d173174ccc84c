"""JSON Lines input (CLI files, API ndjson bodies): every bad line is named at once."""

from __future__ import annotations

import pytest

from relay.errors import InvalidInput
from relay.jsonlines import parse_lines


def test_lines_are_numbered_as_in_the_file_and_blank_lines_skipped():
    assert parse_lines('{"a": 1}\n\n  \n[2]\n') == [("line 1", {"a": 1}), ("line 4", [2])]


def test_every_bad_line_is_named_not_only_the_first():
    with pytest.raises(InvalidInput) as caught:
        parse_lines('{"a": 1}\n{oops\n{"b": 2}\nnot json\n')
    assert [field for field, _ in caught.value.errors] == ["line 2", "line 4"]
    assert all(msg.startswith("not valid JSON: ") for _, msg in caught.value.errors)


def test_an_input_with_no_lines_names_what_is_empty():
    with pytest.raises(InvalidInput, match="no customers in the audience") as caught:
        parse_lines("\n \n", what="audience", items="customers")
    assert caught.value.field == "audience"
