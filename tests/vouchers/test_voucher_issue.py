"""Issuance: from a reservation, from the budget, validity, bulk CSV."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from applications.bulk_issuance import voucher_bulk_issue
from audit.models import AuditEvent
from common.errors import BusinessError, Code
from programs.models import Program
from tests.accounts.factories import EnterpriseFactory
from tests.programs.factories import ProgramFactory, add_steps
from tests.vouchers.factories import SYSTEM, frozen, issue, shanghai
from vouchers.models import LedgerEntry, Voucher
from vouchers.services import voucher_issue

pytestmark = pytest.mark.django_db


def test_issuing_from_a_reservation_moves_the_amount_from_reserved_to_issued() -> None:
    program = ProgramFactory()
    Program.objects.filter(pk=program.pk).update(reserved_amount=Decimal("5000"))
    voucher = voucher_issue(
        actor=SYSTEM,
        program=program,
        enterprise=EnterpriseFactory(),
        amount=Decimal("3000"),
        from_reservation=True,
    )
    program.refresh_from_db()
    assert (program.reserved_amount, program.issued_amount) == (Decimal("2000"), Decimal("3000"))
    assert voucher.face_value == voucher.balance == Decimal("3000")
    assert voucher.status == Voucher.Status.ACTIVE
    entry = voucher.ledger.get()
    assert (entry.kind, entry.amount, entry.balance_after) == (
        "issue",
        Decimal("3000"),
        Decimal("3000"),
    )
    assert AuditEvent.objects.filter(
        event_type="voucher.issued", object_id=str(voucher.pk)
    ).exists()


def test_issuing_from_a_reservation_refuses_more_than_is_reserved() -> None:
    program = ProgramFactory()
    with pytest.raises(BusinessError) as err:
        voucher_issue(
            actor=SYSTEM,
            program=program,
            enterprise=EnterpriseFactory(),
            amount=Decimal("1"),
            from_reservation=True,
        )
    assert err.value.code == Code.VALIDATION_ERROR
    assert not Voucher.objects.exists()


def test_issuing_without_a_reservation_refuses_when_the_budget_is_short() -> None:
    program = ProgramFactory(total_budget=Decimal("1500"), per_enterprise_cap=Decimal("5000"))
    issue(program, amount="1000")
    with pytest.raises(BusinessError, match="remains"):
        issue(program, amount="501")
    program.refresh_from_db()
    assert program.issued_amount == Decimal("1000")


def test_issuing_refuses_more_than_the_cap_per_enterprise() -> None:
    program = ProgramFactory(per_enterprise_cap=Decimal("1500"))
    enterprise = EnterpriseFactory()
    issue(program, enterprise, amount="1000")
    with pytest.raises(BusinessError, match="cap"):
        issue(program, enterprise, amount="600")


def test_points_vouchers_take_whole_points_only() -> None:
    program = ProgramFactory(
        unit=Program.Unit.POINTS, total_budget=Decimal("1e9"), per_enterprise_cap=Decimal("1e9")
    )
    with pytest.raises(BusinessError, match="whole"):
        issue(program, amount="10.5")
    assert issue(program, amount="250000").unit == "POINTS"


def test_a_float_amount_is_refused() -> None:
    with pytest.raises(BusinessError) as err:
        voucher_issue(
            actor=SYSTEM,
            program=ProgramFactory(),
            enterprise=EnterpriseFactory(),
            amount=10.5,  # type: ignore[arg-type]
            from_reservation=False,
        )
    assert err.value.code == Code.VALIDATION_ERROR


def test_a_draft_program_issues_nothing() -> None:
    program = ProgramFactory(draft=True)
    with pytest.raises(BusinessError, match="draft"):
        issue(program)


def test_validity_runs_the_programs_days_from_the_shanghai_day_of_issue() -> None:
    program = ProgramFactory(voucher_validity_days=30)
    # 2026-05-31 20:00 UTC is already 1 June in Shanghai.
    with frozen(datetime.datetime(2026, 5, 31, 20, 0, tzinfo=datetime.UTC)):
        voucher = issue(program)
    assert voucher.expires_at == shanghai(2026, 7, 1)
    assert voucher.valid_until == datetime.date(2026, 6, 30)


def test_a_fixed_end_date_applies_to_every_voucher() -> None:
    program = ProgramFactory(
        voucher_validity_days=None, voucher_valid_until=datetime.date(2026, 12, 31)
    )
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(program)
    assert voucher.expires_at == shanghai(2027, 1, 1)


def test_validity_never_runs_past_the_programs_exit_date() -> None:
    program = ProgramFactory(voucher_validity_days=365)
    add_steps(program, (datetime.date(2026, 9, 1), "0.20"), (datetime.date(2026, 10, 1), "0"))
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(program)
    assert voucher.expires_at == shanghai(2026, 10, 1)


def test_issuing_after_the_exit_date_is_refused() -> None:
    program = ProgramFactory()
    add_steps(program, (datetime.date(2026, 3, 1), "0"))
    with frozen(shanghai(2026, 6, 1, 9)), pytest.raises(BusinessError, match="expired"):
        issue(program)


def test_a_voucher_valid_from_a_later_day_waits_in_issued() -> None:
    program = ProgramFactory()
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(program, valid_from=shanghai(2026, 7, 1))
    assert voucher.status == Voucher.Status.ISSUED


CSV_OK = "uscc,amount\n{a},1000.00\n{b},2500\n"


def test_bulk_issuance_issues_every_row_of_a_valid_file() -> None:
    program = ProgramFactory()
    a, b = EnterpriseFactory(), EnterpriseFactory()
    report = voucher_bulk_issue(
        actor=SYSTEM, program=program, csv_text=CSV_OK.format(a=a.uscc, b=b.uscc)
    )
    assert report.ok and report.issued
    assert [r.voucher.face_value for r in report.rows if r.voucher] == [
        Decimal("1000"),
        Decimal("2500"),
    ]
    program.refresh_from_db()
    assert program.issued_amount == Decimal("3500")
    assert AuditEvent.objects.filter(event_type="voucher.bulk_issued").count() == 1


def test_bulk_issuance_issues_nothing_when_any_row_is_wrong_and_says_why_per_row() -> None:
    program = ProgramFactory()
    a = EnterpriseFactory()
    bad_check = a.uscc[:-1] + ("0" if a.uscc[-1] != "0" else "1")
    text = "\n".join(
        [
            f"{a.uscc},1000",
            f"{bad_check},10",
            "91420103MA00000001,abc",
            f"{a.uscc},5",
            "only-one-column",
        ]
    )
    report = voucher_bulk_issue(actor=SYSTEM, program=program, csv_text=text)
    assert not report.ok and not report.issued
    assert not Voucher.objects.exists()
    assert not LedgerEntry.objects.exists()
    errors = {row.line: " ".join(row.errors) for row in report.rows}
    assert errors[1] == ""
    assert errors[2]  # the check character is wrong
    assert "not an amount" in errors[3]
    assert "line 1" in errors[4]
    assert "two columns" in errors[5]


def test_bulk_issuance_refuses_a_file_that_exceeds_the_remaining_budget() -> None:
    program = ProgramFactory(total_budget=Decimal("3000"))
    a, b = EnterpriseFactory(), EnterpriseFactory()
    report = voucher_bulk_issue(
        actor=SYSTEM, program=program, csv_text=f"{a.uscc},2000\n{b.uscc},1500\n"
    )
    assert not report.ok
    assert "remains" in report.errors[0]
    assert not Voucher.objects.exists()


def test_bulk_issuance_can_validate_only() -> None:
    program = ProgramFactory()
    a = EnterpriseFactory()
    report = voucher_bulk_issue(
        actor=SYSTEM, program=program, csv_text=f"{a.uscc},10\n", dry_run=True
    )
    assert report.ok and not report.issued
    assert not Voucher.objects.exists()
