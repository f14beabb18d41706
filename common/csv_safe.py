"""The one CSV writer every export uses: no cell is ever a spreadsheet formula.

A spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or
``@`` as a formula (``=HYPERLINK(...)`` sends whoever opens the file to an
attacker's site; ``=cmd|...`` ran programs in older Excel), and a leading tab
or carriage return hides such a prefix from a naive check. Values that come
from outside — a platform's ``reference``, an enterprise's or a program's
name, a note — reach ledgers, settlements, reports and audit exports, so
every text cell is neutralised the way OWASP recommends ("CSV Injection"):
a cell that starts with one of those characters gets a leading ``'``, which
spreadsheets show as text and never evaluate.

Numbers stay numbers: a ``Decimal``, ``int`` or ``float`` cell is written as
it is, so a genuine negative amount (``-50.00``) remains a negative number
in the spreadsheet. Only strings (and anything else, once turned into a
string) are neutralised.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

#: A cell starting with one of these is read as a formula by some spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, s: str, /) -> Any: ...


def safe_cell(value: Any) -> Any:
    """Return ``value`` as a cell no spreadsheet will evaluate.

    ``None`` is an empty cell; numbers (not booleans) are kept as numbers;
    everything else becomes text, prefixed with ``'`` when it would start a
    formula.
    """
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class SafeCsvWriter:
    """A ``csv.writer`` whose every row goes through :func:`safe_cell`."""

    def __init__(self, target: _Writable, **fmtparams: Any) -> None:
        self._writer = csv.writer(target, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        """Write one row (returns what the target's ``write`` returned)."""
        return self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write every row of ``rows``."""
        for row in rows:
            self.writerow(row)


def safe_writer(target: _Writable, **fmtparams: Any) -> SafeCsvWriter:
    """Return the safe CSV writer over ``target`` (a response, a buffer, ...)."""
    return SafeCsvWriter(target, **fmtparams)
