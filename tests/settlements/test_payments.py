"""Treasury payment batches (settlements.payments): a finance officer bundles
the outstanding amounts of the district's approved settlements, exports the
instruction (CSV, XLSX: account numbers in clear in the file, encrypted in
the database), and the bank's confirmation file records the payments, all or
nothing, or is refused row by row."""

from __future__ import annotations

import csv
import datetime
import io
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

import settlements.admin_payments  # noqa: F401  (registers the batch admin; settlements/admin.py will import it)
from accounts.models import ComputePlatform
from audit.models import AuditEvent
from common.errors import BusinessError
from settlements.models import Payment, PaymentBatch, PaymentBatchItem, Settlement
from settlements.payment_files import EXPORT_COLUMNS, MAX_ROWS
from settlements.payments import (
    payment_batch_confirm,
    payment_batch_create,
    payment_batch_csv,
    payment_batch_export,
    payment_batch_rows,
    payment_batch_xlsx,
)
from settlements.services import (
    settlement_approve,
    settlement_pass_on,
    settlement_payment_record,
    settlement_start_review,
    settlement_submit,
)
from tests.accounts.factories import ComputePlatformFactory, EnterpriseFactory, make_uscc
from tests.settlements.factories import (
    SettleWorld,
    actor,
    build,
    charge,
    drawn,
    last_month_instant,
    settlement_of_last_month,
)
from tests.vouchers.factories import client_for, platform_actor, with_mfa

pytestmark = pytest.mark.django_db

ACCOUNT = "6222020200112233445"
OTHER_ACCOUNT = "6217000010009876543"


def with_bank(platform: ComputePlatform, account: str = ACCOUNT) -> ComputePlatform:
    platform.bank_account_name = f"{platform.name}有限公司"
    platform.bank_name = "中国工商银行武汉江汉支行"
    platform.bank_account_number = account
    platform.operator_uscc = make_uscc("420103")
    platform.save()
    return platform


def approve(world: SettleWorld, settlement: Settlement) -> Settlement:
    settlement = settlement_submit(
        actor=platform_actor(settlement.platform),
        platform=settlement.platform,
        settlement_id=settlement.pk,
        invoice_number=f"INV-{settlement.pk}",
        invoice_amount=settlement.amount_due,
    )
    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    settlement = settlement_pass_on(actor=actor(world.reviewer), settlement=settlement)
    return settlement_approve(actor=actor(world.finance), settlement=settlement)


@dataclass
class Paying:
    world: SettleWorld
    first: Settlement  # 300.00 to the world's platform
    second: Settlement  # 600.00 to a second platform
    second_platform: ComputePlatform


@pytest.fixture
def paying() -> Paying:
    world = build()
    charge(world, billed="1000", reference="inv-1", at=last_month_instant())
    first = approve(world, drawn(world))
    second_platform = ComputePlatformFactory()
    second = approve(
        world, settlement_of_last_month(world.program, second_platform, EnterpriseFactory())
    )
    with_bank(world.platform)
    with_bank(second_platform, OTHER_ACCOUNT)
    return Paying(world=world, first=first, second=second, second_platform=second_platform)


def make_batch(p: Paying, **kwargs: Any) -> PaymentBatch:
    return payment_batch_create(
        actor=actor(p.world.finance),
        district=p.world.program.district,
        payer_account="JH-FIN-01",
        **kwargs,
    )


