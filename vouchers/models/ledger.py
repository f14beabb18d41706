"""The ledger every change of a voucher's balance is written to, what is
owed back (receivables) and the reminders sent."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pgtrigger
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.fields import BulkJSONField
from accounts.models import ComputePlatform

if TYPE_CHECKING:
    from accounts.scoping import Scope

from programs.models import Program
from vouchers.models.charges import Hold, Redemption, Reversal
from vouchers.models.voucher import _MONEY, Voucher


class LedgerEntry(models.Model):
    """One immutable change of a voucher's balance or held amount.

    ``balance_change`` and ``held_change`` are signed; a voucher's balance
    and held are the sums of its entries' changes, and each entry records
    what they were after it. The database refuses UPDATE and DELETE.
    """

    class Kind(models.TextChoices):
        ISSUE = "issue", _("Issue")
        HOLD = "hold", _("Hold")
        RELEASE = "release", _("Release of a hold")
        CAPTURE = "capture", _("Charge")
        REVERSAL = "reversal", _("Reversal")
        EXPIRY = "expiry", _("Expiry")
        REVOCATION = "revocation", _("Revocation")
        CLAWBACK = "clawback", _("Clawback")
        # A contract voucher drawn on by an approved claim (invoices and
        # delivery proofs, no platform): the enterprise is paid the amount.
        CLAIM = "claim", _("Redeemed by a claim")

    # Kinds that send an amount back to the program's budget.
    RETURNS = [Kind.EXPIRY, Kind.REVOCATION, Kind.CLAWBACK]

    voucher = models.ForeignKey(
        Voucher, verbose_name=_("voucher"), on_delete=models.PROTECT, related_name="ledger"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), **_MONEY)
    balance_change = models.DecimalField(_("change of balance"), **_MONEY)
    held_change = models.DecimalField(_("change of held"), **_MONEY, default=Decimal("0"))
    balance_after = models.DecimalField(_("balance after"), **_MONEY)
    held_after = models.DecimalField(_("held after"), **_MONEY)
    program_return = models.DecimalField(
        _("returned to the program budget"), **_MONEY, default=Decimal("0")
    )
    redemption = models.ForeignKey(
        Redemption,
        verbose_name=_("redemption"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
    )
    hold = models.ForeignKey(
        Hold,
        verbose_name=_("hold"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        db_index=False,  # partial index in Meta
    )
    reversal = models.ForeignKey(
        Reversal,
        verbose_name=_("reversal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        db_index=False,  # partial index in Meta
    )
    platform = models.ForeignKey(
        ComputePlatform,
        verbose_name=_("platform"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        # Nothing looks entries up by platform (a platform's charges are its
        # redemptions'): an index would cost each of a batch's 1,000 inserts.
        db_index=False,
    )
    actor_kind = models.CharField(_("actor kind"), max_length=20)
    actor_label = models.CharField(_("caused by"), max_length=200)
    actor_user = models.ForeignKey(
        "accounts.User",
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # partial index in Meta
    )
    request_evidence = BulkJSONField(_("request evidence"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    # Not indexed: entries are read by voucher (its ledger, filtered by date
    # within it), never by time across vouchers.
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["voucher", "id"]
        # Most entries are captures by a platform: no hold, reversal or user.
        # Indexing only the rows that have one keeps those three indexes out
        # of the 1,000 inserts of a usage batch; a look-up by a value still
        # uses them (hold_id = x implies hold_id IS NOT NULL).
        indexes = [
            models.Index(fields=["hold"], condition=Q(hold__isnull=False), name="ledger_hold"),
            models.Index(
                fields=["reversal"], condition=Q(reversal__isnull=False), name="ledger_reversal"
            ),
            models.Index(
                fields=["actor_user"],
                condition=Q(actor_user__isnull=False),
                name="ledger_actor_user",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="ledger_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0)
                & Q(held_after__gte=0)
                & Q(held_after__lte=models.F("balance_after")),
                name="ledger_after_within_bounds",
            ),
            models.CheckConstraint(
                condition=Q(program_return__gte=0), name="ledger_program_return_not_negative"
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="ledger_entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        # Not get_kind_display(): that hashes every choice's lazy label on
        # each call, and a usage batch names 1,000 entries in its audit events.
        try:
            kind = str(self.Kind(self.kind).label)
        except ValueError:
            kind = self.kind
        return f"{kind} {self.amount}"

    @property
    def available_after(self) -> Decimal:
        return self.balance_after - self.held_after

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(voucher__enterprise__in=scope.enterprise_ids) | Q(
            voucher__program__district__in=scope.district_ids
        )


class Receivable(models.Model):
    """What an enterprise owes back: after a voucher's clawback, or when a
    performance agreement's targets are missed (raised by the settlements
    app, which also records repayments and write-offs)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        SETTLED = "settled", _("Settled")
        WRITTEN_OFF = "written_off", _("Written off")

    voucher = models.ForeignKey(
        Voucher,
        verbose_name=_("voucher"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="receivables",
    )
    enterprise = models.ForeignKey(
        "accounts.Enterprise",
        verbose_name=_("enterprise"),
        on_delete=models.PROTECT,
        related_name="receivables",
    )
    program = models.ForeignKey(
        Program, verbose_name=_("program"), on_delete=models.PROTECT, related_name="receivables"
    )
    amount = models.DecimalField(_("amount"), **_MONEY)
    unit = models.CharField(_("unit"), max_length=10, choices=Program.Unit.choices)
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN
    )
    due_on = models.DateField(_("due on"), null=True, blank=True)
    repaid_amount = models.DecimalField(_("repaid"), **_MONEY, default=Decimal("0"))
    written_off_amount = models.DecimalField(_("written off"), **_MONEY, default=Decimal("0"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.CharField(_("created by"), max_length=200)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("receivable")
        verbose_name_plural = _("receivables")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="receivable_amount_positive"),
            models.CheckConstraint(
                condition=Q(repaid_amount__gte=0)
                & Q(written_off_amount__gte=0)
                & Q(amount__gte=models.F("repaid_amount") + models.F("written_off_amount")),
                name="receivable_repaid_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise} {self.amount} {self.unit}"

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.repaid_amount - self.written_off_amount

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(enterprise__in=scope.enterprise_ids) | Q(program__district__in=scope.district_ids)


class VoucherReminder(models.Model):
    """A reminder sent to an enterprise, kept so that each is sent once."""

    class Kind(models.TextChoices):
        EXPIRY_30 = "expiry_30", _("30 days before expiry")
        EXPIRY_7 = "expiry_7", _("7 days before expiry")
        LOW_BALANCE = "low_balance", _("Balance under 10%")
        ISSUED = "issued", _("Voucher issued")

    voucher = models.ForeignKey(
        Voucher, verbose_name=_("voucher"), on_delete=models.CASCADE, related_name="reminders"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # Empty until the e-mails have gone out: delivery checks it under a row
    # lock, so a delivery task that runs twice sends them once.
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    recipients = models.JSONField(_("recipients"), default=list)

    class Meta:
        verbose_name = _("voucher reminder")
        verbose_name_plural = _("voucher reminders")
        constraints = [
            models.UniqueConstraint(fields=["voucher", "kind"], name="voucher_reminder_once")
        ]

    def __str__(self) -> str:
        return f"{self.voucher} {self.kind}"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(voucher__enterprise__in=scope.enterprise_ids) | Q(
            voucher__program__district__in=scope.district_ids
        )
