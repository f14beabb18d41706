"""Treasury payment batches: the outstanding amounts of a district's approved
payouts — platforms' settlements and enterprises' reimbursement claims —
bundled into one payment instruction for the bank (CSV or XLSX, with each
payee's bank details), and the bank's confirmation file read back into
payments, all or nothing (DESIGN.md, "How the money flows").

Only a finance officer of the district makes, exports or confirms a batch:
the export reveals the payees' account numbers (stored encrypted), so every
export is recorded in the audit log, as are the batch and each payment.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import ComputePlatform, District
from audit import events
from audit.services import Actor, audit_record
from common.errors import BusinessError
from common.formatting import money

from .models import (
    ZERO,
    Claim,
    Payment,
    PaymentBatch,
    PaymentBatchItem,
    Settlement,
    is_finance_officer_of,
)
from .payment_files import (
    CLAIM,
    CURRENCY,
    SETTLEMENT,
    XLSX_CONTENT_TYPE,
    ConfirmationLine,
    PaymentInstruction,
    instructions_csv,
    instructions_xlsx,
    read_confirmation,
    reference_of,
    refusal,
    row_problem,
)
from .services import settlement_payment_record, yuan_of

#: What a batch pays: a settlement or a claim.
Payout = Settlement | Claim

# --- Who may ---------------------------------------------------------------


def may_pay_for(user: Any, district_id: int | None) -> bool:
    """True when ``user`` is a finance officer of that very district (as
    ``Settlement.may_pay`` and ``Claim.may_pay`` ask for a payout of its programs)."""
    return is_finance_officer_of(user, district_id)


def _require_finance_officer(actor: Actor, district_id: int | None) -> None:
    if actor.user is None or not may_pay_for(actor.user, district_id):
        raise PermissionDenied(_("Only a finance officer of this district may do this."))


# --- Payouts and payees --------------------------------------------------------


def payout_type_of(payout: Payout) -> str:
    """The instruction's ``payout_type`` of a payout: "settlement" or "claim"."""
    return CLAIM if isinstance(payout, Claim) else SETTLEMENT


def item_payout_type(item: PaymentBatchItem | Payment) -> str:
    """What a batch item or a payment pays: "settlement" or "claim"."""
    return CLAIM if item.claim_id is not None else SETTLEMENT


def item_payout_id(item: PaymentBatchItem | Payment) -> int:
    """The id of the settlement or claim a batch item or a payment pays."""
    pk = item.claim_id if item.claim_id is not None else item.settlement_id
    if pk is None:  # pragma: no cover (the database holds exactly one)
        raise RuntimeError("a payment that pays nothing")
    return pk


def item_reference(batch_id: int, item: PaymentBatchItem) -> str:
    """The instruction's reference of one item (``CV-12-345``, ``CV-12-C345``)."""
    return reference_of(batch_id, item_payout_id(item), payout_type=item_payout_type(item))


def payout_description(payout: Payout) -> str:
    """What a payout is, in a word for the instruction's ``payout`` column:
    the settlement's period, or "claim #id"."""
    if isinstance(payout, Claim):
        return f"claim #{payout.pk}"
    return str(payout.period)


@dataclass(frozen=True)
class Payee:
    """Who a payout pays, and where: copied onto a batch item when it is made."""

    name: str
    uscc: str
    bank: str
    account: str

    def is_complete(self) -> bool:
        """True when the district can pay: a payee, a bank and an account number."""
        return bool(self.name and self.bank and self.account)


def payee_of(payout: Payout) -> Payee:
    """The payee of a payout as it is now: a settlement's platform with its
    bank details, or a claim's enterprise with the account the claim gives."""
    if isinstance(payout, Claim):
        enterprise = payout.enterprise
        return Payee(
            name=(enterprise.name or "").strip()[:200],
            uscc=enterprise.uscc or "",
            bank=(payout.payee_bank or "").strip()[:200],
            account=(payout.payee_account or "").strip(),
        )
    return _platform_payee(payout.platform)


def _platform_payee(platform: ComputePlatform) -> Payee:
    """A platform as payee: its account name (else its operator) and bank details."""
    name = (platform.bank_account_name or "").strip() or (platform.operator or "").strip()
    return Payee(
        name=name[:200],
        uscc=platform.operator_uscc or "",
        bank=(platform.bank_name or "").strip()[:200],
        account=(platform.bank_account_number or "").strip(),
    )


