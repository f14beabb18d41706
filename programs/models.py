"""Programs: budgets, payout, phase-down schedules."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from accounts.fields import BulkJSONField
from accounts.models import ComputePlatform, District, Membership, localized
from accounts.scoping import scope_for
from eligibility.models import RuleSet

if TYPE_CHECKING:
    from accounts.scoping import Scope


def _is_program_manager(program: Any, user: Any) -> bool:
    return scope_for(user).has_district_role(program.district_id, Membership.Role.PROGRAM_MANAGER)


def _has_exit(program: Any) -> bool:
    from .phasedown import exit_date, steps_of

    return exit_date(steps_of(program)) is not None


def _past_exit(program: Any) -> bool:
    from .phasedown import exit_date, steps_of

    exit_on = exit_date(steps_of(program))
    return exit_on is not None and exit_on <= timezone.localdate()


#: What a performance agreement may measure (settlements.Obligation.Kind uses these).
AGREEMENT_TARGET_KINDS = [
    ("compute", _("Compute consumed (card-hours)")),
    ("local_tax", _("Local tax paid (yuan)")),
    ("headcount", _("Headcount")),
    ("stay_registered", _("Years registered in the district")),
]


class Program(FSMModelMixin, models.Model):
    """A voucher scheme run by one district."""

    class Kind(models.TextChoices):
        TOKEN = "token", _("Token voucher")
        COMPUTE = "compute", _("Compute voucher")
        MODEL = "model", _("Model voucher")
        DATA = "data", _("Data voucher")

    class Unit(models.TextChoices):
        CNY = "CNY", _("Yuan (CNY)")
        POINTS = "POINTS", _("Normalized token points")

    class PayoutMode(models.TextChoices):
        # How the money reaches the market ("How the money flows", DESIGN.md).
        DEDUCT_AT_PLATFORM = "deduct_at_platform", _("Deducted at the platform, settled with it")
        REIMBURSE = "reimburse", _("Reimbursed to the enterprise after purchase")
        CONTRACT_VOUCHER = "contract_voucher", _("Voucher against a contract")

    class SettlementPeriod(models.TextChoices):
        MONTH = "month", _("Monthly")
        QUARTER = "quarter", _("Quarterly")

    class ClaimRounding(models.TextChoices):
        FEN_HALF_UP = "fen_half_up", _("To the fen (0.01 yuan), half up")
        YUAN_DOWN = "yuan_down", _("Down to whole yuan")
        WAN4_DOWN = "wan4_down", _("In 万元 to four decimals, truncated")

    class ClaimPriority(models.TextChoices):
        BUYER_ONLY = "buyer_only", _("Only the buyer")
        SUPPLIER_ONLY = "supplier_only", _("Only the supplier")
        SUPPLIER_FIRST = "supplier_first", _("Either; the supplier has priority")
        BUYER_FIRST = "buyer_first", _("Either; the buyer has priority")

    class ClawbackRule(models.TextChoices):
        PROPORTIONAL = "proportional", _("In proportion to the shortfall")
        WHOLE = "whole", _("The whole subsidy")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        PAUSED = "paused", _("Paused")
        CLOSED = "closed", _("Closed")

    district = models.ForeignKey(
        District, verbose_name=_("district"), on_delete=models.PROTECT, related_name="programs"
    )
    name = models.CharField(_("name (Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    summary = models.TextField(_("summary (Chinese)"), blank=True)
    summary_en = models.TextField(_("summary (English)"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    unit = models.CharField(_("unit"), max_length=10, choices=Unit.choices, default=Unit.CNY)
    total_budget = models.DecimalField(
        _("total budget"),
        max_digits=16,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("In the program's unit."),
    )
    per_enterprise_cap = models.DecimalField(
        _("cap per enterprise"),
        max_digits=16,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    per_charge_cap = models.DecimalField(
        _("cap per charge"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Most a single charge may take from a voucher; empty for no cap."),
    )
    base_rate = models.DecimalField(
        _("subsidy rate"),
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("Share of a bill the voucher covers, e.g. 0.30 for 30%."),
    )
    application_opens_on = models.DateField(_("applications open on"))
    application_closes_on = models.DateField(_("applications close on"))
    voucher_validity_days = models.PositiveIntegerField(
        _("voucher validity (days from issue)"),
        null=True,
        blank=True,
        help_text=_("Either this or a fixed end date; never past the program's exit date."),
    )
    voucher_valid_until = models.DateField(
        _("vouchers valid until"),
        null=True,
        blank=True,
        help_text=_("A fixed last day of validity for every voucher of the program."),
    )
    cross_region = models.BooleanField(
        _("cross-region"),
        default=False,
        help_text=_("Vouchers may be spent on any platform of the national list."),
    )
    platforms = models.ManyToManyField(
        ComputePlatform,
        verbose_name=_("bound platforms"),
        related_name="programs",
        blank=True,
        db_table="vouchers_program_platforms",
    )
    rule_set = models.ForeignKey(
        RuleSet,
        verbose_name=_("eligibility rules (version in force)"),
        on_delete=models.PROTECT,
        related_name="programs",
        null=True,
        blank=True,
        help_text=_(
            "A published version of one of the district's rule sets; it never changes. "
            "A newer version applies only once the program adopts it. "
            "Empty: every registered enterprise may apply."
        ),
    )
    obligations = models.TextField(
        _("obligations (Chinese)"),
        blank=True,
        help_text=_(
            "What an enterprise accepts by applying, e.g. keep local tax registration for 3 years."
        ),
    )
    obligations_en = models.TextField(_("obligations (English)"), blank=True)
    four_eyes_threshold = models.DecimalField(
        _("second approval above"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_(
            "Approvals of more than this amount need a second official's approval; empty for never."
        ),
    )
    payout_mode = models.CharField(
        _("payout mode"),
        max_length=30,
        choices=PayoutMode.choices,
        default=PayoutMode.DEDUCT_AT_PLATFORM,
        help_text=_("How the subsidy is paid out."),
    )
    settlement_period = models.CharField(
        _("settlement period"),
        max_length=10,
        choices=SettlementPeriod.choices,
        default=SettlementPeriod.MONTH,
        help_text=_(
            "For deduction at the platform: how often the platforms' settlements are drawn "
            "(calendar months or quarters, China Standard Time)."
        ),
    )
    settlement_four_eyes_threshold = models.DecimalField(
        _("second finance approval above"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_(
            "Settlements owing more than this need a second finance officer's approval; "
            "empty for never."
        ),
    )

    # -- Claims (reimbursement after purchase, and vouchers against a contract):
    # the program's own figures from its published rules ("How the money flows").
    claim_opens_on = models.DateField(
        _("claims open on"),
        null=True,
        blank=True,
        help_text=_("First day claims are taken (e.g. 4 January); empty for any day."),
    )
    claim_closes_on = models.DateField(_("claims close on"), null=True, blank=True)
    service_starts_on = models.DateField(
        _("funded service from"),
        null=True,
        blank=True,
        help_text=_(
            "The period of service the program pays for; a contract that straddles it "
            "is pro-rated by days."
        ),
    )
    service_ends_on = models.DateField(_("funded service until"), null=True, blank=True)
    contracts_signed_from = models.DateField(
        _("contracts signed on or after"), null=True, blank=True
    )
    contract_max_term_days = models.PositiveIntegerField(
        _("longest contract term (days)"),
        null=True,
        blank=True,
        help_text=_("For example 366 for 'one year or less'; empty for any term."),
    )
    claim_min_spend = models.DecimalField(
        _("minimum eligible spend"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("A claim's eligible spend must be above this amount."),
    )
    claim_cap = models.DecimalField(
        _("cap per claim"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    claim_cap_per_year = models.DecimalField(
        _("cap per enterprise and year"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    claim_rounding = models.CharField(
        _("rounding of subsidies"),
        max_length=20,
        choices=ClaimRounding.choices,
        default=ClaimRounding.FEN_HALF_UP,
    )
    claim_priority = models.CharField(
        _("who may claim a contract"),
        max_length=20,
        choices=ClaimPriority.choices,
        default=ClaimPriority.BUYER_ONLY,
        help_text=_("The buyer and the supplier never both claim the same contract."),
    )
    claim_gpu_npu_only = models.BooleanField(
        _("only GPU/NPU compute counts"),
        default=True,
        help_text=_("Storage, network and security services are not eligible spend."),
    )
    claim_requires_assessment = models.BooleanField(
        _("claims are assessed by a third party"), default=True
    )
    requires_agreement = models.BooleanField(
        _("requires a performance agreement"),
        default=False,
        help_text=_("An approved claim or contract voucher comes with a target agreement."),
    )
    agreement_targets = BulkJSONField(
        _("agreement targets"),
        default=list,
        blank=True,
        help_text=_('For example [{"kind": "headcount", "target": "20"}].'),
    )
    agreement_term_months = models.PositiveIntegerField(_("assessment after (months)"), default=12)
    clawback_rule = models.CharField(
        _("clawback when targets are missed"),
        max_length=20,
        choices=ClawbackRule.choices,
        default=ClawbackRule.PROPORTIONAL,
    )
    clawback_due_days = models.PositiveIntegerField(_("repayment due after (days)"), default=30)
    status = FSMField(_("status"), default=Status.DRAFT, choices=Status.choices, protected=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    # Budget counters, changed only by services holding a row lock on the
    # program (approvals, issuance, expiry, revocation: none of them is on the
    # redemption hot path). What was redeemed is never a counter here: it is
    # the sum of the vouchers' ledger entries, so redemptions lock only their
    # voucher. Remaining = total − reserved − issued + returned.
    reserved_amount = models.DecimalField(
        _("reserved by approvals"),
        max_digits=16,
        decimal_places=2,
        default=Decimal("0"),
        editable=False,
        help_text=_("Approved amounts not yet issued as vouchers."),
    )
    issued_amount = models.DecimalField(
        _("issued"), max_digits=16, decimal_places=2, default=Decimal("0"), editable=False
    )
    returned_amount = models.DecimalField(
        _("returned"),
        max_digits=16,
        decimal_places=2,
        default=Decimal("0"),
        editable=False,
        help_text=_("Remainders of expired and revoked vouchers, and clawbacks."),
    )
    # Claims (settlements app): paid to enterprises, and repaid by them on a
    # receivable raised without a voucher. Kept apart from issued and returned,
    # which are the sums of the vouchers' ledger entries (check_ledger).
    paid_out_amount = models.DecimalField(
        _("paid out on claims"),
        max_digits=16,
        decimal_places=2,
        default=Decimal("0"),
        editable=False,
    )
    recovered_amount = models.DecimalField(
        _("recovered from enterprises"),
        max_digits=16,
        decimal_places=2,
        default=Decimal("0"),
        editable=False,
        help_text=_("Repayments of receivables raised on claims."),
    )

    # Recorded in the audit log under its first app (see audit.object_types).
    audit_object_type = "vouchers.program"

    class Meta:
        db_table = "vouchers_program"
        verbose_name = _("program")
        verbose_name_plural = _("programs")
        ordering = ["district__code", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_budget__gte=0) & Q(per_enterprise_cap__gte=0),
                name="program_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(base_rate__gte=0) & Q(base_rate__lte=1),
                name="program_rate_between_0_and_1",
            ),
            models.CheckConstraint(
                condition=Q(application_closes_on__gte=models.F("application_opens_on")),
                name="program_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(reserved_amount__gte=0)
                & Q(issued_amount__gte=0)
                & Q(returned_amount__gte=0)
                & Q(paid_out_amount__gte=0)
                & Q(recovered_amount__gte=0),
                name="program_counters_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(claim_opens_on__isnull=True)
                | Q(claim_closes_on__isnull=True)
                | Q(claim_closes_on__gte=models.F("claim_opens_on")),
                name="program_claim_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(service_starts_on__isnull=True)
                | Q(service_ends_on__isnull=True)
                | Q(service_ends_on__gte=models.F("service_starts_on")),
                name="program_service_period_ordered",
            ),
            # A program can never commit more than its budget.
            models.CheckConstraint(
                condition=Q(
                    total_budget__gte=models.F("reserved_amount")
                    + models.F("issued_amount")
                    + models.F("paid_out_amount")
                    - models.F("returned_amount")
                    - models.F("recovered_amount")
                ),
                name="program_commitments_within_budget",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return localized(self, "name")

    @property
    def display_summary(self) -> str:
        return localized(self, "summary")

    @property
    def display_obligations(self) -> str:
        return localized(self, "obligations")

    def transitions_for(self, user: Any) -> list[Any]:
        """The status transitions ``user`` may perform now (conditions and permissions met)."""
        return list(self.get_available_user_status_transitions(user))  # type: ignore[attr-defined]

    # Lifecycle. Only a program manager of the program's district moves it;
    # the services in vouchers.services_programs call these, save and audit.
    @transition(
        field=status,
        source=Status.DRAFT,
        target=Status.OPEN,
        conditions=[_has_exit],
        permission=_is_program_manager,
    )
    def open(self) -> None:
        """Publish the program: enterprises may apply within the window."""

    @transition(
        field=status, source=Status.OPEN, target=Status.PAUSED, permission=_is_program_manager
    )
    def pause(self) -> None:
        """Stop taking applications for a while."""

    @transition(
        field=status, source=Status.PAUSED, target=Status.OPEN, permission=_is_program_manager
    )
    def resume(self) -> None:
        """Take applications again."""

    @transition(
        field=status,
        source=[Status.OPEN, Status.PAUSED],
        target=Status.CLOSED,
        permission=_is_program_manager,
    )
    def close(self) -> None:
        """End the program for good."""

    @transition(
        field=status,
        source=[Status.OPEN, Status.PAUSED],
        target=Status.CLOSED,
        conditions=[_past_exit],
    )
    def close_at_exit(self) -> None:
        """End the program on its schedule's exit date."""

    @property
    def committed_amount(self) -> Decimal:
        """Reserved plus issued plus paid out on claims, less what came back."""
        return (
            self.reserved_amount
            + self.issued_amount
            + self.paid_out_amount
            - self.returned_amount
            - self.recovered_amount
        )

    @property
    def remaining_amount(self) -> Decimal:
        return self.total_budget - self.committed_amount

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(district__in=scope.district_ids)


