"""Treasury payment batches: the outstanding amounts of a district's approved
settlements bundled into one payment instruction for the bank (CSV or XLSX,
with each payee's bank details), and the bank's confirmation file read back
into payments, all or nothing (DESIGN.md, "How the money flows").

Only a finance officer of the district makes, exports or confirms a batch:
the export reveals the payees' account numbers (stored encrypted), so every
export is recorded in the audit log, as are the batch and each payment.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ComputePlatform, District
from audit import events
from audit.services import Actor, audit_record
from common.errors import BusinessError
from common.formatting import money

from .models import ZERO, Payment, PaymentBatch, PaymentBatchItem, Settlement, is_finance_officer_of
from .payment_files import (
    CURRENCY,
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

# --- Who may ---------------------------------------------------------------


def may_pay_for(user: Any, district_id: int | None) -> bool:
    """True when ``user`` is a finance officer of that very district (as
    ``Settlement.may_pay`` asks for a settlement of its programs)."""
    return is_finance_officer_of(user, district_id)


def _require_finance_officer(actor: Actor, district_id: int | None) -> None:
    if actor.user is None or not may_pay_for(actor.user, district_id):
        raise PermissionDenied(_("Only a finance officer of this district may do this."))


# --- Making a batch ----------------------------------------------------------


def _in_open_batch() -> QuerySet[PaymentBatchItem]:
    """Items of batches still waiting for the bank, not yet confirmed."""
    return PaymentBatchItem.awaiting_the_bank()


def payment_batch_candidates(*, district_id: int) -> QuerySet[Settlement]:
    """The approved settlements of the district's programs with something
    left to pay and in no batch still waiting for the bank."""
    return (
        Settlement.objects.filter(
            program__district_id=district_id,
            status=Settlement.Status.APPROVED,
            approved_amount__gt=F("paid_amount"),
        )
        .exclude(pk__in=_in_open_batch().values("settlement_id"))
        .select_related("program", "platform")
        .order_by("pk")
    )


def _label(settlement: Settlement) -> str:
    return _("Settlement #%(id)s (%(settlement)s)") % {
        "id": settlement.pk,
        "settlement": settlement,
    }


def _problems_of(settlement: Settlement, district: District, open_ids: set[int]) -> list[str]:
    """Why an explicitly chosen settlement (locked) cannot join a batch of ``district``."""
    if settlement.program.district_id != district.pk:
        return [
            _("%(settlement)s is owed by another district.") % {"settlement": _label(settlement)}
        ]
    if settlement.status != Settlement.Status.APPROVED or settlement.outstanding <= 0:
        return [
            _("%(settlement)s has nothing approved left to pay.")
            % {"settlement": _label(settlement)}
        ]
    if settlement.pk in open_ids:
        return [
            _("%(settlement)s is already in a payment batch waiting for the bank.")
            % {"settlement": _label(settlement)}
        ]
    return []


def has_bank_details(platform: ComputePlatform) -> bool:
    """True when the district can pay ``platform``: a payee, a bank and an account number."""
    return bool(
        (platform.bank_account_number or "").strip()
        and (platform.bank_name or "").strip()
        and ((platform.bank_account_name or "").strip() or (platform.operator or "").strip())
    )


@transaction.atomic
def payment_batch_create(
    *,
    actor: Actor,
    district: District,
    payer_account: str,
    settlements: Iterable[Settlement] | None = None,
) -> PaymentBatch:
    """Bundle the outstanding amounts of approved settlements of ``district``'s
    programs into a payment batch for the treasury.

    Without ``settlements``: every approved settlement of the district with
    something left to pay and in no batch waiting for the bank. Each item
    copies the payee's bank details as they are now. Refused whole: an
    empty batch, a payee without bank details, a settlement already in an
    open batch or not payable."""
    _require_finance_officer(actor, district.pk)
    payer_account = payer_account.strip() if isinstance(payer_account, str) else ""
    if not payer_account or len(payer_account) > 100:
        raise refusal(
            _("Give the payer's account (at most 100 characters)."), field_name="payer_account"
        )
    if settlements is None:
        wanted = Settlement.objects.filter(
            program__district_id=district.pk,
            status=Settlement.Status.APPROVED,
            approved_amount__gt=F("paid_amount"),
        )
        asked: set[int] = set()
    else:
        asked = {s.pk for s in settlements}
        wanted = Settlement.objects.filter(pk__in=asked)
    # Locked in one order (by id), so two batches made at once never deadlock;
    # whether each is in an open batch is read after its lock is held.
    locked = list(
        wanted.select_for_update(of=("self",)).select_related("program", "platform").order_by("pk")
    )
    open_ids = set(
        _in_open_batch()
        .filter(settlement__in=[s.pk for s in locked])
        .values_list("settlement_id", flat=True)
    )
    problems: list[str] = []
    if settlements is None:
        chosen = [s for s in locked if s.pk not in open_ids and s.outstanding > 0]
    else:
        for pk in sorted(asked - {s.pk for s in locked}):
            problems.append(_("There is no settlement #%(id)s.") % {"id": pk})
        for settlement in locked:
            problems.extend(_problems_of(settlement, district, open_ids))
        chosen = locked
    if not problems and not chosen:
        raise refusal(
            _("No approved settlement of %(district)s is waiting for payment.")
            % {"district": district},
            field_name=None,
        )
    no_bank_details = []
    for settlement in chosen:
        if not has_bank_details(settlement.platform):
            if settlement.platform not in no_bank_details:
                no_bank_details.append(settlement.platform)
        elif yuan_of(settlement.outstanding, settlement.unit) <= 0:
            problems.append(
                _("%(settlement)s: what is left to pay is less than one fen.")
                % {"settlement": _label(settlement)}
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
    for settlement in chosen:
        platform = settlement.platform
        amount = settlement.outstanding
        items.append(
            PaymentBatchItem(
                batch=batch,
                settlement=settlement,
                amount=amount,
                amount_cny=yuan_of(amount, settlement.unit),
                payee=((platform.bank_account_name or "").strip() or platform.operator)[:200],
                payee_uscc=platform.operator_uscc,
                payee_bank=platform.bank_name.strip()[:200],
                payee_account=platform.bank_account_number.strip(),
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
            "settlements": [i.settlement_id for i in items],
        },
    )
    return batch


# --- The payment instruction --------------------------------------------------


def payment_batch_rows(batch: PaymentBatch) -> list[PaymentInstruction]:
    """The batch's rows as exported, account numbers in clear."""
    return [
        PaymentInstruction(
            settlement_id=item.settlement_id,
            payee=item.payee,
            payee_uscc=item.payee_uscc,
            payee_bank=item.payee_bank,
            payee_account=item.payee_account,
            amount_cny=item.amount_cny,
            currency=CURRENCY,
            period=item.settlement.period,
            program=item.settlement.program.name,
            reference=reference_of(batch.pk, item.settlement_id),
        )
        for item in batch.items.select_related("settlement__program").order_by("id")
    ]


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


