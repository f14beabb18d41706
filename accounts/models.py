"""People and the organisations they belong to: districts, enterprises and
compute platforms, joined by memberships that carry a role.

Every model that holds organisation data says who may see it with a
``scope_q(scope)`` class method; :func:`accounts.scoping.scoped` is the one
place that applies it (admin, pages and selectors all go through it).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from .divisions import division, division_label, division_name, within
from .fields import EncryptedCharField
from .uscc import validate_uscc

if TYPE_CHECKING:
    from .scoping import Scope

division_code_validator = RegexValidator(
    r"^\d{6}$", _("An administrative division code has exactly six digits.")
)


def division_in_force_validator(code: str) -> None:
    """Refuse a district code that is no GB/T 2260 division in force today.

    Old USCCs may carry abolished codes (they count where their successor
    lies); a district set up on the platform today takes the code in force.
    """
    if not re.fullmatch(r"\d{6}", code or ""):
        return  # the six-digit rule says what is wrong
    found = division(code)
    if found is None:
        raise ValidationError(
            _("%(code)s is no GB/T 2260 administrative division."),
            code="unknown_division",
            params={"code": code},
        )
    if not found.in_force:
        raise ValidationError(
            _("%(code)s (%(name)s) was abolished; use the code in force, %(successor)s."),
            code="abolished_division",
            params={"code": code, "name": found.name, "successor": found.successor},
        )


def localized(obj: Any, field: str) -> str:
    """Return ``obj.<field>_en`` when the active language is English and it is
    filled in, else ``obj.<field>`` (the Chinese name)."""
    if (get_language() or "").startswith("en"):
        english = getattr(obj, f"{field}_en", "")
        if english:
            return str(english)
    return str(getattr(obj, field))


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra["is_superuser"] = True
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an e-mail address."""

    email = models.EmailField(_("e-mail address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text=_("E-mails to this person are written in this language."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name or self.email

    @cached_property
    def is_official(self) -> bool:
        """True when the user holds an official role in some district."""
        return self.memberships.filter(role__in=Membership.OFFICIAL_ROLES).exists()

    @property
    def is_staff(self) -> bool:
        """Admin access is derived, never stored: superusers and officials."""
        return bool(self.is_superuser or self.is_official)

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(pk=scope.user_id) | Q(
            pk__in=Membership.objects.filter(
                Q(district__in=scope.district_ids) | Q(enterprise__in=scope.enterprise_ids)
            ).values("user")
        )


class District(models.Model):
    """A government authority, identified by its GB/T 2260 division code."""

    name = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    code = models.CharField(
        _("division code"),
        max_length=6,
        unique=True,
        validators=[division_code_validator, division_in_force_validator],
        help_text=_("GB/T 2260 administrative division code, e.g. 420103 for Jianghan."),
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )

    class Meta:
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return localized(self, "name")

    @property
    def division_prefix(self) -> str:
        """The code without its trailing zero pairs: 420100 → 4201, 420103 → 420103.

        Every division inside this one starts with the prefix (GB/T 2260 is
        hierarchical: province, prefecture, county, two digits each).
        """
        code = self.code
        while code.endswith("00") and len(code) > 2:
            code = code[:-2]
        return code

    def covers(self, division_code: str) -> bool:
        """True when ``division_code`` lies inside this district (a historical
        code counts where the division that succeeded it lies)."""
        return within(division_code, self.division_prefix)

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(pk__in=scope.district_ids)


class Enterprise(models.Model):
    """A company (or one-person company) identified by its USCC."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting verification")
        VERIFIED = "verified", _("Verified")
        SUSPENDED = "suspended", _("Suspended")

    class Industry(models.TextChoices):
        # GB/T 4754-2017 sections.
        AGRICULTURE = "A", _("Agriculture, forestry, animal husbandry and fishery")
        MINING = "B", _("Mining")
        MANUFACTURING = "C", _("Manufacturing")
        UTILITIES = "D", _("Electricity, heat, gas and water supply")
        CONSTRUCTION = "E", _("Construction")
        TRADE = "F", _("Wholesale and retail trade")
        TRANSPORT = "G", _("Transport, storage and postal services")
        HOSPITALITY = "H", _("Accommodation and catering")
        INFORMATION = "I", _("Information transmission, software and IT services")
        FINANCE = "J", _("Finance")
        REAL_ESTATE = "K", _("Real estate")
        BUSINESS_SERVICES = "L", _("Leasing and business services")
        RESEARCH = "M", _("Scientific research and technical services")
        ENVIRONMENT = "N", _("Water conservancy, environment and public facilities")
        RESIDENT_SERVICES = "O", _("Resident, repair and other services")
        EDUCATION = "P", _("Education")
        HEALTH = "Q", _("Health and social work")
        CULTURE = "R", _("Culture, sports and entertainment")
        PUBLIC_ADMINISTRATION = "S", _("Public administration, social security and organisations")
        INTERNATIONAL = "T", _("International organisations")

    name = models.CharField(_("name"), max_length=200)
    uscc = models.CharField(
        _("Unified Social Credit Code"),
        max_length=18,
        unique=True,
        validators=[validate_uscc],
        help_text=_("18 characters, as printed on the business licence."),
    )
    # Characters 3–8 of the USCC: where the enterprise is registered. Derived
    # by the database, so locality is checked, never declared.
    division_code = models.GeneratedField(
        expression=Substr("uscc", 3, 6),
        output_field=models.CharField(max_length=6),
        db_persist=True,
        verbose_name=_("registered division code"),
    )
    legal_representative = models.CharField(_("legal representative"), max_length=100)
    # Personal data PIPL treats as sensitive: encrypted at rest.
    legal_representative_id_number = EncryptedCharField(
        _("legal representative's ID number"), max_length=18, blank=True
    )
    contact_name = models.CharField(_("contact person"), max_length=100)
    contact_phone = EncryptedCharField(_("contact phone"), max_length=30)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    address = models.CharField(_("registered address"), max_length=300, blank=True)
    headcount = models.PositiveIntegerField(_("headcount"))
    prior_year_revenue = models.DecimalField(
        _("prior-year revenue (CNY)"),
        max_digits=16,
        decimal_places=2,
        validators=[MinValueValidator(0)],
    )
    local_tax_paid = models.DecimalField(
        _("local tax paid last year (CNY)"),
        max_digits=16,
        decimal_places=2,
        validators=[MinValueValidator(0)],
    )
    industry = models.CharField(_("industry"), max_length=1, choices=Industry.choices)
    founded_on = models.DateField(_("founding date"))
    is_one_person_company = models.BooleanField(_("one-person company"), default=False)
    # A state machine, not protected: officials still set the status in the
    # admin (verify, suspend); the enterprise's own correction goes through
    # the transition below.
    status = FSMField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)

    #: Registration data may be corrected while pending or verified; a
    #: suspended enterprise is a matter for its district.
    CORRECTABLE = [Status.PENDING, Status.VERIFIED]

    class Meta:
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(prior_year_revenue__gte=0) & Q(local_tax_paid__gte=0),
                name="enterprise_amounts_not_negative",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @transition(field=status, source=CORRECTABLE, target=Status.PENDING)
    def return_to_verification(self) -> None:
        """The registration data changed: the district verifies it again."""

    @property
    def division_label(self) -> str:
        """The registered division with its name, and its successor if renumbered."""
        return division_label(self.uscc[2:8])

    @property
    def division_name(self) -> str:
        """Where the enterprise is registered, by name (``湖北省武汉市江汉区``), no code."""
        return division_name(self.uscc[2:8])

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        """Members see their own enterprise; officials see the enterprises
        registered in the districts whose data they read (DESIGN.md, Tenancy:
        an enterprise belongs to its registration district), and, read-only,
        those with business in them: an application past its draft or a
        voucher there (nationwide programs draw applicants from anywhere)."""
        from .scoping import enterprise_business_q, enterprise_home_q

        q = Q(pk__in=scope.enterprise_ids)
        if scope.district_ids:
            q |= enterprise_home_q(scope.district_ids)
            q |= enterprise_business_q(scope.district_ids)
        return q


class ComputePlatform(models.Model):
    """A designated computing platform on which vouchers are spent."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    slug = models.SlugField(_("short name"), max_length=50, unique=True)
    name = models.CharField(_("name (Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    operator = models.CharField(_("operating company"), max_length=200)
    operator_uscc = models.CharField(
        _("operator's USCC"),
        max_length=18,
        blank=True,
        validators=[validate_uscc],
        help_text=_("Used to find related parties between platforms and enterprises."),
    )
    # Where the district pays the platform's settlements (the treasury's
    # payment batch reads these). The account number is encrypted at rest,
    # like other sensitive data.
    bank_account_name = models.CharField(_("payee account name"), max_length=200, blank=True)
    bank_name = models.CharField(_("payee bank"), max_length=200, blank=True)
    bank_account_number = EncryptedCharField(_("payee account number"), max_length=40, blank=True)
    districts_served = models.ManyToManyField(
        District, verbose_name=_("districts served"), related_name="platforms", blank=True
    )
    on_national_list = models.BooleanField(
        _("on the national list"),
        default=False,
        help_text=_("Cross-region programs may be redeemed on any platform of the national list."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE
    )

    class Meta:
        verbose_name = _("compute platform")
        verbose_name_plural = _("compute platforms")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return localized(self, "name")

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        """Operators see their own platform; officials see the platforms that
        serve their districts and those on the national list."""
        q = Q(pk__in=scope.platform_ids)
        if scope.district_ids:
            q |= Q(on_national_list=True) | Q(
                pk__in=ComputePlatform.districts_served.through.objects.filter(
                    district_id__in=scope.district_ids
                ).values("computeplatform_id")
            )
        return q


class Membership(models.Model):
    """A user's role in one organisation."""

    class Role(models.TextChoices):
        PROGRAM_MANAGER = "program_manager", _("Program manager")
        REVIEWER = "reviewer", _("Reviewer")
        AUDITOR = "auditor", _("Auditor")
        ENTERPRISE_ADMIN = "enterprise_admin", _("Enterprise administrator")
        ENTERPRISE_MEMBER = "enterprise_member", _("Enterprise member")
        PLATFORM_OPERATOR = "platform_operator", _("Platform operator")
        # Approves payouts and records payments (财政); added with settlements.
        FINANCE_OFFICER = "finance_officer", _("Finance officer")
        # A third-party reviewer engaged by a district: sees only the claims and
        # agreements assigned to them, on their own pages (never the admin).
        ASSESSOR = "assessor", _("Assessor")

    OFFICIAL_ROLES = (Role.PROGRAM_MANAGER, Role.REVIEWER, Role.AUDITOR, Role.FINANCE_OFFICER)
    ENTERPRISE_ROLES = (Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_MEMBER)
    PLATFORM_ROLES = (Role.PLATFORM_OPERATOR,)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    district = models.ForeignKey(
        District,
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    platform = models.ForeignKey(
        ComputePlatform,
        verbose_name=_("compute platform"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.CheckConstraint(
                name="membership_role_matches_organisation",
                condition=(
                    Q(
                        role__in=[
                            "program_manager",
                            "reviewer",
                            "auditor",
                            "finance_officer",
                            "assessor",
                        ],
                        district__isnull=False,
                        enterprise__isnull=True,
                        platform__isnull=True,
                    )
                    | Q(
                        role__in=["enterprise_admin", "enterprise_member"],
                        district__isnull=True,
                        enterprise__isnull=False,
                        platform__isnull=True,
                    )
                    | Q(
                        role="platform_operator",
                        district__isnull=True,
                        enterprise__isnull=True,
                        platform__isnull=False,
                    )
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "role", "district"],
                condition=Q(district__isnull=False),
                name="membership_unique_district_role",
            ),
            models.UniqueConstraint(
                fields=["user", "enterprise"],
                condition=Q(enterprise__isnull=False),
                name="membership_unique_enterprise",
            ),
            models.UniqueConstraint(
                fields=["user", "platform"],
                condition=Q(platform__isnull=False),
                name="membership_unique_platform",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.organisation}"

    @property
    def organisation(self) -> District | Enterprise | ComputePlatform | None:
        return self.district or self.enterprise or self.platform

    def clean(self) -> None:
        """Refuse a membership that would put a person on both sides (the
        admin's forms call this; see :mod:`accounts.duties`)."""
        from django.core.exceptions import ValidationError

        from .duties import duties_conflict

        super().clean()
        if self.user_id is None or not self.role:
            return
        reason = duties_conflict(user=self.user, becoming=self.role)
        if reason is not None:
            raise ValidationError(reason)

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return (
            Q(user_id=scope.user_id)
            | Q(district__in=scope.district_ids)
            | Q(enterprise__in=scope.admin_enterprise_ids)
        )
