"""Performance agreements (目标责任书): obligations with targets that come
with an approved claim or contract voucher, assessed on a date; a shortfall
raises a clawback receivable (``vouchers.Receivable``) by the program's rule,
repaid or written off here."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from accounts.models import Enterprise, Membership
from accounts.scoping import scope_for
from programs.models import Program
from vouchers.models import Receivable, Voucher

from .claims import Claim
from .settlement import _MONEY

if TYPE_CHECKING:
    from accounts.scoping import Scope


def _is_manager(agreement: Any, user: Any) -> bool:
    return scope_for(user).has_district_role(
        agreement.program.district_id, Membership.Role.PROGRAM_MANAGER
    )


def _is_assigned_assessor(agreement: Any, user: Any) -> bool:
    return (
        agreement.assessor_id is not None
        and user.pk == agreement.assessor_id
        and agreement.program.district_id in scope_for(user).assessor_district_ids
    )


def _is_deciding_official(agreement: Any, user: Any) -> bool:
    """A program manager of the district who did not assign the assessment."""
    return _is_manager(agreement, user) and user.pk != agreement.assigned_by_id


class PerformanceAgreement(FSMModelMixin, models.Model):
    """What an enterprise undertook in return for the subsidy."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("In force")
        ASSESSMENT = "assessment", _("With the assessor")
        ASSESSED = "assessed", _("Assessed, awaiting decision")
        MET = "met", _("Met")
        PARTLY_MET = "partly_met", _("Partly met")
        MISSED = "missed", _("Missed")

    OUTCOMES = [Status.MET, Status.PARTLY_MET, Status.MISSED]

    program = models.ForeignKey(
        Program, verbose_name=_("program"), on_delete=models.PROTECT, related_name="agreements"
    )
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise"),
        on_delete=models.PROTECT,
        related_name="agreements",
    )
    claim = models.OneToOneField(
        Claim,
        verbose_name=_("claim"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agreement",
    )
    voucher = models.ForeignKey(
        Voucher,
        verbose_name=_("voucher"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agreements",
    )
    #: The subsidy the agreement secures: what a clawback is measured against.
    subsidy = models.DecimalField(_("subsidy"), **_MONEY)
    status = FSMField(
        _("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE, protected=True
    )
    starts_on = models.DateField(_("in force from"))
    assess_on = models.DateField(_("assessment date"))
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assessor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_agreements",
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    report = models.TextField(_("assessor's report"), blank=True)
    assessed_at = models.DateTimeField(_("assessed at"), null=True, blank=True)
    shortfall = models.DecimalField(
        _("shortfall"), max_digits=7, decimal_places=6, null=True, blank=True
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    receivable = models.OneToOneField(
        Receivable,
        verbose_name=_("receivable"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agreement",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("performance agreement")
        verbose_name_plural = _("performance agreements")
        ordering = ["assess_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(subsidy__gte=0), name="agreement_subsidy_positive"),
            models.CheckConstraint(
                condition=Q(shortfall__isnull=True) | (Q(shortfall__gte=0) & Q(shortfall__lte=1)),
                name="agreement_shortfall_is_a_share",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise} · {self.program}"

    def may_assign(self, user: Any) -> bool:
        return _is_manager(self, user)

    def may_assess(self, user: Any) -> bool:
        return _is_assigned_assessor(self, user)

    def may_decide(self, user: Any) -> bool:
        return _is_deciding_official(self, user)

    @transition(
        field=status, source=Status.ACTIVE, target=Status.ASSESSMENT, permission=_is_manager
    )
    def assign(self, *, assessor: Any, by: Any) -> None:
        self.assessor = assessor
        self.assigned_by = by

    @transition(
        field=status,
        source=Status.ASSESSMENT,
        target=Status.ASSESSED,
        permission=_is_assigned_assessor,
    )
    def record_assessment(self, *, report: str, at: Any, shortfall: Decimal) -> None:
        self.report = report
        self.assessed_at = at
        self.shortfall = shortfall

    @transition(
        field=status,
        source=Status.ASSESSED,
        target=RETURN_VALUE(*OUTCOMES),
        permission=_is_deciding_official,
    )
    def decide(self, *, outcome: str, by: Any, at: Any) -> str:
        self.decided_by = by
        self.decided_at = at
        return outcome

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return (
            Q(enterprise__in=scope.enterprise_ids)
            | Q(program__district__in=scope.district_ids)
            | Q(assessor=scope.user_id)
        )


class Obligation(models.Model):
    """One target of an agreement and, once assessed, the measured value."""

    # The same kinds as programs.models.AGREEMENT_TARGET_KINDS (a program's targets).
    class Kind(models.TextChoices):
        COMPUTE = "compute", _("Compute consumed (card-hours)")
        LOCAL_TAX = "local_tax", _("Local tax paid (yuan)")
        HEADCOUNT = "headcount", _("Headcount")
        STAY_REGISTERED = "stay_registered", _("Years registered in the district")

    agreement = models.ForeignKey(
        PerformanceAgreement,
        verbose_name=_("agreement"),
        on_delete=models.CASCADE,
        related_name="obligations",
    )
    kind = models.CharField(_("indicator"), max_length=20, choices=Kind.choices)
    target = models.DecimalField(_("target"), max_digits=16, decimal_places=2)
    measured = models.DecimalField(
        _("measured"), max_digits=16, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("obligation")
        verbose_name_plural = _("obligations")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(target__gt=0), name="obligation_target_positive"),
            models.UniqueConstraint(fields=["agreement", "kind"], name="obligation_kind_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ≥ {self.target}"

    @property
    def shortfall(self) -> Decimal | None:
        """The share of the target not reached (0 when met), once measured."""
        if self.measured is None:
            return None
        if self.measured >= self.target:
            return Decimal("0")
        return (self.target - max(self.measured, Decimal("0"))) / self.target

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return (
            Q(agreement__enterprise__in=scope.enterprise_ids)
            | Q(agreement__program__district__in=scope.district_ids)
            | Q(agreement__assessor=scope.user_id)
        )


class Repayment(models.Model):
    """Money an enterprise paid back on a receivable, or an amount written off."""

    class Kind(models.TextChoices):
        REPAYMENT = "repayment", _("Repayment")
        WRITE_OFF = "write_off", _("Write-off")

    receivable = models.ForeignKey(
        Receivable,
        verbose_name=_("receivable"),
        on_delete=models.PROTECT,
        related_name="repayments",
    )
    kind = models.CharField(_("repayment or write-off"), max_length=20, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), **_MONEY)
    paid_on = models.DateField(_("date"))
    reference = models.CharField(_("bank reference or decision"), max_length=200)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("repayment")
        verbose_name_plural = _("repayments")
        ordering = ["paid_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="repayment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(receivable__enterprise__in=scope.enterprise_ids) | Q(
            receivable__program__district__in=scope.district_ids
        )


class ReceivableReminder(models.Model):
    """A reminder about a receivable's due date, kept so that each is sent once."""

    class Kind(models.TextChoices):
        BEFORE_DUE = "before_due", _("7 days before the due date")
        OVERDUE = "overdue", _("The day after the due date")
        OVERDUE_30 = "overdue_30", _("30 days overdue")

    receivable = models.ForeignKey(
        Receivable, verbose_name=_("receivable"), on_delete=models.CASCADE, related_name="reminders"
    )
    kind = models.CharField(_("reminder"), max_length=20, choices=Kind.choices)
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)

    class Meta:
        verbose_name = _("receivable reminder")
        verbose_name_plural = _("receivable reminders")
        constraints = [
            models.UniqueConstraint(fields=["receivable", "kind"], name="receivable_reminder_once")
        ]

    def __str__(self) -> str:
        return self.get_kind_display()
