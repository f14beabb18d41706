"""Ed25519 public keys: parsing and validation, shared by the admin form,
the ``platform_key`` command and the signature verifier."""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.utils.translation import gettext as _

from common.errors import BusinessError, Code


def load_ed25519_public_key(pem: str | bytes, *, field: str = "public_key_pem") -> Ed25519PublicKey:
    """Parse ``pem`` as an Ed25519 public key or refuse it with a validation error."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("This is a private key. Register only the public key; keep the private key secret."),
            field=field,
        )
    try:
        key = serialization.load_pem_public_key(data.strip())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("This is not a PEM-encoded public key (-----BEGIN PUBLIC KEY-----)."),
            field=field,
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("The key must be an Ed25519 key; other algorithms are not accepted."),
            field=field,
        )
    return key


def normalized_public_pem(pem: str | bytes) -> str:
    """The key re-encoded as a canonical SubjectPublicKeyInfo PEM."""
    key = load_ed25519_public_key(pem)
    return key.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode("ascii")
