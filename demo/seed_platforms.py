"""Demo data of the platforms app: each demo platform's model catalog, and
(only when asked, ``seed_demo --demo-keys DIR``) a demo API key per platform.

Catalog. Four models the seed reports name or imply — Kimi-K2.5, GLM-5,
DeepSeek-V3.2 and a coding model (China Mobile's "Coding Plan" bundles code
models; Qwen3-Coder-Plus stands for them) — on every demo platform, in force
from 1 January 2026. Points follow Shanghai Telecom's package, "one yuan
purchased 250,000 quota points, roughly equivalent to 250,000 input tokens on
Kimi-K2.5": points per 1,000 tokens = list price in CNY per 1,000 tokens ×
250,000 (see :mod:`platforms.catalog`), so Kimi-K2.5 input is exactly 1,000
points per 1,000 tokens. The list prices (CNY per million tokens) are the
providers' public prices as of early 2026, rounded; demo figures, not quotes.

Idempotent: catalog rows are found by (platform, model, valid-from); demo keys
are reused while their private key file is in DIR and the key is registered.
"""

from __future__ import annotations

import datetime
import os
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accounts.models import ComputePlatform
from audit.services import Actor
from platforms.catalog import POINTS_PER_YUAN
from platforms.keys import normalized_public_pem
from platforms.models import ModelCatalogEntry, PlatformKey
from platforms.services import catalog_entry_create, platform_key_register

ACTOR = Actor.system("seed_demo")
CATALOG_FROM = datetime.datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))

# model id (as the platforms' APIs name it), display name,
# CNY per million input tokens, CNY per million output tokens.
CATALOG: list[tuple[str, str, Decimal, Decimal]] = [
    # The anchor: ¥4 per million input tokens = 250,000 points per yuan.
    ("kimi-k2.5", "Kimi-K2.5", Decimal("4"), Decimal("21")),
    ("glm-5", "GLM-5", Decimal("4"), Decimal("18")),
    ("deepseek-v3.2", "DeepSeek-V3.2", Decimal("2"), Decimal("3")),
    ("qwen3-coder-plus", "Qwen3-Coder-Plus", Decimal("4"), Decimal("16")),
]


def points_per_1k(price_per_million: Decimal) -> int:
    """Points per 1,000 tokens for a list price in CNY per million tokens."""
    return int(price_per_million / 1000 * POINTS_PER_YUAN)


def seed_platform_catalogs(platforms: dict[str, ComputePlatform]) -> None:
    """Give every demo platform the demo catalog (rows in force from 2026-01-01)."""
    for platform in platforms.values():
        for model_id, display_name, price_in, price_out in CATALOG:
            if ModelCatalogEntry.objects.filter(
                platform=platform, model_id=model_id, valid_from=CATALOG_FROM
            ).exists():
                continue
            catalog_entry_create(
                actor=ACTOR,
                platform=platform,
                model_id=model_id,
                display_name=display_name,
                price_input_per_1k=price_in / 1000,
                price_output_per_1k=price_out / 1000,
                points_input_per_1k=points_per_1k(price_in),
                points_output_per_1k=points_per_1k(price_out),
                valid_from=CATALOG_FROM,
            )


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def seed_demo_keys(directory: Path, slugs: list[str]) -> list[dict[str, Any]]:
    """Give each platform in ``slugs`` a registered demo key; write its private key to
    ``directory/<slug>.pem`` (mode 600) and its key id to ``directory/<slug>.key_id``.

    The server never needs these private keys; they stand in for what each
    platform would generate and keep itself.
    """
    directory.mkdir(parents=True, exist_ok=True)
    made: list[dict[str, Any]] = []
    for slug in slugs:
        platform = ComputePlatform.objects.get(slug=slug)
        pem_path = directory / f"{slug}.pem"
        if pem_path.exists():
            loaded = serialization.load_pem_private_key(pem_path.read_bytes(), password=None)
            if not isinstance(loaded, Ed25519PrivateKey):
                raise ValueError(f"{pem_path} is not an Ed25519 private key")
            private = loaded
        else:
            private = Ed25519PrivateKey.generate()
            fd = os.open(pem_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(_private_pem(private))
        public = normalized_public_pem(_public_pem(private))
        key = PlatformKey.objects.filter(
            platform=platform, public_key_pem=public, revoked_at__isnull=True
        ).first()
        if key is None:
            key = platform_key_register(
                actor=ACTOR, platform=platform, public_key_pem=public, label="demo key"
            )
        (directory / f"{slug}.key_id").write_text(key.key_id + "\n", encoding="ascii")
        made.append(
            {
                "slug": slug,
                "name": platform.name,
                "key_id": key.key_id,
                "private_key": str(pem_path.resolve()),
            }
        )
    return made
