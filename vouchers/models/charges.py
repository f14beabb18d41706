"""What platforms do with a voucher: holds, redemptions (charges) and reversals."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from accounts.fields import BulkJSONField
from accounts.models import ComputePlatform

if TYPE_CHECKING:
    from accounts.scoping import Scope


from vouchers.models.voucher import _MONEY, Voucher


class Hold(FSMModelMixin, models.Model):
    """A platform's reservation on a voucher before a long job."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CAPTURED = "captured", _("Captured")
        RELEASED = "released", _("Released")
        EXPIRED = "expired", _("Released at expiry")

    # Named source set of the lifecycle: only an open hold is captured,
    # released or expired, once.
    CLOSABLE = [Status.OPEN]

    voucher = models.ForeignKey(
        Voucher, verbose_name=_("voucher"), on_delete=models.PROTECT, related_name="holds"
    )
    platform = models.ForeignKey(
        ComputePlatform, verbose_name=_("platform"), on_delete=models.PROTECT, related_name="holds"
    )
    reference = models.CharField(_("platform reference"), max_length=255)
    amount = models.DecimalField(_("amount"), **_MONEY)
    status = FSMField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN, protected=True
    )
    expires_at = models.DateTimeField(_("expires at"))
    balance_after = models.DecimalField(_("available after"), **_MONEY)
    request_fingerprint = models.CharField(_("request fingerprint"), max_length=64, editable=False)
    request_evidence = BulkJSONField(_("request evidence"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="hold_status_expires_at")]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "reference"], name="hold_reference_unique_per_platform"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.amount})"

    # -- lifecycle: bodies only set fields; the services release what was
    # held on the voucher, save and record the ledger entries.

    @transition(field=status, source=CLOSABLE, target=Status.CAPTURED)
    def capture(self, *, at: datetime.datetime) -> None:
        """A charge took (part of) the hold; the rest goes back to the voucher."""
        self.closed_at = at

    @transition(field=status, source=CLOSABLE, target=Status.RELEASED)
    def release(self, *, at: datetime.datetime) -> None:
        """The platform gave the whole hold back."""
        self.closed_at = at

    @transition(field=status, source=CLOSABLE, target=Status.EXPIRED)
    def expire(self, *, at: datetime.datetime) -> None:
        """Given back without the platform: the hold ran out, or its voucher ended."""
        self.closed_at = at

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return (
            Q(voucher__enterprise__in=scope.enterprise_ids)
            | Q(voucher__program__district__in=scope.district_ids)
            | Q(platform__in=scope.platform_ids)
        )


class Redemption(FSMModelMixin, models.Model):
    """One charge a platform deducted from a voucher (directly or by
    capturing a hold)."""

    class Status(models.TextChoices):
        CAPTURED = "captured", _("Captured")
        PARTIALLY_REVERSED = "partially_reversed", _("Partly reversed")
        REVERSED = "reversed", _("Reversed")

    # Named source set: a charge is refunded in parts until nothing is left.
    REVERSIBLE = [Status.CAPTURED, Status.PARTIALLY_REVERSED]

    voucher = models.ForeignKey(
        Voucher, verbose_name=_("voucher"), on_delete=models.PROTECT, related_name="redemptions"
    )
    platform = models.ForeignKey(
        ComputePlatform,
        verbose_name=_("platform"),
        on_delete=models.PROTECT,
        related_name="redemptions",
        # Both indexes of Meta start with platform: a third on it alone would
        # only cost every insert.
        db_index=False,
    )
    # At most one redemption per hold (a partial unique index in Meta): most
    # charges have no hold, and a plain unique column would index each of a
    # usage batch's NULLs.
    hold = models.ForeignKey(
        Hold,
        verbose_name=_("hold"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    reference = models.CharField(_("platform reference"), max_length=255)
    occurred_at = models.DateTimeField(_("usage occurred at"))
    billed_amount = models.DecimalField(_("billed amount"), **_MONEY, null=True, blank=True)
    rate_applied = models.DecimalField(
        _("rate applied"), max_digits=5, decimal_places=4, null=True, blank=True
    )
    points_used = models.BigIntegerField(_("points used"), null=True, blank=True)
    covered = models.DecimalField(_("covered"), **_MONEY)
    payable_by_enterprise = models.DecimalField(
        _("payable by the enterprise"), **_MONEY, null=True, blank=True
    )
    reversed_amount = models.DecimalField(_("reversed"), **_MONEY, default=Decimal("0"))
    usage = BulkJSONField(_("usage lines"), default=list, blank=True)
    allow_partial = models.BooleanField(_("partial coverage allowed"), default=True)
    balance_after = models.DecimalField(_("available after"), **_MONEY)
    status = FSMField(
        _("status"), max_length=20, choices=Status.choices, default=Status.CAPTURED, protected=True
    )
    request_fingerprint = models.CharField(_("request fingerprint"), max_length=64, editable=False)
    request_evidence = BulkJSONField(_("request evidence"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["platform", "created_at", "id"], name="redemption_platform_time")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "reference"], name="redemption_reference_unique_per_platform"
            ),
            models.UniqueConstraint(
                fields=["hold"], condition=Q(hold__isnull=False), name="redemption_one_per_hold"
            ),
            models.CheckConstraint(condition=Q(covered__gt=0), name="redemption_covered_positive"),
            models.CheckConstraint(
                condition=Q(reversed_amount__gte=0) & Q(reversed_amount__lte=models.F("covered")),
                name="redemption_reversed_within_covered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.covered})"

    @property
    def reversible_amount(self) -> Decimal:
        return self.covered - self.reversed_amount

    # -- lifecycle: the body only sets fields; the service checks the amount
    # against what is reversible, records the reversal and the ledger, saves.

    @transition(
        field=status,
        source=REVERSIBLE,
        target=RETURN_VALUE(Status.PARTIALLY_REVERSED, Status.REVERSED),
    )
    def reverse(self, *, amount: Decimal) -> str:
        """Refund ``amount`` of the charge: reversed once nothing is left, partly before."""
        self.reversed_amount += amount
        if self.reversed_amount == self.covered:
            return self.Status.REVERSED
        return self.Status.PARTIALLY_REVERSED

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return (
            Q(voucher__enterprise__in=scope.enterprise_ids)
            | Q(voucher__program__district__in=scope.district_ids)
            | Q(platform__in=scope.platform_ids)
        )


class Reversal(models.Model):
    """A refund of all or part of a redemption back onto the voucher."""

    redemption = models.ForeignKey(
        Redemption, verbose_name=_("redemption"), on_delete=models.PROTECT, related_name="reversals"
    )
    platform = models.ForeignKey(
        ComputePlatform, verbose_name=_("platform"), on_delete=models.PROTECT, related_name="+"
    )
    reference = models.CharField(_("platform reference"), max_length=255)
    amount = models.DecimalField(_("amount"), **_MONEY)
    reason = models.TextField(_("reason"), blank=True)
    balance_after = models.DecimalField(_("available after"), **_MONEY)
    request_fingerprint = models.CharField(_("request fingerprint"), max_length=64, editable=False)
    request_evidence = BulkJSONField(_("request evidence"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("reversal")
        verbose_name_plural = _("reversals")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "reference"], name="reversal_reference_unique_per_platform"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="reversal_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.amount})"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return (
            Q(redemption__voucher__enterprise__in=scope.enterprise_ids)
            | Q(redemption__voucher__program__district__in=scope.district_ids)
            | Q(platform__in=scope.platform_ids)
        )
