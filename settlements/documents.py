"""A settlement's documents as PDF (WeasyPrint), in zh-Hans or en: the
statement the platform signs with its invoice, and the district's notice of
each payment — of a platform's settlement or of an enterprise's claim. Set
in a CJK font, like the voucher certificate, so Chinese renders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import ZERO, Claim, Payment, Settlement
from .selectors import (
    paid_through,
    period_last_day,
    settlement_payments,
    settlement_rejected_lines,
    settlement_voucher_totals,
)
from .statement_detail import LINES_IN_FULL, settlement_statement_detail


def masked_account(number: str) -> str:
    """An account number as a notice may print it: only its last four digits."""
    number = (number or "").replace(" ", "")
    if not number:
        return ""
    return "•••• " + number[-4:]


def _signatures(settlement: Settlement) -> list[dict[str, Any]]:
    """Who signed for each side, and when, where the settlement records it."""
    reviewer = settlement.reviewed_by or settlement.review_started_by
    reviewed_at = settlement.reviewed_at if settlement.reviewed_by else None
    finance = [
        person
        for person in (
            (settlement.first_approved_by, settlement.first_approved_at),
            (settlement.approved_by, settlement.approved_at),
        )
        if person[0] is not None
    ]
    if not finance:
        finance = [(None, None)]
    blocks: list[dict[str, Any]] = [
        {
            "role": "platform",
            "party": settlement.platform.operator or settlement.platform.display_name,
            "name": settlement.submitted_by,
            "at": settlement.submitted_at,
            "seal": True,
        },
        {
            "role": "reviewer",
            "party": settlement.program.district.display_name,
            "name": reviewer.get_full_name() if reviewer else "",
            "at": reviewed_at,
            "seal": False,
        },
    ]
    for officer, at in finance:
        blocks.append(
            {
                "role": "finance",
                "party": settlement.program.district.display_name,
                "name": officer.get_full_name() if officer else "",
                "at": at,
                # The district's seal goes beside its last signature.
                "seal": False,
            }
        )
    blocks[-1]["seal"] = True
    return blocks


def _render(template: str, context: dict[str, Any], language: str) -> bytes:
    from weasyprint import HTML

    with translation.override(language):
        html = render_to_string(
            template, {**context, "language": language, "printed_at": timezone.localtime()}
        )
    return HTML(string=html).write_pdf()


def statement_pdf(
    settlement: Settlement, *, language: str, line_limit: int = LINES_IN_FULL
) -> bytes:
    """The settlement statement: its figures, the lines summed per voucher,
    each line (or, for a long settlement, the lines per day and model), the
    rejected lines with their reasons, the invoice and the signatures."""
    vouchers = settlement_voucher_totals(settlement)
    return _render(
        "pdf/settlement_statement.html",
        {
            "settlement": settlement,
            "platform": settlement.platform,
            "program": settlement.program,
            "district": settlement.program.district,
            "vouchers": vouchers,
            "charges": sum(v.charges for v in vouchers),
            "last_day": period_last_day(settlement),
            "detail": settlement_statement_detail(settlement, limit=line_limit),
            "rejected_lines": list(settlement_rejected_lines(settlement)),
            "payments": list(settlement_payments(settlement)),
            "signatures": _signatures(settlement),
        },
        language,
    )


def _payee_of_item(payment: Payment) -> dict[str, str] | None:
    """The payee as the treasury batch recorded it, when the payment came from one."""
    item = getattr(payment, "batch_item", None)
    if item is None:
        return None
    return {
        "name": item.payee,
        "uscc": item.payee_uscc,
        "bank": item.payee_bank,
        "account": masked_account(item.payee_account),
    }


def payment_notice_pdf(payment: Payment, *, language: str) -> bytes:
    """The district's notice that it paid a payout: payee, amount, date,
    accounts and reference, the settlement or claim it pays and what remains."""
    if payment.claim is not None:
        return _claim_payment_notice_pdf(payment, payment.claim, language=language)
    settlement = payment.settlement
    if settlement is None:  # pragma: no cover (the database holds exactly one)
        raise ValueError("a payment of neither a settlement nor a claim")
    platform = settlement.platform
    payee = _payee_of_item(payment) or {
        "name": platform.bank_account_name or platform.operator,
        "uscc": platform.operator_uscc,
        "bank": platform.bank_name,
        "account": masked_account(platform.bank_account_number),
    }
    paid = paid_through(payment)
    approved = settlement.approved_amount
    outstanding = None if approved is None else max(approved - paid, ZERO)
    return _render(
        "pdf/payment_notice.html",
        {
            "payment": payment,
            "settlement": settlement,
            "platform": platform,
            "program": settlement.program,
            "district": settlement.program.district,
            "payee": payee,
            "paid_through": paid,
            "last_day": period_last_day(settlement),
            "outstanding": outstanding,
        },
        language,
    )


def _claim_paid_through(payment: Payment, claim: Claim) -> Decimal:
    """What was paid against ``claim`` up to and including its ``payment``
    (payments in the order of their dates, then of their records)."""
    earlier = Q(paid_on__lt=payment.paid_on) | Q(paid_on=payment.paid_on, pk__lte=payment.pk)
    total: Any = (
        Payment.objects.filter(claim=claim).filter(earlier).aggregate(total=Sum("amount"))["total"]
    )
    return total or ZERO


def _claim_payment_notice_pdf(payment: Payment, claim: Claim, *, language: str) -> bytes:
    """The notice of a payment to a claiming enterprise: the settlement
    notice's layout, with the claim, its contract and its enterprise."""
    enterprise = claim.enterprise
    payee = _payee_of_item(payment) or {
        "name": enterprise.name,
        "uscc": enterprise.uscc,
        "bank": claim.payee_bank,
        "account": masked_account(claim.payee_account),
    }
    paid = _claim_paid_through(payment, claim)
    approved = claim.approved_amount
    outstanding = None if approved is None else max(approved - paid, ZERO)
    return _render(
        "pdf/payment_notice.html",
        {
            "payment": payment,
            "claim": claim,
            "enterprise": enterprise,
            "contract": claim.contract,
            "program": claim.program,
            "district": claim.program.district,
            "payee": payee,
            "paid_through": paid,
            "outstanding": outstanding,
        },
        language,
    )
