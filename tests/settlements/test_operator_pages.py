"""Operators' settlement pages: the list, one settlement with its lines,
rejections and payments, submitting it from the page, its statement PDF and
the payment notice PDF; and who may not open them."""

from __future__ import annotations

import datetime
import shutil
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.middleware import is_platform_operator, user_has_mfa
from audit.models import AuditEvent
from common import formatting
from settlements.models import Payment, Settlement, SettlementLine
from settlements.services import (
    settlement_approve,
    settlement_line_reject,
    settlement_pass_on,
    settlement_payment_record,
    settlement_start_review,
    settlement_submit,
    settlements_draw,
)
from tests.accounts.factories import (
    ComputePlatformFactory,
    EnterpriseFactory,
    add_totp,
    enterprise_user,
    platform_operator,
)
from tests.programs.factories import ProgramFactory, bind
from tests.settlements.factories import (
    SettleWorld,
    actor,
    build,
    charge,
    drawn,
    last_month_instant,
)
from tests.vouchers.factories import issue, platform_actor
from vouchers.services import voucher_redeem

pytestmark = pytest.mark.django_db

PDFTOTEXT = shutil.which("pdftotext")
needs_pdftotext = pytest.mark.skipif(PDFTOTEXT is None, reason="needs poppler-utils")


def logged_in(user: Any) -> Client:
    """A client signed in as ``user``; an operator with the TOTP that the
    operator pages ask for (tests/accounts/test_mfa_required.py)."""
    if is_platform_operator(user) and not user_has_mfa(user):
        add_totp(user)
    client = Client()
    client.force_login(user)
    return client


