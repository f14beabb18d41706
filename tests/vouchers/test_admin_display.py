"""amount_display: admin columns and read-only fields written as the portal writes amounts."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.admin.utils import help_text_for_field, label_for_field, lookup_field
from django.utils import translation

from applications.models import Application
from programs.admin_display import amount_display, own_unit, program_unit, voucher_unit
from programs.models import Program
from vouchers.models import LedgerEntry, Voucher

face_value = amount_display(Voucher, "face_value", unit=own_unit)


def test_yuan_get_the_sign_thousands_and_two_decimals() -> None:
    assert face_value(Voucher(unit="CNY", face_value=Decimal("5000000"))) == (
        '<span class="amount">¥5,000,000.00</span>'
    )


def test_points_get_thousands_and_the_unit_in_the_active_language() -> None:
    voucher = Voucher(unit="POINTS", face_value=Decimal("37500000000"))
    with translation.override("en"):
        assert "37,500,000,000 points" in face_value(voucher)
    with translation.override("zh-hans"):
        assert "37,500,000,000 点" in face_value(voucher)


def test_no_amount_shows_a_dash() -> None:
    approved = amount_display(Application, "approved_amount", unit=program_unit)
    application = Application(program=Program(unit="CNY"), approved_amount=None)
    assert approved(application) == '<span class="amount">—</span>'


def test_the_unit_can_come_from_a_related_object() -> None:
    change = amount_display(LedgerEntry, "balance_change", unit=voucher_unit)
    entry = LedgerEntry(voucher=Voucher(unit="CNY"), balance_change=Decimal("-5520"))
    assert "−¥5,520.00" in change(entry)


def test_the_column_keeps_the_model_fields_label_help_text_and_sort_order() -> None:
    balance = amount_display(Voucher, "balance", unit=own_unit)
    assert balance.__name__ == "balance"
    assert label_for_field(balance, Voucher) == Voucher._meta.get_field("balance").verbose_name
    assert help_text_for_field(balance.__name__, Voucher) == (
        Voucher._meta.get_field("balance").help_text
    )
    assert balance.admin_order_field == "balance"  # type: ignore[attr-defined]


def test_the_admin_looks_the_value_up_through_the_callable() -> None:
    voucher = Voucher(unit="CNY", balance=Decimal("265654.85"))
    _field, _attr, value = lookup_field(amount_display(Voucher, "balance", unit=own_unit), voucher)
    assert "¥265,654.85" in value
