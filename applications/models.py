"""Applications with their documents and history, and bulk issuance batches:
the two doors through which an enterprise is granted vouchers."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from accounts.duties import duties_conflict
from accounts.models import Enterprise, Membership
from accounts.scoping import scope_for
from eligibility.models import RuleSet

if TYPE_CHECKING:
    from accounts.scoping import Scope

from programs.models import Program
from vouchers.models import Voucher

_MONEY: Any = {"max_digits": 16, "decimal_places": 2}


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
    voucher = models.OneToOneField(
        Voucher,
        verbose_name=_("voucher"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="application",
        help_text=_("The voucher issued for this application once it was approved."),
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

    # Recorded in the audit log under its first app (see audit.object_types).
    audit_object_type = "vouchers.application"

    class Meta:
        db_table = "vouchers_application"
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
            vouchers = vouchers.filter(Q(application__isnull=True) | ~Q(application=self.pk))
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

    # Recorded in the audit log under its first app (see audit.object_types).
    audit_object_type = "vouchers.applicationdocument"

    class Meta:
        db_table = "vouchers_applicationdocument"
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

    # Recorded in the audit log under its first app (see audit.object_types).
    audit_object_type = "vouchers.applicationevent"

    class Meta:
        db_table = "vouchers_applicationevent"
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

    # Recorded in the audit log under its first app (see audit.object_types).
    audit_object_type = "vouchers.bulkissuance"

    class Meta:
        db_table = "vouchers_bulkissuance"
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