def _match(
    line: ConfirmationLine,
    *,
    items: dict[int, PaymentBatchItem],
    seen: dict[int, int],
    existing: set[int],
    made_on: datetime.date,
) -> PaymentBatchItem | None:
    """The batch's item a row confirms (settlements locked), or None; what
    does not match goes on the row's problems."""
    if line.paid_on is not None:
        if line.paid_on > timezone.localdate():
            line.problems.append(
                _("The paid_on %(date)s is in the future.") % {"date": line.paid_on}
            )
        elif line.paid_on < made_on:
            line.problems.append(
                _("The paid_on %(date)s is before the batch was made.") % {"date": line.paid_on}
            )
    pk = line.settlement_id
    if pk is None:
        return None
    item = items.get(pk)
    if item is None:
        if pk in existing:
            line.problems.append(_("Settlement #%(id)s is not in this batch.") % {"id": pk})
        else:
            line.problems.append(_("There is no settlement #%(id)s.") % {"id": pk})
        return None
    if pk in seen:
        line.problems.append(
            _("Settlement #%(id)s is already on row %(row)d.") % {"id": pk, "row": seen[pk]}
        )
        return None
    seen[pk] = line.number
    if item.payment is not None:
        line.problems.append(
            _("Settlement #%(id)s is already confirmed (paid on %(date)s, bank reference %(ref)s).")
            % {"id": pk, "date": item.payment.paid_on, "ref": item.payment.bank_reference}
        )
        return None
    if line.amount_cny is not None and line.amount_cny != item.amount_cny:
        line.problems.append(
            _("The amount_cny %(paid)s differs from the batch's %(due)s for settlement #%(id)s.")
            % {"paid": money(line.amount_cny), "due": money(item.amount_cny), "id": pk}
        )
    settlement = item.settlement
    if settlement.status != Settlement.Status.APPROVED or settlement.outstanding != item.amount:
        line.problems.append(
            _(
                "Settlement #%(id)s no longer has the batch's amount to pay "
                "(was it paid outside the batch?)."
            )
            % {"id": pk}
        )
    return item


