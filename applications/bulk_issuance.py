"""Bulk issuance from a CSV of ``USCC,amount`` lines: every row goes through
what an application goes through (:mod:`applications.grants`), all or nothing,
with a second official's confirmation above the program's four-eyes threshold."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from accounts.duties import duties_conflict
from accounts.models import Enterprise
from accounts.uscc import uscc_problem
from audit import events
from audit.services import Actor, audit_record
from common.errors import BusinessError, Code
from programs.models import Program
from vouchers.models import Voucher
from vouchers.services.inputs import checked_amount
from vouchers.services.issuance import voucher_issue
from vouchers.services.responses import format_amount

from .grants import amount_refusal, enterprise_refusals, granted_to
from .models import BulkIssuance

if TYPE_CHECKING:
    from eligibility.evaluator import Decision


BULK_MAX_ROWS = 5000


@dataclass
class BulkRow:
    """One line of a bulk issuance file and what became of it."""

    line: int
    uscc: str
    amount_text: str
    amount: Decimal | None = None
    enterprise: Enterprise | None = None
    errors: list[str] = field(default_factory=list)
    voucher: Voucher | None = None
    # The program's rule set for this enterprise, line by line (the preview's explanation).
    decision: Decision | None = None
    # Above the program's four-eyes threshold: a second official must confirm.
    needs_second_approval: bool = False


@dataclass
class BulkReport:
    """The outcome of a bulk issuance: every row, and whether anything was
    issued or the batch waits for a second official (``batch``)."""

    rows: list[BulkRow]
    errors: list[str]
    issued: bool
    total: Decimal
    batch: BulkIssuance | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and not any(r.errors for r in self.rows)

    @property
    def needs_second_approval(self) -> bool:
        return any(r.needs_second_approval for r in self.rows)

    @property
    def awaiting_second_approval(self) -> bool:
        return (
            self.batch is not None
            and self.batch.status == BulkIssuance.Status.AWAITING_SECOND_APPROVAL
        )


def _parse_bulk(
    program: Program, csv_text: str, *, user: Any = None, threshold: Decimal | None = None
) -> BulkReport:
    """Read and check a file: its format, then every row against what an
    application goes through (:mod:`vouchers.grants`), as ``user`` would
    issue it, with ``threshold`` the four-eyes threshold that binds it."""
    rows: list[BulkRow] = []
    errors: list[str] = []
    reader = csv.reader(io.StringIO(csv_text.lstrip("\ufeff")))
    for number, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells):
            continue
        if number == 1 and cells and cells[0].strip().lower() in {"uscc", "统一社会信用代码"}:
            continue
        uscc = cells[0].strip().upper() if cells else ""
        amount_text = cells[1].strip() if len(cells) > 1 else ""
        row = BulkRow(line=number, uscc=uscc, amount_text=amount_text)
        if len(cells) != 2:
            row.errors.append(_("Each line needs exactly two columns: USCC, amount."))
        rows.append(row)
    if not rows:
        errors.append(_("The file has no rows."))
    if len(rows) > BULK_MAX_ROWS:
        errors.append(_("At most %(n)d rows per file.") % {"n": BULK_MAX_ROWS})
        return BulkReport(rows=[], errors=errors, issued=False, total=Decimal("0"))
    enterprises = {e.uscc: e for e in Enterprise.objects.filter(uscc__in=[r.uscc for r in rows])}
    seen: dict[str, int] = {}
    for row in rows:
        if row.errors:
            continue
        problem = uscc_problem(row.uscc)
        if problem:
            row.errors.append(problem)
        else:
            row.enterprise = enterprises.get(row.uscc)
            if row.enterprise is None:
                row.errors.append(_("No registered enterprise has this USCC."))
        if row.uscc in seen:
            row.errors.append(
                _("This USCC is already on line %(line)d.") % {"line": seen[row.uscc]}
            )
        seen.setdefault(row.uscc, row.line)
        try:
            row.amount = checked_amount(
                Decimal(row.amount_text), unit=program.unit, field_name="amount"
            )
        except (InvalidOperation, ValueError):
            row.errors.append(_("“%(text)s” is not an amount.") % {"text": row.amount_text})
        except BusinessError as exc:
            row.errors.append(str(exc.message))
        if row.enterprise is not None:
            # The same checks an application goes through, in the same words.
            check = enterprise_refusals(program=program, enterprise=row.enterprise, user=user)
            row.decision = check.decision
            row.errors.extend(check.refusals)
            if row.amount is not None:
                refusal = amount_refusal(
                    program=program, enterprise_id=row.enterprise.pk, amount=row.amount
                )
                if refusal is not None:
                    row.errors.append(refusal)
        if row.amount is not None and threshold is not None and row.enterprise is not None:
            # With what the enterprise already holds from the program, as for
            # an application: no splitting a grant into pieces under the threshold.
            already = granted_to(program=program, enterprise_id=row.enterprise.pk)
            row.needs_second_approval = row.amount + already > threshold
    total = sum((r.amount or Decimal("0") for r in rows), Decimal("0"))
    if total > program.remaining_amount:
        errors.append(
            _("The file asks for %(total)s but only %(remaining)s of the budget remains.")
            % {
                "total": format_amount(total, program.unit),
                "remaining": format_amount(program.remaining_amount, program.unit),
            }
        )
    if program.status != Program.Status.OPEN:
        errors.append(_("Vouchers can be issued only from an open program."))
    return BulkReport(rows=rows, errors=errors, issued=False, total=total)


def _batch_csv(batch: BulkIssuance) -> str:
    """The batch's rows as the file they came from (checked again on confirmation)."""
    return "".join(f"{row['uscc']},{row['amount']}\n" for row in batch.rows)


