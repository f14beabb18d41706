"""The claimant's side of a claim: the draft and its arithmetic, the guards
of submission (window, dates, documents, one claim per contract, one claim
per invoice number, priority between supplier and buyer), withdrawal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from audit import events
from audit.services import Actor
from common import formatting
from common.errors import Code
from notices.models import Notification
from programs.models import Program
from vouchers.models import Voucher

from ..claim_rules import Arithmetic, compute
from ..models import (
    ZERO,
    Claim,
    ClaimedInvoice,
    Contract,
    ContractDocument,
    Invoice,
)
from ..records import _check as check_transition
from ..records import audit_step
from .contracts import DECLARATION, _refuse, _require_admin, _text, _today
from .notices import notify_claimant

Priority = Program.ClaimPriority
CLAIM_MODES = (Program.PayoutMode.REIMBURSE, Program.PayoutMode.CONTRACT_VOUCHER)


# --- Claims: the claimant's side ------------------------------------------------


def _stage_for(program: Program, contract: Contract) -> str:
    if program.payout_mode == Program.PayoutMode.CONTRACT_VOUCHER:
        return Claim.Stage.REDEMPTION if contract.voucher_id else Claim.Stage.PREAPPROVAL
    return Claim.Stage.REIMBURSEMENT


def _side_refusal(program: Program, contract: Contract) -> str | None:
    only: dict[str, list[str]] = {
        Priority.BUYER_ONLY: [Contract.Side.BUYER],
        Priority.SUPPLIER_ONLY: [Contract.Side.SUPPLIER],
    }
    allowed = only.get(program.claim_priority, [Contract.Side.BUYER, Contract.Side.SUPPLIER])
    if contract.side in allowed:
        return None
    if contract.side == Contract.Side.BUYER:
        return _("In this program only the supplier of a contract may claim.")
    return _("In this program only the buyer of a contract may claim.")


def _has_priority(program: Program, side: str) -> bool:
    return (program.claim_priority, side) in {
        (Priority.SUPPLIER_FIRST, Contract.Side.SUPPLIER),
        (Priority.BUYER_FIRST, Contract.Side.BUYER),
    }


def already_in_year(claim: Claim) -> Decimal:
    """What the enterprise's other live claims in this program ask for in the
    claim's year (approved amounts once decided)."""
    others = (
        Claim.objects.filter(
            program_id=claim.program_id,
            enterprise_id=claim.enterprise_id,
            service_year=claim.service_year,
            status__in=Claim.LIVE,
        )
        .exclude(pk=claim.pk)
        .exclude(stage=Claim.Stage.REDEMPTION)
    )
    total = ZERO
    for other in others.only(
        "claimed_amount", "checked_amount", "recommended_amount", "approved_amount"
    ):
        total += (
            other.approved_amount
            if other.approved_amount is not None
            else other.amount_for_approval
        )
    return total


def claim_compute(claim: Claim) -> Arithmetic:
    """The claim's arithmetic as it stands, with the district's exclusions."""
    contract = claim.contract
    excluded = frozenset(
        claim.claimed_invoices.filter(excluded=True).values_list("number", flat=True)
    )
    first = compute(
        program=claim.program, contract=contract, invoices=list(contract.invoices.all())
    )
    claim.service_year = first.service_year
    result = compute(
        program=claim.program,
        contract=contract,
        invoices=list(contract.invoices.all()),
        excluded=excluded,
        already_in_year=already_in_year(claim),
    )
    if claim.stage == Claim.Stage.REDEMPTION and claim.voucher_id is not None:
        balance = Voucher.objects.only("balance").get(pk=claim.voucher_id).balance
        if result.amount > balance:
            result.amount = balance
    return result


@transaction.atomic
def claim_create(*, actor: Actor, program: Program, contract: Contract) -> Claim:
    """A draft claim on one of the enterprise's contracts, its arithmetic computed."""
    _require_admin(actor, contract.enterprise_id)
    if program.payout_mode not in CLAIM_MODES:
        raise _refuse(_("This program pays through platforms; it takes no claims."), "program")
    if program.status not in (Program.Status.OPEN, Program.Status.PAUSED):
        raise _refuse(_("This program is not open."), "program")
    if program.claim_closes_on and _today() > program.claim_closes_on:
        raise _refuse(
            _("Claims closed on %(date)s.") % {"date": formatting.date(program.claim_closes_on)},
            "program",
        )
    refusal = _side_refusal(program, contract)
    if refusal:
        raise _refuse(refusal, "contract")
    stage = _stage_for(program, contract)
    if Claim.objects.filter(
        contract=contract, program=program, stage=stage, status__in=[Claim.Status.DRAFT]
    ).exists():
        raise _refuse(_("A draft claim on this contract already exists."), "contract")
    voucher = contract.voucher if stage == Claim.Stage.REDEMPTION else None
    if voucher is not None and voucher.program_id != program.pk:
        raise _refuse(_("The contract's voucher is from another program."), "program")
    claim = Claim(
        program=program,
        enterprise=contract.enterprise,
        contract=contract,
        contract_key=contract.key,
        stage=stage,
        voucher=voucher,
        flags=list(contract.flags),
    )
    claim.save()
    _recompute(claim)
    claim.save()
    _audit(claim, actor, events.CLAIM_CREATED)
    return claim


