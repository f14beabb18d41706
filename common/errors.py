"""The one exception type for business refusals, and the codes they carry.

Every app's services refuse with :class:`BusinessError` ``(code, message,
field=None)``; pages show its message next to its field, and the platform
API answers it with the error body of ``platform-api.md``. The codes are the
contract's stable codes: they never change, messages are translatable.

How a refusal travels over HTTP — its status, the body, the codes that only
the API layer itself refuses with (signatures, idempotency, throttling) — is
the API's business and lives in ``platforms/api_errors.py``, which declares
those codes on a subclass of :class:`Code`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Code:
    """Stable codes of business refusals (the platform API contract's names).

    A subclass declares further codes (the API layer's own); a
    :class:`BusinessError` takes any code of this class or of a subclass.
    """

    VALIDATION_ERROR = "validation_error"
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
    REFERENCE_CONFLICT = "reference_conflict"
    # Settlements (contract v1.1).
    SETTLEMENT_NOT_FOUND = "settlement_not_found"
    SETTLEMENT_NOT_OPEN = "settlement_not_open"
    SETTLEMENT_AMOUNT_MISMATCH = "settlement_amount_mismatch"

    @classmethod
    def declared(cls) -> frozenset[str]:
        """The codes of this class and its bases (not of its subclasses)."""
        return frozenset(
            value
            for klass in cls.__mro__
            for name, value in vars(klass).items()
            if name.isupper() and isinstance(value, str)
        )

    @classmethod
    def known(cls) -> frozenset[str]:
        """Every code of :class:`Code` and of all its subclasses imported so far."""
        codes = set(Code.declared())
        pending = list(Code.__subclasses__())
        while pending:
            klass = pending.pop()
            codes |= klass.declared()
            pending.extend(klass.__subclasses__())
        return frozenset(codes)


class BusinessError(Exception):
    """A refusal with a stable code, a human (translatable) message and the
    field it concerns, if any.

    ``messages`` lists every reason when there are several (each problem of a
    malformed rule tree); ``message`` then sums them up. Without it,
    ``messages`` is ``[message]``.
    """

    def __init__(
        self,
        code: str,
        message: Any,
        field: str | None = None,
        *,
        messages: Sequence[Any] | None = None,
    ) -> None:
        if code not in Code.declared() and code not in Code.known():
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.field = field
        self.messages: list[Any] = list(messages) if messages else [message]