def _file_refused(problems: list[str]) -> BusinessError:
    return refusal(
        _("The bank's file was refused and nothing was recorded. Problems found: %(count)d.")
        % {"count": len(problems)},
        problems,
    )


@transaction.atomic
def payment_batch_confirm(
    *, actor: Actor, batch: PaymentBatch, file_name: str, content: bytes
) -> list[Payment]:
    """Record the payments the bank confirms in its file (CSV or XLSX), all or
    nothing.

    Each row names a settlement of the batch (``settlement_id`` or the
    instruction's ``reference``) with the yuan paid (exactly the batch's),
    the date paid and the bank's reference. If any row does not match, the
    whole file is refused with every problem, row by row, and nothing is
    recorded. The batch is confirmed once every item is paid; a file may
    confirm some of the items, a later one the rest."""
    _require_finance_officer(actor, batch.district_id)
    batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != PaymentBatch.Status.EXPORTED:
        raise refusal(_("This batch is already confirmed by the bank."), field_name=None)
    lines = read_confirmation(file_name=file_name, content=content, batch_id=batch.pk)
    # The batch's settlements are locked (in id order) before anything is
    # compared with them; the payments below lock them again, harmlessly.
    locked = {
        s.pk: s
        for s in Settlement.objects.select_for_update(of=("self",))
        .filter(pk__in=batch.items.values("settlement_id"))
        .order_by("pk")
    }
    items = {}
    for item in batch.items.select_related("payment"):
        item.settlement = locked[item.settlement_id]
        items[item.settlement_id] = item
    named = {line.settlement_id for line in lines if line.settlement_id is not None}
    existing = set(
        Settlement.objects.filter(pk__in=named - set(items)).values_list("pk", flat=True)
    )
    made_on = timezone.localtime(batch.created_at).date()
    seen: dict[int, int] = {}
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
            payment = settlement_payment_record(
                actor=actor,
                settlement=found.settlement,
                amount=found.amount,
                paid_on=line.paid_on,
                payer_account=batch.payer_account,
                bank_reference=line.bank_reference,
                batch=batch,
            )
        except BusinessError as exc:
            # The settlement's own rule (a bank reference already recorded
            # for it): still this row of the file is refused, and all of it.
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
            "settlements": [p.settlement_id for p in payments],
            "total_cny": str(sum((p.amount_cny for p in payments), ZERO)),
            "left_to_confirm": left,
        },
    )
    return payments


__all__ = [
    "EXPORT_FORMATS",
    "ExportedFile",
    "has_bank_details",
    "may_pay_for",
    "payment_batch_candidates",
    "payment_batch_confirm",
    "payment_batch_create",
    "payment_batch_csv",
    "payment_batch_export",
    "payment_batch_rows",
    "payment_batch_xlsx",
]