def has_bank_details(platform: ComputePlatform) -> bool:
    """True when the district can pay ``platform``: a payee, a bank and an account number."""
    return _platform_payee(platform).is_complete()


def payout_label(payout: Payout) -> str:
    """A payout as a refusal names it: "Settlement #3 (…)" or "Claim #7 (…)"."""
    if isinstance(payout, Claim):
        return _("Claim #%(id)s (%(claimant)s)") % {
            "id": payout.pk,
            "claimant": payout.enterprise,
        }
    return _("Settlement #%(id)s (%(settlement)s)") % {"id": payout.pk, "settlement": payout}


# --- Making a batch ----------------------------------------------------------


def _in_open_batch() -> QuerySet[PaymentBatchItem]:
    """Items of batches still waiting for the bank, not yet confirmed."""
    return PaymentBatchItem.awaiting_the_bank()


def _payable_settlements(district_id: int) -> QuerySet[Settlement]:
    return Settlement.objects.filter(
        program__district_id=district_id,
        status=Settlement.Status.APPROVED,
        approved_amount__gt=F("paid_amount"),
    )


def _payable_claims(district_id: int) -> QuerySet[Claim]:
    # A pre-approval pays nothing (its approval grants the contract's voucher).
    return Claim.objects.filter(
        program__district_id=district_id,
        status=Claim.Status.APPROVED,
        approved_amount__gt=F("paid_amount"),
    ).exclude(stage=Claim.Stage.PREAPPROVAL)


@dataclass(frozen=True)
class Candidate:
    """An approved payout of the district waiting for payment."""

    payout: Any
    payout_type: str
    outstanding: Decimal
    yuan: Decimal
    payee: Payee

    @property
    def has_bank_details(self) -> bool:
        return self.payee.is_complete()


def _candidate(payout: Payout) -> Candidate:
    return Candidate(
        payout=payout,
        payout_type=payout_type_of(payout),
        outstanding=payout.outstanding,
        yuan=yuan_of(payout.outstanding, payout.unit),
        payee=payee_of(payout),
    )


def payment_batch_candidates(*, district_id: int) -> list[Candidate]:
    """The approved settlements, then the approved claims, of the district's
    programs with something left to pay and in no batch still waiting for
    the bank (each by id), with the payee each would be paid."""
    settlements = (
        _payable_settlements(district_id)
        .exclude(pk__in=_in_open_batch().filter(settlement__isnull=False).values("settlement_id"))
        .select_related("program", "platform")
        .order_by("pk")
    )
    claims = (
        _payable_claims(district_id)
        .exclude(pk__in=_in_open_batch().filter(claim__isnull=False).values("claim_id"))
        .select_related("program", "enterprise")
        .order_by("pk")
    )
    payouts: list[Payout] = [*settlements, *claims]
    return [_candidate(payout) for payout in payouts]


def _problems_of(payout: Payout, district: District, open_ids: set[int]) -> list[str]:
    """Why an explicitly chosen payout (locked) cannot join a batch of ``district``."""
    label = payout_label(payout)
    if payout.program.district_id != district.pk:
        return [_("%(settlement)s is owed by another district.") % {"settlement": label}]
    if payout.status != payout.Status.APPROVED or payout.outstanding <= 0:
        return [_("%(settlement)s has nothing approved left to pay.") % {"settlement": label}]
    if payout.pk in open_ids:
        return [
            _("%(settlement)s is already in a payment batch waiting for the bank.")
            % {"settlement": label}
        ]
    return []


def _locked_payouts(wanted: QuerySet[Any], field: str) -> tuple[list[Any], set[int]]:
    """Lock the payouts of ``wanted`` (settlements or claims, as ``field``
    says), and the ids of those in a batch waiting for the bank."""
    related = ("program", "platform") if field == "settlement" else ("program", "enterprise")
    # Locked in one order (by id), so two batches made at once never deadlock;
    # whether each is in an open batch is read after its lock is held.
    locked = list(wanted.select_for_update(of=("self",)).select_related(*related).order_by("pk"))
    open_ids = set(
        _in_open_batch()
        .filter(**{f"{field}__in": [p.pk for p in locked]})
        .values_list(f"{field}_id", flat=True)
    )
    return locked, open_ids


