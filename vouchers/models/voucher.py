"""Vouchers: their lifecycle, and the transition permissions officials need."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from accounts.duties import duties_conflict
from accounts.models import Membership
from accounts.scoping import scope_for

if TYPE_CHECKING:
    from accounts.scoping import Scope

from programs.models import Program

# ---------------------------------------------------------------------------
# Vouchers, their ledger, holds, redemptions, reversals and receivables.
#
# A voucher's ``balance`` is what is left on it, including what platforms
# hold for running jobs; ``held`` is the part of it reserved by open holds,
# so ``available = balance − held`` is what a new charge may take. The
# contract's ``balance`` (platform-api.md) is ``available``. Every change of
# balance or held is a LedgerEntry; the two columns are the sums of the
# entries' changes, which ``manage.py check_ledger`` verifies.
# ---------------------------------------------------------------------------


_MONEY: Any = {"max_digits": 16, "decimal_places": 2}


def official_may(perm: str) -> Any:
    """A transition permission: ``perm`` and the program manager's role in
    the voucher's district (superusers always)."""

    def check(voucher: Voucher, user: Any) -> bool:
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        scope = scope_for(user)
        return (
            bool(user.has_perm(perm))
            and scope.has_district_role(
                voucher.program.district_id, Membership.Role.PROGRAM_MANAGER
            )
            and duties_conflict(user=user, enterprise_id=voucher.enterprise_id) is None
        )

    return check


# Conditions of the voucher's transitions (django-fsm calls them with the voucher).


def _due_for_activation(voucher: Any) -> bool:
    return bool(voucher.is_due_for_activation())


def _nothing_left(voucher: Any) -> bool:
    return bool(voucher.balance == 0 and voucher.held == 0)


def _replenished(voucher: Any) -> bool:
    return bool(voucher.balance > 0 and not voucher.is_expired())


def _still_valid(voucher: Any) -> bool:
    return not voucher.is_expired()


def _expired_and_free(voucher: Any) -> bool:
    return bool(voucher.is_expired() and voucher.held == 0)


def _nothing_held(voucher: Any) -> bool:
    return bool(voucher.held == 0)


