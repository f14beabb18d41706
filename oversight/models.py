"""Anomaly detection's models: per-program thresholds and the officials' flag queue.

Both models moved here from ``audit`` (issue 15) without touching the
database: their tables keep their names (``audit_detectorsettings``,
``audit_anomalyflag``), and so do their indexes and constraints. Events
recorded about them keep their historical ``object_type`` too
(``audit_object_type``, read by :func:`audit.object_types.object_type_of`): that
string is part of the hash-chained public record and readers filter on it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

if TYPE_CHECKING:
    from accounts.scoping import Scope

_POSITIVE = [MinValueValidator(Decimal("0"))]


class DetectorSettings(models.Model):
    """The anomaly detectors' thresholds for one program.

    A program without a row uses the defaults below (each documented in its
    help text); a program manager edits them in the admin.
    """

    #: The object type of its audit events, as recorded before the move.
    audit_object_type = "audit.detectorsettings"

    program = models.OneToOneField(
        "programs.Program",
        verbose_name=_("program"),
        on_delete=models.CASCADE,
        related_name="detector_settings",
    )
    spike_multiplier = models.DecimalField(
        _("spike: multiple of the trailing median"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("5"),
        validators=[MinValueValidator(Decimal("1"))],
        help_text=_(
            "A day's usage above this multiple of the enterprise's median daily usage "
            "over the trailing window is a spike. Default 5."
        ),
    )
    spike_trailing_days = models.PositiveSmallIntegerField(
        _("spike: trailing window (days)"),
        default=28,
        validators=[MinValueValidator(7), MaxValueValidator(365)],
        help_text=_("Days before the examined day whose usage gives the median. Default 28."),
    )
    spike_min_active_days = models.PositiveSmallIntegerField(
        _("spike: days of history needed"),
        default=5,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Days with usage the trailing window must have before a spike is judged "
            "(a new customer has no median yet). Default 5."
        ),
    )
    per_head_daily_cny = models.DecimalField(
        _("headcount: most CNY billed per head per day"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("5000"),
        validators=_POSITIVE,
        help_text=_(
            "For programs in yuan: a day's billed amount divided by the declared headcount "
            "above this is more than the staff could plausibly use. Default 5,000 CNY."
        ),
    )
    per_head_daily_points = models.PositiveBigIntegerField(
        _("headcount: most points per head per day"),
        default=20_000_000,
        help_text=_(
            "For programs in points: a day's points divided by the declared headcount above "
            "this is implausible. Default 20,000,000 points (about 20 M reference tokens)."
        ),
    )
    round_unit_cny = models.DecimalField(
        _("round bills: round amount (CNY)"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("1000"),
        validators=_POSITIVE,
        help_text=_("A bill that is a whole multiple of this is round. Default 1,000 CNY."),
    )
    round_unit_points = models.PositiveBigIntegerField(
        _("round bills: round amount (points)"),
        default=1_000_000,
        help_text=_("A charge that is a whole multiple of this is round. Default 1,000,000."),
    )
    round_min_bills = models.PositiveSmallIntegerField(
        _("round or even bills: bills needed"),
        default=5,
        validators=[MinValueValidator(3)],
        help_text=_("Fewer bills in the window say nothing about a pattern. Default 5."),
    )
    round_share = models.DecimalField(
        _("round bills: share of round bills"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.80"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("Flag when at least this share of the bills is round. Default 0.80."),
    )
    even_min_intervals = models.PositiveSmallIntegerField(
        _("even bills: equal intervals in a row"),
        default=4,
        validators=[MinValueValidator(2)],
        help_text=_(
            "Flag when this many consecutive intervals between bills are equal to the second "
            "(machine-made usage). Default 4, i.e. 5 bills."
        ),
    )
    night_start_hour = models.PositiveSmallIntegerField(
        _("night: from hour"),
        default=1,
        validators=[MaxValueValidator(23)],
        help_text=_("Start of the night hours, China time. Default 01:00."),
    )
    night_end_hour = models.PositiveSmallIntegerField(
        _("night: to hour"),
        default=5,
        validators=[MaxValueValidator(24)],
        help_text=_("End of the night hours (exclusive), China time. Default 05:00."),
    )
    night_min_redemptions = models.PositiveSmallIntegerField(
        _("night: redemptions needed"),
        default=3,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Flag when at least this many charges fall in the night hours while the "
            "enterprise's other charges keep office hours (08:00–20:00). Default 3."
        ),
    )
    price_tolerance = models.DecimalField(
        _("catalog: price tolerance"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.02"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_(
            "A bill differing from the catalog price of its usage lines by more than this "
            "share is flagged. Default 0.02 (2%)."
        ),
    )
    points_tolerance = models.DecimalField(
        _("catalog: points drift tolerance"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.02"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_(
            "Points charged per token on a model drifting from the catalog's rate by more "
            "than this share is flagged. Default 0.02 (2%)."
        ),
    )
    drain_days = models.PositiveSmallIntegerField(
        _("drain: last days before expiry"),
        default=7,
        validators=[MinValueValidator(1)],
        help_text=_("The window before a voucher's expiry that is watched. Default 7 days."),
    )
    drain_share = models.DecimalField(
        _("drain: share of the face value"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.50"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_(
            "Flag when the charges in that window take at least this share of the face "
            "value. Default 0.50."
        ),
    )
    rejected_jump_multiple = models.DecimalField(
        _("settlements: multiple of the usual rejected share"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("3"),
        validators=[MinValueValidator(Decimal("1"))],
        help_text=_(
            "Flag a platform when the share of its charges rejected in a decided settlement "
            "is above this multiple of the median share of its previous settlements of the "
            "program. Default 3."
        ),
    )
    rejected_jump_min_share = models.DecimalField(
        _("settlements: least rejected share flagged"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.05"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_(
            "A rejected share below this is never flagged, however it compares with the "
            "previous settlements. Default 0.05 (5%)."
        ),
    )
    claim_near_margin = models.DecimalField(
        _("claims: margin around the program's limits"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.05"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_(
            "A claim whose eligible spend is at most this share above the minimum spend, or "
            "whose claimed amount (or the enterprise's total for the year) is at most this "
            "share below a cap, sits near the program's limits. Default 0.05 (5%)."
        ),
    )
    claim_near_min_claims = models.PositiveSmallIntegerField(
        _("claims: claims near the limits needed"),
        default=2,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Flag an enterprise, or a supplier, with at least this many claims near the "
            "program's limits in the past year. Default 2."
        ),
    )
    price_rise_ratio = models.DecimalField(
        _("claims: price rise after the program opened"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("1.30"),
        validators=[MinValueValidator(Decimal("1"))],
        help_text=_(
            "Flag a supplier whose contracts signed after the program opened cost more per "
            "day than this multiple of the median of its contracts of the same kind signed "
            "before. Default 1.30."
        ),
    )
    supplier_shared_min_buyers = models.PositiveSmallIntegerField(
        _("claims: linked buyers of one supplier"),
        default=3,
        validators=[MinValueValidator(2)],
        help_text=_(
            "Flag a supplier when at least this many of its claiming buyers share a legal "
            "representative or contact phone with one another or with the supplier. "
            "Default 3."
        ),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "audit_detectorsettings"
        verbose_name = _("detector settings")
        verbose_name_plural = _("detector settings")
        ordering = ["program"]
        constraints = [
            models.CheckConstraint(
                condition=Q(night_start_hour__lt=models.F("night_end_hour")),
                name="detector_settings_night_ordered",
            )
        ]

    def __str__(self) -> str:
        return str(self.program)

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(program__district__in=scope.district_ids)


def may_decide_flag(flag: Any, user: Any) -> bool:
    """A transition permission: a program manager or reviewer of the flag's district."""
    from accounts.models import Membership
    from accounts.scoping import scope_for

    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return scope_for(user).has_district_role(
        flag.district_id, Membership.Role.PROGRAM_MANAGER, Membership.Role.REVIEWER
    )


