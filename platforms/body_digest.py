"""The one rule for "the signature covers the body", live and on stored evidence.

A signed request's body is covered when its signature covers a
``Content-Digest`` component (RFC 9530) whose signed value matches the body.
RFC 9421 lets a signer name that component three ways, and each is accepted:

- ``"content-digest"`` — the field as sent (``sha-256=:…:``);
- ``"content-digest";sf`` — the field re-serialised as a structured dictionary;
- ``"content-digest";key="sha-256"`` — one member of the dictionary
  (``:…:``), as some Java and Node.js signers send it.

Every covered digest must match (sha-256 or sha-512). A request with a body,
or with a ``Content-Digest`` field, must have one covered. Any other
parameter (``bs``, ``req``, …) does not cover the body.

:func:`platforms.signatures.verify_request` (at the door) and
:func:`platforms.evidence.evidence_verify` (later, from the stored signature
base) both call :func:`covered_body_digest_verify`, so evidence the server
accepted always re-verifies.
"""

from __future__ import annotations

from collections.abc import Iterable

from http_message_signatures import ContentDigest
from http_message_signatures.exceptions import HTTPMessageSignaturesException


class BodyNotCovered(Exception):
    """The request has a body (or a Content-Digest) and the signature covers no digest."""


class BodyDigestMismatch(Exception):
    """A covered Content-Digest is malformed or does not match the body."""


def covered_body_digest_verify(
    covered_components: Iterable[tuple[str, str]], body: bytes, *, digest_field_sent: bool
) -> bool:
    """Check the body against the digests the signature covers; True if one was checked.

    ``covered_components`` is the verified signature base as (identifier,
    value) pairs. Raises :class:`BodyNotCovered` or :class:`BodyDigestMismatch`.
    """
    components = {
        name: value for name, value in covered_components if name != '"@signature-params"'
    }
    try:
        checked = ContentDigest.verify_components(components, body)
    except (HTTPMessageSignaturesException, ValueError) as exc:
        raise BodyDigestMismatch(str(exc)) from exc
    if not checked and (body or digest_field_sent):
        raise BodyNotCovered("the body was not covered by the signature")
    return checked
