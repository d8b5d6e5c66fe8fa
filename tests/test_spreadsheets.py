"""Every CSV the registry writes: no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from api.tables import csv_answer
from registry.spreadsheets import csv_cell


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_text_that_starts_a_formula_is_quoted(text: str) -> None:
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["王立新", "2026-11-26", "a=b", "", 3, None])
def test_other_cells_are_left_alone(value: object) -> None:
    assert csv_cell(value) == value


def test_a_csv_answer_quotes_every_such_cell_and_keeps_the_rest() -> None:
    text = csv_answer(["row", "name"], [[1, '=HYPERLINK("x")'], [2, "张伟"], [-3, "@x"]])
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [["row", "name"], ["1", '\'=HYPERLINK("x")'], ["2", "张伟"], ["-3", "'@x"]]
