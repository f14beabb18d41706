"""The one exception type for business refusals, with the contract's codes.

Services raise :class:`BusinessError`; the API maps it to the error body of
``platform-api.md`` (``{"error": {"code", "message", "field"}}``) with the
status below, and pages show its message. Codes never change; messages are
translatable.
"""

from __future__ import annotations

from typing import Any


class Code:
    """Stable error codes of the platform API contract, with their HTTP status."""

    VALIDATION_ERROR = "validation_error"
    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_INVALID = "signature_invalid"
    KEY_UNKNOWN = "key_unknown"
    KEY_REVOKED = "key_revoked"
    SIGNATURE_STALE = "signature_stale"
    NONCE_REPLAYED = "nonce_replayed"
    PLATFORM_SUSPENDED = "platform_suspended"
    PLATFORM_NOT_BOUND = "platform_not_bound"
    VOUCHER_NOT_FOUND = "voucher_not_found"
    HOLD_NOT_FOUND = "hold_not_found"
    REDEMPTION_NOT_FOUND = "redemption_not_found"
    VOUCHER_NOT_ACTIVE = "voucher_not_active"
    VOUCHER_EXPIRED = "voucher_expired"
    VOUCHER_EXHAUSTED = "voucher_exhausted"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    HOLD_NOT_OPEN = "hold_not_open"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    REFERENCE_CONFLICT = "reference_conflict"
    RATE_LIMITED = "rate_limited"

    STATUS: dict[str, int] = {
        VALIDATION_ERROR: 400,
        SIGNATURE_MISSING: 401,
        SIGNATURE_INVALID: 401,
        KEY_UNKNOWN: 401,
        KEY_REVOKED: 401,
        SIGNATURE_STALE: 401,
        NONCE_REPLAYED: 401,
        PLATFORM_SUSPENDED: 403,
        PLATFORM_NOT_BOUND: 403,
        VOUCHER_NOT_FOUND: 404,
        HOLD_NOT_FOUND: 404,
        REDEMPTION_NOT_FOUND: 404,
        VOUCHER_NOT_ACTIVE: 409,
        VOUCHER_EXPIRED: 409,
        VOUCHER_EXHAUSTED: 409,
        INSUFFICIENT_BALANCE: 409,
        HOLD_NOT_OPEN: 409,
        IDEMPOTENCY_KEY_REUSED: 409,
        REFERENCE_CONFLICT: 409,
        RATE_LIMITED: 429,
    }


class BusinessError(Exception):
    """A refusal with a stable code, a human (translatable) message and the
    field it concerns, if any."""

    def __init__(self, code: str, message: Any, field: str | None = None) -> None:
        if code not in Code.STATUS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.field = field

    @property
    def status(self) -> int:
        return Code.STATUS[self.code]

    def as_body(self) -> dict[str, Any]:
        """The contract's error body, with the message in the active language."""
        return {"error": {"code": self.code, "message": str(self.message), "field": self.field}}
