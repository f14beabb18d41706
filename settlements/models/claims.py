"""Claims: the programs that pay after purchase ("How the money flows", 2
and 3 in DESIGN.md).

An enterprise records a compute **contract** with its supplier, then its
**invoices** and the proofs (contract file, payment, delivery or usage). A
**claim** asks the program for the subsidy on one contract; the subsidy is
computed by the program's rule (``settlements/claim_rules.py``) with the
arithmetic kept on the claim. Review runs in tiers: the district's check,
a third-party assessor's findings and recommended amount, finance approval
(four eyes above the program's threshold), then payments through the same
payment and treasury-batch machinery as platform settlements.

In a contract-voucher program (Beijing's way) the first claim on a
contract is a *pre-approval*: approved, it grants a voucher bound to the
contract; a later *redemption* claim with the invoices and delivery proofs
draws on that voucher.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from accounts.fields import BulkJSONField, EncryptedCharField
from accounts.models import ComputePlatform, Enterprise, Membership
from accounts.scoping import scope_for
from programs.models import Program
from vouchers.models import Voucher

from .settlement import _MONEY, ZERO

if TYPE_CHECKING:
    from accounts.scoping import Scope


class ServiceKind(models.TextChoices):
    """What a contract buys; only GPU/NPU compute counts where the program says so."""

    GPU = "gpu", _("GPU compute")
    NPU = "npu", _("NPU compute")
    CPU = "cpu", _("CPU compute")
    MODEL = "model", _("Model or token service")
    STORAGE = "storage", _("Storage")
    NETWORK = "network", _("Network")
    SECURITY = "security", _("Security services")
    OTHER = "other", _("Other")


#: Spend on these counts in a program that funds only GPU/NPU compute.
ACCELERATED = (ServiceKind.GPU, ServiceKind.NPU)


class Contract(models.Model):
    """A compute contract as one party recorded it (the buyer, or the supplier
    when the program lets suppliers claim). The same contract recorded by
    both sides shares its key, and a key is claimed at most once."""

    class Side(models.TextChoices):
        BUYER = "buyer", _("Buyer")
        SUPPLIER = "supplier", _("Supplier")

    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        related_name="contracts",
    )
    side = models.CharField(_("our side"), max_length=10, choices=Side.choices, default=Side.BUYER)
    number = models.CharField(_("contract number"), max_length=100)
    supplier_uscc = models.CharField(_("supplier's USCC"), max_length=18)
    supplier_name = models.CharField(_("supplier"), max_length=200)
    buyer_uscc = models.CharField(_("buyer's USCC"), max_length=18)
    buyer_name = models.CharField(_("buyer"), max_length=200)
    # The supplier as registered here, when it is (an enterprise, a platform or both).
    supplier_enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("supplier (registered)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    supplier_platform = models.ForeignKey(
        ComputePlatform,
        verbose_name=_("supplier (platform)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    signed_on = models.DateField(_("signed on"))
    service_starts_on = models.DateField(_("service from"))
    service_ends_on = models.DateField(_("service until"))
    amount = models.DecimalField(_("contract amount"), **_MONEY)
    service_kind = models.CharField(_("what it buys"), max_length=20, choices=ServiceKind.choices)
    description = models.TextField(_("description"), blank=True)
    #: Related-party and other findings of the checks run when it was recorded.
    flags = BulkJSONField(_("findings"), default=list, blank=True)
    # The voucher granted against this contract (contract-voucher programs).
    voucher = models.OneToOneField(
        Voucher,
        verbose_name=_("voucher"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contract",
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by (user)"),
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-signed_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "supplier_uscc", "buyer_uscc", "number"],
                name="contract_recorded_once",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="contract_amount_positive"),
            models.CheckConstraint(
                condition=Q(service_ends_on__gte=F("service_starts_on")),
                name="contract_service_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} · {self.supplier_name}"

    @property
    def key(self) -> str:
        """The contract's identity across both parties' records."""
        return f"{self.supplier_uscc}:{self.buyer_uscc}:{self.number}"

    @property
    def term_days(self) -> int:
        """The service period in days, both ends included."""
        return (self.service_ends_on - self.service_starts_on).days + 1

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        # Officials see contracts claimed in their districts' programs;
        # assessors those of the claims assigned to them.
        return (
            Q(enterprise__in=scope.enterprise_ids)
            | Q(claims__program__district__in=scope.district_ids)
            | Q(claims__assessor=scope.user_id)
        )


def normalize_invoice_number(value: Any) -> str:
    """An invoice number as stored and compared: no spaces, capitals."""
    return "".join(value.split()).upper() if isinstance(value, str) else ""


class Invoice(models.Model):
    """An invoice under a contract, with the date it was paid (the fee must
    actually have been paid to count). The number is stored normalized, so
    that "2442 0000 …" and "24420000…" are one number everywhere."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.PROTECT, related_name="invoices"
    )
    number = models.CharField(_("invoice number"), max_length=40)
    issued_on = models.DateField(_("invoice date"))
    amount = models.DecimalField(_("amount"), **_MONEY)
    supplier_uscc = models.CharField(_("issued by (USCC)"), max_length=18)
    service_kind = models.CharField(_("what it bills"), max_length=20, choices=ServiceKind.choices)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["issued_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "number"], name="invoice_once_per_contract"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.number = normalize_invoice_number(self.number)
        super().save(*args, **kwargs)

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return (
            Q(contract__enterprise__in=scope.enterprise_ids)
            | Q(contract__claims__program__district__in=scope.district_ids)
            | Q(contract__claims__assessor=scope.user_id)
        )


def contract_document_path(instance: ContractDocument, filename: str) -> str:
    """Random file names under contracts/<id>/: nothing guessable, nothing the user named."""
    from applications.documents import extension_for

    extension = extension_for(instance.content_type)
    return f"contracts/{instance.contract_id}/{secrets.token_hex(16)}.{extension}"


class ContractDocument(models.Model):
    """The contract file, and the payment, delivery and usage proofs."""

    class Kind(models.TextChoices):
        CONTRACT = "contract", _("Signed contract")
        INVOICE = "invoice", _("Invoice")
        PAYMENT = "payment", _("Proof of payment")
        DELIVERY = "delivery", _("Proof of delivery or usage")
        OTHER = "other", _("Other")

    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(_("what the document is"), max_length=20, choices=Kind.choices)
    invoice = models.ForeignKey(
        Invoice,
        verbose_name=_("invoice"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="documents",
    )
    file = models.FileField(_("file"), upload_to=contract_document_path, max_length=200)
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
        verbose_name = _("contract document")
        verbose_name_plural = _("contract documents")
        ordering = ["uploaded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "sha256"], name="contract_document_content_once"
            )
        ]

    def __str__(self) -> str:
        return self.original_name

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return (
            Q(contract__enterprise__in=scope.enterprise_ids)
            | Q(contract__claims__program__district__in=scope.district_ids)
            | Q(contract__claims__assessor=scope.user_id)
        )


# --- Who may move a claim ------------------------------------------------------


def _district_id(claim: Any) -> int:
    return int(claim.program.district_id)


def _is_claimant(claim: Any, user: Any) -> bool:
    """An administrator of the claiming enterprise."""
    return claim.enterprise_id in scope_for(user).admin_enterprise_ids


def _is_reviewer(claim: Any, user: Any) -> bool:
    return scope_for(user).has_district_role(_district_id(claim), Membership.Role.REVIEWER)


def _is_assigned_assessor(claim: Any, user: Any) -> bool:
    return (
        claim.assessor_id is not None
        and user.pk == claim.assessor_id
        and _district_id(claim) in scope_for(user).assessor_district_ids
    )


def _is_finance_officer(claim: Any, user: Any) -> bool:
    """A finance officer of the program's district who did not check it."""
    return (
        scope_for(user).has_district_role(_district_id(claim), Membership.Role.FINANCE_OFFICER)
        and user.pk != claim.checked_by_id
    )


def _is_second_finance_officer(claim: Any, user: Any) -> bool:
    return _is_finance_officer(claim, user) and user.pk != claim.first_approved_by_id


def _is_payer(claim: Any, user: Any) -> bool:
    return scope_for(user).has_district_role(_district_id(claim), Membership.Role.FINANCE_OFFICER)


def _needs_second(claim: Any) -> bool:
    return bool(claim.needs_second_approval())


def _needs_no_second(claim: Any) -> bool:
    return not claim.needs_second_approval()


def _awaits_first(claim: Any) -> bool:
    return claim.first_approved_at is None


def _awaits_second(claim: Any) -> bool:
    return claim.first_approved_at is not None


def _assessed_by_third_party(claim: Any) -> bool:
    return bool(claim.program.claim_requires_assessment)


def _not_assessed_by_third_party(claim: Any) -> bool:
    return not claim.program.claim_requires_assessment


def _fully_paid(claim: Any) -> bool:
    return claim.approved_amount is not None and claim.paid_amount >= claim.approved_amount


class Claim(FSMModelMixin, models.Model):
    """An enterprise's request for the subsidy on one contract."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        CHECKING = "checking", _("District check")
        RETURNED = "returned", _("Returned for changes")
        ASSESSMENT = "assessment", _("With the assessor")
        FINANCE = "finance", _("Awaiting finance approval")
        APPROVED = "approved", _("Approved")
        PAID = "paid", _("Paid")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Stage(models.TextChoices):
        REIMBURSEMENT = "reimbursement", _("Reimbursement")
        PREAPPROVAL = "preapproval", _("Pre-approval of a contract")
        REDEMPTION = "redemption", _("Redemption of a contract voucher")

    EDITABLE = [Status.DRAFT, Status.RETURNED]
    #: A claim in one of these holds its contract and its invoice numbers.
    LIVE = [
        Status.SUBMITTED,
        Status.CHECKING,
        Status.RETURNED,
        Status.ASSESSMENT,
        Status.FINANCE,
        Status.APPROVED,
        Status.PAID,
    ]
    DECIDED = [Status.APPROVED, Status.PAID]

    program = models.ForeignKey(
        Program, verbose_name=_("program"), on_delete=models.PROTECT, related_name="claims"
    )
    enterprise = models.ForeignKey(
        Enterprise, verbose_name=_("claimant"), on_delete=models.PROTECT, related_name="claims"
    )
    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.PROTECT, related_name="claims"
    )
    #: The contract's identity (both sides' records share it): claimed once.
    contract_key = models.CharField(_("contract key"), max_length=140, editable=False)
    stage = models.CharField(
        _("stage"), max_length=20, choices=Stage.choices, default=Stage.REIMBURSEMENT
    )
    status = FSMField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT, protected=True
    )
    # The arithmetic as computed (kept when submitted; the reviewer's
    # exclusions recompute ``checked_arithmetic``).
    arithmetic = BulkJSONField(_("arithmetic"), default=dict, blank=True)
    checked_arithmetic = BulkJSONField(_("arithmetic after the check"), null=True, blank=True)
    claimed_amount = models.DecimalField(_("claimed"), **_MONEY, default=ZERO)
    checked_amount = models.DecimalField(_("after the check"), **_MONEY, null=True, blank=True)
    recommended_amount = models.DecimalField(
        _("recommended by the assessor"), **_MONEY, null=True, blank=True
    )
    approved_amount = models.DecimalField(_("approved"), **_MONEY, null=True, blank=True)
    paid_amount = models.DecimalField(_("paid"), **_MONEY, default=ZERO)
    #: The calendar year (Asia/Shanghai) the per-enterprise yearly cap counts in.
    service_year = models.PositiveIntegerField(_("year"), default=0)
    flags = BulkJSONField(_("findings"), default=list, blank=True)

    payee_bank = models.CharField(_("bank"), max_length=200, blank=True)
    payee_account = EncryptedCharField(_("account number"), max_length=40, blank=True)
    declaration = models.TextField(_("declaration"), blank=True)
    declared_at = models.DateTimeField(_("declared at"), null=True, blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("declared by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)

    check_started_at = models.DateTimeField(_("check started at"), null=True, blank=True)
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("checked by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    check_findings = models.TextField(_("findings of the check"), blank=True)
    return_reason = models.TextField(_("reason for return"), blank=True)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    rejected_at = models.DateTimeField(_("rejected at"), null=True, blank=True)

    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assessor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_claims",
    )
    assessment_findings = models.TextField(_("assessor's findings"), blank=True)
    assessed_at = models.DateTimeField(_("assessed at"), null=True, blank=True)

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
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    paid_at = models.DateTimeField(_("paid in full at"), null=True, blank=True)
    # A redemption claim draws on its contract's voucher.
    voucher = models.ForeignKey(
        Voucher,
        verbose_name=_("voucher"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claims",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("claim")
        verbose_name_plural = _("claims")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["program", "status"], name="claim_program_status")]
        constraints = [
            # "同一合同仅能申领一次": one live claim per contract and stage, whichever
            # side recorded it and in whichever program of whichever district.
            models.UniqueConstraint(
                fields=["contract_key", "stage"],
                condition=Q(
                    status__in=[
                        "submitted",
                        "checking",
                        "returned",
                        "assessment",
                        "finance",
                        "approved",
                        "paid",
                    ]
                ),
                name="claim_one_live_per_contract",
            ),
            models.CheckConstraint(
                condition=Q(claimed_amount__gte=0), name="claim_claimed_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(checked_amount__isnull=True)
                | Q(checked_amount__lte=F("claimed_amount")),
                name="claim_checked_within_claimed",
            ),
            models.CheckConstraint(
                condition=Q(recommended_amount__isnull=True)
                | Q(recommended_amount__lte=F("claimed_amount")),
                name="claim_recommended_within_claimed",
            ),
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True)
                | Q(approved_amount__lte=F("claimed_amount")),
                name="claim_approved_within_claimed",
            ),
            models.CheckConstraint(
                condition=Q(paid_amount=0)
                | (Q(paid_amount__gt=0) & Q(paid_amount__lte=F("approved_amount"))),
                name="claim_paid_within_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.enterprise} · {self.program}"

    @property
    def unit(self) -> str:
        return Program.Unit.CNY

    @property
    def outstanding(self) -> Decimal:
        """Approved and not yet paid. A pre-approval pays nothing: its
        approval grants the contract's voucher."""
        if self.approved_amount is None or self.stage == self.Stage.PREAPPROVAL:
            return ZERO
        return max(self.approved_amount - self.paid_amount, ZERO)

    @property
    def amount_for_approval(self) -> Decimal:
        """What finance approves: the assessor's recommendation, else the
        amount after the district's check, else the claimed amount."""
        for amount in (self.recommended_amount, self.checked_amount):
            if amount is not None:
                return amount
        return self.claimed_amount

    @property
    def is_decided(self) -> bool:
        return self.status in self.DECIDED

    def needs_second_approval(self) -> bool:
        threshold = self.four_eyes_threshold
        return threshold is not None and self.amount_for_approval > threshold

    def approval_step(self) -> str:
        if self.first_approved_at is not None:
            return "approve_second"
        if self.needs_second_approval():
            return "approve_first"
        return "approve"

    def is_with_the_treasury(self) -> bool:
        from .payment import PaymentBatchItem

        return PaymentBatchItem.awaiting_the_bank().filter(claim=self).exists()

    def takes_manual_payment(self) -> bool:
        return (
            self.status == self.Status.APPROVED
            and self.outstanding > 0
            and not self.is_with_the_treasury()
        )

    def may_edit(self, user: Any) -> bool:
        return self.status in self.EDITABLE and _is_claimant(self, user)

    def may_review(self, user: Any) -> bool:
        return _is_reviewer(self, user)

    def may_assess(self, user: Any) -> bool:
        return _is_assigned_assessor(self, user)

    def may_approve(self, user: Any) -> bool:
        return _is_finance_officer(self, user)

    def may_pay(self, user: Any) -> bool:
        return _is_payer(self, user)

    # -- lifecycle: the bodies only set fields; settlements/claims.py locks,
    # checks the guards, saves and audits.

    @transition(field=status, source=EDITABLE, target=Status.SUBMITTED, permission=_is_claimant)
    def submit(self, *, at: Any) -> None:
        self.submitted_at = at
        self.return_reason = ""

    @transition(field=status, source=EDITABLE, target=Status.WITHDRAWN, permission=_is_claimant)
    def withdraw(self) -> None:
        """The claimant takes the claim back before it is checked."""

    @transition(
        field=status,
        source=[Status.SUBMITTED, Status.CHECKING, Status.RETURNED, Status.ASSESSMENT],
        target=Status.REJECTED,
    )
    def supersede(self, *, reason: str, at: Any) -> None:
        """The side with priority claimed the same contract before this one was decided."""
        self.rejection_reason = reason
        self.rejected_at = at

    @transition(
        field=status, source=Status.SUBMITTED, target=Status.CHECKING, permission=_is_reviewer
    )
    def start_check(self, *, at: Any, threshold: Decimal | None) -> None:
        self.check_started_at = at
        self.four_eyes_threshold = threshold

    @transition(
        field=status, source=Status.CHECKING, target=Status.RETURNED, permission=_is_reviewer
    )
    def return_for_changes(self, *, reason: str, at: Any) -> None:
        self.return_reason = reason
        self.returned_at = at
        self.checked_amount = None
        self.checked_arithmetic = None

    @transition(
        field=status,
        source=[Status.CHECKING, Status.FINANCE],
        target=Status.REJECTED,
        permission=_is_reviewer,
    )
    def reject(self, *, reason: str, at: Any) -> None:
        self.rejection_reason = reason
        self.rejected_at = at

    @transition(
        field=status,
        source=Status.CHECKING,
        target=Status.ASSESSMENT,
        conditions=[_assessed_by_third_party],
        permission=_is_reviewer,
    )
    def pass_to_assessor(self, *, by: Any, at: Any, findings: str, assessor: Any) -> None:
        self.checked_by = by
        self.checked_at = at
        self.check_findings = findings
        self.assessor = assessor

    @transition(
        field=status,
        source=Status.CHECKING,
        target=Status.FINANCE,
        conditions=[_not_assessed_by_third_party],
        permission=_is_reviewer,
    )
    def pass_to_finance(self, *, by: Any, at: Any, findings: str) -> None:
        self.checked_by = by
        self.checked_at = at
        self.check_findings = findings

    @transition(
        field=status,
        source=Status.ASSESSMENT,
        target=Status.FINANCE,
        permission=_is_assigned_assessor,
    )
    def record_assessment(self, *, at: Any, findings: str, recommended: Decimal) -> None:
        self.assessment_findings = findings
        self.recommended_amount = recommended
        self.assessed_at = at

    @transition(
        field=status,
        source=Status.FINANCE,
        target=Status.FINANCE,
        conditions=[_awaits_first, _needs_second],
        permission=_is_finance_officer,
    )
    def approve_first(self, *, by: Any, at: Any) -> None:
        self.first_approved_by = by
        self.first_approved_at = at

    @transition(
        field=status,
        source=Status.FINANCE,
        target=Status.APPROVED,
        conditions=[_awaits_first, _needs_no_second],
        permission=_is_finance_officer,
    )
    def approve(self, *, by: Any, at: Any) -> None:
        self.approved_amount = self.amount_for_approval
        self.approved_by = by
        self.approved_at = at

    @transition(
        field=status,
        source=Status.FINANCE,
        target=Status.APPROVED,
        conditions=[_awaits_second],
        permission=_is_second_finance_officer,
    )
    def approve_second(self, *, by: Any, at: Any) -> None:
        self.approved_amount = self.amount_for_approval
        self.approved_by = by
        self.approved_at = at

    @transition(
        field=status,
        source=Status.APPROVED,
        target=Status.PAID,
        conditions=[_fully_paid],
        permission=_is_payer,
    )
    def mark_paid(self, *, at: Any) -> None:
        self.paid_at = at

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return (
            Q(enterprise__in=scope.enterprise_ids)
            | Q(program__district__in=scope.district_ids)
            | Q(assessor=scope.user_id)
        )


class ClaimedInvoice(models.Model):
    """An invoice number held by a live claim: the database refuses the same
    number in a second live claim, in any program of any district. Rows
    leave when their claim is rejected or withdrawn."""

    number = models.CharField(_("invoice number"), max_length=40, unique=True)
    claim = models.ForeignKey(
        Claim, verbose_name=_("claim"), on_delete=models.CASCADE, related_name="claimed_invoices"
    )
    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="+"
    )
    excluded = models.BooleanField(_("excluded by the check"), default=False)
    exclusion_reason = models.TextField(_("reason for exclusion"), blank=True)

    class Meta:
        verbose_name = _("claimed invoice")
        verbose_name_plural = _("claimed invoices")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(excluded=False) | ~Q(exclusion_reason=""),
                name="claimed_invoice_exclusion_has_reason",
            )
        ]

    def __str__(self) -> str:
        return self.number

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return (
            Q(claim__enterprise__in=scope.enterprise_ids)
            | Q(claim__program__district__in=scope.district_ids)
            | Q(claim__assessor=scope.user_id)
        )
