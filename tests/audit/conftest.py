"""Shared fixtures of the audit tests: a temporary signing key and algorithm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@pytest.fixture(autouse=True)
def _audit_settings(settings: Any, tmp_path: Path) -> None:
    """Each test signs with its own key and seals only when asked."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    settings.AUDIT_SIGNING_KEY = pem.decode("ascii")
    settings.AUDIT_TRUSTED_PUBLIC_KEYS = []
    settings.AUDIT_HASH_ALGORITHM = "sha256"
    settings.VAR_DIR = tmp_path
