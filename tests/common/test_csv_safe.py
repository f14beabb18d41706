"""The one safe CSV writer: text never becomes a formula, numbers stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from common.csv_safe import safe_cell, safe_writer


@pytest.mark.parametrize(
    "text", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")', "-"]
)
def test_text_that_a_spreadsheet_would_evaluate_is_quoted(text: str) -> None:
    assert safe_cell(text) == "'" + text


def test_harmless_text_none_and_numbers_pass_unchanged() -> None:
    assert safe_cell("inv-1") == "inv-1"
    assert safe_cell("江汉区") == "江汉区"
    assert safe_cell(None) == ""
    assert safe_cell(Decimal("-50.00")) == Decimal("-50.00")
    assert safe_cell(-3) == -3
    assert safe_cell(True) == "True"


def test_the_writer_neutralises_every_cell_of_every_row() -> None:
    out = io.StringIO()
    writer = safe_writer(out)
    writer.writerow(["=cmd|' /C calc'!A0", Decimal("-1.50"), "ok"])
    writer.writerows([["@x", None, 7]])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [["'=cmd|' /C calc'!A0", "-1.50", "ok"], ["'@x", "", "7"]]
