"""Contracts, their invoices and documents, as an enterprise records them,
and the small checks every claim write shares."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import ComputePlatform, Enterprise
from accounts.scoping import scope_for
from accounts.uscc import normalize_uscc, uscc_problem
from applications.documents import check_document
from audit import events
from audit.services import Actor, audit_record
from common.errors import BusinessError, Code
from eligibility.duplicates import shared_contact_flags

from ..models import (
    Claim,
    ClaimedInvoice,
    Contract,
    ContractDocument,
    Invoice,
    ServiceKind,
)
from ..models.claims import normalize_invoice_number

#: What the claimant declares on submitting (Qingdao: "a signed statement that
#: the materials are true"; Beijing: no other municipal subsidy for the same compute).
DECLARATION = gettext_lazy(
    "We declare that the contract, invoices and proofs are true and complete, that the "
    "fees were paid, that the supplier is not a related party, and that no other public "
    "fund pays for the same compute."
)


def _refuse(message: str, field: str | None = None) -> BusinessError:
    return BusinessError(Code.VALIDATION_ERROR, message, field)


def _today() -> datetime.date:
    return timezone.localdate()


def _require_admin(actor: Actor, enterprise_id: int) -> None:
    if actor.user is None or enterprise_id not in scope_for(actor.user).admin_enterprise_ids:
        raise PermissionDenied(_("Only an administrator of the enterprise may do this."))


def _text(value: Any, field: str, *, limit: int, required: bool = True) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise _refuse(_("This field is required."), field)
    if len(text) > limit:
        raise _refuse(_("At most %(limit)s characters.") % {"limit": limit}, field)
    return text


def _money(value: Any, field: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise _refuse(_("Enter an amount greater than zero."), field)
    if value != value.quantize(Decimal("0.01")) or value >= Decimal("1e14"):
        raise _refuse(_("Enter an amount in yuan with at most two decimals."), field)
    return value


def _date(value: Any, field: str, *, not_after_today: bool = False) -> datetime.date:
    if not isinstance(value, datetime.date):
        raise _refuse(_("Enter a date."), field)
    if not_after_today and value > _today():
        raise _refuse(_("This date cannot be in the future."), field)
    return value


def _audit_contract(contract: Contract, actor: Actor, event_type: str, **after: Any) -> None:
    audit_record(
        actor=actor,
        event_type=event_type,
        obj=contract,
        enterprise_id=contract.enterprise_id,
        after={"contract": contract.key, **after},
    )


# --- Contracts, invoices, documents --------------------------------------------


@transaction.atomic
def contract_record(
    *,
    actor: Actor,
    enterprise: Enterprise,
    side: str = Contract.Side.BUYER,
    number: Any,
    counterparty_uscc: Any,
    counterparty_name: Any,
    signed_on: Any,
    service_starts_on: Any,
    service_ends_on: Any,
    amount: Any,
    service_kind: Any,
    description: Any = "",
) -> Contract:
    """An enterprise records a compute contract with its counterparty (the
    supplier when it buys, the buyer when it supplies)."""
    _require_admin(actor, enterprise.pk)
    if side not in Contract.Side.values:
        raise _refuse(_("Choose buyer or supplier."), "side")
    number = _text(number, "number", limit=100)
    counterparty_uscc = normalize_uscc(
        counterparty_uscc if isinstance(counterparty_uscc, str) else ""
    )
    problem = uscc_problem(counterparty_uscc)
    if problem is not None:
        raise _refuse(problem, "counterparty_uscc")
    if counterparty_uscc == enterprise.uscc:
        raise _refuse(_("An enterprise cannot contract with itself."), "counterparty_uscc")
    counterparty_name = _text(counterparty_name, "counterparty_name", limit=200)
    signed_on = _date(signed_on, "signed_on", not_after_today=True)
    starts = _date(service_starts_on, "service_starts_on")
    ends = _date(service_ends_on, "service_ends_on")
    if ends < starts:
        raise _refuse(_("The service cannot end before it starts."), "service_ends_on")
    if starts < signed_on - datetime.timedelta(days=366):
        raise _refuse(
            _("The service starts long before the contract was signed."), "service_starts_on"
        )
    amount = _money(amount, "amount")
    if service_kind not in ServiceKind.values:
        raise _refuse(_("Choose what the contract buys."), "service_kind")
    if side == Contract.Side.BUYER:
        supplier_uscc, supplier_name = counterparty_uscc, counterparty_name
        buyer_uscc, buyer_name = enterprise.uscc, enterprise.name
    else:
        supplier_uscc, supplier_name = enterprise.uscc, enterprise.name
        buyer_uscc, buyer_name = counterparty_uscc, counterparty_name
    if Contract.objects.filter(
        enterprise=enterprise, supplier_uscc=supplier_uscc, buyer_uscc=buyer_uscc, number=number
    ).exists():
        raise _refuse(_("This contract is already recorded."), "number")
    supplier_enterprise = Enterprise.objects.filter(uscc=supplier_uscc).first()
    buyer_enterprise = Enterprise.objects.filter(uscc=buyer_uscc).first()
    contract = Contract.objects.create(
        enterprise=enterprise,
        side=side,
        number=number,
        supplier_uscc=supplier_uscc,
        supplier_name=supplier_name,
        buyer_uscc=buyer_uscc,
        buyer_name=buyer_name,
        supplier_enterprise=supplier_enterprise,
        supplier_platform=ComputePlatform.objects.filter(operator_uscc=supplier_uscc).first(),
        signed_on=signed_on,
        service_starts_on=starts,
        service_ends_on=ends,
        amount=amount,
        service_kind=service_kind,
        description=_text(description, "description", limit=2000, required=False),
        flags=related_party_flags(buyer_enterprise, supplier_enterprise),
        created_by=actor.user,
    )
    _audit_contract(
        contract,
        actor,
        events.CONTRACT_RECORDED,
        amount=str(amount),
        signed_on=signed_on.isoformat(),
        service=f"{starts.isoformat()}/{ends.isoformat()}",
        flags=[flag["code"] for flag in contract.flags],
    )
    return contract


def related_party_flags(
    buyer: Enterprise | None, supplier: Enterprise | None
) -> list[dict[str, str]]:
    """The supplier and buyer share a legal representative or a contact: a
    related party, whose contract the reviewer must look at."""
    if buyer is None or supplier is None:
        return []
    return [
        {"code": flag.code, "message": flag.message}
        for flag in shared_contact_flags(buyer, [supplier])
    ]


@transaction.atomic
def invoice_record(
    *,
    actor: Actor,
    contract: Contract,
    number: Any,
    issued_on: Any,
    amount: Any,
    service_kind: Any,
    paid_on: Any = None,
) -> Invoice:
    """An invoice the supplier issued under the contract, and when it was paid."""
    _require_admin(actor, contract.enterprise_id)
    under_review = [
        Claim.Status.SUBMITTED,
        Claim.Status.CHECKING,
        Claim.Status.ASSESSMENT,
        Claim.Status.FINANCE,
    ]
    if (
        contract.claims.filter(status__in=under_review)
        .exclude(stage=Claim.Stage.PREAPPROVAL)
        .exists()
    ):
        raise _refuse(_("The contract is claimed: its invoices are under review."), "number")
    number = normalize_invoice_number(number)
    if not (8 <= len(number) <= 20 and number.isalnum()):
        raise _refuse(_("An invoice number has 8 to 20 letters and digits."), "number")
    issued_on = _date(issued_on, "issued_on", not_after_today=True)
    if issued_on < contract.signed_on:
        raise _refuse(_("The invoice is dated before the contract was signed."), "issued_on")
    amount = _money(amount, "amount")
    if service_kind not in ServiceKind.values:
        raise _refuse(_("Choose what the invoice bills."), "service_kind")
    if paid_on is not None:
        paid_on = _date(paid_on, "paid_on", not_after_today=True)
        if paid_on < issued_on - datetime.timedelta(days=366):
            raise _refuse(_("The payment date is long before the invoice."), "paid_on")
    if contract.invoices.filter(number=number).exists():
        raise _refuse(_("This invoice is already recorded under this contract."), "number")
    held = ClaimedInvoice.objects.filter(number=number).select_related("claim").first()
    if held is not None and held.claim.contract_key != contract.key:
        raise _refuse(
            _("Invoice %(number)s is already claimed under another contract.") % {"number": number},
            "number",
        )
    invoice = Invoice.objects.create(
        contract=contract,
        number=number,
        issued_on=issued_on,
        amount=amount,
        supplier_uscc=contract.supplier_uscc,
        service_kind=service_kind,
        paid_on=paid_on,
    )
    _audit_contract(
        contract,
        actor,
        events.INVOICE_RECORDED,
        invoice=number,
        amount=str(amount),
        paid_on=paid_on.isoformat() if paid_on else None,
    )
    return invoice


@transaction.atomic
def contract_document_add(
    *, actor: Actor, contract: Contract, kind: str, upload: Any, invoice: Invoice | None = None
) -> ContractDocument:
    """Attach the contract file or a proof (PDF, PNG or JPEG, checked by content)."""
    _require_admin(actor, contract.enterprise_id)
    if kind not in ContractDocument.Kind.values:
        raise _refuse(_("Choose what the document is."), "kind")
    if invoice is not None and invoice.contract_id != contract.pk:
        raise _refuse(_("That invoice is not under this contract."), "invoice")
    checked = check_document(upload)
    if contract.documents.filter(sha256=checked.sha256).exists():
        raise _refuse(_("This file is already attached to the contract."), "file")
    document = ContractDocument(
        contract=contract,
        kind=kind,
        invoice=invoice,
        original_name=(getattr(upload, "name", "") or "document")[:200],
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        uploaded_by=actor.user,
    )
    document.file.save(document.original_name, upload, save=False)
    document.save()
    _audit_contract(
        contract, actor, events.CONTRACT_DOCUMENT_ADDED, kind=kind, sha256=checked.sha256
    )
    return document
