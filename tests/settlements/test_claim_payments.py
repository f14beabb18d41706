"""Claims through the treasury's payment machinery (settlements.payments): an
approved reimbursement claim is batched beside a platform's settlement, the
instruction names it and pays the claiming enterprise at the account its
claim gives, the bank's file records its payment through the claim's own
service (the program's reservation becomes spend), and the district's
payment notice is printed for it."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from openpyxl import load_workbook

import settlements.admin_payments  # noqa: F401  (registers the batch admin)
from accounts.models import ComputePlatform
from audit.models import AuditEvent
from common.errors import BusinessError
from programs.models import Program
from settlements import claims as claim_services
from settlements.documents import payment_notice_pdf
from settlements.models import Claim, Payment, PaymentBatch, PaymentBatchItem, Settlement
from settlements.payment_files import EXPORT_COLUMNS
from settlements.payments import (
    payment_batch_candidates,
    payment_batch_confirm,
    payment_batch_create,
    payment_batch_export,
    payment_batch_rows,
)
from settlements.services import (
    settlement_approve,
    settlement_pass_on,
    settlement_start_review,
    settlement_submit,
)
from tests.accounts.factories import ComputePlatformFactory, EnterpriseFactory, make_uscc
from tests.programs.factories import ProgramFactory
from tests.settlements.claim_factories import (
    ClaimWorld,
    actor,
    approved,
    build,
    pay,
    submitted,
    to_finance,
)
from tests.settlements.factories import settlement_of_last_month
from tests.vouchers.factories import client_for, member, platform_actor, with_mfa

pytestmark = pytest.mark.django_db

D = Decimal
PLATFORM_ACCOUNT = "6222020200112233445"
#: The account the claim factories' claims give.
CLAIM_ACCOUNT = "6216610200016589"
CLAIM_BANK = "中国银行保定分行"


@pytest.fixture(autouse=True)
def _uploads_kept_apart(private_media: Any) -> None:
    """The claims' proofs are uploaded to a temporary folder."""


@dataclass
class Paying:
    world: ClaimWorld
    settlement: Settlement  # a platform's, in a deduct program of the same district
    claim: Claim  # ¥300,000 approved, to the world's enterprise
    platform: ComputePlatform


def approved_settlement(world: ClaimWorld) -> tuple[Settlement, ComputePlatform]:
    """An approved settlement of a deduct-at-platform program of the claims' district."""
    program = ProgramFactory(
        district=world.district,
        voucher_validity_days=400,
        per_charge_cap=None,
        settlement_four_eyes_threshold=None,
    )
    platform = ComputePlatformFactory()
    platform.bank_account_name = f"{platform.name}有限公司"
    platform.bank_name = "中国工商银行保定分行"
    platform.bank_account_number = PLATFORM_ACCOUNT
    platform.operator_uscc = make_uscc("130600")
    platform.save()
    settlement = settlement_of_last_month(program, platform, EnterpriseFactory())
    settlement = settlement_submit(
        actor=platform_actor(platform),
        platform=platform,
        settlement_id=settlement.pk,
        invoice_number=f"INV-{settlement.pk}",
        invoice_amount=settlement.amount_due,
    )
    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    settlement = settlement_pass_on(actor=actor(world.reviewer), settlement=settlement)
    return settlement_approve(actor=actor(world.finance), settlement=settlement), platform


def approved_claim(world: ClaimWorld, **contract: Any) -> Claim:
    return approved(world, to_finance(world, submitted(world, **contract)))


@pytest.fixture
def paying() -> Paying:
    world = build()
    settlement, platform = approved_settlement(world)
    claim = approved_claim(world)
    assert claim.status == Claim.Status.APPROVED and claim.outstanding == D("300000.00")
    return Paying(world=world, settlement=settlement, claim=claim, platform=platform)


def make_batch(p: Paying, **kwargs: Any) -> PaymentBatch:
    return payment_batch_create(
        actor=actor(p.world.finance), district=p.world.district, payer_account="BD-FIN-01", **kwargs
    )