@transaction.atomic
def payment_batch_create(
    *,
    actor: Actor,
    district: District,
    payer_account: str,
    settlements: Iterable[Settlement] | None = None,
    claims: Iterable[Claim] | None = None,
) -> PaymentBatch:
    """Bundle the outstanding amounts of approved settlements and claims of
    ``district``'s programs into a payment batch for the treasury.

    Without ``settlements`` and ``claims``: every approved settlement and
    claim of the district with something left to pay and in no batch
    waiting for the bank. Given either, exactly those (none of the other
    kind unless given too). Each item copies the payee's bank details as
    they are now (a claim's: its enterprise and the account it gives).
    Refused whole: an empty batch, a payee without bank details, a payout
    already in an open batch or not payable."""
    _require_finance_officer(actor, district.pk)
    payer_account = payer_account.strip() if isinstance(payer_account, str) else ""
    if not payer_account or len(payer_account) > 100:
        raise refusal(
            _("Give the payer's account (at most 100 characters)."), field_name="payer_account"
        )
    everything = settlements is None and claims is None
    kinds: list[tuple[str, QuerySet[Any], set[int] | None, str]] = []
    if everything:
        kinds = [
            ("settlement", _payable_settlements(district.pk), None, ""),
            ("claim", _payable_claims(district.pk), None, ""),
        ]
    else:
        asked_settlements = {s.pk for s in settlements or ()}
        asked_claims = {c.pk for c in claims or ()}
        kinds = [
            (
                "settlement",
                Settlement.objects.filter(pk__in=asked_settlements),
                asked_settlements,
                gettext_noop("There is no settlement #%(id)s."),
            ),
            (
                "claim",
                Claim.objects.filter(pk__in=asked_claims),
                asked_claims,
                gettext_noop("There is no claim #%(id)s."),
            ),
        ]
    problems: list[str] = []
    chosen: list[Payout] = []
    # Settlements are locked before claims, always (as the confirmation does).
    for field, wanted, asked, missing in kinds:
        locked, open_ids = _locked_payouts(wanted, field)
        if asked is None:
            chosen += [p for p in locked if p.pk not in open_ids and p.outstanding > 0]
            continue
        for pk in sorted(asked - {p.pk for p in locked}):
            problems.append(_(missing) % {"id": pk})
        for payout in locked:
            problems.extend(_problems_of(payout, district, open_ids))
        chosen += locked
    if not problems and not chosen:
        raise refusal(
            _("No approved settlement or claim of %(district)s is waiting for payment.")
            % {"district": district},
            field_name=None,
        )
    payees = [(payout, payee_of(payout)) for payout in chosen]
    no_bank_details: list[ComputePlatform] = []
    for payout, payee in payees:
        if not payee.is_complete():
            if isinstance(payout, Claim):
                problems.append(
                    _(
                        "%(claim)s has no bank details (payee bank and account number): "
                        "the claim must give them before it can be paid."
                    )
                    % {"claim": payout_label(payout)}
                )
            elif payout.platform not in no_bank_details:
                no_bank_details.append(payout.platform)
        elif yuan_of(payout.outstanding, payout.unit) <= 0:
            problems.append(
                _("%(settlement)s: what is left to pay is less than one fen.")
                % {"settlement": payout_label(payout)}
            )
    for platform in no_bank_details:
        problems.append(
            _(
                "%(platform)s has no bank details (payee bank and account number): "
                "the platform's record must give them before it can be paid."
            )
            % {"platform": platform}
        )
    if problems:
        raise refusal(
            _("The payment batch was not made. Problems found: %(count)d.")
            % {"count": len(problems)},
            problems,
            field_name=None,
        )
    batch = PaymentBatch.objects.create(
        district=district, payer_account=payer_account, created_by=actor.user
    )
    items = []
    for payout, payee in payees:
        amount = payout.outstanding
        items.append(
            PaymentBatchItem(
                batch=batch,
                settlement=payout if isinstance(payout, Settlement) else None,
                claim=payout if isinstance(payout, Claim) else None,
                amount=amount,
                amount_cny=yuan_of(amount, payout.unit),
                payee=payee.name,
                payee_uscc=payee.uscc,
                payee_bank=payee.bank,
                payee_account=payee.account,
            )
        )
    PaymentBatchItem.objects.bulk_create(items)
    audit_record(
        actor=actor,
        event_type=events.PAYMENT_BATCH_CREATED,
        obj=batch,
        district_id=district.pk,
        after={
            "status": batch.status,
            "payer_account": payer_account,
            "items": len(items),
            "total_cny": str(sum((i.amount_cny for i in items), ZERO)),
            "settlements": [i.settlement_id for i in items if i.settlement_id is not None],
            "claims": [i.claim_id for i in items if i.claim_id is not None],
        },
    )
    return batch


