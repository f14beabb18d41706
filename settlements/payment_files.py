"""The files of a treasury payment batch, without the database: the payment
instruction written as CSV or XLSX, and the bank's confirmation file (CSV or
XLSX) read into rows, each with what is wrong with it on its own.

Matching the rows against a batch is :mod:`settlements.payments`' business.
Money is read as ``Decimal``, never through float arithmetic.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from common.csv_safe import safe_writer
from common.errors import BusinessError, Code

#: The bank's confirmation file: at most this many bytes and data rows.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
#: A workbook that unpacks to more than this is refused (a zip bomb).
MAX_XLSX_UNPACKED = 50 * 1024 * 1024
#: Rows read from a workbook, blank ones included, before giving up.
MAX_PHYSICAL_ROWS = 10 * MAX_ROWS
#: At most this many problems are listed when a file is refused.
MAX_REPORTED = 200
CURRENCY = "CNY"

#: What a batch pays: a platform's settlement or an enterprise's claim (the
#: instruction's ``payout_type``).
SETTLEMENT = "settlement"
CLAIM = "claim"

#: The columns of the payment instruction, in order (stable: the treasury's
#: systems read them by name; the last three came with claims). A row pays
#: a settlement (``settlement_id``) or a claim (``claim_id``), never both;
#: ``payout`` says which in words: the settlement's period or "claim #id".
EXPORT_COLUMNS = (
    "settlement_id",
    "payee",
    "payee_uscc",
    "payee_bank",
    "payee_account",
    "amount_cny",
    "currency",
    "period",
    "program",
    "reference",
    "payout_type",
    "claim_id",
    "payout",
)
#: Columns holding ids: numbers in a workbook, every other column text.
ID_COLUMNS = ("settlement_id", "claim_id")
_WIDTHS = (14, 40, 22, 30, 26, 14, 9, 10, 30, 18, 12, 10, 16)
#: The columns of the bank's confirmation: a row names what it pays by
#: ``settlement_id``, ``claim_id`` or the instruction's ``reference`` (or an
#: id and the reference, which must agree).
CONFIRMATION_ID_COLUMNS = ("settlement_id", "claim_id", "reference")
CONFIRMATION_COLUMNS = ("amount_cny", "paid_on", "bank_reference")

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def refusal(
    summary: str, problems: Sequence[str] = (), *, field_name: str | None = "file"
) -> BusinessError:
    """A refusal of the file: ``summary``, and every problem in it (the first
    MAX_REPORTED of them)."""
    if not problems:
        return BusinessError(Code.VALIDATION_ERROR, summary, field_name)
    listed = list(problems[:MAX_REPORTED])
    if len(problems) > MAX_REPORTED:
        listed.append(_("… and %(count)d more problems.") % {"count": len(problems) - MAX_REPORTED})
    return BusinessError(Code.VALIDATION_ERROR, summary, field_name, messages=listed)


def row_problem(number: int, problem: str) -> str:
    """A problem of the file's row ``number`` (as a spreadsheet numbers it)."""
    return _("Row %(row)d: %(problem)s") % {"row": number, "problem": problem}


def reference_of(batch_id: int, payout_id: int, *, payout_type: str = SETTLEMENT) -> str:
    """The payment instruction's reference of one payout in one batch:
    ``CV-12-345`` for settlement #345, ``CV-12-C345`` for claim #345."""
    prefix = "C" if payout_type == CLAIM else ""
    return f"CV-{batch_id}-{prefix}{payout_id}"


_REFERENCE = re.compile(r"^CV-([0-9]{1,18})-(C?)([0-9]{1,18})$")


# --- The payment instruction --------------------------------------------------