class AnomalyFlag(FSMModelMixin, models.Model):
    """One finding of a detector, with the numbers behind it, for an official to decide."""

    class Detector(models.TextChoices):
        USAGE_SPIKE = "usage_spike", _("Usage spike against the trailing median")
        HEADCOUNT = "headcount", _("Usage beyond the declared headcount")
        ROUND_BILLS = "round_bills", _("Round-number bills")
        EVEN_BILLS = "even_bills", _("Evenly spaced bills")
        NIGHT_USAGE = "night_usage", _("Usage at hours the enterprise never works")
        CATALOG_PRICE = "catalog_price", _("Billing differs from the catalog price")
        POINTS_DRIFT = "points_drift", _("Points per token drift from the catalog")
        EXPIRY_DRAIN = "expiry_drain", _("Balance drained just before expiry")
        SHARED_CONTACT = (
            "shared_contact",
            _("Enterprises sharing a representative, phone or address"),
        )
        MULTI_DISTRICT = "multi_district", _("Same USCC funded by several districts")
        RELATED_PARTY = "related_party", _("Platform and enterprise are related parties")
        SETTLEMENT_EVIDENCE = (
            "settlement_evidence",
            _("Settlement lines without a signed request that verifies"),
        )
        REJECTED_SHARE = (
            "rejected_share",
            _("A platform's share of rejected charges jumps"),
        )
        INVOICE_REUSED = (
            "invoice_reused",
            _("One invoice number under several contracts or programs"),
        )
        CLAIM_NEAR_THRESHOLD = (
            "claim_near_threshold",
            _("Claims sitting just inside the program's limits"),
        )
        SUPPLIER_AND_BUYER_CLAIM = (
            "supplier_and_buyer_claim",
            _("Supplier and buyer both claim the same contract"),
        )
        PRICE_RISE_BEFORE_SUBSIDY = (
            "price_rise_before_subsidy",
            _("Supplier raised its prices when the program opened"),
        )
        SUPPLIER_SHARED_CONTACTS = (
            "supplier_shared_contacts",
            _("A supplier's buyers share a representative or phone"),
        )

    class Status(models.TextChoices):
        OPEN = "open", _("Awaiting a decision")
        CONFIRMED = "confirmed", _("Confirmed")
        DISMISSED = "dismissed", _("Dismissed")

    class Action(models.TextChoices):
        NONE = "none", _("No action")
        SUSPEND = "suspend", _("Voucher suspended")
        CLAWBACK = "clawback", _("Clawback started")

    DECIDABLE = [Status.OPEN]

    #: The object type of its audit events, as recorded before the move.
    audit_object_type = "audit.anomalyflag"

    detector = models.CharField(_("detector"), max_length=30, choices=Detector.choices)
    district = models.ForeignKey(
        "accounts.District",
        verbose_name=_("district"),
        on_delete=models.PROTECT,
        related_name="anomaly_flags",
    )
    program = models.ForeignKey(
        "programs.Program",
        verbose_name=_("program"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="anomaly_flags",
    )
    enterprise = models.ForeignKey(
        "accounts.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="anomaly_flags",
    )
    voucher = models.ForeignKey(
        "vouchers.Voucher",
        verbose_name=_("voucher"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="anomaly_flags",
    )
    platform = models.ForeignKey(
        "accounts.ComputePlatform",
        verbose_name=_("platform"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="anomaly_flags",
    )
    subject = models.CharField(
        _("subject key"),
        max_length=200,
        help_text=_("What was measured, e.g. voucher:12 or platform:3/model:kimi-k2.5."),
    )
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    score = models.DecimalField(
        _("measured value"),
        max_digits=20,
        decimal_places=4,
        help_text=_("The figure compared with the threshold (see the evidence for its unit)."),
    )
    evidence = models.JSONField(_("evidence"), default=dict)
    status = FSMField(_("status"), default=Status.OPEN, choices=Status.choices, protected=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    action_taken = models.CharField(
        _("action taken"), max_length=20, choices=Action.choices, default=Action.NONE
    )
    created_at = models.DateTimeField(_("flagged at"), default=timezone.now)

    class Meta:
        db_table = "audit_anomalyflag"
        verbose_name = _("anomaly flag")
        verbose_name_plural = _("anomaly flags")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["detector", "district", "subject", "period_start", "period_end"],
                name="anomaly_flag_once_per_subject_and_period",
            ),
            models.CheckConstraint(
                condition=Q(period_start__lte=models.F("period_end")),
                name="anomaly_flag_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(status="open") | ~Q(decision_note=""),
                name="anomaly_flag_decision_has_note",
            ),
        ]
        # Named as Django named it when the model lived in audit.
        indexes = [
            models.Index(
                fields=["district", "status", "detector"], name="audit_anoma_distric_2a26bd_idx"
            )
        ]

    def __str__(self) -> str:
        from .subjects import subject_text

        return f"{self.get_detector_display()} · {subject_text(self.subject)} · {self.period_start}"

    @transition(field=status, source=DECIDABLE, target=Status.CONFIRMED, permission=may_decide_flag)
    def confirm(self, *, by: Any, at: Any, note: str, action: str) -> None:
        self.decided_by = by
        self.decided_at = at
        self.decision_note = note
        self.action_taken = action

    @transition(field=status, source=DECIDABLE, target=Status.DISMISSED, permission=may_decide_flag)
    def dismiss(self, *, by: Any, at: Any, note: str) -> None:
        self.decided_by = by
        self.decided_at = at
        self.decision_note = note
        self.action_taken = self.Action.NONE

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        """Officials (auditors included) see their districts' flags; nobody else."""
        return Q(district__in=scope.district_ids)
