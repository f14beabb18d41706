"""Voucher services: issuance, lifecycle, the ledger, holds, redemptions and
reversals. Every write of the vouchers app's voucher side goes through here.

The package is split by job; import from the package, which re-exports the
public API:

    responses      the contract's result objects and ``format_amount``
    inputs         checking amounts, references, times, codes, usage lines
    ledger_writes  the voucher lock, ledger entries and their audit events,
                   the status that follows, saving the voucher
    coverage       judging a charge: may it be charged, what is covered
    charge         single and batch charges (one charge function, one lock)
    holds          holds: create, capture, release, expire
    reversals      refunds of charges
    reads          the API's voucher look-up
    issuance       issuance of one voucher (bulk issuance is applications.bulk_issuance)
    lifecycle      activation, expiry, officials' actions, clawback

The hot path's SQL (the voucher lock, the reference look-ups, raw SQL) is
in :mod:`vouchers.queries`.

Semantics are those of ``shared/platform-api.md``. The platform API calls
these functions with plain values (it turns usage lines into points and
checks signatures and idempotency first); ``vouchers`` never imports
``platforms``. All functions are keyword-only; refusals raise
:class:`vouchers.errors.BusinessError` with the contract's codes.

Signatures for the API (``actor`` is ``audit.services.Actor``; for a platform
call ``Actor.platform_key(key_id, source_ip=..., evidence=...)``)::

    voucher_redeem(*, actor, platform, reference: str, occurred_at: datetime,
                   voucher_code: str | None = None, voucher: Voucher | None = None,
                   billed_amount: Decimal | None = None, points_used: int | None = None,
                   usage: Sequence[Mapping[str, Any]] = (), allow_partial: bool = True,
                   request_evidence: dict | None = None) -> RedemptionResult
    hold_create(*, actor, platform, reference: str, amount: Decimal,
                voucher_code: str | None = None, voucher: Voucher | None = None,
                expires_in: int = 3600, request_evidence: dict | None = None) -> HoldResult
    hold_capture(*, actor, platform, hold_id: int, reference: str, occurred_at: datetime,
                 billed_amount: Decimal | None = None, points_used: int | None = None,
                 usage: Sequence[Mapping[str, Any]] = (), allow_partial: bool = True,
                 request_evidence: dict | None = None) -> RedemptionResult
    hold_release(*, actor, platform, hold_id: int,
                 request_evidence: dict | None = None) -> HoldResult
    redemption_reverse(*, actor, platform, redemption_id: int, amount: Decimal,
                       reference: str, reason: str = "",
                       request_evidence: dict | None = None) -> ReversalResult
    voucher_lookup(*, platform, voucher_code: str) -> VoucherView    (GET vouchers/{code})

Each result has ``as_dict()`` giving the contract's response body (amounts as
decimal strings) and the model instance it came from.

Amounts and units
    Amounts are ``Decimal`` (a ``float`` is a ``validation_error``): CNY with
    at most 2 places, POINTS whole. ``Voucher.balance`` is what is left on
    the voucher including what is held; the contract's ``balance`` and every
    ``balance_after`` are ``Voucher.available`` (= balance − held), so that
    ``face_value = balance + held + Σ covered − Σ reversed + remainder``.

Coverage
    CNY: ``covered = min(billed × rate_in_force(occurred_at), available,
    per_charge_cap)``, the product rounded *down* to the fen (a voucher never
    covers more than the rate); ``payable_by_enterprise = billed − covered``.
    POINTS: ``covered = min(points_used, available)`` (the contract's formula:
    no rate, no per-charge cap); ``payable_by_enterprise = points_used −
    covered`` in points, and ``rate_applied`` is None. ``allow_partial=False``
    refuses with ``insufficient_balance`` instead of covering less than asked
    (after the cap). A capture covers at most the held amount and releases
    the rest.

References
    ``reference`` is unique per platform, separately for redemptions
    (direct or by capture), holds and reversals. The same request again
    returns the stored result with ``replayed=True`` and changes nothing; a
    different request under a used reference raises ``reference_conflict``.
    "The same" compares every input: voucher (or hold / redemption),
    occurred_at, amounts, points, usage lines, allow_partial, expires_in,
    reason.

Refusals (code → when)
    validation_error (malformed input, a code with a wrong check character,
    occurred_at more than 5 minutes in the future, a reversal above what is
    left to reverse); voucher_not_found; platform_suspended;
    platform_not_bound; voucher_not_active (issued but not yet valid,
    suspended, revoked, clawed back, usage before valid-from); voucher_expired
    (expired, or usage / now at or after expires_at); voucher_exhausted;
    insufficient_balance (nothing available, or short and not allow_partial;
    a hold larger than what is available); hold_not_found (also another
    platform's hold); hold_not_open (captured, released or past its
    expires_at); redemption_not_found (also another platform's).

Concurrency
    Each call is one transaction that locks only the voucher's row
    (``SELECT … FOR UPDATE OF voucher``). Program budget counters are locked
    only by issuance, expiry, revocation and clawback, never by redemptions.
"""

from vouchers.services.charge import RedeemInput, voucher_redeem, voucher_redeem_batch
from vouchers.services.holds import hold_capture, hold_create, hold_expire, hold_release
from vouchers.services.issuance import voucher_expiry_for, voucher_issue
from vouchers.services.lifecycle import (
    OFFICIAL_ACTIONS,
    voucher_action_refusal,
    voucher_activate,
    voucher_claw_back,
    voucher_expire,
    voucher_resume,
    voucher_revoke,
    voucher_suspend,
)
from vouchers.services.reads import voucher_lookup
from vouchers.services.responses import (
    HoldResult,
    RedemptionResult,
    ReversalResult,
    VoucherView,
    format_amount,
)
from vouchers.services.reversals import redemption_reverse

__all__ = [
    "OFFICIAL_ACTIONS",
    "HoldResult",
    "RedeemInput",
    "RedemptionResult",
    "ReversalResult",
    "VoucherView",
    "format_amount",
    "hold_capture",
    "hold_create",
    "hold_expire",
    "hold_release",
    "redemption_reverse",
    "voucher_action_refusal",
    "voucher_activate",
    "voucher_claw_back",
    "voucher_expire",
    "voucher_expiry_for",
    "voucher_issue",
    "voucher_lookup",
    "voucher_redeem",
    "voucher_redeem_batch",
    "voucher_resume",
    "voucher_revoke",
    "voucher_suspend",
]
