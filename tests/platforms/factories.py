"""Factories of the platforms tests: catalog entries and key pairs (platforms
themselves come from ``tests.accounts.factories``)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import factory
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accounts.models import ComputePlatform
from platforms.models import ModelCatalogEntry
from tests.accounts.factories import ComputePlatformFactory


class ModelCatalogEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelCatalogEntry

    platform = factory.SubFactory(ComputePlatformFactory)
    model_id = "kimi-k2.5"
    display_name = "Kimi-K2.5"
    price_input_per_1k = Decimal("0.004")
    price_output_per_1k = Decimal("0.021")
    points_input_per_1k = 1000
    points_output_per_1k = 5250


def glm5_catalog_entry(platform: ComputePlatform, valid_from: datetime.datetime) -> Any:
    """GLM-5 in ``platform``'s catalog through the service (audited), at the seed's
    prices: 0.004 / 0.016 yuan and 1,000 / 4,000 points per 1,000 input / output tokens."""
    from audit.services import Actor
    from platforms.services import catalog_entry_create

    return catalog_entry_create(
        actor=Actor.system("test"),
        platform=platform,
        model_id="glm-5",
        display_name="GLM-5",
        price_input_per_1k=Decimal("0.004"),
        price_output_per_1k=Decimal("0.016"),
        points_input_per_1k=1000,
        points_output_per_1k=4000,
        valid_from=valid_from,
    )


def new_key_pair() -> tuple[bytes, str]:
    """A fresh Ed25519 key pair: (private PEM bytes, public PEM text)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem
