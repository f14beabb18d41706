"""The Ed25519 key that signs checkpoints.

``AUDIT_SIGNING_KEY`` holds the private key as PEM text or as the path of a
PEM file. In development, when it is unset, a key is generated once into
``var/audit-signing-key.pem`` (readable by its owner only); in production an
unset key is an error. Checkpoints signed by earlier keys verify with the
public keys listed in ``AUDIT_TRUSTED_PUBLIC_KEYS`` (PEM texts or paths).
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEV_KEY_NAME = "audit-signing-key.pem"


def _pem_bytes(value: str) -> bytes:
    """PEM text as given, or the contents of the file it names."""
    if "-----BEGIN" in value:
        return value.encode("ascii")
    return Path(value).expanduser().read_bytes()


def _dev_key_path() -> Path:
    return Path(getattr(settings, "VAR_DIR", Path("var"))) / DEV_KEY_NAME


def signing_key() -> Ed25519PrivateKey:
    """The private key that signs checkpoints (generated once in development)."""
    configured = str(getattr(settings, "AUDIT_SIGNING_KEY", "") or "")
    if configured:
        key = serialization.load_pem_private_key(_pem_bytes(configured), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ImproperlyConfigured("AUDIT_SIGNING_KEY must be an Ed25519 private key.")
        return key
    if getattr(settings, "PRODUCTION", False):
        raise ImproperlyConfigured("AUDIT_SIGNING_KEY must be set in production.")
    path = _dev_key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # O_EXCL: two processes starting at once keep the first key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)  # noqa: S101  (written above as Ed25519)
    return key


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short name for a public key: the SHA-256 of its raw bytes, hex, 32 characters."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:32]


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def trusted_public_keys() -> dict[str, Ed25519PublicKey]:
    """The public keys checkpoints may be signed with, by key id."""
    keys = [signing_key().public_key()]
    for value in getattr(settings, "AUDIT_TRUSTED_PUBLIC_KEYS", []) or []:
        loaded = serialization.load_pem_public_key(_pem_bytes(str(value)))
        if not isinstance(loaded, Ed25519PublicKey):
            raise ImproperlyConfigured("AUDIT_TRUSTED_PUBLIC_KEYS must hold Ed25519 public keys.")
        keys.append(loaded)
    return {key_id(k): k for k in keys}


def sign(message: bytes) -> tuple[str, str]:
    """Sign ``message``; return (key id, base64 signature)."""
    key = signing_key()
    return key_id(key.public_key()), base64.b64encode(key.sign(message)).decode("ascii")


def verify(public: Ed25519PublicKey, message: bytes, signature_b64: str) -> bool:
    try:
        public.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
