"""Programs (with their phase-down schedules and budgets), applications, and
vouchers with their ledger, holds, redemptions, reversals and receivables."""

from __future__ import annotations

import datetime
import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pgtrigger
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from accounts.duties import duties_conflict
from accounts.fields import BulkJSONField
from accounts.models import ComputePlatform, District, Enterprise, Membership, localized
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
        help_text=_("Share of a bill the voucher covers, e.g. 0.30 for 30 %."),
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
        ComputePlatform, verbose_name=_("bound platforms"), related_name="programs", blank=True
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

    class Meta:
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
                & Q(returned_amount__gte=0),
                name="program_counters_not_negative",
            ),
            # A program can never commit more than its budget.
            models.CheckConstraint(
                condition=Q(
                    total_budget__gte=models.F("reserved_amount")
                    + models.F("issued_amount")
                    - models.F("returned_amount")
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

    # No permission: nobody closes it, the schedule fixed the date in advance
    # (the phase-down task calls this on the exit date).
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
        """Reserved plus issued, less what came back."""
        return self.reserved_amount + self.issued_amount - self.returned_amount

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

    class Meta:
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


def _is_enterprise_member(application: Any, user: Any) -> bool:
    return (
        application.enterprise_id in scope_for(user).enterprise_ids
        and duties_conflict(user=user, enterprise_id=application.enterprise_id) is None
    )


def _is_reviewer(application: Any, user: Any) -> bool:
    """A reviewer of the program's district who is no member of the applicant."""
    return scope_for(user).has_district_role(
        application.program.district_id, Membership.Role.REVIEWER
    ) and (duties_conflict(user=user, enterprise_id=application.enterprise_id) is None)


def _is_second_reviewer(application: Any, user: Any) -> bool:
    """A reviewer other than the one who gave the first approval (four eyes)."""
    return _is_reviewer(application, user) and user.pk != application.first_approved_by_id


def _needs_second_approval(application: Any) -> bool:
    return application.needs_second_approval()


def _needs_no_second_approval(application: Any) -> bool:
    return not application.needs_second_approval()


class Application(FSMModelMixin, models.Model):
    """An enterprise's request for vouchers of one program."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        UNDER_REVIEW = "under_review", _("Under review")
        AWAITING_SECOND_APPROVAL = "awaiting_second_approval", _("Awaiting second approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        RETURNED = "returned", _("Returned for changes")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    EDITABLE = [Status.DRAFT, Status.RETURNED]
    WITHDRAWABLE = [Status.DRAFT, Status.SUBMITTED, Status.RETURNED]
    DECIDABLE = [Status.UNDER_REVIEW, Status.AWAITING_SECOND_APPROVAL]
    # At most one live application per enterprise and program.
    LIVE = [
        Status.DRAFT,
        Status.SUBMITTED,
        Status.UNDER_REVIEW,
        Status.AWAITING_SECOND_APPROVAL,
        Status.APPROVED,
        Status.RETURNED,
    ]

    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise"),
        on_delete=models.PROTECT,
        related_name="applications",
    )
    program = models.ForeignKey(
        Program, verbose_name=_("program"), on_delete=models.PROTECT, related_name="applications"
    )
    requested_amount = models.DecimalField(
        _("requested amount"),
        max_digits=16,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    approved_amount = models.DecimalField(
        _("approved amount"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    purpose = models.TextField(_("purpose and usage scenario"))
    status = FSMField(_("status"), default=Status.DRAFT, choices=Status.choices, protected=True)
    eligibility_decision = models.JSONField(
        _("eligibility decision (frozen at submission)"), null=True, blank=True, editable=False
    )
    rule_set = models.ForeignKey(
        RuleSet,
        verbose_name=_("eligibility rules decided under"),
        on_delete=models.PROTECT,
        related_name="applications",
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "The rule set version in force in the program when the application was submitted."
        ),
    )
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("first approval by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    first_approved_at = models.DateTimeField(_("first approval at"), null=True, blank=True)
    # The four-eyes threshold that binds this application, frozen when its
    # review starts: a later change of the program's threshold does not
    # touch it. Null with ``review_started_at`` set: no second approval.
    review_started_at = models.DateTimeField(_("review started at"), null=True, blank=True)
    four_eyes_threshold = models.DecimalField(
        _("second approval above (frozen at review)"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        editable=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "program"],
                condition=Q(
                    status__in=[
                        "draft",
                        "submitted",
                        "under_review",
                        "awaiting_second_approval",
                        "approved",
                        "returned",
                    ]
                ),
                name="application_one_live_per_program",
            ),
            models.CheckConstraint(
                condition=Q(requested_amount__gt=0), name="application_requested_positive"
            ),
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True) | Q(approved_amount__gt=0),
                name="application_approved_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.enterprise} · {self.program}"

    def needs_second_approval(self, amount: Decimal | None = None) -> bool:
        """True when ``amount`` (default: the proposed or requested amount),
        with what the program already granted the enterprise by other doors,
        is above the four-eyes threshold that binds the application: the
        one frozen when its review started, else the program's. (Counting
        earlier grants keeps one official from splitting a large grant into
        pieces under the threshold.)"""
        threshold = self.threshold_in_force()
        if threshold is None:
            return False
        if amount is None:
            amount = self.approved_amount or self.requested_amount
        return amount > threshold or amount + self.granted_before() > threshold

    def granted_before(self) -> Decimal:
        """What the program granted the enterprise outside this application
        (vouchers of bulk issuance or of other applications)."""
        from django.db.models import Sum

        vouchers = Voucher.objects.filter(
            program_id=self.program_id, enterprise_id=self.enterprise_id
        )
        if self.pk is not None:
            # Not exclude(application=None): that would drop bulk vouchers.
            vouchers = vouchers.filter(Q(application__isnull=True) | ~Q(application_id=self.pk))
        total = vouchers.aggregate(total=Sum("face_value"))["total"]
        return total or Decimal("0")

    def may_review(self, user: Any) -> bool:
        """The permission of every review transition (see ``_is_reviewer``)."""
        return _is_reviewer(self, user)

    def threshold_in_force(self) -> Decimal | None:
        """The four-eyes threshold that binds this application (None: never)."""
        if self.review_started_at is not None:
            return self.four_eyes_threshold
        return self.program.four_eyes_threshold

    def is_editable(self) -> bool:
        return self.status in self.EDITABLE

    def transitions_for(self, user: Any) -> list[Any]:
        """The status transitions ``user`` may perform now (conditions and permissions met)."""
        return list(self.get_available_user_status_transitions(user))  # type: ignore[attr-defined]

    # Transitions: bodies only set fields; services call them, save and audit.
    @transition(
        field=status, source=Status.DRAFT, target=Status.SUBMITTED, permission=_is_enterprise_member
    )
    def submit(self, *, decision: dict[str, Any], rule_set: RuleSet | None, at: Any) -> None:
        """Send the draft to the district, with the eligibility decision frozen
        and the rule set version it was decided under."""
        self.eligibility_decision = decision
        self.rule_set = rule_set
        self.submitted_at = at

    @transition(
        field=status,
        source=Status.RETURNED,
        target=Status.SUBMITTED,
        permission=_is_enterprise_member,
    )
    def resubmit(self, *, decision: dict[str, Any], rule_set: RuleSet | None, at: Any) -> None:
        """Send the changed application back after it was returned (decided
        again, under the version then in force)."""
        self.eligibility_decision = decision
        self.rule_set = rule_set
        self.submitted_at = at
        self.approved_amount = None
        self.first_approved_by = None
        self.first_approved_at = None

    @transition(
        field=status,
        source=WITHDRAWABLE,
        target=Status.WITHDRAWN,
        permission=_is_enterprise_member,
    )
    def withdraw(self) -> None:
        """The enterprise takes the application back."""

    @transition(
        field=status, source=Status.SUBMITTED, target=Status.UNDER_REVIEW, permission=_is_reviewer
    )
    def start_review(self, *, at: Any, threshold: Decimal | None) -> None:
        """A reviewer takes the application up; the four-eyes threshold
        in force now binds the application from here on."""
        self.review_started_at = at
        self.four_eyes_threshold = threshold

    @transition(
        field=status,
        source=Status.UNDER_REVIEW,
        target=Status.APPROVED,
        conditions=[_needs_no_second_approval],
        permission=_is_reviewer,
    )
    def approve(self, *, amount: Decimal, at: Any) -> None:
        """Approve an amount at or below the four-eyes threshold."""
        self.approved_amount = amount
        self.decided_at = at

    @transition(
        field=status,
        source=Status.UNDER_REVIEW,
        target=Status.AWAITING_SECOND_APPROVAL,
        conditions=[_needs_second_approval],
        permission=_is_reviewer,
    )
    def approve_first(self, *, amount: Decimal, by: Any, at: Any) -> None:
        """First of two approvals for an amount above the threshold."""
        self.approved_amount = amount
        self.first_approved_by = by
        self.first_approved_at = at

    @transition(
        field=status,
        source=Status.AWAITING_SECOND_APPROVAL,
        target=Status.APPROVED,
        permission=_is_second_reviewer,
    )
    def approve_second(self, *, at: Any) -> None:
        """A second, different official confirms the first approval."""
        self.decided_at = at

    @transition(field=status, source=DECIDABLE, target=Status.REJECTED, permission=_is_reviewer)
    def reject(self, *, at: Any) -> None:
        """Refuse the application (with a note, required by the service)."""
        self.decided_at = at
        self.approved_amount = None

    @transition(field=status, source=DECIDABLE, target=Status.RETURNED, permission=_is_reviewer)
    def return_for_changes(self) -> None:
        """Send the application back to the enterprise (with a note)."""
        self.approved_amount = None
        self.first_approved_by = None
        self.first_approved_at = None

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(enterprise__in=scope.enterprise_ids) | Q(program__district__in=scope.district_ids)


def document_path(instance: ApplicationDocument, filename: str) -> str:
    """Random file names under applications/<id>/: nothing guessable, nothing the user named."""
    from .documents import extension_for

    extension = extension_for(instance.content_type)
    return f"applications/{instance.application_id}/{secrets.token_hex(16)}.{extension}"


class ApplicationDocument(models.Model):
    """A supporting document (PDF, PNG or JPEG), stored outside the web root."""

    application = models.ForeignKey(
        Application,
        verbose_name=_("application"),
        on_delete=models.CASCADE,
        related_name="documents",
    )
    file = models.FileField(_("file"), upload_to=document_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=50)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("supporting document")
        verbose_name_plural = _("supporting documents")
        ordering = ["uploaded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "sha256"], name="application_document_content_once"
            )
        ]

    def __str__(self) -> str:
        return self.original_name

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(application__enterprise__in=scope.enterprise_ids) | Q(
            application__program__district__in=scope.district_ids
        )


class ApplicationEvent(models.Model):
    """The application's history as its applicant and reviewers read it
    (the audit log keeps the full record)."""

    class Action(models.TextChoices):
        CREATED = "created", _("Draft created")
        SUBMITTED = "submitted", _("Submitted")
        RESUBMITTED = "resubmitted", _("Resubmitted")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        REVIEW_STARTED = "review_started", _("Review started")
        FIRST_APPROVAL = "first_approval", _("First approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        RETURNED = "returned", _("Returned for changes")

    application = models.ForeignKey(
        Application, verbose_name=_("application"), on_delete=models.CASCADE, related_name="events"
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, null=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)
    notified_at = models.DateTimeField(_("applicant notified at"), null=True, blank=True)

    class Meta:
        verbose_name = _("application event")
        verbose_name_plural = _("application events")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} · {self.created_at:%Y-%m-%d %H:%M}"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(application__enterprise__in=scope.enterprise_ids) | Q(
            application__program__district__in=scope.district_ids
        )


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
    application = models.OneToOneField(
        "vouchers.Application",
        verbose_name=_("application"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="voucher",
        help_text=_(
            "The approved application this voucher was issued for; empty for bulk issuance."
        ),
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
    status = FSMField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
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
    status = FSMField(_("status"), max_length=20, choices=Status.choices, default=Status.CAPTURED)
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


def _may_issue(batch: Any, user: Any) -> bool:
    """A program manager of the batch's district with the issuing permission,
    who is a member of none of the batch's enterprises."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return (
        bool(user.has_perm("vouchers.issue_voucher"))
        and scope_for(user).has_district_role(
            batch.program.district_id, Membership.Role.PROGRAM_MANAGER
        )
        and all(
            duties_conflict(user=user, enterprise_id=enterprise_id) is None
            for enterprise_id in batch.enterprise_ids()
        )
    )