@dataclass(frozen=True)
class PaymentInstruction:
    """One row of the payment instruction: pay ``amount_cny`` to ``payee``
    against a settlement (``settlement_id``, its ``period``) or a claim
    (``claim_id``)."""

    settlement_id: int | None
    payee: str
    payee_uscc: str
    payee_bank: str
    payee_account: str
    amount_cny: Decimal
    currency: str
    period: str
    program: str
    reference: str
    payout_type: str = SETTLEMENT
    claim_id: int | None = None
    payout: str = ""

    def cells(self) -> list[Any]:
        return [getattr(self, name) for name in EXPORT_COLUMNS]


def instructions_csv(rows: Sequence[PaymentInstruction]) -> bytes:
    """The rows as CSV: UTF-8 with a BOM, a header of EXPORT_COLUMNS, no cell a formula."""
    out = io.StringIO()
    writer = safe_writer(out)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(row.cells() for row in rows)
    # UTF-8 with a byte-order mark, so spreadsheet programs read Chinese correctly.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def instructions_xlsx(rows: Sequence[PaymentInstruction], *, title: str) -> bytes:
    """The rows as one XLSX sheet named ``title``: amounts as numbers, the rest text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = title[:31]
    sheet.append(list(EXPORT_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row.cells())
        for cell, name in zip(sheet[sheet.max_row], EXPORT_COLUMNS, strict=True):
            if name == "amount_cny":
                cell.number_format = "0.00"
            elif name not in ID_COLUMNS:
                # Text stays text: an account number keeps its digits and a
                # name starting with "=" is never a formula.
                cell.data_type = "s"
    for index, width in enumerate(_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- The bank's confirmation ---------------------------------------------------


def _unreadable() -> BusinessError:
    return refusal(_("The file is neither a readable CSV file nor an XLSX workbook."))


def _too_many_rows() -> BusinessError:
    return refusal(
        _("The file has more than %(count)s rows; split it.") % {"count": f"{MAX_ROWS:,}"}
    )


def _blank(cells: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _xlsx_rows(content: bytes) -> list[tuple[int, list[Any]]]:
    """The first sheet's non-blank rows as (row number, values)."""
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _unreadable() from exc
    if unpacked > MAX_XLSX_UNPACKED:
        raise refusal(_("The workbook is too large once unpacked."))
    rows: list[tuple[int, list[Any]]] = []
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a malformed workbook
        raise _unreadable() from exc
    try:
        if not book.worksheets:
            raise _unreadable()
        for number, values in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1):
            if number > MAX_PHYSICAL_ROWS:
                raise _too_many_rows()
            cells = list(values)
            if _blank(cells):
                continue
            rows.append((number, cells))
            if len(rows) > MAX_ROWS + 1:
                raise _too_many_rows()
    except BusinessError:
        raise
    except Exception as exc:
        raise _unreadable() from exc
    finally:
        book.close()
    return rows


def _csv_rows(content: bytes) -> list[tuple[int, list[Any]]]:
    """The non-blank records as (record number, cells); UTF-8, else GB18030
    (what Chinese banks' systems often write)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        break
    else:
        raise _unreadable()
    rows: list[tuple[int, list[Any]]] = []
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            if _blank(list(cells)):
                continue
            rows.append((number, list(cells)))
            if len(rows) > MAX_ROWS + 1:
                raise _too_many_rows()
    except csv.Error as exc:
        raise _unreadable() from exc
    return rows


def _read_rows(file_name: str, content: bytes) -> list[tuple[int, list[Any]]]:
    name = (file_name or "").lower()
    if content.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise refusal(_("Save the file as CSV or XLSX: old .xls files are not read."))
    if content.startswith(b"PK\x03\x04") or name.endswith((".xlsx", ".xlsm")):
        return _xlsx_rows(content)
    return _csv_rows(content)


class _Bad(Exception):
    """A cell that cannot be read; its message says why."""


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


#: Why an id column's cell cannot be read, by column.
_NOT_A_NUMBER = {
    "settlement_id": gettext_noop("The settlement_id “%(value)s” is not a number."),
    "claim_id": gettext_noop("The claim_id “%(value)s” is not a number."),
}
#: An id column and the reference naming different payouts, by the id's column.
_DISAGREE = {
    "settlement_id": gettext_noop(
        "The settlement_id %(id)s and the reference %(reference)s disagree."
    ),
    "claim_id": gettext_noop("The claim_id %(id)s and the reference %(reference)s disagree."),
}


def _payout_id(value: Any, column: str) -> int | None:
    """The id in an id column's cell (``settlement_id`` or ``claim_id``), or None when blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**18:
        return value
    if isinstance(value, float) and value.is_integer() and 0 < value < 10**18:
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,18}", value.strip()):
        return int(value.strip())
    raise _Bad(_(_NOT_A_NUMBER[column]) % {"value": _text(value)[:40]})


