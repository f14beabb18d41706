"""Settlements with platforms: what a district owes a platform for one
program and one period, drawn from the ledger, reviewed line by line,
approved by finance and paid (``shared/platform-api.md``, "Settlements").

Amounts are in the program's unit (yuan, or points for a points program);
a payment also records the yuan actually transferred.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from accounts.fields import BulkJSONField
from accounts.models import ComputePlatform, Membership
from accounts.scoping import scope_for
from programs.models import Program
from vouchers.models import Redemption, Reversal, Voucher

if TYPE_CHECKING:
    from accounts.scoping import Scope

_MONEY: Any = {"max_digits": 16, "decimal_places": 2}
ZERO = Decimal("0")


def _is_reviewer(settlement: Any, user: Any) -> bool:
    """A reviewer of the program's own district."""
    return scope_for(user).has_district_role(
        settlement.program.district_id, Membership.Role.REVIEWER
    )


def _is_finance_officer(settlement: Any, user: Any) -> bool:
    """A finance officer of the program's own district who did not review it
    (no official acting alone: the reviewer who passed it on never approves)."""
    return (
        scope_for(user).has_district_role(
            settlement.program.district_id, Membership.Role.FINANCE_OFFICER
        )
        and user.pk != settlement.review_started_by_id
        and user.pk != settlement.reviewed_by_id
    )


def _is_second_finance_officer(settlement: Any, user: Any) -> bool:
    """A finance officer other than the one who gave the first approval."""
    return _is_finance_officer(settlement, user) and user.pk != settlement.first_approved_by_id


def is_finance_officer_of(user: Any, district_id: int | None) -> bool:
    """True when ``user`` is a finance officer of that very district."""
    return scope_for(user).has_district_role(district_id, Membership.Role.FINANCE_OFFICER)


def _is_payer(settlement: Any, user: Any) -> bool:
    return is_finance_officer_of(user, settlement.program.district_id)


def _is_operator(settlement: Any, user: Any) -> bool:
    return settlement.platform_id in scope_for(user).platform_ids


def _is_passed_on(settlement: Any) -> bool:
    return settlement.reviewed_at is not None


def _not_passed_on(settlement: Any) -> bool:
    return settlement.reviewed_at is None and settlement.first_approved_at is None


def _needs_second_approval(settlement: Any) -> bool:
    return settlement.needs_second_approval()


def _needs_no_second_approval(settlement: Any) -> bool:
    return not settlement.needs_second_approval()


def _awaits_second_approval(settlement: Any) -> bool:
    return settlement.first_approved_at is not None


def _awaits_first_approval(settlement: Any) -> bool:
    return settlement.first_approved_at is None


def _fully_paid(settlement: Any) -> bool:
    return settlement.approved_amount is not None and settlement.paid_amount >= max(
        settlement.approved_amount, ZERO
    )


