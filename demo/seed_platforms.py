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
are reused while their private key file is in DIR and its key is registered
for the platform and not revoked (else a new key pair is made).
"""

from __future__ import annotations

import datetime
import os
import stat
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.exceptions import UnsupportedAlgorithm
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
    return normalized_public_pem(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _load_private(path: Path) -> Ed25519PrivateKey | None:
    """The Ed25519 private key in ``path``, or None if there is none to reuse."""
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return loaded if isinstance(loaded, Ed25519PrivateKey) else None


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 600 from the start (never readable by others,
    not even for a moment), replacing whatever was there."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _reusable_key(
    platform: ComputePlatform, pem_path: Path, key_id_path: Path
) -> PlatformKey | None:
    """The live key of ``platform`` that the private key in ``pem_path`` belongs to.

    The key id in ``key_id_path`` is preferred; without it (or if it is stale) any
    unrevoked key of the platform with the same public key is taken. None if the
    private key is missing or unreadable, or its key is revoked or not registered
    (a fresh database, say): then a new key pair is made.
    """
    private = _load_private(pem_path)
    if private is None:
        return None
    live = PlatformKey.objects.filter(
        platform=platform, public_key_pem=_public_pem(private), revoked_at__isnull=True
    )
    try:
        key_id = key_id_path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        key_id = ""
    named = live.filter(key_id=key_id).first() if key_id else None
    return named or live.order_by("-created_at").first()


def seed_demo_keys(directory: Path, slugs: list[str]) -> list[dict[str, Any]]:
    """Give each platform in ``slugs`` a registered demo key; write its private key to
    ``directory/<slug>.pem`` (mode 600) and its key id to ``directory/<slug>.key_id``
    (the names ``python -m cv_client --demo-keys DIR --platform SLUG`` reads).

    A key already there is reused while it is registered for the platform and not
    revoked; otherwise a new key pair replaces it. The server never needs these
    private keys; they stand in for what each platform would generate and keep itself.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    made: list[dict[str, Any]] = []
    for slug in slugs:
        platform = ComputePlatform.objects.get(slug=slug)
        pem_path = directory / f"{slug}.pem"
        key_id_path = directory / f"{slug}.key_id"
        key = _reusable_key(platform, pem_path, key_id_path)
        if key is None:
            private = Ed25519PrivateKey.generate()
            key = platform_key_register(
                actor=ACTOR, platform=platform, public_key_pem=_public_pem(private), label="demo"
            )
            _write_private(pem_path, _private_pem(private))
        elif stat.S_IMODE(pem_path.stat().st_mode) & 0o077:
            pem_path.chmod(0o600)
        key_id_path.write_text(key.key_id + "\n", encoding="ascii")
        made.append(
            {
                "platform": slug,
                "key_id": key.key_id,
                "private_key_file": str(pem_path.resolve()),
            }
        )
    return made