def bank_csv(*rows: tuple[Any, ...], header: str) -> bytes:
    lines = [header, *(",".join(str(c) for c in row) for row in rows)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def today() -> str:
    return timezone.localdate().isoformat()


def confirm(p: Paying, batch: PaymentBatch, content: bytes) -> list[Payment]:
    return payment_batch_confirm(
        actor=actor(p.world.finance), batch=batch, file_name="bank.csv", content=content
    )


def money(value: Decimal) -> str:
    return f"{value:.2f}"


# --- Making a batch ------------------------------------------------------------------


def test_an_approved_claim_waits_for_payment_beside_the_districts_settlements(
    paying: Paying,
) -> None:
    p = paying
    candidates = payment_batch_candidates(district_id=p.world.district.pk)
    assert [(c.payout_type, c.payout.pk) for c in candidates] == [
        ("settlement", p.settlement.pk),
        ("claim", p.claim.pk),
    ]
    claim = candidates[1]
    assert claim.outstanding == claim.yuan == D("300000.00")
    assert claim.payee.name == p.world.enterprise.name
    assert claim.payee.account == CLAIM_ACCOUNT
    assert claim.has_bank_details


def test_a_batch_bundles_a_settlement_and_a_claim_with_the_claimants_bank_details(
    paying: Paying,
) -> None:
    p = paying
    batch = make_batch(p)
    settlement_item = batch.items.get(settlement=p.settlement)
    claim_item = batch.items.get(claim=p.claim)
    assert settlement_item.claim_id is None and claim_item.settlement_id is None
    assert settlement_item.amount_cny == p.settlement.outstanding
    assert claim_item.amount == claim_item.amount_cny == D("300000.00")
    assert claim_item.payee == p.world.enterprise.name
    assert claim_item.payee_uscc == p.world.enterprise.uscc
    assert claim_item.payee_bank == CLAIM_BANK
    assert claim_item.payee_account == CLAIM_ACCOUNT
    assert claim_item.payout == p.claim
    event = AuditEvent.objects.get(event_type="payment_batch.created", object_id=str(batch.pk))
    assert event.after["settlements"] == [p.settlement.pk]
    assert event.after["claims"] == [p.claim.pk]
    assert event.after["total_cny"] == money(p.settlement.outstanding + D("300000.00"))
    # Both now wait for the bank: nothing is left to batch.
    assert payment_batch_candidates(district_id=p.world.district.pk) == []
    with pytest.raises(BusinessError) as nothing_left:
        make_batch(p)
    assert "No approved settlement or claim" in nothing_left.value.message


def test_a_batch_of_chosen_claims_takes_only_those(paying: Paying) -> None:
    p = paying
    batch = make_batch(p, claims=[p.claim])
    assert list(batch.items.values_list("claim_id", "settlement_id")) == [(p.claim.pk, None)]
    # The settlement is still waiting; the claim is in a batch waiting for the bank.
    with pytest.raises(BusinessError) as again:
        make_batch(p, settlements=[p.settlement], claims=[p.claim])
    assert any(
        f"Claim #{p.claim.pk}" in m and "already in a payment batch" in m
        for m in again.value.messages
    ), again.value.messages
    assert PaymentBatch.objects.count() == 1


def test_a_claim_without_bank_details_refuses_the_batch_by_name(paying: Paying) -> None:
    p = paying
    Claim.objects.filter(pk=p.claim.pk).update(payee_bank="")
    with pytest.raises(BusinessError) as refused:
        make_batch(p)
    assert any(
        f"Claim #{p.claim.pk}" in m and "no bank details" in m for m in refused.value.messages
    ), refused.value.messages
    assert not PaymentBatch.objects.exists()


def test_a_claim_not_approved_or_of_another_district_is_refused_by_name(paying: Paying) -> None:
    p = paying
    # Another enterprise's claim (the first has reached its yearly cap), not yet approved.
    other = EnterpriseFactory(district=p.world.district)
    contract = p.world.contract(enterprise=other, admin=member(other))
    waiting = to_finance(p.world, submitted(p.world, contract))
    other_world = build(name="另一个项目")
    other_world_claim = approved_claim(other_world)
    # The other world's program is in the same district: move it to another one.
    Program.objects.filter(pk=other_world.program.pk).update(
        district=p.world.outsider_finance.memberships.get().district
    )
    with pytest.raises(BusinessError) as refused:
        make_batch(p, claims=[waiting, other_world_claim], settlements=[])
    messages = refused.value.messages
    assert any(f"Claim #{waiting.pk}" in m and "nothing approved" in m for m in messages)
    assert any(f"Claim #{other_world_claim.pk}" in m and "another district" in m for m in messages)


# --- The instruction -----------------------------------------------------------------


def _csv_rows(content: bytes) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    return [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in rows[1:]]


def test_the_csv_instruction_names_the_claim_and_pays_the_claimants_account(
    paying: Paying,
) -> None:
    p = paying
    batch = make_batch(p)
    exported = payment_batch_export(actor=actor(p.world.finance), batch=batch, file_format="csv")
    settlement_row, claim_row = _csv_rows(exported.content)
    assert settlement_row["payout_type"] == "settlement"
    assert settlement_row["settlement_id"] == str(p.settlement.pk)
    assert settlement_row["claim_id"] == ""
    assert settlement_row["period"] == settlement_row["payout"] == p.settlement.period
    assert settlement_row["payee_account"] == PLATFORM_ACCOUNT
    assert settlement_row["reference"] == f"CV-{batch.pk}-{p.settlement.pk}"
    assert claim_row["payout_type"] == "claim"
    assert claim_row["settlement_id"] == ""
    assert claim_row["claim_id"] == str(p.claim.pk)
    assert claim_row["payout"] == f"claim #{p.claim.pk}"
    assert claim_row["period"] == ""
    assert claim_row["program"] == p.world.program.name
    assert claim_row["payee"] == p.world.enterprise.name
    assert claim_row["payee_uscc"] == p.world.enterprise.uscc
    assert claim_row["payee_bank"] == CLAIM_BANK
    assert claim_row["payee_account"] == CLAIM_ACCOUNT
    assert claim_row["amount_cny"] == "300000.00"
    assert claim_row["currency"] == "CNY"
    assert claim_row["reference"] == f"CV-{batch.pk}-C{p.claim.pk}"
    event = AuditEvent.objects.filter(event_type="payment_batch.exported").latest("id")
    assert event.after["rows"] == 2
    rows = payment_batch_rows(batch)
    assert [(r.payout_type, r.settlement_id, r.claim_id) for r in rows] == [
        ("settlement", p.settlement.pk, None),
        ("claim", None, p.claim.pk),
    ]


def test_the_xlsx_instruction_keeps_the_claimants_account_as_text(paying: Paying) -> None:
    p = paying
    batch = make_batch(p)
    exported = payment_batch_export(actor=actor(p.world.finance), batch=batch, file_format="xlsx")
    sheet = load_workbook(io.BytesIO(exported.content)).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == EXPORT_COLUMNS
    rows = [dict(zip(EXPORT_COLUMNS, v, strict=True)) for v in values[1:]]
    claim_row = next(r for r in rows if r["payout_type"] == "claim")
    assert claim_row["claim_id"] == p.claim.pk
    assert claim_row["settlement_id"] is None
    assert claim_row["payee"] == p.world.enterprise.name
    assert claim_row["payee_account"] == CLAIM_ACCOUNT
    assert Decimal(repr(claim_row["amount_cny"])) == D("300000")
    assert claim_row["reference"] == f"CV-{batch.pk}-C{p.claim.pk}"
    account_column = EXPORT_COLUMNS.index("payee_account") + 1
    assert sheet.cell(row=3, column=account_column).data_type == "s"


# --- The bank's confirmation -------------------------------------------------------------


def test_the_banks_file_pays_the_claim_and_its_reservation_becomes_spend(
    paying: Paying,
) -> None:
    p = paying
    program = p.world.program
    program.refresh_from_db()
    reserved, issued = program.reserved_amount, program.paid_out_amount
    assert reserved >= D("300000.00")
    batch = make_batch(p)
    payments = confirm(
        p,
        batch,
        bank_csv(
            ("", p.claim.pk, "300000.00", today(), "BOC-0001"),
            (p.settlement.pk, "", money(p.settlement.outstanding), today(), "ICBC-0001"),
            header="settlement_id,claim_id,amount_cny,paid_on,bank_reference",
        ),
    )
    assert len(payments) == 2
    p.claim.refresh_from_db()
    assert p.claim.status == Claim.Status.PAID
    assert p.claim.paid_amount == D("300000.00")
    payment = Payment.objects.get(claim=p.claim)
    assert payment.settlement_id is None
    assert payment.batch == batch
    assert payment.amount == payment.amount_cny == D("300000.00")
    assert payment.bank_reference == "BOC-0001"
    assert payment.payer_account == "BD-FIN-01"
    assert PaymentBatchItem.objects.get(batch=batch, claim=p.claim).payment == payment
    program.refresh_from_db()
    assert program.reserved_amount == reserved - D("300000.00")
    assert program.paid_out_amount == issued + D("300000.00")
    p.settlement.refresh_from_db()
    assert p.settlement.status == Settlement.Status.PAID
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.CONFIRMED
    event = AuditEvent.objects.get(event_type="payment_batch.confirmed", object_id=str(batch.pk))
    assert event.after["claims"] == [p.claim.pk]
    assert event.after["settlements"] == [p.settlement.pk]
    kinds = list(
        AuditEvent.objects.filter(object_type="settlements.claim", object_id=str(p.claim.pk))
        .order_by("id")
        .values_list("event_type", flat=True)
    )
    assert kinds[-2:] == ["claim.payment_recorded", "claim.paid"]


def test_the_bank_may_name_the_claim_by_its_reference(paying: Paying) -> None:
    p = paying
    batch = make_batch(p)
    confirm(
        p,
        batch,
        bank_csv(
            (f"CV-{batch.pk}-C{p.claim.pk}", "300000.00", today(), "BOC-1"),
            header="reference,amount_cny,paid_on,bank_reference",
        ),
    )
    p.claim.refresh_from_db()
    p.settlement.refresh_from_db()
    assert (p.claim.status, p.settlement.status) == (
        Claim.Status.PAID,
        Settlement.Status.APPROVED,
    )
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.EXPORTED  # the settlement is left to confirm


def _refusal(p: Paying, batch: PaymentBatch, *rows: tuple[Any, ...]) -> list[str]:
    with pytest.raises(BusinessError) as refused:
        confirm(
            p,
            batch,
            bank_csv(*rows, header="settlement_id,claim_id,amount_cny,paid_on,bank_reference"),
        )
    assert "nothing was recorded" in refused.value.message
    return refused.value.messages


def test_a_row_that_does_not_match_the_claims_item_refuses_the_whole_file(
    paying: Paying,
) -> None:
    p = paying
    batch = make_batch(p, claims=[p.claim])
    settlement_row = (p.settlement.pk, "", "1.00", today(), "B-0")
    assert _refusal(p, batch, ("", p.claim.pk, "300000.01", today(), "B-1")) == [
        f"Row 2: The amount_cny 300,000.01 differs from the batch's 300,000.00 "
        f"for claim #{p.claim.pk}."
    ]
    assert _refusal(p, batch, ("", 999_999, "1.00", today(), "B-1")) == [
        "Row 2: There is no claim #999999."
    ]
    assert _refusal(p, batch, settlement_row) == [
        f"Row 2: Settlement #{p.settlement.pk} is not in this batch."
    ]
    assert _refusal(p, batch, (p.settlement.pk, p.claim.pk, "300000.00", today(), "B-1")) == [
        "Row 2: The row gives both a settlement_id and a claim_id; give one."
    ]
    both = ("", p.claim.pk, "300000.00", today(), "B-1")
    assert _refusal(p, batch, both, both) == [f"Row 3: Claim #{p.claim.pk} is already on row 2."]
    with pytest.raises(BusinessError) as disagree:
        confirm(
            p,
            batch,
            bank_csv(
                (p.claim.pk, f"CV-{batch.pk}-C{p.claim.pk}", "300000.00", today(), "B-1"),
                header="settlement_id,reference,amount_cny,paid_on,bank_reference",
            ),
        )
    assert disagree.value.messages[0] == (
        f"Row 2: The settlement_id {p.claim.pk} and the reference "
        f"CV-{batch.pk}-C{p.claim.pk} disagree."
    )
    assert not Payment.objects.exists()
    p.claim.refresh_from_db()
    assert p.claim.status == Claim.Status.APPROVED


def test_a_claim_already_confirmed_is_refused_on_a_later_file(paying: Paying) -> None:
    p = paying
    batch = make_batch(p)
    header = "settlement_id,claim_id,amount_cny,paid_on,bank_reference"
    confirm(p, batch, bank_csv(("", p.claim.pk, "300000.00", today(), "BOC-1"), header=header))
    assert _refusal(p, batch, ("", p.claim.pk, "300000.00", today(), "BOC-2")) == [
        f"Row 2: Claim #{p.claim.pk} is already confirmed "
        f"(paid on {today()}, bank reference BOC-1)."
    ]
    assert Payment.objects.filter(claim=p.claim).count() == 1


# --- Paying by hand ------------------------------------------------------------------


def test_a_claim_in_an_exported_batch_takes_no_manual_payment(paying: Paying) -> None:
    p = paying
    batch = make_batch(p)
    with pytest.raises(BusinessError) as refused:
        pay(p.world, p.claim, D("1000.00"), ref="CASH-1")
    assert "payment batch sent to the treasury" in refused.value.message
    assert not Payment.objects.exists()
    # The bank's confirmation records it.
    confirm(
        p,
        batch,
        bank_csv(
            ("", p.claim.pk, "300000.00", today(), "BOC-1"),
            header="settlement_id,claim_id,amount_cny,paid_on,bank_reference",
        ),
    )
    assert Payment.objects.get(claim=p.claim).bank_reference == "BOC-1"


def test_paying_a_claim_more_than_is_outstanding_is_refused(paying: Paying) -> None:
    p = paying
    with pytest.raises(BusinessError) as refused:
        pay(p.world, p.claim, D("300000.01"), ref="BK-9")
    assert refused.value.field == "amount"
    assert not Payment.objects.exists()
    pay(p.world, p.claim, D("100000.00"), ref="BK-1")
    with pytest.raises(BusinessError):
        pay(p.world, p.claim, D("200000.01"), ref="BK-2")
    # A partly paid claim is batched for what is left.
    batch = make_batch(p, claims=[p.claim])
    assert batch.items.get().amount_cny == D("200000.00")


def test_a_claim_paid_outside_its_batch_refuses_the_banks_row(paying: Paying) -> None:
    p = paying
    batch = make_batch(p, claims=[p.claim])
    # The item no longer matches what the claim has left to pay (as if it
    # had been paid, in part, outside the batch).
    PaymentBatchItem.objects.filter(batch=batch).update(amount=D("299999.00"))
    messages = _refusal(p, batch, ("", p.claim.pk, "300000.00", today(), "B-1"))
    assert messages == [
        f"Row 2: Claim #{p.claim.pk} no longer has the batch's amount to pay "
        "(was it paid outside the batch?)."
    ]


# --- The payment notice -----------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_claims_payment_notice_pdf_is_printed_for_the_enterprise(
    paying: Paying, language: str, tmp_path: Any
) -> None:
    p = paying
    payment = claim_services.claim_payment_record(
        actor=actor(p.world.finance),
        claim=p.claim,
        amount=D("100000.00"),
        paid_on=timezone.localdate(),
        payer_account="保定市财政局 1300",
        bank_reference="BOC-7788",
    )
    content = payment_notice_pdf(payment, language=language)
    assert content.startswith(b"%PDF")
    text = _pdf_text(content, tmp_path)
    if text is None:
        return
    assert "BOC-7788" in text
    assert p.world.enterprise.name in text
    assert CLAIM_ACCOUNT[-4:] in text and CLAIM_ACCOUNT not in text
    assert "¥100,000.00" in text  # paid
    assert "¥200,000.00" in text  # outstanding after it
    assert f"#{p.claim.pk}" in text
    # One page in either language (the English notice once spilled its footer).
    pdf = tmp_path / "notice.pdf"
    pdf.write_bytes(content)
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo is None:  # poppler-utils comes with scripts/setup
        return
    info = subprocess.run(  # noqa: S603 (a fixed local tool on a file we wrote)
        [pdfinfo, str(pdf)], capture_output=True, text=True, check=True
    )
    assert "Pages:           1" in info.stdout