def _issue_rows(
    *, actor: Actor, program: Program, report: BulkReport, batch: BulkIssuance
) -> BulkReport:
    for row in report.rows:
        if row.enterprise is None or row.amount is None:  # pragma: no cover (validated)
            continue
        enterprise_id, amount = row.enterprise.pk, row.amount

        def cap_refusal(
            locked: Program, enterprise_id: int = enterprise_id, amount: Decimal = amount
        ) -> str | None:
            # The cap across both doors, checked again under the program's lock.
            return amount_refusal(program=locked, enterprise_id=enterprise_id, amount=amount)

        row.voucher = voucher_issue(
            actor=actor,
            program=program,
            enterprise=row.enterprise,
            amount=amount,
            from_reservation=False,
            refusal_under_lock=cap_refusal,
        )
    report.issued = True
    report.batch = batch
    audit_record(
        actor=actor,
        event_type=events.VOUCHERS_BULK_ISSUED,
        obj=program,
        after={"count": len(report.rows), "total": str(report.total), "batch": batch.pk},
        district_id=program.district_id,
    )
    return report


def _batch_event(batch: BulkIssuance, *, actor: Actor, event_type: str, note: str = "") -> None:
    audit_record(
        actor=actor,
        event_type=event_type,
        obj=batch,
        before=None
        if event_type == events.BULK_ISSUANCE_PROPOSED
        else {"status": BulkIssuance.Status.AWAITING_SECOND_APPROVAL},
        after={
            "status": batch.status,
            "program": batch.program_id,
            "count": len(batch.rows),
            "total": str(batch.total),
            "four_eyes_threshold": (
                str(batch.four_eyes_threshold) if batch.four_eyes_threshold is not None else None
            ),
        },
        district_id=batch.program.district_id,
        note=note,
    )


@transaction.atomic
def voucher_bulk_issue(
    *, actor: Actor, program: Program, csv_text: str, dry_run: bool = False
) -> BulkReport:
    """Issue vouchers from a CSV of ``USCC,amount`` lines, all or nothing.

    The whole file is checked first: format, USCC check character, known
    enterprise, duplicates, and everything an application goes through —
    separation of duties, verified enterprise, registered in the district
    (unless the program is nationwide), the program's rule set, the
    per-enterprise cap with what the enterprise already holds, the
    remaining budget. When any row is wrong nothing is issued and the
    report says what is wrong with each row. When any row is above the
    program's four-eyes threshold, nothing is issued either: the batch is
    recorded and waits for a second, different official
    (:func:`bulk_issuance_confirm`).
    """
    program = Program.objects.select_for_update().select_related("district").get(pk=program.pk)
    threshold = program.four_eyes_threshold
    report = _parse_bulk(program, csv_text, user=actor.user, threshold=threshold)
    if not report.ok or dry_run:
        return report
    rows = [
        {
            "line": row.line,
            "uscc": row.uscc,
            "enterprise_id": row.enterprise.pk,
            "amount": str(row.amount),
        }
        for row in report.rows
        if row.enterprise is not None and row.amount is not None
    ]
    now = timezone.now()
    if report.needs_second_approval:
        batch = BulkIssuance.objects.create(
            program=program,
            rows=rows,
            total=report.total,
            four_eyes_threshold=threshold,
            created_by=actor.user,
        )
        _batch_event(batch, actor=actor, event_type=events.BULK_ISSUANCE_PROPOSED)
        report.batch = batch
        return report
    batch = BulkIssuance.objects.create(
        program=program,
        rows=rows,
        total=report.total,
        four_eyes_threshold=threshold,
        created_by=actor.user,
        status=BulkIssuance.Status.ISSUED,
        decided_by=actor.user,
        decided_at=now,
    )
    return _issue_rows(actor=actor, program=program, report=report, batch=batch)


