"""What the voucher services answer: the platform contract's result objects.

Each result carries the values of ``shared/platform-api.md``'s response
body and the model instance it came from; ``as_dict()`` gives the body
(amounts as decimal strings). Nothing here reads or writes the database:
the API layer may take the bodies over without taking the services along.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from django.utils import timezone

from programs.models import Program
from vouchers.models import Hold, Redemption, Reversal, Voucher

CENT = Decimal("0.01")
ONE = Decimal("1")


def format_amount(value: Decimal | None, unit: str) -> str | None:
    """A contract amount string: "120.00" for CNY, "1500" for POINTS."""
    if value is None:
        return None
    if unit == Program.Unit.POINTS:
        return str(value.quantize(ONE))
    return str(value.quantize(CENT))


def _iso(moment: datetime.datetime) -> str:
    """A time as the contract writes it: ISO 8601 in the platform's zone
    (settings.TIME_ZONE, Asia/Shanghai; the API activates no other)."""
    return moment.astimezone(timezone.get_default_timezone()).isoformat()


class ChargeRow(Protocol):
    """What a result reads of a charge: a saved :class:`Redemption`, or a usage
    batch's row written without a model instance
    (``vouchers.services.batch_writes.Charged``)."""

    @property
    def pk(self) -> int | None: ...

    @property
    def reference(self) -> str: ...

    @property
    def billed_amount(self) -> Decimal | None: ...

    @property
    def rate_applied(self) -> Decimal | None: ...

    @property
    def covered(self) -> Decimal: ...

    @property
    def payable_by_enterprise(self) -> Decimal | None: ...

    @property
    def points_used(self) -> int | None: ...

    @property
    def balance_after(self) -> Decimal: ...

    @property
    def created_at(self) -> datetime.datetime: ...


@dataclass(frozen=True)
class RedemptionResult:
    """The contract's redemption result (POST redemptions, hold capture)."""

    id: int
    voucher: str
    reference: str
    status: str
    unit: str
    billed_amount: Decimal | None
    rate_applied: Decimal | None
    covered: Decimal
    payable_by_enterprise: Decimal | None
    points_used: int | None
    balance_after: Decimal
    replayed: bool
    created_at: datetime.datetime
    redemption: ChargeRow = field(repr=False, compare=False)

    @classmethod
    def of(cls, redemption: ChargeRow, *, code: str, unit: str, replayed: bool) -> RedemptionResult:
        # The result of a charge is what it was when it was made: status
        # "captured" and the balance after it, also when replayed later.
        if redemption.pk is None:
            raise ValueError("a charge has no result before it is written")
        return cls(
            id=redemption.pk,
            voucher=code,
            reference=redemption.reference,
            status=Redemption.Status.CAPTURED,
            unit=unit,
            billed_amount=redemption.billed_amount,
            rate_applied=redemption.rate_applied,
            covered=redemption.covered,
            payable_by_enterprise=redemption.payable_by_enterprise,
            points_used=redemption.points_used,
            balance_after=redemption.balance_after,
            replayed=replayed,
            created_at=redemption.created_at,
            redemption=redemption,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "voucher": self.voucher,
            "reference": self.reference,
            "status": str(self.status),
            "unit": str(self.unit),
            "billed_amount": format_amount(self.billed_amount, Program.Unit.CNY),
            "rate_applied": None if self.rate_applied is None else f"{self.rate_applied:f}",
            "covered": format_amount(self.covered, self.unit),
            "payable_by_enterprise": format_amount(self.payable_by_enterprise, self.unit),
            "points_used": self.points_used,
            "balance_after": format_amount(self.balance_after, self.unit),
            "replayed": self.replayed,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class HoldResult:
    """The contract's hold result (create, release)."""

    id: int
    status: str
    amount: Decimal
    unit: str
    expires_at: datetime.datetime
    balance_after: Decimal
    replayed: bool
    hold: Hold = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": str(self.status),
            "amount": format_amount(self.amount, self.unit),
            "expires_at": _iso(self.expires_at),
            "balance_after": format_amount(self.balance_after, self.unit),
            "replayed": self.replayed,
        }


@dataclass(frozen=True)
class ReversalResult:
    """The contract's reversal result."""

    id: int
    redemption: int
    amount: Decimal
    unit: str
    balance_after: Decimal
    replayed: bool
    created_at: datetime.datetime
    reversal: Reversal = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "redemption": self.redemption,
            "amount": format_amount(self.amount, self.unit),
            "balance_after": format_amount(self.balance_after, self.unit),
            "replayed": self.replayed,
        }


@dataclass(frozen=True)
class VoucherView:
    """The contract's voucher lookup body (GET vouchers/{code})."""

    voucher: Voucher
    rate_in_force: Decimal

    def as_dict(self) -> dict[str, Any]:
        v = self.voucher
        return {
            "code": v.code,
            "status": str(v.status),
            "unit": str(v.unit),
            "balance": format_amount(v.available, v.unit),
            "held": format_amount(v.held, v.unit),
            "face_value": format_amount(v.face_value, v.unit),
            "program": {
                "id": v.program_id,
                "name": v.program.display_name,
                "district": v.program.district.display_name,
            },
            "enterprise": {"name": v.enterprise.name},
            "rate_in_force": f"{self.rate_in_force:f}",
            "valid_from": _iso(v.valid_from),
            "expires_at": _iso(v.expires_at),
        }
