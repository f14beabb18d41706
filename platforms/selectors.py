"""Reads of the platforms app."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet

from accounts.models import ComputePlatform

from .models import ModelCatalogEntry, PlatformKey


def catalog_entry_in_force(
    platform: ComputePlatform | int, model_id: str, *, on: datetime.datetime
) -> ModelCatalogEntry | None:
    """The catalog row for ``model_id`` on ``platform`` in force at ``on``, if any."""
    platform_id = platform if isinstance(platform, int) else platform.pk
    return (
        ModelCatalogEntry.objects.filter(
            platform_id=platform_id, model_id=model_id, valid_from__lte=on
        )
        .order_by("-valid_from")
        .first()
    )


def catalog_in_force(
    platform: ComputePlatform, *, on: datetime.datetime
) -> list[ModelCatalogEntry]:
    """Every model of ``platform`` with the row in force at ``on``, by model id."""
    rows = ModelCatalogEntry.objects.filter(platform=platform, valid_from__lte=on).order_by(
        "model_id", "-valid_from"
    )
    latest: dict[str, ModelCatalogEntry] = {}
    for row in rows:
        latest.setdefault(row.model_id, row)
    return list(latest.values())


def platform_keys(platform: ComputePlatform) -> QuerySet[PlatformKey]:
    """The platform's keys, newest first, revoked ones included."""
    return (
        PlatformKey.objects.filter(platform=platform)
        .select_related("platform")
        .order_by("-created_at")
    )


def platform_key_for_verification(key_id: str) -> PlatformKey | None:
    """The key named by a signature's ``keyid``, with its platform, or None."""
    return PlatformKey.objects.select_related("platform").filter(key_id=key_id).first()
