"""Issuance: one voucher from a program's budget (an approved application's
reservation, or a line of a bulk issuance, which the applications app runs)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.duties import duties_conflict
from accounts.models import Enterprise
from audit import events
from audit.services import Actor, audit_record
from common.errors import BusinessError, Code
from common.formatting import money
from programs.models import Program
from programs.phasedown import exit_date, steps_of
from vouchers.codes import generate_code
from vouchers.models import LedgerEntry, Voucher
from vouchers.notifications import notify_voucher_issued
from vouchers.services.inputs import checked_amount
from vouchers.services.ledger_writes import activate_if_due, record_change, save_voucher
from vouchers.services.responses import format_amount

if TYPE_CHECKING:
    pass

DEFAULT_VALIDITY_DAYS = 365


def _start_of_day(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_default_timezone())


def voucher_expiry_for(program: Program, *, valid_from: datetime.datetime) -> datetime.datetime:
    """When a voucher of ``program`` valid from ``valid_from`` expires: the
    program's fixed end date or its validity in days (from the Asia/Shanghai
    day of valid-from), never past the program's exit date."""
    first_day = timezone.localtime(valid_from).date()
    if program.voucher_valid_until is not None:
        end = program.voucher_valid_until + datetime.timedelta(days=1)
    elif program.voucher_validity_days:
        end = first_day + datetime.timedelta(days=program.voucher_validity_days)
    else:
        end = first_day + datetime.timedelta(days=DEFAULT_VALIDITY_DAYS)
    exit_on = exit_date(steps_of(program))
    if exit_on is not None:
        end = min(end, exit_on)
    return _start_of_day(end)


def issued_to(*, program: Program, enterprise_id: int) -> Decimal:
    """The face value of every voucher ``program`` issued to the enterprise,
    whatever became of it since."""
    total = Voucher.objects.filter(program=program, enterprise_id=enterprise_id).aggregate(
        total=Sum("face_value")
    )["total"]
    return total or Decimal("0")


def cap_refusal(*, program: Program, already: Decimal, amount: Decimal) -> str | None:
    """Why ``amount`` more would pass the program's cap per enterprise, which
    has ``already`` from it, or None. The one wording of the cap: every door
    that grants (issuance, applications, bulk issuance) refuses with it."""
    if amount > program.per_enterprise_cap:
        return _("The most one enterprise may receive from this program is %(cap)s.") % {
            "cap": money(program.per_enterprise_cap)
        }
    if already + amount > program.per_enterprise_cap:
        return _(
            "The enterprise already has %(already)s approved from this program; with "
            "%(amount)s it would pass the cap of %(cap)s."
        ) % {
            "already": money(already),
            "amount": money(amount),
            "cap": money(program.per_enterprise_cap),
        }
    return None


@transaction.atomic
def voucher_issue(
    *,
    actor: Actor,
    program: Program,
    enterprise: Enterprise,
    amount: Decimal,
    from_reservation: bool,
    valid_from: datetime.datetime | None = None,
    application: Any = None,
    refusal_under_lock: Callable[[Program], str | None] | None = None,
) -> Voucher:
    """Issue a voucher of ``amount`` to ``enterprise`` from ``program``.

    ``application`` is the approved application the voucher answers, named
    in the audit record (the application links its voucher, in the
    applications app). With ``from_reservation`` (an approved application)
    the amount moves from the program's reserved to its issued counter;
    otherwise (bulk issuance) it must fit in what remains of the budget and
    of the enterprise's cap. The voucher is active at once when ``valid_from`` is
    now or past.

    ``refusal_under_lock`` is the granting door's own check (bulk issuance:
    the enterprise's cap across both doors), run with the program row locked
    so that no concurrent grant slips between the check and the issuance; a
    message it returns refuses the issuance on the ``amount`` field.
    """
    program = Program.objects.select_for_update().select_related("district").get(pk=program.pk)
    amount = checked_amount(amount, unit=program.unit, field_name="amount")
    conflict = duties_conflict(user=actor.user, enterprise_id=enterprise.pk)
    if conflict is not None:
        raise PermissionDenied(conflict)
    allowed = [Program.Status.OPEN] + ([Program.Status.PAUSED] if from_reservation else [])
    if program.status not in allowed:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("Vouchers cannot be issued from a program that is %(status)s.")
            % {"status": program.get_status_display().lower()},
            "program",
        )
    if enterprise.status == Enterprise.Status.SUSPENDED:
        raise BusinessError(Code.VALIDATION_ERROR, _("This enterprise is suspended."), "enterprise")
    if from_reservation:
        if amount > program.reserved_amount:
            raise BusinessError(
                Code.VALIDATION_ERROR,
                _("Only %(reserved)s is reserved in this program.")
                % {"reserved": format_amount(program.reserved_amount, program.unit)},
                "amount",
            )
        program.reserved_amount -= amount
    else:
        if amount > program.remaining_amount:
            raise BusinessError(
                Code.VALIDATION_ERROR,
                _("Only %(remaining)s of the program's budget remains.")
                % {"remaining": format_amount(program.remaining_amount, program.unit)},
                "amount",
            )
        refusal = refusal_under_lock(program) if refusal_under_lock is not None else None
        if refusal is None:
            # The floor every issuance keeps: the cap over what was issued.
            already = issued_to(program=program, enterprise_id=enterprise.pk)
            refusal = cap_refusal(program=program, already=already, amount=amount)
        if refusal is not None:
            raise BusinessError(Code.VALIDATION_ERROR, refusal, "amount")
    program.issued_amount += amount
    now = timezone.now()
    start = valid_from or now
    expires_at = voucher_expiry_for(program, valid_from=start)
    if expires_at <= max(start, now):
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _(
                "A voucher of this program would already have expired (its validity or exit date has passed)."
            ),
            "valid_from",
        )
    voucher = Voucher.objects.create(
        code=generate_code(),
        program=program,
        enterprise=enterprise,
        unit=program.unit,
        face_value=amount,
        balance=Decimal("0"),
        valid_from=start,
        expires_at=expires_at,
        issued_by=actor.label[:200],
    )
    program.save(update_fields=["reserved_amount", "issued_amount"])
    record_change(
        voucher, kind=LedgerEntry.Kind.ISSUE, amount=amount, balance_change=amount, actor=actor
    )
    audit_record(
        actor=actor,
        event_type=events.VOUCHER_ISSUED,
        obj=voucher,
        after={
            "code": voucher.code,
            "program": program.pk,
            "face_value": str(amount),
            "unit": voucher.unit,
            "valid_from": voucher.valid_from.isoformat(),
            "expires_at": voucher.expires_at.isoformat(),
            "from_reservation": from_reservation,
            "application": application.pk if application else None,
        },
        district_id=program.district_id,
        enterprise_id=enterprise.pk,
    )
    fields = activate_if_due(voucher, actor=actor)
    save_voucher(voucher, fields)
    # The enterprise learns its code and gets the certificate link, after commit.
    notify_voucher_issued(voucher=voucher)
    return voucher
