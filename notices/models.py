"""Notifications: what happened to an enterprise's applications, vouchers and
claims, one row per person told (and one for the enterprise's contact
address when the event copies it).

A row is written by :func:`notices.services.notify` in the transaction of the
change it reports; its e-mail goes after the commit. The sentence is not
stored: ``kind`` and the language-neutral ``params`` are rendered in the
reader's language each time (``notices/kinds.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Enterprise

if TYPE_CHECKING:
    from accounts.scoping import Scope


class Notification(models.Model):
    """One event of an enterprise told to one person (or to its contact address)."""

    class Kind(models.TextChoices):
        APPLICATION_SUBMITTED = "application_submitted", _("Application submitted")
        APPLICATION_APPROVED = "application_approved", _("Application approved")
        APPLICATION_REJECTED = "application_rejected", _("Application not approved")
        APPLICATION_RETURNED = "application_returned", _("Application returned for changes")
        VOUCHER_ISSUED = "voucher_issued", _("Voucher issued")
        VOUCHER_EXPIRING = "voucher_expiring", _("Voucher about to expire")
        VOUCHER_LOW_BALANCE = "voucher_low_balance", _("Voucher balance low")
        CLAIM_SUBMITTED = "claim_submitted", _("Claim submitted")
        CLAIM_RETURNED = "claim_returned", _("Claim returned for changes")
        CLAIM_REJECTED = "claim_rejected", _("Claim rejected")
        CLAIM_APPROVED = "claim_approved", _("Claim approved")
        CLAIM_PAID = "claim_paid", _("Claim paid")

    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    #: Empty for the copy e-mailed to the enterprise's contact address, which
    #: no one reads in the portal.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    email = models.EmailField(_("e-mail address"), blank=True)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    kind = models.CharField(_("kind"), max_length=40, choices=Kind.choices)
    #: Numbers, codes, names (Chinese and ``*_en``), amounts as strings, dates
    #: as ISO strings: what the sentence and the e-mail say, in no language.
    params = models.JSONField(_("details"), default=dict, blank=True)
    #: The object's page, as a path of this site.
    url = models.CharField(_("link"), max_length=300)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_unread"),
            models.Index(fields=["recipient", "-created_at"], name="notification_newest"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(recipient__isnull=True, email=""),
                name="notification_has_an_addressee",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.email or self.recipient_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        # Only the person told, and only while they belong to the enterprise.
        return Q(recipient=scope.user_id, enterprise__in=scope.enterprise_ids)