def _recompute(claim: Claim) -> Arithmetic:
    result = claim_compute(claim)
    claim.arithmetic = {**result.as_json(), "refusals": result.refusals}
    claim.claimed_amount = result.amount
    return result


def _locked(claim: Claim | int) -> Claim:
    pk = claim if isinstance(claim, int) else claim.pk
    return (
        Claim.objects.select_for_update(of=("self",))
        .select_related("program", "contract", "enterprise")
        .get(pk=pk)
    )


def _figures(claim: Claim) -> dict[str, Any]:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "status": claim.status,
        "stage": claim.stage,
        "contract": claim.contract_key,
        "claimed_amount": str(claim.claimed_amount),
        "checked_amount": text(claim.checked_amount),
        "recommended_amount": text(claim.recommended_amount),
        "approved_amount": text(claim.approved_amount),
        "paid_amount": str(claim.paid_amount),
    }


def _audit(
    claim: Claim,
    actor: Actor,
    event_type: str,
    *,
    before: str | None = None,
    note: str = "",
    extra: dict[str, Any] | None = None,
) -> None:
    audit_step(
        claim,
        actor,
        event_type,
        figures=_figures(claim),
        before=before,
        note=note,
        extra=extra,
        enterprise_id=claim.enterprise_id,
    )


def _check(bound_method: Any, actor: Actor, refusal: str) -> None:
    """The settlements' transition check, with a claim's refusal code."""
    check_transition(bound_method, actor, refusal, code=Code.VALIDATION_ERROR)


def submission_refusals(claim: Claim) -> list[str]:
    """Why the claim cannot be submitted now (the program's window and
    dates, the documents, the arithmetic); empty when it can."""
    program, contract = claim.program, claim.contract
    refusals: list[str] = []
    today = _today()
    if program.status != Program.Status.OPEN:
        refusals.append(
            _("The program is not taking claims (it is %(status)s).")
            % {"status": program.get_status_display().lower()}
        )
    if program.claim_opens_on and today < program.claim_opens_on:
        refusals.append(
            _("Claims open on %(date)s.") % {"date": formatting.date(program.claim_opens_on)}
        )
    if program.claim_closes_on and today > program.claim_closes_on:
        refusals.append(
            _("Claims closed on %(date)s.") % {"date": formatting.date(program.claim_closes_on)}
        )
    if program.contracts_signed_from and contract.signed_on < program.contracts_signed_from:
        refusals.append(
            _(
                "The program funds contracts signed on or after %(date)s; this one was signed on %(signed)s."
            )
            % {
                "date": program.contracts_signed_from.isoformat(),
                "signed": contract.signed_on.isoformat(),
            }
        )
    if program.contract_max_term_days and contract.term_days > program.contract_max_term_days:
        refusals.append(
            _("The contract runs %(days)s days; the program funds terms of at most %(max)s days.")
            % {"days": contract.term_days, "max": program.contract_max_term_days}
        )
    kinds = set(contract.documents.values_list("kind", flat=True))
    if ContractDocument.Kind.CONTRACT not in kinds:
        refusals.append(_("Attach the signed contract."))
    if claim.stage != Claim.Stage.PREAPPROVAL:
        if ContractDocument.Kind.PAYMENT not in kinds:
            refusals.append(_("Attach a proof of payment."))
        if ContractDocument.Kind.DELIVERY not in kinds:
            refusals.append(_("Attach a proof of delivery or usage."))
        refusals.extend(claim.arithmetic.get("refusals", []))
    elif claim.claimed_amount <= 0:
        refusals.extend(claim.arithmetic.get("refusals", []) or [_("Nothing to claim.")])
    return refusals


def _preapproval_arithmetic(claim: Claim) -> None:
    """A pre-approval asks for the subsidy on the contract amount as if paid in full."""
    contract = claim.contract
    stand_in = Invoice(
        contract=contract,
        number=_("contract"),
        issued_on=contract.signed_on,
        amount=contract.amount,
        supplier_uscc=contract.supplier_uscc,
        service_kind=contract.service_kind,
        paid_on=contract.signed_on,
    )
    result = compute(program=claim.program, contract=contract, invoices=[stand_in])
    claim.service_year = result.service_year
    result = compute(
        program=claim.program,
        contract=contract,
        invoices=[stand_in],
        already_in_year=already_in_year(claim),
    )
    claim.arithmetic = {**result.as_json(), "refusals": result.refusals}
    claim.claimed_amount = result.amount


@transaction.atomic
def claim_refresh(*, actor: Actor, claim: Claim) -> Claim:
    """Recompute a draft or returned claim after its contract's invoices changed."""
    claim = _locked(claim)
    if not claim.may_edit(actor.user):
        raise PermissionDenied(_("Only an administrator of the enterprise may do this."))
    if claim.stage == Claim.Stage.PREAPPROVAL:
        _preapproval_arithmetic(claim)
    else:
        _recompute(claim)
    claim.save()
    return claim