def pdf_text(content: bytes, tmp_path: Any, name: str = "doc.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return subprocess.run(  # noqa: S603 (a fixed local tool on a file we wrote)
        [PDFTOTEXT or "pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def in_language(language: str, text: str) -> str:
    with translation.override(language):
        return gettext(text)


def list_url(world: SettleWorld) -> str:
    return reverse("operator_settlements", args=[world.platform.slug])


def page_url(world: SettleWorld, settlement: Settlement) -> str:
    return reverse("operator_settlement_detail", args=[world.platform.slug, settlement.pk])


def statement_url(world: SettleWorld, settlement: Settlement, language: str) -> str:
    url = reverse("operator_settlement_statement_pdf", args=[world.platform.slug, settlement.pk])
    return f"{url}?lang={language}"


def notice_url(world: SettleWorld, payment: Payment, language: str) -> str:
    url = reverse(
        "operator_payment_notice_pdf",
        args=[world.platform.slug, payment.settlement_id, payment.pk],
    )
    return f"{url}?lang={language}"


def with_two_charges() -> SettleWorld:
    """Last month: 1,000 and 2,000 billed at 30 % → 300.00 and 600.00 covered."""
    world = build()
    at = last_month_instant()
    charge(world, billed="1000.00", reference="inv-1", at=at)
    charge(world, billed="2000.00", reference="inv-2", at=at + datetime.timedelta(hours=1))
    return world


def another_program_charged(world: SettleWorld, name: str) -> None:
    """Another program of the district on the platform, charged last month."""
    program = ProgramFactory(district=world.program.district)
    bind(program, world.platform)
    at = last_month_instant()
    with time_machine.travel(at - datetime.timedelta(days=1), tick=False):
        voucher = issue(program, EnterpriseFactory(), "10000.00")
    with time_machine.travel(at, tick=False):
        voucher_redeem(
            actor=platform_actor(world.platform),
            platform=world.platform,
            voucher_code=voucher.code,
            reference=f"{name}-1",
            occurred_at=at,
            billed_amount=Decimal("100.00"),
        )


def drawn_for(world: SettleWorld, *, exclude: Settlement) -> Settlement:
    settlements_draw()
    return Settlement.objects.filter(platform=world.platform).exclude(pk=exclude.pk).get()


@dataclass
class Paid:
    world: SettleWorld
    settlement: Settlement
    payment: Payment


def paid_in_part() -> Paid:
    """Submitted, inv-2 rejected for a reason, approved for 300.00, 100.00 paid."""
    world = with_two_charges()
    settlement = drawn(world)
    settlement_submit(
        actor=actor(world.operator),
        platform=world.platform,
        settlement_id=settlement.pk,
        invoice_number="FP-2026-0001",
        invoice_amount=Decimal("900.00"),
    )
    settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    settlement_line_reject(
        actor=actor(world.reviewer),
        line=settlement.lines.get(reference="inv-2"),
        reason="Job ran on a model outside the program",
    )
    settlement_pass_on(actor=actor(world.reviewer), settlement=settlement)
    settlement_approve(actor=actor(world.finance), settlement=settlement)
    payment = settlement_payment_record(
        actor=actor(world.finance),
        settlement=settlement,
        amount=Decimal("100.00"),
        paid_on=timezone.localdate(),
        payer_account="江汉区财政国库支付中心 4201",
        bank_reference="BANK-REF-7788",
    )
    settlement.refresh_from_db()
    return Paid(world=world, settlement=settlement, payment=payment)


# -- the list --------------------------------------------------------------------


def test_the_list_draws_ended_periods_and_shows_their_figures() -> None:
    world = with_two_charges()
    assert not Settlement.objects.exists()
    response = logged_in(world.operator).get(list_url(world))
    assert response.status_code == 200
    settlement = Settlement.objects.get(platform=world.platform)
    text = response.content.decode()
    assert settlement.period in text
    assert world.program.display_name in text
    assert "¥900.00" in text
    assert page_url(world, settlement) in text


def test_the_list_filters_by_status_and_by_period() -> None:
    world = with_two_charges()
    client = logged_in(world.operator)
    client.get(list_url(world))
    settlement = Settlement.objects.get(platform=world.platform)
    detail = page_url(world, settlement)
    assert detail in client.get(list_url(world), {"status": "draft"}).content.decode()
    assert detail not in client.get(list_url(world), {"status": "paid"}).content.decode()
    assert detail in client.get(list_url(world), {"period": settlement.period}).content.decode()
    assert detail not in client.get(list_url(world), {"period": "2001-01"}).content.decode()
    assert detail not in client.get(list_url(world), {"period": "soon"}).content.decode()


def test_the_list_costs_the_same_queries_for_one_settlement_or_three() -> None:
    world = with_two_charges()
    client = logged_in(world.operator)
    client.get(list_url(world))  # draws

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(list_url(world)).status_code == 200
        return len(captured)

    one = queries()
    for n in range(2):
        another_program_charged(world, f"p{n}")
    client.get(list_url(world))
    assert Settlement.objects.filter(platform=world.platform).count() == 3
    assert queries() == one


# -- one settlement ----------------------------------------------------------------


def test_the_page_shows_the_figures_lines_and_the_submit_form_of_a_draft() -> None:
    world = with_two_charges()
    settlement = drawn(world)
    response = logged_in(world.operator).get(page_url(world, settlement))
    assert response.status_code == 200
    text = response.content.decode()
    assert "inv-1" in text and "inv-2" in text
    assert world.voucher.code in text
    assert "¥900.00" in text
    assert 'name="invoice_number"' in text
    assert statement_url(world, settlement, "en").replace("&", "&amp;") in text


def test_the_page_shows_rejections_with_their_reasons_and_the_payments() -> None:
    paid = paid_in_part()
    world, settlement = paid.world, paid.settlement
    response = logged_in(world.operator).get(page_url(world, settlement))
    text = response.content.decode()
    assert "Job ran on a model outside the program" in text
    assert "BANK-REF-7788" in text
    assert "FP-2026-0001" in text
    assert notice_url(world, paid.payment, "en").replace("&", "&amp;") in text
    assert 'name="invoice_number"' not in text  # approved: nothing to submit


def test_the_lines_are_paginated_fifty_a_page() -> None:
    world = build()
    at = last_month_instant()
    for n in range(51):
        charge(
            world, billed="10.00", reference=f"many-{n:02d}", at=at + datetime.timedelta(minutes=n)
        )
    settlement = drawn(world)
    client = logged_in(world.operator)
    first = client.get(page_url(world, settlement)).content.decode()
    assert "many-00" in first and "many-49" in first and "many-50" not in first
    second = client.get(page_url(world, settlement), {"page": 2}).content.decode()
    assert "many-50" in second and "many-00" not in second


def test_the_operator_submits_the_settlement_from_its_page() -> None:
    world = with_two_charges()
    settlement = drawn(world)
    client = logged_in(world.operator)
    response = client.post(
        page_url(world, settlement),
        {"invoice_number": " FP-1 ", "invoice_amount": "900.00", "note": "March usage"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == page_url(world, settlement)
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.SUBMITTED
    assert settlement.invoice_number == "FP-1"
    assert settlement.submission_note == "March usage"
    assert settlement.submitted_by == world.operator.email
    event = AuditEvent.objects.get(event_type="settlement.submitted")
    assert event.actor_label == world.operator.email
    text = response.content.decode()
    assert "FP-1" in text
    assert 'name="invoice_number"' not in text  # not offered once submitted


def test_an_invoice_for_another_amount_is_refused_next_to_the_form() -> None:
    world = with_two_charges()
    settlement = drawn(world)
    response = logged_in(world.operator).post(
        page_url(world, settlement),
        {"invoice_number": "FP-1", "invoice_amount": "899.99", "note": ""},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["invoice_amount"] == [
        "The invoice is for ¥899.99 but the settlement's amount due is ¥900.00."
    ]
    assert "amount due is ¥900.00" in response.content.decode().replace("&#x27;", "'")
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.DRAFT


def test_a_submitted_settlement_is_not_submitted_again() -> None:
    world = with_two_charges()
    settlement = drawn(world)
    client = logged_in(world.operator)
    client.post(page_url(world, settlement), {"invoice_number": "FP-1", "invoice_amount": "900.00"})
    response = client.post(
        page_url(world, settlement),
        {"invoice_number": "FP-2", "invoice_amount": "900.00"},
        follow=True,
    )
    settlement.refresh_from_db()
    assert settlement.invoice_number == "FP-1"
    assert AuditEvent.objects.filter(event_type="settlement.submitted").count() == 1
    assert "Only a draft or returned settlement can be submitted" in response.content.decode()


def test_the_superuser_reads_the_page_but_submits_nothing_for_the_platform() -> None:
    from tests.accounts.factories import UserFactory

    world = with_two_charges()
    settlement = drawn(world)
    root = UserFactory(is_superuser=True)
    add_totp(root)
    client = logged_in(root)
    page = client.get(page_url(world, settlement))
    assert page.status_code == 200
    assert 'name="invoice_number"' not in page.content.decode()
    refused = client.post(
        page_url(world, settlement), {"invoice_number": "FP-1", "invoice_amount": "900.00"}
    )
    assert refused.status_code == 403
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.DRAFT


# -- who may not ---------------------------------------------------------------------


def test_another_platforms_operator_finds_nothing() -> None:
    paid = paid_in_part()
    world, settlement, payment = paid.world, paid.settlement, paid.payment
    theirs = ComputePlatformFactory()
    stranger = logged_in(platform_operator(theirs))
    for url in (
        list_url(world),
        page_url(world, settlement),
        statement_url(world, settlement, "en"),
        notice_url(world, payment, "en"),
        # Their own slug with platform X's settlement and payment.
        reverse("operator_settlement_detail", args=[theirs.slug, settlement.pk]),
        reverse("operator_settlement_statement_pdf", args=[theirs.slug, settlement.pk]),
        reverse("operator_payment_notice_pdf", args=[theirs.slug, settlement.pk, payment.pk]),
    ):
        assert stranger.get(url).status_code == 404, url
    refused = stranger.post(
        reverse("operator_settlement_detail", args=[theirs.slug, settlement.pk]),
        {"invoice_number": "FP-9", "invoice_amount": "300.00"},
    )
    assert refused.status_code == 404


def test_a_payment_is_found_only_under_its_own_settlement() -> None:
    paid = paid_in_part()
    world = paid.world
    another_program_charged(world, "other")
    other = drawn_for(world, exclude=paid.settlement)
    url = reverse(
        "operator_payment_notice_pdf", args=[world.platform.slug, other.pk, paid.payment.pk]
    )
    assert logged_in(world.operator).get(url).status_code == 404


def test_officials_enterprises_and_strangers_are_denied() -> None:
    paid = paid_in_part()
    world, settlement, payment = paid.world, paid.settlement, paid.payment
    urls = [
        list_url(world),
        page_url(world, settlement),
        statement_url(world, settlement, "en"),
        notice_url(world, payment, "en"),
    ]
    for official in (world.reviewer, world.finance, world.manager):
        add_totp(official)
        client = logged_in(official)
        for url in urls:
            assert client.get(url).status_code == 403, url
    enterprise = logged_in(enterprise_user(world.voucher.enterprise))
    for url in urls:
        assert enterprise.get(url).status_code == 403, url
    anonymous = Client()
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url
    assert (
        enterprise.post(
            page_url(world, settlement), {"invoice_number": "X", "invoice_amount": "1"}
        ).status_code
        == 403
    )
    assert not AuditEvent.objects.filter(event_type="settlement.exported").exists()


# -- the PDFs --------------------------------------------------------------------------


@needs_pdftotext
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_statement_pdf_sums_lines_per_voucher_and_has_a_signature_block(
    language: str, tmp_path: Any
) -> None:
    paid = paid_in_part()
    world, settlement = paid.world, paid.settlement
    response = logged_in(world.operator).get(statement_url(world, settlement, language))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content, tmp_path)
    assert world.voucher.code in text
    assert world.voucher.enterprise.name in text
    assert world.program.name in text or world.program.name_en in text
    # Covered 300.00 (inv-1), rejected 600.00 (inv-2), due and approved 300.00, paid 100.00.
    for figure in ("¥300.00", "¥600.00", "¥100.00", "¥200.00"):
        assert figure in text, figure
    assert "FP-2026-0001" in text
    assert "Job ran on a model outside the program" in text
    for label in ("Settlement statement", "Signatures", "For the platform", "Reviewer"):
        assert in_language(language, label) in text, label
    assert in_language(language, "Finance officer") in text
    # Names where known: who submitted, who reviewed, who approved.
    assert world.operator.email in text
    assert world.reviewer.get_full_name() in text
    assert world.finance.get_full_name() in text
    event = AuditEvent.objects.get(event_type="settlement.exported")
    assert event.after["document"] == "statement"
    assert event.after["language"] == language
    assert event.platform_id == world.platform.pk


@needs_pdftotext
def test_the_statement_pdf_renders_chinese(tmp_path: Any) -> None:
    world = with_two_charges()
    settlement = drawn(world)
    response = logged_in(world.operator).get(statement_url(world, settlement, "zh-hans"))
    text = pdf_text(response.content, tmp_path)
    assert world.program.name in text  # 江汉区算力券…
    assert in_language("zh-hans", "Settlement statement") in text
    assert "结算" in in_language("zh-hans", "Settlement statement")
    assert "¥900.00" in text


@needs_pdftotext
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_payment_notice_pdf_says_who_was_paid_what_and_what_remains(
    language: str, tmp_path: Any
) -> None:
    paid = paid_in_part()
    world, payment = paid.world, paid.payment
    platform = world.platform
    platform.operator_uscc = "91420103MA4KXXXX0Q"
    platform.bank_account_number = "6222020200112233"
    platform.save()
    response = logged_in(world.operator).get(notice_url(world, payment, language))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content, tmp_path)
    assert "BANK-REF-7788" in text
    assert "江汉区财政国库支付中心 4201" in text
    assert "91420103MA4KXXXX0Q" in text
    assert "2233" in text and "6222020200112233" not in text
    with translation.override(language):
        assert formatting.date(timezone.localdate()) in text
    assert "¥100.00" in text  # paid
    assert "¥200.00" in text  # outstanding after it
    assert in_language(language, "Payment notice") in text
    assert in_language(language, "Outstanding after this payment") in text
    event = AuditEvent.objects.get(event_type="settlement.exported")
    assert event.after["document"] == "payment_notice"
    assert event.after["payment"] == payment.pk


def test_a_rejected_line_is_a_line_of_the_page_with_its_status() -> None:
    paid = paid_in_part()
    line = SettlementLine.objects.get(reference="inv-2")
    assert line.status == SettlementLine.Status.REJECTED
    text = logged_in(paid.world.operator).get(page_url(paid.world, paid.settlement))
    assert 'class="rejected"' in text.content.decode()


# -- the platform's page -----------------------------------------------------------------


def test_the_platform_page_links_past_months_to_the_settlements() -> None:
    world = with_two_charges()
    response = logged_in(world.operator).get(
        reverse("operator_platform", args=[world.platform.slug])
    )
    text = response.content.decode()
    last_month = last_month_instant().strftime("%Y-%m")
    assert f"{list_url(world)}?period={last_month}" in text
    this_month = timezone.localdate().strftime("%Y-%m")
    assert f"?period={this_month}" not in text
    # The old monthly statement's address still answers (bookmarks).
    old = reverse("operator_settlement", args=[world.platform.slug, last_month, "html"])
    statement = logged_in(world.operator).get(old)
    assert statement.status_code == 200
    assert f"{list_url(world)}?period={last_month}" in statement.content.decode()