_AMOUNT = re.compile(r"^(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]{1,2})?$")
#: Amounts are stored with 16 digits, two of them decimals.
_AMOUNT_LIMIT = Decimal(10) ** 14


def _amount(value: Any) -> Decimal:
    """An amount of yuan to the fen, never through float arithmetic.

    A workbook's number cell arrives as a float: it is read through its
    shortest exact text (``repr``) and taken only with at most two decimals;
    anything finer is refused rather than rounded."""
    not_amount = _Bad(
        _("The amount_cny “%(value)s” is not an amount of yuan (like 1234.50).")
        % {"value": _text(value)[:40]}
    )
    if value is None or isinstance(value, bool):
        raise not_amount
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float | Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            raise not_amount
        try:
            number = Decimal(repr(value) if isinstance(value, float) else value)
        except InvalidOperation as exc:
            raise not_amount from exc
        exponent = number.as_tuple().exponent
        if not number.is_finite() or (isinstance(exponent, int) and exponent < -2):
            raise not_amount
    else:
        text = _text(value)
        if not _AMOUNT.match(text):
            raise not_amount
        number = Decimal(text.replace(",", ""))
    if number <= 0 or number >= _AMOUNT_LIMIT:
        raise not_amount
    return number.quantize(Decimal("0.01"))


def _paid_on(value: Any) -> datetime.date:
    bad = _Bad(
        _("The paid_on “%(value)s” is not a date like 2026-03-31.") % {"value": _text(value)[:40]}
    )
    if isinstance(value, datetime.datetime):
        if value.time() != datetime.time(0):
            raise bad
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = _text(value)
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise bad
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise bad from exc


def _bank_reference(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, float):
        # A long serial number typed as a number has lost digits in the
        # spreadsheet: only a whole number a float holds exactly is taken.
        if not (math.isfinite(value) and value.is_integer() and abs(value) < 10**15):
            raise _Bad(_("Give the bank_reference as text."))
        text = str(int(value))
    else:
        text = _text(value)
    if not text:
        raise _Bad(_("The bank_reference is missing."))
    if len(text) > 100:
        raise _Bad(_("The bank_reference is longer than 100 characters."))
    return text


@dataclass
class ConfirmationLine:
    """One row of the bank's file, read, with what is wrong with it on its own.
    A row names a settlement (``settlement_id``) or a claim (``claim_id``)."""

    number: int
    settlement_id: int | None = None
    claim_id: int | None = None
    amount_cny: Decimal | None = None
    paid_on: datetime.date | None = None
    bank_reference: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def payout(self) -> tuple[str, int] | None:
        """What the row pays, as (payout type, id), or None when it names nothing."""
        if self.settlement_id is not None:
            return SETTLEMENT, self.settlement_id
        if self.claim_id is not None:
            return CLAIM, self.claim_id
        return None


