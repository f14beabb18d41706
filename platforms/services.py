"""Writes of the platforms app: key registration and revocation, catalog rows."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ComputePlatform
from audit import events
from audit.services import Actor, audit_record
from common.errors import BusinessError, Code

from .keys import normalized_public_pem
from .models import ModelCatalogEntry, PlatformKey


@transaction.atomic
def platform_key_register(
    *, actor: Actor, platform: ComputePlatform, public_key_pem: str, label: str = ""
) -> PlatformKey:
    """Register an Ed25519 public key for ``platform`` and return it with its new key id."""
    pem = normalized_public_pem(public_key_pem)
    key = PlatformKey.objects.create(platform=platform, public_key_pem=pem, label=label[:100])
    audit_record(
        actor=actor,
        event_type=events.PLATFORM_KEY_REGISTERED,
        obj=key,
        after={"key_id": key.key_id, "label": key.label, "fingerprint": key.fingerprint},
        platform_id=platform.pk,
    )
    return key


@transaction.atomic
def platform_key_revoke(*, actor: Actor, key: PlatformKey) -> PlatformKey:
    """End ``key``: requests signed with it are refused from now on (``key_revoked``)."""
    key = PlatformKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        raise BusinessError(
            Code.VALIDATION_ERROR, _("This key is already revoked."), field="key_id"
        )
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        event_type=events.PLATFORM_KEY_REVOKED,
        obj=key,
        before={"revoked_at": None},
        after={"revoked_at": key.revoked_at.isoformat()},
        platform_id=key.platform_id,
    )
    return key


@transaction.atomic
def catalog_entry_create(
    *,
    actor: Actor,
    platform: ComputePlatform,
    model_id: str,
    display_name: str,
    price_input_per_1k: Decimal,
    price_output_per_1k: Decimal,
    points_input_per_1k: int,
    points_output_per_1k: int,
    valid_from: datetime.datetime | None = None,
) -> ModelCatalogEntry:
    """Add a catalog row: the model's price and points from ``valid_from`` on.

    Rows are never edited; a change is a new row, so charges priced with the
    old row keep pointing at what was in force.
    """
    valid_from = valid_from or timezone.now()
    if ModelCatalogEntry.objects.filter(
        platform=platform, model_id=model_id, valid_from=valid_from
    ).exists():
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("This model already has a catalog row starting at that time."),
            field="valid_from",
        )
    if price_input_per_1k < 0 or price_output_per_1k < 0:
        raise BusinessError(
            Code.VALIDATION_ERROR, _("Prices cannot be negative."), field="price_input_per_1k"
        )
    entry = ModelCatalogEntry.objects.create(
        platform=platform,
        model_id=model_id,
        display_name=display_name,
        price_input_per_1k=price_input_per_1k,
        price_output_per_1k=price_output_per_1k,
        points_input_per_1k=points_input_per_1k,
        points_output_per_1k=points_output_per_1k,
        valid_from=valid_from,
    )
    audit_record(
        actor=actor,
        event_type=events.CATALOG_ENTRY_CREATED,
        obj=entry,
        after={
            "model_id": model_id,
            "price_input_per_1k": str(price_input_per_1k),
            "price_output_per_1k": str(price_output_per_1k),
            "points_input_per_1k": points_input_per_1k,
            "points_output_per_1k": points_output_per_1k,
            "valid_from": valid_from.isoformat(),
        },
        platform_id=platform.pk,
    )
    return entry