@transaction.atomic
def claim_submit(
    *,
    actor: Actor,
    claim: Claim,
    declaration: bool,
    payee_bank: Any = "",
    payee_account: Any = "",
) -> Claim:
    """The claimant submits (or resubmits) the claim, declaring the materials true.

    Guards, each refused with its reason: the program's window and dates;
    the documents; the arithmetic (minimum spend, yearly cap); one live
    claim per contract (whichever side recorded it; the side with priority
    supersedes the other's undecided claim); each invoice number in one
    live claim only, in any program of any district."""
    claim = _locked(claim)
    _check(claim.submit, actor, _("Only a draft or returned claim can be submitted."))
    # The yearly cap counts the enterprise's other claims: one submission
    # at a time per program.
    Program.objects.select_for_update().filter(pk=claim.program_id).first()
    if declaration is not True:
        raise _refuse(
            _(
                "Declare that the materials are true and that no other public fund pays for this compute."
            ),
            "declaration",
        )
    needs_payee = claim.stage != Claim.Stage.PREAPPROVAL
    payee_bank = _text(payee_bank, "payee_bank", limit=200, required=needs_payee)
    payee_account = "".join(str(payee_account or "").split())
    if needs_payee and not (6 <= len(payee_account) <= 40 and payee_account.isdigit()):
        raise _refuse(
            _("Give the account number the subsidy is paid to (digits)."), "payee_account"
        )
    now = timezone.now()
    # A claimed contract is the first thing to know (and the side with
    # priority supersedes first, so the yearly cap no longer counts it).
    _settle_priority(claim, actor, now)
    if claim.stage == Claim.Stage.PREAPPROVAL:
        _preapproval_arithmetic(claim)
    else:
        ClaimedInvoice.objects.filter(claim=claim).delete()
        _recompute(claim)
    refusals = submission_refusals(claim)
    if refusals:
        raise _refuse(" ".join(refusals))
    before = claim.status
    claim.payee_bank = payee_bank
    claim.payee_account = payee_account
    # Kept in the language the claimant declared in.
    claim.declaration = str(DECLARATION)
    claim.declared_at = now
    claim.declared_by = actor.user
    claim.submit(at=now)
    try:
        with transaction.atomic():
            claim.save()
            if claim.stage != Claim.Stage.PREAPPROVAL:
                _hold_invoices(claim)
    except IntegrityError as exc:
        raise _refuse(_clash_message(claim, exc), "contract") from exc
    _audit(claim, actor, events.CLAIM_SUBMITTED, before=before)
    notify_claimant(claim=claim, kind=Notification.Kind.CLAIM_SUBMITTED)
    return claim


def _settle_priority(claim: Claim, actor: Actor, now: Any) -> None:
    """Refuse when the contract is claimed already, unless this side has
    priority and the other side's claim is undecided: that one is superseded."""
    others = (
        Claim.objects.select_for_update()
        .filter(contract_key=claim.contract_key, stage=claim.stage, status__in=Claim.LIVE)
        .exclude(pk=claim.pk)
        .select_related("contract", "program")
    )
    for other in others:
        if (
            other.contract.side != claim.contract.side
            and _has_priority(claim.program, claim.contract.side)
            and can_proceed(other.supersede)
            and other.approved_amount is None
        ):
            before = other.status
            reason = _("The contract's %(side)s, who has priority, claimed it.") % {
                "side": claim.contract.get_side_display().lower()
            }
            other.supersede(reason=reason, at=now)
            other.save()
            ClaimedInvoice.objects.filter(claim=other).delete()
            _audit(other, actor, events.CLAIM_SUPERSEDED, before=before, note=reason)
            continue
        raise _refuse(
            _("This contract is already claimed (claim #%(id)s); a contract is claimed only once.")
            % {"id": other.pk},
            "contract",
        )


def _hold_invoices(claim: Claim) -> None:
    counted = {i["number"] for i in claim.arithmetic.get("invoices", []) if i["counted"]}
    ClaimedInvoice.objects.bulk_create(
        ClaimedInvoice(number=invoice.number, claim=claim, invoice=invoice)
        for invoice in claim.contract.invoices.all()
        if invoice.number in counted
    )


def _clash_message(claim: Claim, exc: IntegrityError) -> str:
    numbers = [i["number"] for i in claim.arithmetic.get("invoices", []) if i["counted"]]
    taken = list(
        ClaimedInvoice.objects.filter(number__in=numbers)
        .exclude(claim=claim)
        .values_list("number", flat=True)
    )
    if taken:
        return _("Invoice %(numbers)s is already claimed; an invoice is claimed only once.") % {
            "numbers": ", ".join(sorted(taken))
        }
    return _("This contract is already claimed; a contract is claimed only once.")


@transaction.atomic
def claim_withdraw(*, actor: Actor, claim: Claim) -> Claim:
    claim = _locked(claim)
    _check(claim.withdraw, actor, _("Only a draft or returned claim can be withdrawn."))
    before = claim.status
    claim.withdraw()
    claim.save()
    ClaimedInvoice.objects.filter(claim=claim).delete()
    _audit(claim, actor, events.CLAIM_WITHDRAWN, before=before)
    return claim
