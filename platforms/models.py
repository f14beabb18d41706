"""Platform keys, model catalog, nonce and idempotency stores of the redemption API
(built on :class:`accounts.models.ComputePlatform`)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ComputePlatform
from accounts.scoping import Scope

KEY_ID_PREFIX = "pk_"


def new_key_id() -> str:
    """A fresh, unguessable, printable key id (``pk_`` and 24 URL-safe characters)."""
    return KEY_ID_PREFIX + secrets.token_urlsafe(18)


def _platform_scope_q(scope: Scope, prefix: str = "platform__") -> models.Q:
    """Rows of the platforms ``scope`` may see, the way ComputePlatform scopes itself."""
    platform_ids = ComputePlatform.objects.filter(ComputePlatform.scope_q(scope)).values("pk")
    return models.Q(**{f"{prefix}in": platform_ids})


class PlatformKey(models.Model):
    """An Ed25519 public key a platform signs its API requests with.

    The server never holds the private key, so a request signed with it is the
    platform's own attestation. Keys are registered and revoked through
    :mod:`platforms.services`, never deleted, so old evidence stays verifiable.
    """

    platform = models.ForeignKey(
        ComputePlatform,
        on_delete=models.PROTECT,
        related_name="api_keys",
        verbose_name=_("platform"),
    )
    key_id = models.CharField(
        _("key id"), max_length=64, unique=True, default=new_key_id, editable=False
    )
    public_key_pem = models.TextField(
        _("public key (PEM)"),
        help_text=_("The platform's Ed25519 public key, PEM-encoded (BEGIN PUBLIC KEY)."),
    )
    label = models.CharField(_("label"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("registered at"), default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("platform API key")
        verbose_name_plural = _("platform API keys")
        ordering = ["platform", "-created_at"]

    def __str__(self) -> str:
        return self.key_id

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the PEM's DER body, base64: what an operator compares by eye."""
        body = "".join(
            line
            for line in self.public_key_pem.strip().splitlines()
            if not line.startswith("-----")
        )
        try:
            der = base64.b64decode(body)
        except ValueError:
            return ""
        return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")

    @classmethod
    def scope_q(cls, scope: Scope) -> models.Q:
        return _platform_scope_q(scope)


class ModelCatalogEntry(models.Model):
    """What one model costs on one platform, from ``valid_from`` until the next row.

    Versioned: a change of price or points is a new row, so a redemption can
    name the row it was priced with and old charges stay explainable.
    Points per 1,000 tokens convert usage into normalized quota points
    (1 point ≈ 1 reference input token, see :mod:`platforms.catalog`).
    """

    platform = models.ForeignKey(
        ComputePlatform,
        on_delete=models.PROTECT,
        related_name="catalog_entries",
        verbose_name=_("platform"),
    )
    model_id = models.CharField(
        _("model id"), max_length=100, help_text=_("The model's name in the platform's API.")
    )
    display_name = models.CharField(_("display name"), max_length=200)
    price_input_per_1k = models.DecimalField(
        _("CNY per 1,000 input tokens"), max_digits=12, decimal_places=6
    )
    price_output_per_1k = models.DecimalField(
        _("CNY per 1,000 output tokens"), max_digits=12, decimal_places=6
    )
    points_input_per_1k = models.PositiveIntegerField(_("points per 1,000 input tokens"))
    points_output_per_1k = models.PositiveIntegerField(_("points per 1,000 output tokens"))
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("model catalog entry")
        verbose_name_plural = _("model catalog entries")
        ordering = ["platform", "model_id", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "model_id", "valid_from"],
                name="catalog_one_row_per_model_and_start",
            ),
            models.CheckConstraint(
                condition=models.Q(price_input_per_1k__gte=0, price_output_per_1k__gte=0),
                name="catalog_prices_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["platform", "model_id", "valid_from"])]

    def __str__(self) -> str:
        return f"{self.model_id} @ {self.platform_id} from {self.valid_from:%Y-%m-%d}"

    @classmethod
    def scope_q(cls, scope: Scope) -> models.Q:
        return _platform_scope_q(scope)


class SignatureNonce(models.Model):
    """A nonce seen in an accepted signature, refused again until ``expires_at``.

    ``expires_at`` is as long as a signature carrying it could still be
    accepted (:func:`platforms.signatures.nonce_kept_until`). Used when no
    Redis cache is configured; expired rows are pruned by
    :func:`platforms.signatures.nonce_prune`.
    """

    key = models.ForeignKey(PlatformKey, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=200)
    seen_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "nonce"], name="nonce_once_per_key"),
        ]
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.key_id}:{self.nonce}"


class IdempotencyRecord(models.Model):
    """The stored answer to a POST with an ``Idempotency-Key``, for 24 hours.

    Written in the same transaction as the change the request made, so either
    both exist or neither does (see :mod:`platforms.idempotency`).
    """

    platform = models.ForeignKey(
        ComputePlatform, on_delete=models.CASCADE, related_name="+", verbose_name=_("platform")
    )
    key = models.CharField(_("idempotency key"), max_length=255)
    request_hash = models.CharField(_("request hash"), max_length=64)
    response_status = models.PositiveSmallIntegerField(_("response status"), default=0)
    response_body = models.BinaryField(_("response body"), default=b"")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "key"], name="idempotency_key_per_platform"
            ),
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.platform_id}:{self.key}"

    @classmethod
    def scope_q(cls, scope: Scope) -> models.Q:
        return _platform_scope_q(scope)

    def body_bytes(self) -> Any:
        return bytes(self.response_body)


class SignedRequestBody(models.Model):
    """The exact body bytes of an accepted signed request that changed a voucher,
    with the request's evidence.

    Kept beside the evidence stored with the ledger entries (signature base,
    signature, key id), keyed by the body's SHA-256, so that a usage report
    can be re-verified against the platform's public key at any later time
    (``python manage.py verify_evidence``). A usage batch's body is stored
    once for all of its records. Never edited; kept as long as the ledger.
    """

    sha256 = models.CharField(_("SHA-256 of the body"), max_length=64, primary_key=True)
    platform = models.ForeignKey(
        ComputePlatform, on_delete=models.PROTECT, related_name="+", verbose_name=_("platform")
    )
    body = models.BinaryField(_("body"))
    # The signed request's evidence (signature base, signature, key id), kept
    # once here for a usage batch: its redemptions name it by the body's hash
    # rather than each carrying a copy. Empty for bodies stored before.
    evidence = models.JSONField(_("request evidence"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("signed request body")
        verbose_name_plural = _("signed request bodies")

    def __str__(self) -> str:
        return self.sha256

    @classmethod
    def scope_q(cls, scope: Scope) -> models.Q:
        return _platform_scope_q(scope)
