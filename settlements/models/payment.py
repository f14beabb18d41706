"""Payments of approved payouts — a platform's settlement or an enterprise's
claim — recorded by hand or from a treasury batch and the bank's
confirmation. One set of models and services serves both."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.fields import EncryptedCharField
from accounts.models import District

from .settlement import _MONEY, Settlement

if TYPE_CHECKING:
    from accounts.scoping import Scope

#: Exactly one of the two things a payment pays.
_ONE_PAYOUT = Q(settlement__isnull=False, claim__isnull=True) | Q(
    settlement__isnull=True, claim__isnull=False
)


class Payment(models.Model):
    """Money the district paid against an approved settlement or claim (one of
    possibly several, until the approved amount is paid)."""

    settlement = models.ForeignKey(
        Settlement,
        verbose_name=_("settlement"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    claim = models.ForeignKey(
        "settlements.Claim",
        verbose_name=_("claim"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    amount = models.DecimalField(
        _("amount settled"), **_MONEY, help_text=_("In the settlement's unit.")
    )
    amount_cny = models.DecimalField(_("yuan paid"), **_MONEY)
    paid_on = models.DateField(_("paid on"))
    payer_account = models.CharField(_("payer account"), max_length=100)
    bank_reference = models.CharField(_("bank reference"), max_length=100)
    batch = models.ForeignKey(
        "PaymentBatch",
        verbose_name=_("payment batch"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-paid_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(amount_cny__gt=0), name="payment_cny_positive"),
            models.UniqueConstraint(
                fields=["settlement", "bank_reference"], name="payment_bank_reference_once"
            ),
            models.UniqueConstraint(
                fields=["claim", "bank_reference"], name="claim_payment_bank_reference_once"
            ),
            models.CheckConstraint(condition=_ONE_PAYOUT, name="payment_pays_one_payout"),
        ]

    def __str__(self) -> str:
        return f"{self.bank_reference} ({self.amount})"

    @property
    def payout(self) -> Any:
        """The settlement or claim this payment pays."""
        return self.settlement if self.settlement_id is not None else self.claim

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return (
            Q(settlement__program__district__in=scope.district_ids)
            | Q(settlement__platform__in=scope.platform_ids)
            | Q(claim__program__district__in=scope.district_ids)
            | Q(claim__enterprise__in=scope.enterprise_ids)
        )


class PaymentBatch(models.Model):
    """A treasury payment instruction: the outstanding amounts of approved
    settlements of one district, exported for the bank and confirmed by the
    bank's file."""

    class Status(models.TextChoices):
        EXPORTED = "exported", _("Sent to the treasury")
        CONFIRMED = "confirmed", _("Confirmed by the bank")

    district = models.ForeignKey(
        District, verbose_name=_("district"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.EXPORTED
    )
    payer_account = models.CharField(_("payer account"), max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment batch")
        verbose_name_plural = _("payment batches")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} ({self.get_status_display()})"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(district__in=scope.district_ids)


class PaymentBatchItem(models.Model):
    """One settlement's outstanding amount in a batch, with the payee's bank
    details as they were when the batch was made."""

    batch = models.ForeignKey(
        PaymentBatch,
        verbose_name=_("payment batch"),
        on_delete=models.PROTECT,
        related_name="items",
    )
    settlement = models.ForeignKey(
        Settlement,
        verbose_name=_("settlement"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    claim = models.ForeignKey(
        "settlements.Claim",
        verbose_name=_("claim"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    amount = models.DecimalField(_("amount settled"), **_MONEY)
    amount_cny = models.DecimalField(_("yuan to pay"), **_MONEY)
    payee = models.CharField(_("payee"), max_length=200)
    payee_uscc = models.CharField(_("payee USCC"), max_length=18, blank=True)
    payee_bank = models.CharField(_("payee bank"), max_length=200, blank=True)
    payee_account = EncryptedCharField(_("payee account number"), max_length=40, blank=True)
    payment = models.OneToOneField(
        Payment,
        verbose_name=_("payment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="batch_item",
    )

    class Meta:
        verbose_name = _("payment batch item")
        verbose_name_plural = _("payment batch items")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "settlement"], name="batch_item_once"),
            models.UniqueConstraint(fields=["batch", "claim"], name="batch_item_claim_once"),
            models.CheckConstraint(condition=_ONE_PAYOUT, name="batch_item_pays_one_payout"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="batch_item_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.payee} ({self.amount_cny})"

    @property
    def payout(self) -> Any:
        """The settlement or claim this item pays."""
        return self.settlement if self.settlement_id is not None else self.claim

    @classmethod
    def awaiting_the_bank(cls) -> models.QuerySet[PaymentBatchItem]:
        """Items of batches sent to the treasury and not yet confirmed."""
        return cls.objects.filter(batch__status=PaymentBatch.Status.EXPORTED, payment__isnull=True)
