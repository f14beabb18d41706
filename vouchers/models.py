"""Vouchers with their ledger, holds, redemptions, reversals and receivables."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pgtrigger
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from accounts.duties import duties_conflict
from accounts.fields import BulkJSONField
from accounts.models import ComputePlatform, Membership
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
    hold = models.OneToOneField(
        Hold,
        verbose_name=_("hold"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="redemption",
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
    created_at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)

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
    """What an enterprise owes back after a clawback."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        SETTLED = "settled", _("Settled")

    voucher = models.ForeignKey(
        Voucher, verbose_name=_("voucher"), on_delete=models.PROTECT, related_name="receivables"
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
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.CharField(_("created by"), max_length=200)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("receivable")
        verbose_name_plural = _("receivables")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="receivable_amount_positive")
        ]

    def __str__(self) -> str:
        return f"{self.enterprise} {self.amount} {self.unit}"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(enterprise__in=scope.enterprise_ids) | Q(program__district__in=scope.district_ids)


class VoucherReminder(models.Model):
    """A reminder sent to an enterprise, kept so that each is sent once."""

    class Kind(models.TextChoices):
        EXPIRY_30 = "expiry_30", _("30 days before expiry")
        EXPIRY_7 = "expiry_7", _("7 days before expiry")
        LOW_BALANCE = "low_balance", _("Balance under 10 %")
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