def bank_csv(
    *rows: tuple[Any, ...], header: str = "settlement_id,amount_cny,paid_on,bank_reference"
):
    lines = [header, *(",".join(str(c) for c in row) for row in rows)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def today() -> str:
    return timezone.localdate().isoformat()


def confirm(p: Paying, batch: PaymentBatch, content: bytes, name: str = "bank.csv") -> Any:
    return payment_batch_confirm(
        actor=actor(p.world.finance), batch=batch, file_name=name, content=content
    )


# --- Making a batch ------------------------------------------------------------


def test_a_finance_officer_bundles_what_is_left_to_pay_of_the_districts_approved_settlements(
    paying: Paying,
) -> None:
    p = paying
    batch = make_batch(p)
    assert batch.status == PaymentBatch.Status.EXPORTED
    assert batch.district == p.world.program.district
    items = {item.settlement_id: item for item in batch.items.all()}
    assert set(items) == {p.first.pk, p.second.pk}
    first = items[p.first.pk]
    assert first.amount == first.amount_cny == Decimal("300.00")
    assert items[p.second.pk].amount_cny == Decimal("600.00")
    assert first.payee == f"{p.world.platform.name}有限公司"
    assert first.payee_uscc == p.world.platform.operator_uscc
    assert first.payee_bank == "中国工商银行武汉江汉支行"
    assert first.payee_account == ACCOUNT
    event = AuditEvent.objects.get(event_type="payment_batch.created", object_id=str(batch.pk))
    assert event.actor_user == p.world.finance
    assert event.district_id == batch.district_id
    assert event.after["total_cny"] == "900.00"
    assert sorted(event.after["settlements"]) == sorted([p.first.pk, p.second.pk])


def test_without_an_account_name_the_operator_is_the_payee(paying: Paying) -> None:
    p = paying
    p.world.platform.bank_account_name = ""
    p.world.platform.save()
    batch = make_batch(p, settlements=[p.first])
    assert batch.items.get().payee == p.world.platform.operator


def test_a_partly_paid_settlement_is_batched_for_what_is_left(paying: Paying) -> None:
    p = paying
    settlement_payment_record(
        actor=actor(p.world.finance),
        settlement=p.first,
        amount=Decimal("100.00"),
        paid_on=timezone.localdate(),
        payer_account="JH-FIN-01",
        bank_reference="MANUAL-1",
    )
    batch = make_batch(p, settlements=[p.first])
    assert batch.items.get().amount == Decimal("200.00")


def test_the_account_number_is_stored_encrypted(paying: Paying) -> None:
    batch = make_batch(paying)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT payee_account FROM settlements_paymentbatchitem WHERE batch_id = %s",
            [batch.pk],
        )
        stored = [row[0] for row in cursor.fetchall()]
    assert len(stored) == 2
    for value in stored:
        assert value.startswith("fernet:")
        assert ACCOUNT not in value and OTHER_ACCOUNT not in value


def test_a_settlement_in_a_batch_waiting_for_the_bank_is_not_batched_again(
    paying: Paying,
) -> None:
    p = paying
    make_batch(p)
    with pytest.raises(BusinessError) as nothing_left:
        make_batch(p)
    assert "No approved settlement" in nothing_left.value.message
    with pytest.raises(BusinessError) as again:
        make_batch(p, settlements=[p.first])
    assert any(
        f"Settlement #{p.first.pk}" in m and "already in a payment batch" in m
        for m in again.value.messages
    )
    assert PaymentBatch.objects.count() == 1


def test_a_platform_without_bank_details_is_refused_by_name(paying: Paying) -> None:
    p = paying
    p.second_platform.bank_account_number = ""
    p.second_platform.save()
    with pytest.raises(BusinessError) as refused:
        make_batch(p)
    assert any(
        str(p.second_platform) in m and "no bank details" in m for m in refused.value.messages
    )
    assert not PaymentBatch.objects.exists()
    assert not PaymentBatchItem.objects.exists()


def test_an_empty_batch_is_refused() -> None:
    world = build()
    with pytest.raises(BusinessError) as refused:
        payment_batch_create(
            actor=actor(world.finance), district=world.program.district, payer_account="JH-1"
        )
    assert "No approved settlement" in refused.value.message


def test_a_settlement_of_another_district_is_refused_by_name(
    paying: Paying,
) -> None:
    p = paying
    outsider = build_outsider_settlement(p)
    with pytest.raises(BusinessError) as refused:
        make_batch(p, settlements=[outsider])
    assert any("another district" in m for m in refused.value.messages)


def build_outsider_settlement(p: Paying) -> Settlement:
    from tests.programs.factories import ProgramFactory

    program = ProgramFactory(
        district=p.world.outsider_finance.memberships.get().district,
        voucher_validity_days=400,
        per_charge_cap=None,
    )
    return settlement_of_last_month(program, ComputePlatformFactory(), EnterpriseFactory())


def test_the_payer_account_is_required(paying: Paying) -> None:
    with pytest.raises(BusinessError) as refused:
        payment_batch_create(
            actor=actor(paying.world.finance),
            district=paying.world.program.district,
            payer_account="  ",
        )
    assert refused.value.field == "payer_account"