def test_the_notice_of_a_batch_payment_shows_the_payee_the_batch_recorded(
    paying: Paying, tmp_path: Any
) -> None:
    p = paying
    batch = make_batch(p, claims=[p.claim])
    Claim.objects.filter(pk=p.claim.pk).update(payee_account="6216000000009999")
    (payment,) = confirm(
        p,
        batch,
        bank_csv(
            ("", p.claim.pk, "300000.00", today(), "BOC-1"),
            header="settlement_id,claim_id,amount_cny,paid_on,bank_reference",
        ),
    )
    payment = Payment.objects.select_related("batch_item", "claim").get(pk=payment.pk)
    content = payment_notice_pdf(payment, language="en")
    assert content.startswith(b"%PDF")
    text = _pdf_text(content, tmp_path)
    if text is not None:
        assert CLAIM_ACCOUNT[-4:] in text and "9999" not in text


def _pdf_text(content: bytes, tmp_path: Any) -> str | None:
    """The PDF's text through pdftotext, or None where poppler is not installed."""
    tool = shutil.which("pdftotext")
    if tool is None:
        return None
    path = tmp_path / "notice.pdf"
    path.write_bytes(content)
    return subprocess.run(  # noqa: S603 (a fixed local tool on a file we wrote)
        [tool, "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


# --- The admin ---------------------------------------------------------------------------


def _claim_admin_url(claim: Claim) -> str | None:
    try:
        return reverse("admin:settlements_claim_change", args=[claim.pk])
    except NoReverseMatch:  # the claims' admin is registered apart
        return None


def test_the_admin_lists_the_claim_for_a_batch_and_links_its_item(paying: Paying) -> None:
    p = paying
    client = client_for(with_mfa(p.world.finance))
    page = client.get(reverse("admin:settlements_paymentbatch_new")).content.decode()
    assert f"Claim #{p.claim.pk}" in page
    assert f"#{p.settlement.pk} " in page
    made = client.post(
        reverse("admin:settlements_paymentbatch_new"),
        {"district": p.world.district.pk, "payer_account": "BD-FIN-01"},
    )
    assert made.status_code == 302
    batch = PaymentBatch.objects.get()
    assert set(batch.items.values_list("settlement_id", "claim_id")) == {
        (p.settlement.pk, None),
        (None, p.claim.pk),
    }
    change = client.get(made["Location"]).content.decode()
    assert f"CV-{batch.pk}-C{p.claim.pk}" in change
    assert CLAIM_ACCOUNT in change
    assert f"Claim #{p.claim.pk}" in change
    claim_url = _claim_admin_url(p.claim)
    if claim_url is not None:
        assert f'href="{claim_url}"' in change


def test_other_officials_see_the_claims_account_masked(paying: Paying) -> None:
    p = paying
    batch = make_batch(p)
    page = client_for(with_mfa(p.world.reviewer)).get(
        reverse("admin:settlements_paymentbatch_change", args=[batch.pk])
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert CLAIM_ACCOUNT not in text and "•••• " + CLAIM_ACCOUNT[-4:] in text


def test_the_payments_list_shows_a_claims_payment(paying: Paying) -> None:
    p = paying
    pay(p.world, p.claim, D("1000.00"), ref="BK-LIST")
    response = client_for(with_mfa(p.world.finance)).get(
        reverse("admin:settlements_payment_changelist")
    )
    assert response.status_code == 200
    assert "BK-LIST" in response.content.decode()
