"""Re-verifying a stored signed request: the platform's own attestation.

Every accepted request's evidence (:meth:`platforms.signatures.VerifiedRequest.evidence`)
keeps the exact signature base it was verified against, the signature and
the Content-Digest. With the platform's public key and the stored body, anyone
can check later — without trusting this server — that the platform signed
exactly that request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import http_sf
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from http_message_signatures import ContentDigest, InvalidSignature

from .keys import load_ed25519_public_key


class EvidenceInvalid(Exception):
    """The evidence does not prove what it claims; the message says why."""


def evidence_verify(
    evidence: Mapping[str, Any], *, public_key_pem: str, body: bytes | None = None
) -> None:
    """Check ``evidence`` against the platform's public key (and ``body``, if given).

    Raises :class:`EvidenceInvalid` when the signature does not verify, the
    body does not match the signed Content-Digest, or the evidence is malformed.
    """
    try:
        pairs = [(str(k), str(v)) for k, v in evidence["covered_components"]]
        parsed: Any = http_sf.parse(
            str(evidence["signature"]).encode("latin-1"), tltype="dictionary"
        )
        signature = parsed[evidence["label"]][0]
    except (KeyError, TypeError, ValueError) as exc:
        raise EvidenceInvalid(f"malformed evidence: {exc}") from exc
    if not isinstance(signature, bytes):
        raise EvidenceInvalid("the signature is not a byte sequence")
    if not pairs or pairs[-1][0] != '"@signature-params"':
        raise EvidenceInvalid("the signature base does not end with its parameters")
    if f'keyid="{evidence.get("key_id")}"' not in pairs[-1][1]:
        raise EvidenceInvalid("the signature parameters name another key")
    base = "\n".join(f"{name}: {value}" for name, value in pairs).encode("ascii")
    try:
        load_ed25519_public_key(public_key_pem).verify(signature, base)
    except CryptoInvalidSignature as exc:
        raise EvidenceInvalid("the signature does not verify with this public key") from exc
    if body is not None:
        digests = [value for name, value in pairs if name == '"content-digest"']
        if not digests:
            if body:
                raise EvidenceInvalid("the body was not covered by the signature")
            return
        try:
            ContentDigest.verify(digests[0], body)
        except InvalidSignature as exc:
            raise EvidenceInvalid("the body does not match the signed Content-Digest") from exc