class Voucher(FSMModelMixin, models.Model):
    """A deduction quota of one enterprise in one program: not cash, not
    transferable."""

    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued (not yet valid)")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        EXHAUSTED = "exhausted", _("Used up")
        EXPIRED = "expired", _("Expired")
        REVOKED = "revoked", _("Revoked")
        CLAWED_BACK = "clawed_back", _("Clawed back")

    # Named source sets of the lifecycle.
    REDEEMABLE = [Status.ACTIVE]
    OPEN = [Status.ISSUED, Status.ACTIVE, Status.SUSPENDED]
    ENDABLE = [Status.ISSUED, Status.ACTIVE, Status.SUSPENDED, Status.EXHAUSTED]
    CLAWBACKABLE = [
        Status.ACTIVE,
        Status.SUSPENDED,
        Status.EXHAUSTED,
        Status.EXPIRED,
        Status.REVOKED,
    ]
    FINISHED = [Status.EXPIRED, Status.REVOKED, Status.CLAWED_BACK]

    code = models.CharField(_("code"), max_length=24, unique=True, editable=False)
    program = models.ForeignKey(
        Program, verbose_name=_("program"), on_delete=models.PROTECT, related_name="vouchers"
    )
    enterprise = models.ForeignKey(
        "accounts.Enterprise",
        verbose_name=_("enterprise"),
        on_delete=models.PROTECT,
        related_name="vouchers",
    )
    unit = models.CharField(_("unit"), max_length=10, choices=Program.Unit.choices, editable=False)
    face_value = models.DecimalField(_("face value"), **_MONEY, editable=False)
    balance = models.DecimalField(
        _("balance"),
        **_MONEY,
        editable=False,
        help_text=_("What is left on the voucher, including what is held."),
    )
    held = models.DecimalField(
        _("held"),
        **_MONEY,
        default=Decimal("0"),
        editable=False,
        help_text=_("Reserved by platforms' open holds for running jobs."),
    )
    valid_from = models.DateTimeField(_("valid from"), editable=False)
    expires_at = models.DateTimeField(
        _("expires at"),
        editable=False,
        help_text=_("The first moment the voucher is no longer valid."),
    )
    status = FSMField(_("status"), default=Status.ISSUED, choices=Status.choices, protected=True)
    status_reason = models.TextField(_("reason for the status"), blank=True, editable=False)
    issued_at = models.DateTimeField(_("issued at"), auto_now_add=True)
    issued_by = models.CharField(_("issued by"), max_length=200, editable=False)

    class Meta:
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        ordering = ["-issued_at", "-id"]
        permissions = [
            ("issue_voucher", _("Can issue vouchers")),
            ("suspend_voucher", _("Can suspend and resume vouchers")),
            ("revoke_voucher", _("Can revoke vouchers")),
            ("clawback_voucher", _("Can claw back vouchers")),
        ]
        indexes = [
            models.Index(fields=["status", "valid_from"], name="voucher_status_valid_from"),
            models.Index(fields=["status", "expires_at"], name="voucher_status_expires_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="voucher_balance_not_negative"
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="voucher_held_not_negative"),
            models.CheckConstraint(
                condition=Q(held__lte=models.F("balance")), name="voucher_held_within_balance"
            ),
            models.CheckConstraint(
                condition=Q(balance__lte=models.F("face_value")),
                name="voucher_balance_within_face_value",
            ),
            models.CheckConstraint(
                condition=Q(face_value__gt=0), name="voucher_face_value_positive"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("valid_from")), name="voucher_validity_ordered"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def available(self) -> Decimal:
        """What a new charge may take now: the balance less what is held."""
        return self.balance - self.held

    @property
    def has_nothing_left(self) -> bool:
        """Nothing on the voucher and nothing held: what ``exhaust`` requires."""
        return _nothing_left(self)

    @property
    def is_points(self) -> bool:
        return self.unit == Program.Unit.POINTS

    def is_expired(self, *, now: datetime.datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.expires_at

    def is_due_for_activation(self, *, now: datetime.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.valid_from <= now < self.expires_at

    @property
    def valid_until(self) -> datetime.date:
        """The last calendar day (Asia/Shanghai) on which the voucher is valid."""
        return timezone.localtime(self.expires_at).date() - datetime.timedelta(days=1)

    # -- lifecycle: bodies only set fields; the services save and audit ----

    @transition(
        field=status,
        source=Status.ISSUED,
        target=Status.ACTIVE,
        conditions=[_due_for_activation],
    )
    def activate(self) -> None:
        self.status_reason = ""

    @transition(
        field=status,
        source=Status.ACTIVE,
        target=Status.SUSPENDED,
        permission=official_may("vouchers.suspend_voucher"),
    )
    def suspend(self, *, reason: str) -> None:
        self.status_reason = reason

    @transition(
        field=status,
        source=Status.SUSPENDED,
        target=Status.ACTIVE,
        conditions=[_still_valid],
        permission=official_may("vouchers.suspend_voucher"),
    )
    def resume(self, *, reason: str) -> None:
        self.status_reason = reason

    @transition(
        field=status,
        source=Status.ACTIVE,
        target=Status.EXHAUSTED,
        conditions=[_nothing_left],
    )
    def exhaust(self) -> None:
        self.status_reason = ""

    @transition(
        field=status,
        source=Status.EXHAUSTED,
        target=Status.ACTIVE,
        conditions=[_replenished],
    )
    def replenish(self) -> None:
        self.status_reason = ""

    @transition(
        field=status,
        source=ENDABLE,
        target=Status.EXPIRED,
        conditions=[_expired_and_free],
    )
    def expire(self) -> None:
        self.balance = Decimal("0")

    @transition(
        field=status,
        source=ENDABLE,
        target=Status.REVOKED,
        conditions=[_nothing_held],
        permission=official_may("vouchers.revoke_voucher"),
    )
    def revoke(self, *, reason: str) -> None:
        self.balance = Decimal("0")
        self.status_reason = reason

    @transition(
        field=status,
        source=CLAWBACKABLE,
        target=Status.CLAWED_BACK,
        conditions=[_nothing_held],
        permission=official_may("vouchers.clawback_voucher"),
    )
    def claw_back(self, *, reason: str) -> None:
        self.balance = Decimal("0")
        self.status_reason = reason

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(enterprise__in=scope.enterprise_ids) | Q(program__district__in=scope.district_ids)