# --- The instruction ---------------------------------------------------------------


def test_the_csv_instruction_shows_the_account_numbers_in_clear_and_is_recorded(
    paying: Paying,
) -> None:
    p = paying
    batch = make_batch(p)
    exported = payment_batch_export(actor=actor(p.world.finance), batch=batch, file_format="csv")
    assert exported.content.startswith("\ufeff".encode())
    assert exported.file_name == f"payment-batch-{batch.pk}.csv"
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    by_id = {int(r[0]): dict(zip(EXPORT_COLUMNS, r, strict=True)) for r in rows[1:]}
    first = by_id[p.first.pk]
    assert first["payee_account"] == ACCOUNT
    assert first["amount_cny"] == "300.00"
    assert first["currency"] == "CNY"
    assert first["period"] == p.first.period
    assert first["program"] == p.world.program.name
    assert first["reference"] == f"CV-{batch.pk}-{p.first.pk}"
    assert by_id[p.second.pk]["payee_account"] == OTHER_ACCOUNT
    assert exported.content == payment_batch_csv(batch)
    event = AuditEvent.objects.filter(event_type="payment_batch.exported").latest("id")
    assert event.after["format"] == "csv"
    assert event.after["rows"] == 2


def test_the_xlsx_instruction_keeps_account_numbers_as_text_and_amounts_as_numbers(
    paying: Paying,
) -> None:
    p = paying
    batch = make_batch(p)
    exported = payment_batch_export(actor=actor(p.world.finance), batch=batch, file_format="xlsx")
    sheet = load_workbook(io.BytesIO(exported.content)).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == EXPORT_COLUMNS
    row = dict(zip(EXPORT_COLUMNS, values[1], strict=True))
    assert row["settlement_id"] == p.first.pk
    assert row["payee_account"] == ACCOUNT
    assert Decimal(repr(row["amount_cny"])) == Decimal("300")
    assert row["reference"] == f"CV-{batch.pk}-{p.first.pk}"
    assert len(payment_batch_xlsx(batch)) > 0
    assert AuditEvent.objects.filter(event_type="payment_batch.exported").count() == 1


def test_a_payee_name_is_never_a_formula_in_the_export(paying: Paying) -> None:
    p = paying
    p.world.platform.bank_account_name = '=HYPERLINK("http://evil.example","x")'
    p.world.platform.save()
    batch = make_batch(p)
    text = payment_batch_csv(batch).decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    sheet = load_workbook(io.BytesIO(payment_batch_xlsx(batch))).worksheets[0]
    cell = sheet.cell(row=2, column=2)
    assert cell.data_type == "s"
    assert payment_batch_rows(batch)[0].payee.startswith("=")


# --- The bank's confirmation --------------------------------------------------------


def test_a_matching_confirmation_records_the_payments_and_confirms_the_batch(
    paying: Paying,
) -> None:
    p = paying
    batch = make_batch(p)
    payments = confirm(
        p,
        batch,
        bank_csv(
            (p.first.pk, "300.00", today(), "ICBC-0001"),
            (p.second.pk, "600.00", today(), "ICBC-0002"),
        ),
    )
    assert len(payments) == 2
    for settlement, reference in ((p.first, "ICBC-0001"), (p.second, "ICBC-0002")):
        settlement.refresh_from_db()
        assert settlement.status == Settlement.Status.PAID
        assert settlement.payment_reference == reference
        payment = Payment.objects.get(settlement=settlement)
        assert payment.batch == batch
        assert payment.payer_account == "JH-FIN-01"
        assert payment.bank_reference == reference
        assert PaymentBatchItem.objects.get(batch=batch, settlement=settlement).payment == payment
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.CONFIRMED
    assert batch.confirmed_at is not None
    kinds = list(
        AuditEvent.objects.filter(object_type="settlements.settlement", object_id=str(p.first.pk))
        .order_by("id")
        .values_list("event_type", flat=True)
    )
    assert kinds[-2:] == ["settlement.payment_recorded", "settlement.paid"]
    batch_events = list(
        AuditEvent.objects.filter(object_type="settlements.paymentbatch", object_id=str(batch.pk))
        .order_by("id")
        .values_list("event_type", "after__status")
    )
    assert batch_events == [
        ("payment_batch.created", "exported"),
        ("payment_batch.confirmed", "confirmed"),
    ]