def _may_confirm(batch: Any, user: Any) -> bool:
    """Four eyes: an official other than the one who uploaded the batch."""
    return _may_issue(batch, user) and user.pk != batch.created_by_id


class BulkIssuance(FSMModelMixin, models.Model):
    """One bulk issuance from a CSV file: its checked rows, who uploaded it
    and, when a row is above the program's four-eyes threshold, the second
    official who confirmed it before any voucher was issued."""

    class Status(models.TextChoices):
        AWAITING_SECOND_APPROVAL = "awaiting_second_approval", _("Awaiting second approval")
        ISSUED = "issued", _("Issued")
        CANCELLED = "cancelled", _("Cancelled")

    program = models.ForeignKey(
        Program,
        verbose_name=_("program"),
        on_delete=models.PROTECT,
        related_name="bulk_issuances",
    )
    # [{"line": 2, "uscc": "...", "enterprise_id": 7, "amount": "1000.00"}, ...]
    rows = models.JSONField(_("rows"), default=list, editable=False)
    total = models.DecimalField(_("total"), **_MONEY, editable=False)
    # The program's four-eyes threshold when the file was uploaded: it binds
    # the batch as the threshold at the start of review binds an application.
    four_eyes_threshold = models.DecimalField(
        _("second approval above"), **_MONEY, null=True, blank=True, editable=False
    )
    status = FSMField(
        _("status"),
        default=Status.AWAITING_SECOND_APPROVAL,
        choices=Status.choices,
        protected=True,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("confirmed or cancelled by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("bulk issuance")
        verbose_name_plural = _("bulk issuances")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="bulk_issuance_total_positive"),
            models.CheckConstraint(
                condition=Q(status="awaiting_second_approval") | Q(decided_at__isnull=False),
                name="bulk_issuance_decided_when_not_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.program} · {self.total}"

    def enterprise_ids(self) -> list[int]:
        return [int(row["enterprise_id"]) for row in self.rows]

    @transition(
        field=status,
        source=Status.AWAITING_SECOND_APPROVAL,
        target=Status.ISSUED,
        permission=_may_confirm,
    )
    def confirm(self, *, by: Any, at: Any, note: str) -> None:
        """A second, different official confirms the batch; its vouchers are issued."""
        self.decided_by = by
        self.decided_at = at
        self.decision_note = note

    @transition(
        field=status,
        source=Status.AWAITING_SECOND_APPROVAL,
        target=Status.CANCELLED,
        permission=_may_issue,
    )
    def cancel(self, *, by: Any, at: Any, note: str) -> None:
        """The uploader or another official drops the batch; nothing is issued."""
        self.decided_by = by
        self.decided_at = at
        self.decision_note = note

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(program__district__in=scope.district_ids)


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