class PhaseStep(models.Model):
    """One dated step of a program's phase-down schedule.

    From ``starts_on`` (a date in Asia/Shanghai) until the next step, the
    program covers ``rate`` of a bill. A step with rate 0 is the exit: the
    program ends that day. Read the rate only through
    :func:`vouchers.phasedown.rate_in_force`.
    """

    program = models.ForeignKey(
        Program, verbose_name=_("program"), on_delete=models.CASCADE, related_name="phase_steps"
    )
    starts_on = models.DateField(_("starts on"))
    rate = models.DecimalField(
        _("rate"),
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("Share of a bill covered from this date; 0 ends the program (exit)."),
    )

    # Recorded in the audit log under its first app (see audit.object_types).
    audit_object_type = "vouchers.phasestep"

    class Meta:
        db_table = "vouchers_phasestep"
        verbose_name = _("phase-down step")
        verbose_name_plural = _("phase-down steps")
        # program_id, not program: ordering by the relation would join the
        # program and its district on every read of a schedule (each charge).
        ordering = ["program_id", "starts_on"]
        constraints = [
            models.UniqueConstraint(fields=["program", "starts_on"], name="phase_step_unique_date"),
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=1), name="phase_step_rate_between_0_and_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_on:%Y-%m-%d}: {self.rate:.0%}"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(program__district__in=scope.district_ids)
