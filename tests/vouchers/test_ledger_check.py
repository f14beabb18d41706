"""check_ledger: recomputes vouchers and programs from the entries."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError
from django.utils import timezone

from programs.models import Program
from tests.accounts.factories import ComputePlatformFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue, platform_actor
from vouchers.models import LedgerEntry, Voucher
from vouchers.services import voucher_redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def voucher() -> Voucher:
    platform = ComputePlatformFactory()
    program = ProgramFactory()
    bind(program, platform)
    voucher = issue(program, amount="1000")
    voucher_redeem(
        actor=platform_actor(platform),
        platform=platform,
        voucher_code=voucher.code,
        reference="r",
        occurred_at=timezone.now(),
        billed_amount=Decimal("100"),
    )
    return voucher


def run_check() -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("check_ledger", stdout=out, stderr=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_a_consistent_ledger_checks_clean(voucher) -> None:
    status, output = run_check()
    assert status == 0
    assert "ledger OK: 1 vouchers, 2 entries" in output


def test_a_balance_changed_behind_the_ledger_is_reported_with_exit_status_1(voucher) -> None:
    Voucher.objects.filter(pk=voucher.pk).update(balance=Decimal("999"))
    status, output = run_check()
    assert status == 1
    assert f"voucher {voucher.code}: balance is 999.00, the ledger says 970.00" in output


def test_a_program_counter_changed_behind_the_ledger_is_reported(voucher) -> None:
    Program.objects.filter(pk=voucher.program_id).update(issued_amount=Decimal("5"))
    status, output = run_check()
    assert status == 1
    assert "issued is 5.00, the ledger says 1000.00" in output


@pytest.mark.postgres
def test_the_database_refuses_to_change_a_ledger_entry(voucher) -> None:
    entry = LedgerEntry.objects.filter(voucher=voucher).first()
    with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("1"))
    with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    with (
        pytest.raises((InternalError, ProgrammingError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE vouchers_ledgerentry SET balance_after = 0")
    entry.refresh_from_db()
    assert entry.amount == Decimal("1000")


@pytest.mark.postgres
def test_the_database_refuses_a_negative_balance_or_held_above_balance(voucher) -> None:
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        Voucher.objects.filter(pk=voucher.pk).update(balance=Decimal("-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Voucher.objects.filter(pk=voucher.pk).update(held=Decimal("971"))
