"""Re-verifying a stored signed request: the platform's own attestation.

Every accepted request's evidence (:meth:`platforms.signatures.VerifiedRequest.evidence`)
keeps the exact signature base it was verified against, the signature and
the Content-Digest. With the platform's public key and the stored body, anyone
can check later — without trusting this server — that the platform signed
exactly that request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import http_sf
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature

from vouchers.codes import normalize_code

from .body_digest import BodyDigestMismatch, BodyNotCovered, covered_body_digest_verify
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
        # The same rule the request passed at the door (platforms.body_digest).
        try:
            covered_body_digest_verify(
                pairs, body, digest_field_sent=bool(evidence.get("content_digest"))
            )
        except BodyNotCovered as exc:
            raise EvidenceInvalid("the body was not covered by the signature") from exc
        except BodyDigestMismatch as exc:
            raise EvidenceInvalid("the body does not match the signed Content-Digest") from exc


def is_reference(evidence: Any) -> bool:
    """Whether a row's ``request_evidence`` only names its request (a usage
    batch's rows): the key and the body's hash, the evidence kept once with
    the body (:class:`platforms.models.SignedRequestBody`)."""
    return (
        isinstance(evidence, dict)
        and not evidence.get("signature")
        and isinstance(evidence.get("body_sha256"), str)
    )


def full_evidence(evidence: Any, stored: Any) -> Any:
    """The whole evidence of a row: its own, or — when it only names its
    request — the evidence kept with the body ``stored`` (None if not kept)."""
    if not is_reference(evidence):
        return evidence
    if stored is None or not isinstance(stored.evidence, dict):
        return None
    if stored.evidence.get("key_id") != evidence.get("key_id"):
        return None
    return {**stored.evidence, "body_sha256": stored.sha256}


def _signed_record(body: Any, reference: str) -> Mapping[str, Any] | None:
    """The charge with ``reference`` in a signed body: the body itself, or one batch record."""
    if isinstance(body, dict) and body.get("reference") == reference:
        return body
    records = body.get("records") if isinstance(body, dict) else None
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict) and record.get("reference") == reference:
            return record
    return None


def _usage_key(lines: Any) -> list[tuple[Any, Any, Any]]:
    return [
        (line.get("model"), line.get("input_tokens", 0), line.get("output_tokens", 0))
        for line in lines or []
        if isinstance(line, dict)
    ]


def signed_record_mismatch(redemption: Any, record: Mapping[str, Any]) -> str | None:
    """How the charge a signed body reports (``record``) differs from the
    recorded ``redemption`` — voucher, billed amount, usage lines — or None.

    The one comparison behind :func:`redemption_evidence_verify` and the
    oversight detectors that check many lines of one signed batch at once."""
    voucher = record.get("voucher")
    if voucher is not None and normalize_code(str(voucher)) != redemption.voucher.code:
        return "the signed body names another voucher"
    billed = record.get("billed_amount")
    if redemption.billed_amount is not None:
        try:
            signed = Decimal(billed) if isinstance(billed, str) else None
        except InvalidOperation:
            signed = None
        if signed != redemption.billed_amount:
            return "the signed billed_amount differs from the recorded one"
    if _usage_key(record.get("usage")) != _usage_key(redemption.usage):
        return "the signed usage lines differ from the recorded ones"
    return None


def redemption_evidence_verify(redemption: Any) -> dict[str, Any]:
    """Re-verify the platform's signature over the request that made ``redemption``.

    Checks, without trusting anything the server computed: the signature
    verifies with the platform's registered public key (revoked keys too:
    they were valid when used), the stored body matches the signed
    Content-Digest, and the signed body reports this very charge (reference,
    voucher, billed amount, usage). Returns what was verified; raises
    :class:`EvidenceInvalid` naming the first problem.
    """
    from .models import PlatformKey, SignedRequestBody

    evidence = redemption.request_evidence
    sha = evidence.get("body_sha256") if isinstance(evidence, dict) else None
    stored = SignedRequestBody.objects.filter(sha256=sha or "").first()
    evidence = full_evidence(evidence, stored)
    if not isinstance(evidence, dict) or not evidence.get("signature"):
        raise EvidenceInvalid("no signed request is stored with this redemption")
    key = PlatformKey.objects.filter(
        key_id=evidence.get("key_id"), platform_id=redemption.platform_id
    ).first()
    if key is None:
        raise EvidenceInvalid(f"key {evidence.get('key_id')!r} is not a key of this platform")
    if stored is None:
        raise EvidenceInvalid("the signed body is not stored")
    body = bytes(stored.body)
    evidence_verify(evidence, public_key_pem=key.public_key_pem, body=body)
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise EvidenceInvalid("the signed body is not JSON") from exc
    record = _signed_record(parsed, redemption.reference)
    if record is None:
        raise EvidenceInvalid(f"the signed body reports no charge {redemption.reference!r}")
    mismatch = signed_record_mismatch(redemption, record)
    if mismatch is not None:
        raise EvidenceInvalid(mismatch)
    return {
        "redemption": redemption.pk,
        "reference": redemption.reference,
        "key_id": key.key_id,
        "key_revoked": key.is_revoked(),
        "signed_at": evidence.get("created"),
        "body_sha256": stored.sha256,
        "target_uri": evidence.get("target_uri"),
    }