class Settlement(FSMModelMixin, models.Model):
    """A platform's statement of what one program owes it for one period."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        UNDER_REVIEW = "under_review", _("Under review")
        RETURNED = "returned", _("Returned for changes")
        APPROVED = "approved", _("Approved")
        PAID = "paid", _("Paid")

    # Named source sets of the lifecycle.
    SUBMITTABLE = [Status.DRAFT, Status.RETURNED]
    #: Amounts never change from here on.
    DECIDED = [Status.APPROVED, Status.PAID]

    platform = models.ForeignKey(
        ComputePlatform,
        verbose_name=_("platform"),
        on_delete=models.PROTECT,
        related_name="settlements",
    )
    program = models.ForeignKey(
        Program, verbose_name=_("program"), on_delete=models.PROTECT, related_name="settlements"
    )
    period = models.CharField(_("period"), max_length=7, help_text=_("YYYY-MM or YYYY-Qn"))
    starts_at = models.DateTimeField(_("period starts"))
    ends_at = models.DateTimeField(_("period ends"))
    unit = models.CharField(_("unit"), max_length=10, choices=Program.Unit.choices)
    status = FSMField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT, protected=True
    )
    line_count = models.PositiveIntegerField(_("lines"), default=0)
    covered = models.DecimalField(_("covered"), **_MONEY, default=ZERO)
    reversed = models.DecimalField(_("reversed"), **_MONEY, default=ZERO)
    rejected = models.DecimalField(_("rejected"), **_MONEY, default=ZERO)
    amount_due = models.DecimalField(_("amount due"), **_MONEY, default=ZERO)

    invoice_number = models.CharField(_("invoice number"), max_length=100, blank=True)
    invoice_amount = models.DecimalField(_("invoice amount"), **_MONEY, null=True, blank=True)
    submission_note = models.TextField(_("platform's note"), blank=True)
    submission_evidence = BulkJSONField(_("signed submission"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.CharField(_("submitted by"), max_length=200, blank=True)

    review_started_at = models.DateTimeField(_("review started at"), null=True, blank=True)
    review_started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("review started by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("passed to finance at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("passed to finance by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    return_reason = models.TextField(_("reason for return"), blank=True)
    four_eyes_threshold = models.DecimalField(
        _("second approval above"), **_MONEY, null=True, blank=True, editable=False
    )
    first_approved_at = models.DateTimeField(_("first approval at"), null=True, blank=True)
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("first approval by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    approved_amount = models.DecimalField(_("approved amount"), **_MONEY, null=True, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    paid_amount = models.DecimalField(_("paid"), **_MONEY, default=ZERO)
    paid_at = models.DateTimeField(_("paid in full at"), null=True, blank=True)
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("drawn at"), default=timezone.now)

    class Meta:
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
        ordering = ["-starts_at", "program_id", "platform_id"]
        indexes = [models.Index(fields=["platform", "status"], name="settlement_platform_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "program", "period"], name="settlement_one_per_period"
            ),
            models.CheckConstraint(
                condition=Q(amount_due=F("covered") - F("reversed")),
                name="settlement_amount_due_is_lines",
            ),
            # Never approve more than the lines, never pay more than approved.
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True) | Q(approved_amount__lte=F("amount_due")),
                name="settlement_approved_within_lines",
            ),
            models.CheckConstraint(
                condition=Q(paid_amount=0)
                | (Q(paid_amount__gt=0) & Q(paid_amount__lte=F("approved_amount"))),
                name="settlement_paid_within_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform} · {self.program} · {self.period}"

    @property
    def outstanding(self) -> Decimal:
        """What is approved and not yet paid."""
        if self.approved_amount is None:
            return ZERO
        return max(self.approved_amount - self.paid_amount, ZERO)

    @property
    def is_decided(self) -> bool:
        return self.status in self.DECIDED

    def needs_second_approval(self) -> bool:
        """True when the amount due is above the threshold frozen at review start."""
        threshold = self.four_eyes_threshold
        return threshold is not None and self.amount_due > threshold

    def approval_step(self) -> str:
        """The approval transition that applies now: the second of two once a
        first is given, the first of two above the threshold, else the one."""
        if self.first_approved_at is not None:
            return "approve_second"
        if self.needs_second_approval():
            return "approve_first"
        return "approve"

    def may_review(self, user: Any) -> bool:
        return _is_reviewer(self, user)

    def may_approve(self, user: Any) -> bool:
        return _is_finance_officer(self, user)

    def is_with_the_treasury(self) -> bool:
        """In a payment batch sent to the treasury and not yet confirmed: its
        payment is recorded from the bank's confirmation, not by hand."""
        from .payment import PaymentBatchItem

        return PaymentBatchItem.awaiting_the_bank().filter(settlement=self).exists()

    def takes_manual_payment(self) -> bool:
        """Approved, something left to pay, and not with the treasury (whose
        confirmation records the payment)."""
        return (
            self.status == self.Status.APPROVED
            and self.outstanding > 0
            and not self.is_with_the_treasury()
        )

    def may_pay(self, user: Any) -> bool:
        return _is_payer(self, user)

    def may_submit(self, user: Any) -> bool:
        """An operator of the platform (the API checks the signing platform instead)."""
        return _is_operator(self, user)

    # -- lifecycle: the bodies only set fields; the services lock, check,
    # save and audit (settlements/services.py).

    @transition(field=status, source=SUBMITTABLE, target=Status.SUBMITTED)
    def submit(self, *, invoice_number: str, invoice_amount: Decimal, note: str, at: Any) -> None:
        """The platform sends the statement with its invoice."""
        self.invoice_number = invoice_number
        self.invoice_amount = invoice_amount
        self.submission_note = note
        self.submitted_at = at

    @transition(field=status, source=Status.SUBMITTED, target=Status.UNDER_REVIEW)
    def start_review(self, *, by: Any, at: Any, threshold: Decimal | None) -> None:
        """A reviewer takes it up; the program's four-eyes threshold binds from here."""
        self.review_started_at = at
        self.review_started_by = by
        self.reviewed_at = None
        self.reviewed_by = None
        self.four_eyes_threshold = threshold

    @transition(
        field=status,
        source=Status.UNDER_REVIEW,
        target=Status.UNDER_REVIEW,
        conditions=[_not_passed_on],
        permission=_is_reviewer,
    )
    def pass_on(self, *, by: Any, at: Any) -> None:
        """The reviewer is done with the lines: finance may approve."""
        self.reviewed_at = at
        self.reviewed_by = by

    @transition(
        field=status,
        source=Status.UNDER_REVIEW,
        target=Status.RETURNED,
        conditions=[_not_passed_on],
        permission=_is_reviewer,
    )
    def return_for_changes(self, *, reason: str, at: Any) -> None:
        """Back to the platform, which may correct and resubmit it."""
        self.return_reason = reason
        self.returned_at = at

    @transition(
        field=status,
        source=Status.UNDER_REVIEW,
        target=Status.UNDER_REVIEW,
        conditions=[_is_passed_on, _awaits_first_approval, _needs_second_approval],
        permission=_is_finance_officer,
    )
    def approve_first(self, *, by: Any, at: Any) -> None:
        """First of two finance approvals, above the threshold."""
        self.first_approved_by = by
        self.first_approved_at = at

    @transition(
        field=status,
        source=Status.UNDER_REVIEW,
        target=Status.APPROVED,
        conditions=[_is_passed_on, _awaits_first_approval, _needs_no_second_approval],
        permission=_is_finance_officer,
    )
    def approve(self, *, by: Any, at: Any) -> None:
        """Finance approves the amount due."""
        self.approved_amount = self.amount_due
        self.approved_by = by
        self.approved_at = at

    @transition(
        field=status,
        source=Status.UNDER_REVIEW,
        target=Status.APPROVED,
        conditions=[_is_passed_on, _awaits_second_approval],
        permission=_is_second_finance_officer,
    )
    def approve_second(self, *, by: Any, at: Any) -> None:
        """A second, different finance officer confirms the first approval."""
        self.approved_amount = self.amount_due
        self.approved_by = by
        self.approved_at = at

    @transition(
        field=status,
        source=Status.APPROVED,
        target=Status.PAID,
        conditions=[_fully_paid],
        permission=_is_payer,
    )
    def mark_paid(self, *, at: Any, reference: str) -> None:
        """The last payment made the approved amount whole."""
        self.paid_at = at
        self.payment_reference = reference

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(program__district__in=scope.district_ids) | Q(platform__in=scope.platform_ids)