def test_the_bank_may_name_rows_by_reference_and_confirm_part_of_the_batch_first(
    paying: Paying,
) -> None:
    p = paying
    batch = make_batch(p)
    confirm(
        p,
        batch,
        bank_csv(
            (f"CV-{batch.pk}-{p.first.pk}", "300.00", today(), "B-1"),
            header="reference,amount_cny,paid_on,bank_reference",
        ),
    )
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.EXPORTED
    p.first.refresh_from_db()
    p.second.refresh_from_db()
    assert (p.first.status, p.second.status) == (Settlement.Status.PAID, Settlement.Status.APPROVED)
    confirm(p, batch, bank_csv((p.second.pk, "600.00", today(), "B-2")))
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.CONFIRMED
    with pytest.raises(BusinessError) as closed:
        confirm(p, batch, bank_csv((p.second.pk, "600.00", today(), "B-3")))
    assert "already confirmed" in closed.value.message


def test_a_bank_workbook_with_number_and_date_cells_is_read_exactly(paying: Paying) -> None:
    p = paying
    batch = make_batch(p)
    book = Workbook()
    sheet = book.active
    sheet.append(["Settlement_ID", "amount_cny", "paid_on", "bank_reference", "note"])
    sheet.append(
        [
            p.first.pk,
            300.0,
            datetime.datetime.combine(timezone.localdate(), datetime.time()),
            202600001,
            "ok",
        ]
    )
    sheet.append([])
    sheet.append([p.second.pk, "600.00", today(), "ICBC-2", None])
    buffer = io.BytesIO()
    book.save(buffer)
    payments = confirm(p, batch, buffer.getvalue(), name="回单.xlsx")
    assert sorted(pay.amount_cny for pay in payments) == [Decimal("300.00"), Decimal("600.00")]
    assert Payment.objects.get(settlement=p.first).bank_reference == "202600001"