# --- The payment instruction --------------------------------------------------


def payment_batch_rows(batch: PaymentBatch) -> list[PaymentInstruction]:
    """The batch's rows as exported, account numbers in clear."""
    rows = []
    items = batch.items.select_related(
        "settlement__program", "claim__program", "claim__enterprise"
    ).order_by("id")
    for item in items:
        payout: Payout = item.claim if item.claim is not None else _settlement_of(item)
        rows.append(
            PaymentInstruction(
                settlement_id=item.settlement_id,
                payee=item.payee,
                payee_uscc=item.payee_uscc,
                payee_bank=item.payee_bank,
                payee_account=item.payee_account,
                amount_cny=item.amount_cny,
                currency=CURRENCY,
                period=payout.period if isinstance(payout, Settlement) else "",
                program=payout.program.name,
                reference=item_reference(batch.pk, item),
                payout_type=item_payout_type(item),
                claim_id=item.claim_id,
                payout=payout_description(payout),
            )
        )
    return rows


def _settlement_of(item: PaymentBatchItem | Payment) -> Settlement:
    """The settlement of an item or payment that pays no claim."""
    if item.settlement is None:  # pragma: no cover (the database holds exactly one)
        raise RuntimeError("a payment that pays nothing")
    return item.settlement


def payment_batch_csv(batch: PaymentBatch) -> bytes:
    """The payment instruction as CSV (UTF-8 with a BOM; no cell is a formula)."""
    return instructions_csv(payment_batch_rows(batch))


def payment_batch_xlsx(batch: PaymentBatch) -> bytes:
    """The payment instruction as one XLSX sheet (amounts as numbers, the rest text)."""
    return instructions_xlsx(payment_batch_rows(batch), title=f"CV-{batch.pk}")


@dataclass(frozen=True)
class ExportedFile:
    """A file to hand to the treasury, with its content type and name."""

    content: bytes
    content_type: str
    file_name: str


EXPORT_FORMATS = ("csv", "xlsx")