BULK_DECISIONS = {"confirm": "confirm", "cancel": "cancel"}


def bulk_issuance_refusal(*, batch: BulkIssuance, user: Any, action: str) -> str | None:
    """Why ``user`` may not ``action`` ("confirm" or "cancel") ``batch`` now,
    or None when they may. The admin offers only what has no refusal; the
    services ask the same question."""
    for enterprise_id in batch.enterprise_ids():
        conflict = duties_conflict(user=user, enterprise_id=enterprise_id)
        if conflict is not None:
            return conflict
    method = getattr(batch, BULK_DECISIONS[action])
    if not can_proceed(method, check_conditions=False):
        return _("This batch is no longer waiting: %(status)s.") % {
            "status": batch.get_status_display().lower()
        }
    if not has_transition_perm(method, user):
        if action == "confirm" and user is not None and user.pk == batch.created_by_id:
            return _("A second, different official must confirm this batch: you uploaded it.")
        return _("Only a program manager of the program's district may do this.")
    return None


def _bulk_decision_checks(*, batch: BulkIssuance, actor: Actor, action: str) -> None:
    refusal = bulk_issuance_refusal(batch=batch, user=actor.user, action=action)
    if refusal is None:
        return
    if batch.status != BulkIssuance.Status.AWAITING_SECOND_APPROVAL:
        raise BusinessError(Code.VALIDATION_ERROR, refusal, None)
    raise PermissionDenied(refusal)


def _locked_batch(batch: BulkIssuance) -> BulkIssuance:
    return (
        BulkIssuance.objects.select_for_update(of=("self",))
        .select_related("program__district")
        .get(pk=batch.pk)
    )


@transaction.atomic
def bulk_issuance_confirm(*, actor: Actor, batch: BulkIssuance, note: str = "") -> BulkReport:
    """A second, different official confirms a batch waiting for four eyes:
    every row is checked again as it stands now, then every voucher is
    issued (or, when a row fails now, nothing and the batch keeps waiting)."""
    batch = _locked_batch(batch)
    _bulk_decision_checks(batch=batch, actor=actor, action="confirm")
    program = (
        Program.objects.select_for_update().select_related("district").get(pk=batch.program_id)
    )
    # The batch was already found to need four eyes: no threshold again.
    report = _parse_bulk(program, _batch_csv(batch), user=actor.user)
    if not report.ok:
        problems = [*report.errors] + [
            _("line %(line)d: %(errors)s") % {"line": row.line, "errors": " ".join(row.errors)}
            for row in report.rows
            if row.errors
        ]
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("Nothing was issued; the batch no longer passes its checks: %(problems)s")
            % {"problems": "; ".join(problems)},
            None,
        )
    batch.confirm(by=actor.user, at=timezone.now(), note=(note or "").strip())
    batch.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    _batch_event(
        batch, actor=actor, event_type=events.BULK_ISSUANCE_CONFIRMED, note=batch.decision_note
    )
    return _issue_rows(actor=actor, program=program, report=report, batch=batch)


@transaction.atomic
def bulk_issuance_cancel(*, actor: Actor, batch: BulkIssuance, note: str) -> BulkIssuance:
    """Drop a batch waiting for a second official, with a note; nothing is issued."""
    batch = _locked_batch(batch)
    _bulk_decision_checks(batch=batch, actor=actor, action="cancel")
    note = (note or "").strip()
    if not note:
        raise BusinessError(Code.VALIDATION_ERROR, _("Please give a reason."), "note")
    batch.cancel(by=actor.user, at=timezone.now(), note=note)
    batch.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    _batch_event(batch, actor=actor, event_type=events.BULK_ISSUANCE_CANCELLED, note=note)
    return batch