def _header(number: int, cells: list[Any]) -> dict[str, int]:
    """Column name → index, or the refusal of a header that lacks columns."""
    names = [_text(c).lstrip("\ufeff").strip().lower() for c in cells]
    problems = []
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        problems.append(
            _("The header names these columns twice: %(columns)s.")
            % {"columns": ", ".join(duplicates)}
        )
    missing = [c for c in CONFIRMATION_COLUMNS if c not in names]
    if not any(c in names for c in CONFIRMATION_ID_COLUMNS):
        missing.insert(0, "settlement_id")
    if missing:
        problems.append(
            _(
                "The header lacks the columns %(missing)s (it needs settlement_id or "
                "reference, amount_cny, paid_on and bank_reference)."
            )
            % {"missing": ", ".join(missing)}
        )
    if problems:
        raise refusal(
            _("The file's header is not the bank confirmation's."),
            [row_problem(number, p) for p in problems],
        )
    return {name: i for i, name in enumerate(names) if name}


def _read_line(
    number: int, cells: list[Any], columns: dict[str, int], batch_id: int
) -> ConfirmationLine:
    line = ConfirmationLine(number=number)

    def cell(name: str) -> Any:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else None

    # What the id columns name, as (column, id), and what the reference names.
    from_ids: list[tuple[str, int]] = []
    for column in ID_COLUMNS:
        try:
            found = _payout_id(cell(column), column)
        except _Bad as exc:
            line.problems.append(str(exc))
        else:
            if found is not None:
                from_ids.append((column, found))
    if len(from_ids) > 1:
        line.problems.append(_("The row gives both a settlement_id and a claim_id; give one."))
    from_reference: tuple[str, int] | None = None
    reference = _text(cell("reference")).upper()
    if reference:
        match = _REFERENCE.match(reference)
        if match is None:
            line.problems.append(
                _("The reference “%(value)s” is not one of ours (like CV-12-345).")
                % {"value": reference[:40]}
            )
        elif int(match[1]) != batch_id:
            line.problems.append(
                _("The reference %(reference)s is of another batch (#%(batch)s).")
                % {"reference": reference, "batch": match[1]}
            )
        else:
            from_reference = (CLAIM if match[2] else SETTLEMENT, int(match[3]))
    named: tuple[str, int] | None = None
    if len(from_ids) == 1:
        column, pk = from_ids[0]
        named = (CLAIM if column == "claim_id" else SETTLEMENT, pk)
        if from_reference is not None and from_reference != named:
            line.problems.append(_(_DISAGREE[column]) % {"id": pk, "reference": reference})
    elif not from_ids:
        named = from_reference
    if named is not None:
        if named[0] == CLAIM:
            line.claim_id = named[1]
        else:
            line.settlement_id = named[1]
    elif not line.problems:
        line.problems.append(
            _("The row names no settlement or claim (settlement_id, claim_id or reference).")
        )
    for name, parse in (
        ("amount_cny", _amount),
        ("paid_on", _paid_on),
        ("bank_reference", _bank_reference),
    ):
        try:
            setattr(line, name, parse(cell(name)))
        except _Bad as exc:
            line.problems.append(str(exc))
    return line


def read_confirmation(*, file_name: str, content: bytes, batch_id: int) -> list[ConfirmationLine]:
    """The rows of the bank's confirmation of batch ``batch_id`` (CSV, or XLSX
    by its name or its first bytes), each read on its own. A file that is too
    large, unreadable, without a proper header or without rows is refused."""
    if not isinstance(content, bytes) or not content:
        raise refusal(_("The file is empty."))
    if len(content) > MAX_FILE_BYTES:
        raise refusal(
            _("The file is larger than %(size)d MB; split it.")
            % {"size": MAX_FILE_BYTES // (1024 * 1024)}
        )
    rows = _read_rows(file_name, content)
    if not rows:
        raise refusal(_("The file has no rows."))
    header_number, header_cells = rows[0]
    columns = _header(header_number, header_cells)
    lines = [_read_line(number, cells, columns, batch_id) for number, cells in rows[1:]]
    if not lines:
        raise refusal(_("The file has a header but no payments."))
    return lines
