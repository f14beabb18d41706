"""From a platform's signed usage report to the voucher services.

This is the API layer's half of a charge (DESIGN.md: ``vouchers`` never
imports ``platforms``): it prices usage lines into points with the
platform's model catalog, checks the currency, gathers the request's
evidence and keeps the signed body, then calls the voucher services with
plain values. The single-charge endpoints and every record of a usage batch
go through the same functions here, so a record in a batch is judged exactly
like the same body sent alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from audit.services import Actor
from common.bulk import insert_one
from common.errors import BusinessError, Code
from programs.models import Program
from vouchers.codes import normalize_code
from vouchers.models import Hold, Voucher
from vouchers.services import (
    HoldResult,
    RedeemInput,
    RedemptionResult,
    ReversalResult,
    hold_capture,
    hold_create,
    hold_release,
    redemption_reverse,
    voucher_redeem,
    voucher_redeem_batch,
)

from .api_errors import (
    business_error_body,
    error_body,
    first_validation_error,
    is_unicode_text,
)
from .catalog import usage_to_points
from .idempotency import in_idempotent_transaction
from .models import SignedRequestBody
from .selectors import CatalogSnapshot
from .serializers import MAX_USAGE_LINES, RedemptionRequestSerializer
from .signatures import VerifiedRequest


@dataclass
class SignedCall:
    """One accepted signed request: who signed it, from where, and its body.

    ``evidence`` is what every ledger entry the request causes keeps; the
    body itself is stored once (:class:`SignedRequestBody`), the first time
    the request changes something.
    """

    verified: VerifiedRequest
    body: bytes
    source_ip: str | None = None
    _body_stored: bool = field(default=False, repr=False)

    @property
    def platform(self) -> Any:
        return self.verified.platform

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def evidence(self) -> dict[str, Any]:
        return {**self.verified.evidence(), "body_sha256": self.body_sha256}

    def actor(self) -> Actor:
        return Actor.platform_key(
            self.verified.key_id, source_ip=self.source_ip, evidence=self.evidence()
        )

    def reference(self) -> dict[str, Any]:
        """What names this request in each row it causes when the request is
        kept whole once (a usage batch): the key and the body's hash, under
        which :meth:`store_body` keeps the body and the evidence."""
        return {"key_id": self.verified.key_id, "body_sha256": self.body_sha256}

    def store_body(self) -> None:
        """Keep the signed body and the request's evidence (once per request; a
        no-op when already kept)."""
        if self._body_stored:
            return
        insert_one(
            SignedRequestBody(
                sha256=self.body_sha256,
                platform_id=self.platform.pk,
                body=self.body,
                evidence=self.evidence(),
            ),
            ignore_conflicts=True,
        )
        self._body_stored = True

    def perform(self, service: Callable[..., Any], **arguments: Any) -> Any:
        """Call a voucher service as this platform, with this request's evidence,
        and keep the signed body with what it changed, in one transaction
        (without a savepoint inside the request's own transaction — every
        POST handler runs in one, with or without an Idempotency-Key — which
        any exception from here rolls back whole)."""
        with transaction.atomic(savepoint=not in_idempotent_transaction()):
            result = service(
                actor=self.actor(),
                platform=self.platform,
                request_evidence=self.evidence(),
                **arguments,
            )
            if not getattr(result, "replayed", False):
                self.store_body()
        return result


def _unit_of_voucher(code: Any) -> str | None:
    normalized = normalize_code(code) if isinstance(code, str) else None
    if normalized is None:
        return None
    return Voucher.objects.filter(code=normalized).values_list("unit", flat=True).first()


def _units_of_vouchers(codes: list[Any]) -> dict[Any, str]:
    """The unit of each voucher code (as sent) that names a voucher, in one query."""
    normalized = {code: normalize_code(code) for code in codes if isinstance(code, str) and code}
    units = dict(
        Voucher.objects.filter(code__in={c for c in normalized.values() if c}).values_list(
            "code", "unit"
        )
    )
    return {code: units[n] for code, n in normalized.items() if n in units}


def _priced(
    call: SignedCall,
    data: Mapping[str, Any],
    unit: str | None,
    *,
    catalog: CatalogSnapshot | None = None,
) -> tuple[int | None, list[dict[str, Any]]]:
    """Check the currency and price the usage lines: (points used, priced lines).

    For POINTS vouchers the usage lines are the charge; for CNY vouchers they
    are optional evidence, priced all the same so that the catalog row in
    force is recorded with the charge (the anomaly detectors compare bills
    with it).
    """
    billed = data.get("billed_amount")
    if billed is not None and data.get("currency") is None:
        raise BusinessError(
            Code.VALIDATION_ERROR, _('Give the currency ("CNY") with billed_amount.'), "currency"
        )
    lines = data.get("usage") or []
    if unit == Program.Unit.POINTS and not lines:
        raise BusinessError(
            Code.VALIDATION_ERROR, _("usage is required for vouchers in points."), "usage"
        )
    if not lines:
        return None, []
    total, priced = usage_to_points(call.platform, lines, data["occurred_at"], catalog=catalog)
    points = total if unit == Program.Unit.POINTS else None
    return points, [line.as_dict() for line in priced]


def redeem(call: SignedCall, data: Mapping[str, Any]) -> RedemptionResult:
    """Charge one redemption body (``POST redemptions``, or one batch record)."""
    # The voucher's unit matters only for pricing usage lines: without lines
    # a POINTS voucher is refused by the service (usage is required), so a
    # plain CNY charge saves the look-up.
    unit = _unit_of_voucher(data["voucher"]) if data.get("usage") else None
    points, lines = _priced(call, data, unit)
    return call.perform(
        voucher_redeem,
        reference=data["reference"],
        occurred_at=data["occurred_at"],
        voucher_code=data["voucher"],
        billed_amount=data.get("billed_amount"),
        points_used=points,
        usage=lines,
        allow_partial=data.get("allow_partial", True),
    )


def redeem_batch(call: SignedCall, records: list[Any]) -> list[dict[str, Any]]:
    """Charge a usage batch: each record judged as ``POST redemptions`` would judge
    it alone; the results in order, each ``captured``, ``replayed`` or ``rejected``.

    Shape, currency and usage pricing are checked record by record here; the
    charges themselves go to :func:`vouchers.services.voucher_redeem_batch`
    in one call, which writes the accepted ones in bulk.
    """
    results: list[dict[str, Any] | None] = [None] * len(records)
    valid: list[tuple[int, dict[str, Any]]] = []
    checker = _RecordChecker()
    for index, record in enumerate(records):
        try:
            valid.append((index, checker.check(record)))
        except ValidationError as invalid:
            field, message = first_validation_error(invalid.detail)
            results[index] = error_body(Code.VALIDATION_ERROR, message, field)
    # As for a single charge, the voucher's unit and the catalog matter only
    # for pricing usage lines: records without any skip both look-ups.
    priced = [data["voucher"] for _index, data in valid if data.get("usage")]
    units = _units_of_vouchers(priced) if priced else {}
    catalog = CatalogSnapshot(call.platform) if priced else None
    charged: list[tuple[int, RedeemInput]] = []
    for index, data in valid:
        try:
            points, lines = _priced(call, data, units.get(data["voucher"]), catalog=catalog)
        except BusinessError as refusal:
            results[index] = business_error_body(refusal)
            continue
        charged.append(
            (
                index,
                RedeemInput(
                    reference=data["reference"],
                    occurred_at=data["occurred_at"],
                    voucher_code=data["voucher"],
                    billed_amount=data.get("billed_amount"),
                    points_used=points,
                    usage=lines,
                    allow_partial=data.get("allow_partial", True),
                ),
            )
        )
    with transaction.atomic(savepoint=not in_idempotent_transaction()):
        outcomes = voucher_redeem_batch(
            actor=call.actor(),
            platform=call.platform,
            items=[item for _index, item in charged],
            request_evidence=call.evidence(),
            request_reference=call.reference(),
        )
        if any(isinstance(o, RedemptionResult) and not o.replayed for o in outcomes):
            call.store_body()
    for (index, _item), outcome in zip(charged, outcomes, strict=True):
        if isinstance(outcome, BusinessError):
            results[index] = business_error_body(outcome)
        else:
            body = outcome.as_dict()
            body["status"] = "replayed" if outcome.replayed else "captured"
            results[index] = body
    answers: list[dict[str, Any]] = []
    for index, result in enumerate(results):
        if result is None:  # every record got an answer above; never reached
            raise RuntimeError(f"batch record {index} has no result")
        if "error" in result:
            result = {"reference": _reference_of(records[index]), "status": "rejected", **result}
        answers.append(result)
    return answers


class _RecordChecker:
    """Checks a usage batch's records as :class:`RedemptionRequestSerializer`
    does, and gives the same values — in a few microseconds for a record in
    the usual form rather than ~90 for DRF's serializer machinery.

    The usual form: an object whose texts (reference, voucher, usage
    models) are plain ASCII without surrounding spaces or NUL, within their
    lengths; token counts JSON integers in range; ``allow_partial`` a JSON
    boolean; ``currency`` "CNY". Amounts and times go through the
    serializer's own fields, so they are parsed by the same code. Anything
    else — including every record the serializer would refuse — is checked
    by the serializer itself, so refusals and their messages are its own.
    One serializer serves every record: DRF deep-copies a serializer's fields
    for each new instance, which cost more than the checks themselves."""

    def __init__(self) -> None:
        self.serializer = RedemptionRequestSerializer()
        fields = self.serializer.fields
        self.occurred_at = fields["occurred_at"]
        self.billed_amount = fields["billed_amount"]

    def check(self, record: Any) -> dict[str, Any]:
        """The checked record (``ValidationError`` as the serializer raises it)."""
        checked = self._usual(record) if type(record) is dict else None
        if checked is None:
            # run_validation() is what is_valid() calls, and what a
            # ListSerializer does with its one child for each item.
            checked = dict(self.serializer.run_validation(record))
        return checked

    def _usual(self, record: dict[str, Any]) -> dict[str, Any] | None:
        reference, voucher = record.get("reference"), record.get("voucher")
        if not (_plain_text(reference, 255) and _plain_text(voucher, 64)):
            return None
        occurred_at, billed = record.get("occurred_at"), record.get("billed_amount", "")
        if type(occurred_at) is not str or type(billed) is not str:
            return None
        # The fields' own parsing (to_internal_value: neither field has
        # validators, and a non-empty text is not "empty" to run_validation).
        try:
            checked: dict[str, Any] = {
                "reference": reference,
                "occurred_at": self.occurred_at.to_internal_value(occurred_at),
            }
            if "billed_amount" in record:
                checked["billed_amount"] = self.billed_amount.to_internal_value(billed)
        except ValidationError:
            return None
        if "currency" in record:
            if record["currency"] != "CNY":
                return None
            checked["currency"] = "CNY"
        if "usage" in record:
            lines = _usual_usage(record["usage"])
            if lines is None:
                return None
            checked["usage"] = lines
        allow_partial = record.get("allow_partial", True)
        if type(allow_partial) is not bool:
            return None
        checked["allow_partial"] = allow_partial
        checked["voucher"] = voucher
        return checked


_MAX_TOKENS = 10**12


def _plain_text(value: Any, longest: int) -> bool:
    """A text a StrictCharField takes as it is: ASCII, no NUL, nothing to strip."""
    return (
        type(value) is str
        and 0 < len(value) <= longest
        and value.isascii()
        and value == value.strip()
        and "\x00" not in value
    )


def _usual_usage(lines: Any) -> list[dict[str, Any]] | None:
    """Usage lines in the usual form, as UsageLineSerializer gives them, or None."""
    if type(lines) is not list or len(lines) > MAX_USAGE_LINES:
        return None
    checked = []
    for line in lines:
        if type(line) is not dict or not _plain_text(line.get("model"), 200):
            return None
        tokens = [line.get("input_tokens", 0), line.get("output_tokens", 0)]
        for count in tokens:
            if type(count) is not int or not 0 <= count <= _MAX_TOKENS:
                return None
        checked.append(
            {"model": line["model"], "input_tokens": tokens[0], "output_tokens": tokens[1]}
        )
    return checked


def _reference_of(record: Any) -> str | None:
    """The reference a rejected record is answered with: its own, when it is text
    that a response can carry (not a number, not a lone surrogate), else None."""
    reference = record.get("reference") if isinstance(record, dict) else None
    return reference if is_unicode_text(reference) else None


def capture(call: SignedCall, hold_id: int, data: Mapping[str, Any]) -> RedemptionResult:
    """Charge an open hold (``POST holds/{id}/capture``)."""
    unit = None
    if data.get("usage"):
        unit = (
            Hold.objects.filter(pk=hold_id, platform=call.platform)
            .values_list("voucher__unit", flat=True)
            .first()
        )
        if unit is None:
            raise BusinessError(Code.HOLD_NOT_FOUND, _("No such hold."), "hold")
    points, lines = _priced(call, data, unit)
    return call.perform(
        hold_capture,
        hold_id=hold_id,
        reference=data["reference"],
        occurred_at=data["occurred_at"],
        billed_amount=data.get("billed_amount"),
        points_used=points,
        usage=lines,
        allow_partial=data.get("allow_partial", True),
    )


def hold(call: SignedCall, data: Mapping[str, Any]) -> HoldResult:
    """Reserve part of a voucher (``POST holds``)."""
    amount: Decimal = data["amount"]
    return call.perform(
        hold_create,
        reference=data["reference"],
        amount=amount,
        voucher_code=data["voucher"],
        expires_in=data["expires_in"],
    )


def release(call: SignedCall, hold_id: int) -> HoldResult:
    """Give a hold back (``POST holds/{id}/release``)."""
    return call.perform(
        hold_release,
        hold_id=hold_id,
    )


def reverse(call: SignedCall, redemption_id: int, data: Mapping[str, Any]) -> ReversalResult:
    """Refund all or part of a charge (``POST redemptions/{id}/reversals``)."""
    return call.perform(
        redemption_reverse,
        redemption_id=redemption_id,
        amount=data["amount"],
        reference=data["reference"],
        reason=data.get("reason", ""),
    )