def _workbook(*rows: list[Any]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_a_workbook_amount_finer_than_a_fen_is_refused_not_rounded(paying: Paying) -> None:
    p = paying
    batch = make_batch(p)
    content = _workbook(
        ["settlement_id", "amount_cny", "paid_on", "bank_reference"],
        [p.first.pk, 300.001, today(), "B-1"],
    )
    with pytest.raises(BusinessError) as refused:
        confirm(p, batch, content, name="bank.xlsx")
    assert refused.value.messages == [
        "Row 2: The amount_cny “300.001” is not an amount of yuan (like 1234.50)."
    ]
    assert not Payment.objects.exists()


def _mismatch(p: Paying, batch: PaymentBatch, kind: str) -> tuple[bytes, str]:
    """A bank file with one wrong row (row 3), and the reason expected for it."""
    good = (p.first.pk, "300.00", today(), "B-1")
    future = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    wrong = {
        "unknown settlement": (
            (999_999, "600.00", today(), "B-2"),
            "There is no settlement #999999.",
        ),
        "another batch's reference": (
            (f"CV-{batch.pk + 1000}-{p.second.pk}", "600.00", today(), "B-2"),
            f"The reference CV-{batch.pk + 1000}-{p.second.pk} is of another batch",
        ),
        "amount differs": (
            (p.second.pk, "599.99", today(), "B-2"),
            f"The amount_cny 599.99 differs from the batch's 600.00 for settlement #{p.second.pk}.",
        ),
        "duplicate row": (
            (p.first.pk, "300.00", today(), "B-2"),
            f"Settlement #{p.first.pk} is already on row 2.",
        ),
        "malformed date": ((p.second.pk, "600.00", "2026/01/31", "B-2"), "is not a date"),
        "impossible date": ((p.second.pk, "600.00", "2026-02-30", "B-2"), "is not a date"),
        "future date": ((p.second.pk, "600.00", future, "B-2"), "is in the future"),
        "date before the batch": (
            (p.second.pk, "600.00", "2020-01-01", "B-2"),
            "is before the batch was made",
        ),
        "missing bank reference": (
            (p.second.pk, "600.00", today(), ""),
            "bank_reference is missing",
        ),
        "not an amount": ((p.second.pk, "six hundred", today(), "B-2"), "is not an amount"),
        "negative amount": ((p.second.pk, "-600.00", today(), "B-2"), "is not an amount"),
        "not a settlement id": ((f"{p.second.pk}x", "600.00", today(), "B-2"), "is not a number"),
        "huge amount": ((p.second.pk, "9" * 29, today(), "B-2"), "is not an amount"),
        "huge settlement id": (("9" * 19, "600.00", today(), "B-2"), "is not a number"),
        "full-width digits": ((p.second.pk, "６００.00", today(), "B-2"), "is not an amount"),
    }[kind]
    uses_reference = kind == "another batch's reference"
    header = (
        "reference,amount_cny,paid_on,bank_reference"
        if uses_reference
        else "settlement_id,amount_cny,paid_on,bank_reference"
    )
    first = (f"CV-{batch.pk}-{p.first.pk}", *good[1:]) if uses_reference else good
    return bank_csv(first, wrong[0], header=header), wrong[1]


MISMATCHES = [
    "unknown settlement",
    "another batch's reference",
    "amount differs",
    "duplicate row",
    "malformed date",
    "impossible date",
    "future date",
    "date before the batch",
    "missing bank reference",
    "not an amount",
    "negative amount",
    "not a settlement id",
    "huge amount",
    "huge settlement id",
    "full-width digits",
]


@pytest.mark.parametrize("kind", MISMATCHES)
def test_a_file_with_a_row_that_does_not_match_is_refused_whole_with_the_row_and_reason(
    paying: Paying, kind: str
) -> None:
    p = paying
    batch = make_batch(p)
    content, reason = _mismatch(p, batch, kind)
    events_before = AuditEvent.objects.count()
    with pytest.raises(BusinessError) as refused:
        confirm(p, batch, content)
    assert "nothing was recorded" in refused.value.message
    assert any(m.startswith("Row 3: ") and reason in m for m in refused.value.messages), (
        refused.value.messages
    )
    assert not any(m.startswith("Row 2") for m in refused.value.messages)
    # Nothing recorded: not even the good row 2.
    assert not Payment.objects.exists()
    assert not PaymentBatchItem.objects.filter(payment__isnull=False).exists()
    p.first.refresh_from_db()
    assert p.first.status == Settlement.Status.APPROVED
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.EXPORTED
    assert AuditEvent.objects.count() == events_before


def test_a_settlement_outside_the_batch_is_refused(paying: Paying) -> None:
    p = paying
    batch = make_batch(p, settlements=[p.first])
    with pytest.raises(BusinessError) as refused:
        confirm(p, batch, bank_csv((p.second.pk, "600.00", today(), "B-2")))
    assert refused.value.messages == [f"Row 2: Settlement #{p.second.pk} is not in this batch."]


def test_a_row_already_confirmed_is_refused(paying: Paying) -> None:
    p = paying
    batch = make_batch(p)
    confirm(p, batch, bank_csv((p.first.pk, "300.00", today(), "B-1")))
    with pytest.raises(BusinessError) as refused:
        confirm(
            p,
            batch,
            bank_csv(
                (p.second.pk, "600.00", today(), "B-2"), (p.first.pk, "300.00", today(), "B-1")
            ),
        )
    assert refused.value.messages == [
        f"Row 3: Settlement #{p.first.pk} is already confirmed "
        f"(paid on {today()}, bank reference B-1)."
    ]
    assert Payment.objects.count() == 1


def test_a_settlement_in_a_batch_sent_to_the_treasury_takes_no_manual_payment(
    paying: Paying,
) -> None:
    p = paying
    batch = make_batch(p)
    with pytest.raises(BusinessError) as refused:
        settlement_payment_record(
            actor=actor(p.world.finance),
            settlement=p.first,
            amount=Decimal("50.00"),
            paid_on=timezone.localdate(),
            payer_account="JH-FIN-01",
            bank_reference="CASH-1",
        )
    assert "payment batch sent to the treasury" in refused.value.message
    assert Payment.objects.count() == 0
    # The bank's confirmation records it.
    confirm(p, batch, bank_csv((p.first.pk, "300.00", today(), "B-1")))
    assert Payment.objects.get().bank_reference == "B-1"


def test_a_bank_reference_already_recorded_for_the_settlement_refuses_the_file(
    paying: Paying,
) -> None:
    p = paying
    settlement_payment_record(
        actor=actor(p.world.finance),
        settlement=p.first,
        amount=Decimal("100.00"),
        paid_on=timezone.localdate(),
        payer_account="JH-FIN-01",
        bank_reference="B-1",
    )
    batch = make_batch(p)
    with pytest.raises(BusinessError) as refused:
        confirm(
            p,
            batch,
            bank_csv(
                (p.second.pk, "600.00", today(), "B-2"), (p.first.pk, "200.00", today(), "B-1")
            ),
        )
    assert refused.value.messages == [
        "Row 3: A payment with this bank reference is already recorded."
    ]
    # The second settlement's payment, recorded first, was rolled back with the file.
    assert list(Payment.objects.values_list("bank_reference", flat=True)) == ["B-1"]
    p.second.refresh_from_db()
    assert p.second.status == Settlement.Status.APPROVED


def test_a_file_without_the_confirmations_columns_is_refused(paying: Paying) -> None:
    p = paying
    batch = make_batch(p)
    with pytest.raises(BusinessError) as refused:
        confirm(
            p,
            batch,
            bank_csv(
                (p.first.pk, "300.00", "B-1"), header="settlement_id,amount_cny,bank_reference"
            ),
        )
    assert refused.value.messages == [
        "Row 1: The header lacks the columns paid_on (it needs settlement_id or reference, "
        "amount_cny, paid_on and bank_reference)."
    ]


def test_every_problem_of_the_file_is_listed_with_its_row(paying: Paying) -> None:
    p = paying
    batch = make_batch(p)
    with pytest.raises(BusinessError) as refused:
        confirm(
            p,
            batch,
            bank_csv(
                (p.first.pk, "1.00", today(), "B-1"),
                ("", "", "", ""),
                (p.second.pk, "600.00", "yesterday", ""),
            ),
        )
    rows = [m.split(":")[0] for m in refused.value.messages]
    assert rows == ["Row 2", "Row 4", "Row 4"]


@pytest.mark.parametrize(
    ("content", "name", "reason"),
    [
        (b"", "bank.csv", "The file is empty."),
        (b"settlement_id,amount_cny,paid_on,bank_reference\n", "bank.csv", "no payments"),
        (b"PK\x03\x04 not really a workbook", "bank.xlsx", "neither a readable CSV"),
        (b"\xd0\xcf\x11\xe0 an old workbook", "bank.xls", "old .xls files"),
    ],
)
def test_an_empty_or_unreadable_file_is_refused(
    paying: Paying, content: bytes, name: str, reason: str
) -> None:
    p = paying
    batch = make_batch(p)
    with pytest.raises(BusinessError) as refused:
        confirm(p, batch, content, name=name)
    assert reason in refused.value.message


def test_a_file_over_the_limits_is_refused_with_a_clear_message(paying: Paying) -> None:
    p = paying
    batch = make_batch(p)
    with pytest.raises(BusinessError) as too_big:
        confirm(p, batch, b"x" * (5 * 1024 * 1024 + 1))
    assert "larger than 5 MB" in too_big.value.message
    rows = [(p.first.pk, "300.00", today(), f"B-{n}") for n in range(MAX_ROWS + 1)]
    with pytest.raises(BusinessError) as too_long:
        confirm(p, batch, bank_csv(*rows))
    assert "more than 10,000 rows" in too_long.value.message
    assert not Payment.objects.exists()


def test_a_gb18030_file_from_the_bank_is_read(paying: Paying) -> None:
    p = paying
    batch = make_batch(p, settlements=[p.first])
    content = "settlement_id,amount_cny,paid_on,bank_reference,备注\n".encode("gb18030")
    content += f"{p.first.pk},300.00,{today()},工行-1,已付\n".encode("gb18030")
    confirm(p, batch, content)
    assert Payment.objects.get().bank_reference == "工行-1"


# --- Who may ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["reviewer", "manager", "outsider_finance", "operator"])
def test_only_a_finance_officer_of_the_district_makes_exports_or_confirms_a_batch(
    paying: Paying, who: str
) -> None:
    p = paying
    user = getattr(p.world, who)
    with pytest.raises(PermissionDenied):
        payment_batch_create(
            actor=actor(user), district=p.world.program.district, payer_account="JH-FIN-01"
        )
    batch = make_batch(p)
    for file_format in ("csv", "xlsx"):
        with pytest.raises(PermissionDenied):
            payment_batch_export(actor=actor(user), batch=batch, file_format=file_format)
    with pytest.raises(PermissionDenied):
        payment_batch_confirm(
            actor=actor(user),
            batch=batch,
            file_name="bank.csv",
            content=bank_csv((p.first.pk, "300.00", today(), "B-1")),
        )
    assert not Payment.objects.exists()
    assert not AuditEvent.objects.filter(
        event_type__startswith="payment_batch.", actor_user=user
    ).exists()


# --- The admin -------------------------------------------------------------------


def _client(user: Any) -> Any:
    return client_for(with_mfa(user))


def test_a_finance_officer_makes_a_batch_downloads_it_and_uploads_the_banks_file(
    paying: Paying,
) -> None:
    p = paying
    client = _client(p.world.finance)
    listing = client.get(reverse("admin:settlements_paymentbatch_changelist"))
    assert listing.status_code == 200
    assert reverse("admin:settlements_paymentbatch_new") in listing.content.decode()
    page = client.get(reverse("admin:settlements_paymentbatch_new"))
    assert page.status_code == 200
    assert f"#{p.first.pk}" in page.content.decode()
    made = client.post(
        reverse("admin:settlements_paymentbatch_new"),
        {"district": p.world.program.district_id, "payer_account": "JH-FIN-01"},
    )
    batch = PaymentBatch.objects.get()
    assert made.status_code == 302
    assert made["Location"] == reverse("admin:settlements_paymentbatch_change", args=[batch.pk])
    change = client.get(made["Location"]).content.decode()
    assert ACCOUNT in change
    assert "Download CSV" in change and "Download XLSX" in change
    assert "Upload the bank's confirmation" in change

    download = client.get(reverse("admin:settlements_paymentbatch_export", args=[batch.pk, "csv"]))
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="payment-batch-{batch.pk}.csv"'
    assert ACCOUNT in download.content.decode("utf-8-sig")
    assert "no-store" in download["Cache-Control"]
    xlsx = client.get(reverse("admin:settlements_paymentbatch_export", args=[batch.pk, "xlsx"]))
    assert xlsx.status_code == 200
    assert load_workbook(io.BytesIO(xlsx.content)).worksheets[0].max_row == 3
    assert AuditEvent.objects.filter(event_type="payment_batch.exported").count() == 2

    confirm_url = reverse("admin:settlements_paymentbatch_confirm", args=[batch.pk])
    assert client.get(confirm_url).status_code == 200
    upload = io.BytesIO(
        bank_csv(
            (p.first.pk, "300.00", today(), "ICBC-1"), (p.second.pk, "600.00", today(), "ICBC-2")
        )
    )
    upload.name = "bank.csv"
    done = client.post(confirm_url, {"file": upload})
    assert done.status_code == 302
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.CONFIRMED
    assert Payment.objects.filter(batch=batch).count() == 2


def test_the_upload_page_lists_a_refused_files_problems_with_their_rows(paying: Paying) -> None:
    p = paying
    batch = make_batch(p)
    client = _client(p.world.finance)
    upload = io.BytesIO(
        bank_csv((p.first.pk, "299.00", today(), "ICBC-1"), (999_999, "1.00", today(), "X"))
    )
    upload.name = "bank.csv"
    response = client.post(
        reverse("admin:settlements_paymentbatch_confirm", args=[batch.pk]), {"file": upload}
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "nothing was recorded" in text
    assert "Row 2: The amount_cny 299.00 differs from the batch&#x27;s 300.00" in text
    assert "Row 3: There is no settlement #999999." in text
    assert not Payment.objects.exists()


def test_the_new_batch_page_shows_why_a_batch_is_refused(paying: Paying) -> None:
    p = paying
    p.second_platform.bank_name = ""
    p.second_platform.save()
    response = _client(p.world.finance).post(
        reverse("admin:settlements_paymentbatch_new"),
        {"district": p.world.program.district_id, "payer_account": "JH-FIN-01"},
    )
    assert response.status_code == 200
    assert "has no bank details" in response.content.decode()
    assert not PaymentBatch.objects.exists()


def test_other_officials_of_the_district_see_the_batch_with_masked_accounts_and_no_buttons(
    paying: Paying,
) -> None:
    p = paying
    batch = make_batch(p)
    for user in (p.world.reviewer, p.world.manager):
        client = _client(user)
        listing = client.get(reverse("admin:settlements_paymentbatch_changelist"))
        assert listing.status_code == 200
        assert reverse("admin:settlements_paymentbatch_new") not in listing.content.decode()
        page = client.get(reverse("admin:settlements_paymentbatch_change", args=[batch.pk]))
        assert page.status_code == 200
        text = page.content.decode()
        assert ACCOUNT not in text and "•••• " + ACCOUNT[-4:] in text
        assert "Download CSV" not in text
        for url in (
            reverse("admin:settlements_paymentbatch_export", args=[batch.pk, "csv"]),
            reverse("admin:settlements_paymentbatch_export", args=[batch.pk, "xlsx"]),
            reverse("admin:settlements_paymentbatch_confirm", args=[batch.pk]),
            reverse("admin:settlements_paymentbatch_new"),
        ):
            assert client.get(url).status_code == 403, url
        upload = io.BytesIO(bank_csv((p.first.pk, "300.00", today(), "ICBC-1")))
        upload.name = "bank.csv"
        refused = client.post(
            reverse("admin:settlements_paymentbatch_confirm", args=[batch.pk]), {"file": upload}
        )
        assert refused.status_code == 403
        made = client.post(
            reverse("admin:settlements_paymentbatch_new"),
            {"district": p.world.program.district_id, "payer_account": "X"},
        )
        assert made.status_code == 403
    assert not Payment.objects.exists()
    assert PaymentBatch.objects.count() == 1
    assert (
        AuditEvent.objects.filter(event_type="payment_batch.exported").count() == 0
    )  # only made, never downloaded


def test_a_finance_officer_of_another_district_neither_sees_nor_uses_the_batch(
    paying: Paying,
) -> None:
    p = paying
    batch = make_batch(p)
    client = _client(p.world.outsider_finance)
    listing = client.get(reverse("admin:settlements_paymentbatch_changelist"))
    assert listing.status_code == 200
    assert reverse("admin:settlements_paymentbatch_change", args=[batch.pk]) not in (
        listing.content.decode()
    )
    page = client.get(reverse("admin:settlements_paymentbatch_change", args=[batch.pk]))
    assert page.status_code in (302, 404)
    for url in (
        reverse("admin:settlements_paymentbatch_export", args=[batch.pk, "csv"]),
        reverse("admin:settlements_paymentbatch_confirm", args=[batch.pk]),
    ):
        assert client.get(url).status_code == 404
    # Their own district offers nothing of Jianghan's.
    page = client.get(reverse("admin:settlements_paymentbatch_new")).content.decode()
    assert f"#{p.first.pk} " not in page
    made = client.post(
        reverse("admin:settlements_paymentbatch_new"),
        {"district": p.world.program.district_id, "payer_account": "X"},
    )
    assert made.status_code == 200  # the district is not among the choices
    assert PaymentBatch.objects.count() == 1


def test_the_batch_list_costs_the_same_queries_for_one_batch_or_several(paying: Paying) -> None:
    p = paying
    client = _client(p.world.finance)
    url = reverse("admin:settlements_paymentbatch_changelist")
    make_batch(p, settlements=[p.first])
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    make_batch(p, settlements=[p.second])
    with CaptureQueriesContext(connection) as two:
        assert client.get(url).status_code == 200
    assert len(two) == len(one)


# --- At the same time ------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_batches_made_at_once_never_share_a_settlement() -> None:
    world = build()
    charge(world, billed="1000", reference="inv-1", at=last_month_instant())
    approve(world, drawn(world))
    with_bank(world.platform)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def make(user: Any) -> None:
        try:
            barrier.wait()
            payment_batch_create(
                actor=actor(user), district=world.program.district, payer_account="JH-FIN-01"
            )
            outcomes.append("made")
        except BusinessError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=make, args=(u,)) for u in (world.finance, world.finance_2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["made", "refused"]
    assert PaymentBatchItem.objects.count() == 1