class SettlementLine(models.Model):
    """One capture or reversal of the period, with the signed evidence it was
    accepted on (on its redemption or reversal, never copied)."""

    class Kind(models.TextChoices):
        CAPTURE = "capture", _("Charge")
        REVERSAL = "reversal", _("Reversal")

    class Status(models.TextChoices):
        INCLUDED = "included", _("Included")
        REJECTED = "rejected", _("Rejected")

    settlement = models.ForeignKey(
        Settlement, verbose_name=_("settlement"), on_delete=models.PROTECT, related_name="lines"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    redemption = models.ForeignKey(
        Redemption, verbose_name=_("redemption"), on_delete=models.PROTECT, related_name="+"
    )
    reversal = models.OneToOneField(
        Reversal,
        verbose_name=_("reversal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="settlement_line",
    )
    voucher = models.ForeignKey(
        Voucher, verbose_name=_("voucher"), on_delete=models.PROTECT, related_name="+"
    )
    reference = models.CharField(_("platform reference"), max_length=255)
    occurred_at = models.DateTimeField(_("usage occurred at"))
    recorded_at = models.DateTimeField(_("recorded at"))
    covered = models.DecimalField(_("covered"), **_MONEY, default=ZERO)
    reversed = models.DecimalField(_("reversed"), **_MONEY, default=ZERO)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.INCLUDED
    )
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    rejected_at = models.DateTimeField(_("rejected at"), null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rejected by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The reversal that gave a rejected charge back to its voucher. Such a
    # reversal is the settlement's own doing, never a line of any period.
    rejection_reversal = models.OneToOneField(
        Reversal,
        verbose_name=_("reversal of the rejection"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="settlement_rejection",
    )

    class Meta:
        verbose_name = _("settlement line")
        verbose_name_plural = _("settlement lines")
        ordering = ["recorded_at", "id"]
        indexes = [
            models.Index(fields=["settlement", "recorded_at", "id"], name="settlement_line_order")
        ]
        constraints = [
            # A charge is a line of exactly one settlement.
            models.UniqueConstraint(
                fields=["redemption"],
                condition=Q(kind="capture"),
                name="settlement_line_one_per_charge",
            ),
            models.CheckConstraint(
                condition=(Q(kind="capture", reversal__isnull=True, reversed=0, covered__gt=0))
                | (Q(kind="reversal", reversal__isnull=False, covered=0, reversed__gt=0)),
                name="settlement_line_kind_matches_amounts",
            ),
            models.CheckConstraint(
                condition=Q(status="included") | ~Q(rejection_reason=""),
                name="settlement_line_rejection_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.covered or -self.reversed})"

    @property
    def amount(self) -> Decimal:
        """The line's effect on what is due: + covered, − reversed."""
        return self.covered - self.reversed

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(settlement__program__district__in=scope.district_ids) | Q(
            settlement__platform__in=scope.platform_ids
        )