@transaction.atomic
def payment_batch_export(*, actor: Actor, batch: PaymentBatch, file_format: str) -> ExportedFile:
    """The payment instruction for the treasury, as ``file_format`` ("csv" or
    "xlsx"); recorded, since it reveals the payees' account numbers."""
    _require_finance_officer(actor, batch.district_id)
    if file_format not in EXPORT_FORMATS:
        raise refusal(_("Choose CSV or XLSX."), field_name="format")
    rows = payment_batch_rows(batch)
    if file_format == "csv":
        content, content_type = instructions_csv(rows), "text/csv; charset=utf-8"
    else:
        content = instructions_xlsx(rows, title=f"CV-{batch.pk}")
        content_type = XLSX_CONTENT_TYPE
    audit_record(
        actor=actor,
        event_type=events.PAYMENT_BATCH_EXPORTED,
        obj=batch,
        district_id=batch.district_id,
        after={
            "format": file_format,
            "rows": len(rows),
            "total_cny": str(sum((r.amount_cny for r in rows), ZERO)),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    )
    return ExportedFile(
        content=content,
        content_type=content_type,
        file_name=f"payment-batch-{batch.pk}.{file_format}",
    )


# --- Reading the bank's confirmation -----------------------------------------

#: What a row of the bank's file may get wrong about the payout it names, by
#: payout type (the settlement's words are those the file always had).
_ROW_PROBLEMS = {
    SETTLEMENT: {
        "not_in_batch": gettext_noop("Settlement #%(id)s is not in this batch."),
        "missing": gettext_noop("There is no settlement #%(id)s."),
        "again": gettext_noop("Settlement #%(id)s is already on row %(row)d."),
        "confirmed": gettext_noop(
            "Settlement #%(id)s is already confirmed (paid on %(date)s, bank reference %(ref)s)."
        ),
        "amount": gettext_noop(
            "The amount_cny %(paid)s differs from the batch's %(due)s for settlement #%(id)s."
        ),
        "changed": gettext_noop(
            "Settlement #%(id)s no longer has the batch's amount to pay "
            "(was it paid outside the batch?)."
        ),
    },
    CLAIM: {
        "not_in_batch": gettext_noop("Claim #%(id)s is not in this batch."),
        "missing": gettext_noop("There is no claim #%(id)s."),
        "again": gettext_noop("Claim #%(id)s is already on row %(row)d."),
        "confirmed": gettext_noop(
            "Claim #%(id)s is already confirmed (paid on %(date)s, bank reference %(ref)s)."
        ),
        "amount": gettext_noop(
            "The amount_cny %(paid)s differs from the batch's %(due)s for claim #%(id)s."
        ),
        "changed": gettext_noop(
            "Claim #%(id)s no longer has the batch's amount to pay "
            "(was it paid outside the batch?)."
        ),
    },
}

#: A payout as a row of the bank's file names it: (payout type, id).
PayoutKey = tuple[str, int]


def _match(
    line: ConfirmationLine,
    *,
    items: dict[PayoutKey, PaymentBatchItem],
    seen: dict[PayoutKey, int],
    existing: set[PayoutKey],
    made_on: datetime.date,
) -> PaymentBatchItem | None:
    """The batch's item a row confirms (its settlement or claim locked), or
    None; what does not match goes on the row's problems."""
    if line.paid_on is not None:
        if line.paid_on > timezone.localdate():
            line.problems.append(
                _("The paid_on %(date)s is in the future.") % {"date": line.paid_on}
            )
        elif line.paid_on < made_on:
            line.problems.append(
                _("The paid_on %(date)s is before the batch was made.") % {"date": line.paid_on}
            )
    key = line.payout
    if key is None:
        return None
    kind, pk = key
    says = _ROW_PROBLEMS[kind]
    item = items.get(key)
    if item is None:
        problem = says["not_in_batch"] if key in existing else says["missing"]
        line.problems.append(_(problem) % {"id": pk})
        return None
    if key in seen:
        line.problems.append(_(says["again"]) % {"id": pk, "row": seen[key]})
        return None
    seen[key] = line.number
    if item.payment is not None:
        line.problems.append(
            _(says["confirmed"])
            % {"id": pk, "date": item.payment.paid_on, "ref": item.payment.bank_reference}
        )
        return None
    if line.amount_cny is not None and line.amount_cny != item.amount_cny:
        line.problems.append(
            _(says["amount"])
            % {"paid": money(line.amount_cny), "due": money(item.amount_cny), "id": pk}
        )
    payout = item.payout
    if payout.status != payout.Status.APPROVED or payout.outstanding != item.amount:
        line.problems.append(_(says["changed"]) % {"id": pk})
    return item


def _file_refused(problems: list[str]) -> BusinessError:
    return refusal(
        _("The bank's file was refused and nothing was recorded. Problems found: %(count)d.")
        % {"count": len(problems)},
        problems,
    )


def _existing(named: set[PayoutKey]) -> set[PayoutKey]:
    """Which of the settlements and claims a file names but its batch lacks exist."""
    settlement_ids = {pk for kind, pk in named if kind == SETTLEMENT}
    claim_ids = {pk for kind, pk in named if kind == CLAIM}
    found = {
        (SETTLEMENT, pk)
        for pk in Settlement.objects.filter(pk__in=settlement_ids).values_list("pk", flat=True)
    }
    found |= {
        (CLAIM, pk) for pk in Claim.objects.filter(pk__in=claim_ids).values_list("pk", flat=True)
    }
    return found


@transaction.atomic
def payment_batch_confirm(
    *, actor: Actor, batch: PaymentBatch, file_name: str, content: bytes
) -> list[Payment]:
    """Record the payments the bank confirms in its file (CSV or XLSX), all or
    nothing.

    Each row names a settlement or a claim of the batch (``settlement_id``,
    ``claim_id`` or the instruction's ``reference``) with the yuan paid
    (exactly the batch's), the date paid and the bank's reference. If any
    row does not match, the whole file is refused with every problem, row by
    row, and nothing is recorded. Each payment is recorded by the payout's
    own service (a claim's moves the program's reservation to spend). The
    batch is confirmed once every item is paid; a file may confirm some of
    the items, a later one the rest."""
    # Imported here: the claims' services import much of the voucher machinery.
    from .claims import claim_payment_record

    _require_finance_officer(actor, batch.district_id)
    batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != PaymentBatch.Status.EXPORTED:
        raise refusal(_("This batch is already confirmed by the bank."), field_name=None)
    lines = read_confirmation(file_name=file_name, content=content, batch_id=batch.pk)
    # The batch's settlements, then its claims, are locked (in id order)
    # before anything is compared with them; the payments below lock them
    # again, harmlessly.
    settlements = {
        s.pk: s
        for s in Settlement.objects.select_for_update(of=("self",))
        .filter(pk__in=batch.items.filter(settlement__isnull=False).values("settlement_id"))
        .order_by("pk")
    }
    claims = {
        c.pk: c
        for c in Claim.objects.select_for_update(of=("self",))
        .filter(pk__in=batch.items.filter(claim__isnull=False).values("claim_id"))
        .order_by("pk")
    }
    items: dict[PayoutKey, PaymentBatchItem] = {}
    for item in batch.items.select_related("payment"):
        if item.claim_id is not None:
            item.claim = claims[item.claim_id]
        elif item.settlement_id is not None:
            item.settlement = settlements[item.settlement_id]
        items[(item_payout_type(item), item_payout_id(item))] = item
    named = {line.payout for line in lines if line.payout is not None}
    existing = _existing({key for key in named if key not in items})
    made_on = timezone.localtime(batch.created_at).date()
    seen: dict[PayoutKey, int] = {}
    matched = [
        (line, _match(line, items=items, seen=seen, existing=existing, made_on=made_on))
        for line in lines
    ]
    problems = [row_problem(line.number, p) for line in lines for p in line.problems]
    if problems:
        raise _file_refused(problems)
    payments = []
    for line, found in matched:
        if found is None or line.paid_on is None:  # pragma: no cover (no problems: both are set)
            raise RuntimeError("an unchecked row of the bank's file")
        try:
            if found.claim is not None:
                payment = claim_payment_record(
                    actor=actor,
                    claim=found.claim,
                    amount=found.amount,
                    paid_on=line.paid_on,
                    payer_account=batch.payer_account,
                    bank_reference=line.bank_reference,
                    batch=batch,
                )
            else:
                payment = settlement_payment_record(
                    actor=actor,
                    settlement=_settlement_of(found),
                    amount=found.amount,
                    paid_on=line.paid_on,
                    payer_account=batch.payer_account,
                    bank_reference=line.bank_reference,
                    batch=batch,
                )
        except BusinessError as exc:
            # The payout's own rule (a bank reference already recorded for
            # it): still this row of the file is refused, and all of it.
            raise _file_refused([row_problem(line.number, str(exc.message))]) from exc
        found.payment = payment
        found.save(update_fields=["payment"])
        payments.append(payment)
    before = batch.status
    left = sum(1 for item in items.values() if item.payment is None)
    if not left:
        batch.status = PaymentBatch.Status.CONFIRMED
        batch.confirmed_at = timezone.now()
        batch.save(update_fields=["status", "confirmed_at"])
    audit_record(
        actor=actor,
        event_type=events.PAYMENT_BATCH_CONFIRMED,
        obj=batch,
        district_id=batch.district_id,
        before={"status": before},
        after={
            "status": batch.status,
            "file_name": (file_name or "")[:200],
            "sha256": hashlib.sha256(content).hexdigest(),
            "payments": [p.pk for p in payments],
            "settlements": [p.settlement_id for p in payments if p.settlement_id is not None],
            "claims": [p.claim_id for p in payments if p.claim_id is not None],
            "total_cny": str(sum((p.amount_cny for p in payments), ZERO)),
            "left_to_confirm": left,
        },
    )
    return payments


__all__ = [
    "EXPORT_FORMATS",
    "Candidate",
    "ExportedFile",
    "Payee",
    "has_bank_details",
    "item_payout_id",
    "item_payout_type",
    "item_reference",
    "may_pay_for",
    "payee_of",
    "payment_batch_candidates",
    "payment_batch_confirm",
    "payment_batch_create",
    "payment_batch_csv",
    "payment_batch_export",
    "payment_batch_rows",
    "payment_batch_xlsx",
    "payout_description",
    "payout_label",
]
