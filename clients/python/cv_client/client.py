"""Signed, retrying access to the compute-voucher platform API, for platforms.

Built on ``requests`` and the stock ``requests-http-signature`` signer, with no
Django import (the package needs nothing else). It

- signs every request (RFC 9421, Ed25519, a fresh nonce and ``created`` per
  attempt, ``Content-Digest`` of the body);
- sends every POST with an ``Idempotency-Key`` (yours, or a new UUID) and
  keeps the same key and the same body bytes on every retry, so a retry after
  a lost response can never charge twice;
- retries connection failures, 429 and 502/503/504 with exponential backoff,
  honouring ``Retry-After``;
- reports usage in batches of at most 1,000 records, each batch under a key
  derived from its content, so re-sending the same batch is harmless.

Example::

    from cv_client import PlatformClient
    api = PlatformClient("https://vouchers.example.cn", key_id="pk_…",
                         private_key_pem=open("wuhan-aicc.pem", "rb").read())
    api.lookup("CV-…")
    api.redeem(voucher="CV-…", reference="inv-000123",
               occurred_at="2026-05-01T10:00:00+08:00",
               billed_amount="120.00", currency="CNY")

Command line: ``python -m cv_client --help`` (see ``cv_client.cli``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests
from requests_http_signature import HTTPSignatureAuth, algorithms

API_PREFIX = "/api/v1/"
MAX_BATCH = 1000
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class APIError(Exception):
    """A refusal from the API, with the contract's stable ``code``."""

    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, body: Any = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" ({field})" if field else ""))
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.body = body

    @classmethod
    def from_response(cls, response: requests.Response) -> APIError:
        try:
            body = response.json()
            error = body["error"]
            return cls(
                response.status_code, error["code"], error["message"], error.get("field"), body
            )
        except (ValueError, KeyError, TypeError):
            return cls(response.status_code, "http_error", response.text[:500] or response.reason)


def _amount(value: Any) -> str:
    """Amounts travel as decimal strings; a float would already be rounded."""
    if isinstance(value, float):
        raise TypeError("pass amounts as str or Decimal, never float")
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"not an amount: {value!r}")


def _iso(value: datetime.datetime | str) -> str:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise ValueError("occurred_at needs a time zone offset")
        return value.isoformat()
    return value


def redemption_body(
    *,
    reference: str,
    occurred_at: datetime.datetime | str,
    voucher: str | None = None,
    billed_amount: Any = None,
    currency: str | None = None,
    usage: Sequence[dict[str, Any]] | None = None,
    allow_partial: bool = True,
) -> dict[str, Any]:
    """The body of ``POST redemptions`` (and of a hold capture, without ``voucher``)."""
    body: dict[str, Any] = {}
    if voucher is not None:
        body["voucher"] = voucher
    body["reference"] = reference
    body["occurred_at"] = _iso(occurred_at)
    if billed_amount is not None:
        body["billed_amount"] = _amount(billed_amount)
        body["currency"] = currency or "CNY"
    if usage:
        body["usage"] = [
            {
                "model": line["model"],
                "input_tokens": int(line.get("input_tokens", 0)),
                "output_tokens": int(line.get("output_tokens", 0)),
            }
            for line in usage
        ]
    body["allow_partial"] = allow_partial
    return body


class PlatformClient:
    """Signed, retrying access to ``/api/v1/`` for one platform key."""

    def __init__(
        self,
        base_url: str,
        *,
        key_id: str,
        private_key_pem: bytes,
        timeout: float = 15.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        accept_language: str | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = HTTPSignatureAuth(
            signature_algorithm=algorithms.ED25519,
            key=private_key_pem,
            key_id=key_id,
            use_nonce=True,
        )
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.session = session or requests.Session()
        self.sleep = sleep
        self.headers = {"Accept": "application/json"}
        self.last_response: requests.Response | None = None
        if accept_language:
            self.headers["Accept-Language"] = accept_language

    # -- transport ---------------------------------------------------------

    def _delay(self, attempt: int, response: requests.Response | None) -> float:
        if response is not None:
            retry_after = response.headers.get("Retry-After", "")
            if retry_after.isascii() and retry_after.isdigit():
                return min(float(retry_after), self.max_backoff)
        # Exponential backoff with jitter, so retrying clients spread out.
        return min(self.backoff * (2**attempt), self.max_backoff) * (0.5 + random.random() / 2)  # noqa: S311

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Send one API call, retrying what is safe to retry; return the JSON answer.

        ``path`` is relative to ``/api/v1/``. A POST always carries an
        Idempotency-Key (a new UUID unless given), identical on every retry,
        with identical body bytes.
        """
        url = self.base_url + API_PREFIX + path.lstrip("/")
        headers = dict(self.headers)
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if method.upper() == "POST":
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            response: requests.Response | None = None
            try:
                # Each attempt is signed afresh (new nonce, new created time).
                response = self.session.request(
                    method,
                    url,
                    data=data,
                    params=clean_params or None,
                    headers=headers,
                    auth=self.auth,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout):
                if attempt >= self.max_retries:
                    raise
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
                    break
            self.sleep(self._delay(attempt, response))
            attempt += 1
        if response is None:  # unreachable: the loop leaves only with a response
            raise requests.ConnectionError(url)
        self.last_response = response
        if response.status_code >= 400:
            raise APIError.from_response(response)
        return response.json() if response.content else None

    # -- endpoints ---------------------------------------------------------

    def ping(self) -> Any:
        """Who the server thinks you are, and its clock."""
        return self.request("GET", "ping")

    def lookup(self, code: str) -> Any:
        """``GET vouchers/{code}``: status, balance, program of a voucher."""
        return self.request("GET", f"vouchers/{quote(code, safe='')}")

    def redeem(self, *, idempotency_key: str | None = None, **fields: Any) -> Any:
        """``POST redemptions``; fields as in :func:`redemption_body`."""
        return self.request(
            "POST", "redemptions", body=redemption_body(**fields), idempotency_key=idempotency_key
        )

    def hold(
        self,
        *,
        voucher: str,
        reference: str,
        amount: Any,
        expires_in: int | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """``POST holds``: reserve ``amount`` before a long job."""
        body: dict[str, Any] = {
            "voucher": voucher,
            "reference": reference,
            "amount": _amount(amount),
        }
        if expires_in is not None:
            body["expires_in"] = expires_in
        return self.request("POST", "holds", body=body, idempotency_key=idempotency_key)

    def capture(self, hold_id: Any, *, idempotency_key: str | None = None, **fields: Any) -> Any:
        """``POST holds/{id}/capture`` with a redemption body (no ``voucher``)."""
        return self.request(
            "POST",
            f"holds/{quote(str(hold_id), safe='')}/capture",
            body=redemption_body(**fields),
            idempotency_key=idempotency_key,
        )

    def release(self, hold_id: Any, *, idempotency_key: str | None = None) -> Any:
        """``POST holds/{id}/release``."""
        return self.request(
            "POST",
            f"holds/{quote(str(hold_id), safe='')}/release",
            body={},
            idempotency_key=idempotency_key,
        )

    def reverse(
        self,
        redemption_id: Any,
        *,
        amount: Any,
        reason: str,
        reference: str,
        idempotency_key: str | None = None,
    ) -> Any:
        """``POST redemptions/{id}/reversals``: refund all or part of a charge."""
        return self.request(
            "POST",
            f"redemptions/{quote(str(redemption_id), safe='')}/reversals",
            body={"amount": _amount(amount), "reason": reason, "reference": reference},
            idempotency_key=idempotency_key,
        )

    def report_usage(self, records: Iterable[dict[str, Any]]) -> list[Any]:
        """``POST usage-batches`` in batches of 1,000; the results of all records, in order.

        Each batch's Idempotency-Key is derived from its bytes, so sending the
        same records again (after a crash, say) within 24 h replays the answer
        instead of charging twice.
        """
        results: list[Any] = []
        batch: list[dict[str, Any]] = []
        for record in records:
            batch.append(record)
            if len(batch) == MAX_BATCH:
                results.extend(self._send_batch(batch))
                batch = []
        if batch:
            results.extend(self._send_batch(batch))
        return results

    def _send_batch(self, batch: list[dict[str, Any]]) -> list[Any]:
        body = {"records": batch}
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        key = "batch-" + hashlib.sha256(raw).hexdigest()[:48]
        answer = self.request("POST", "usage-batches", body=body, idempotency_key=key)
        return list(answer["results"])

    def redemptions(
        self, *, since: datetime.datetime | str | None = None, voucher: str | None = None
    ) -> Iterator[Any]:
        """``GET redemptions``: this platform's redemptions, oldest first, every page.

        Follows the opaque cursor the server returns (``next_cursor``) until
        there is none.
        """
        params: dict[str, Any] = {
            "since": _iso(since) if since is not None else None,
            "voucher": voucher,
        }
        while True:
            page = self.request("GET", "redemptions", params=params)
            yield from page.get("results", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return
            params = {**params, "cursor": cursor}

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[Any]:
        """The results of every page of a list whose body is ``{"results", "next"}``."""
        while True:
            page = self.request("GET", path, params=params)
            yield from page.get("results", [])
            cursor = page.get("next")
            if not cursor:
                return
            params = {**params, "cursor": cursor}

    def list_settlements(
        self,
        *,
        period: str | None = None,
        status: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Any]:
        """``GET settlements``: this platform's settlements, every page.

        ``period`` is ``"2026-05"`` (a month) or ``"2026-Q2"`` (a quarter);
        ``status`` one of ``draft``, ``submitted``, ``under_review``,
        ``returned``, ``approved``, ``paid``. A settlement is there as a
        ``draft`` as soon as its period has ended. ``page_size``: 1–500
        per request (the server's default is 100).
        """
        return self._pages("settlements", {"period": period, "status": status, "limit": page_size})

    def settlement_lines(
        self, settlement_id: Any, *, page_size: int | None = None
    ) -> Iterator[Any]:
        """``GET settlements/{id}/lines``: its charges and reversals, every page."""
        return self._pages(
            f"settlements/{quote(str(settlement_id), safe='')}/lines", {"limit": page_size}
        )

    def submit_settlement(
        self,
        settlement_id: Any,
        *,
        invoice_number: str,
        invoice_amount: Any,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Any:
        """``POST settlements/{id}/submit``: send the settlement with your invoice.

        ``invoice_amount`` (``str`` or ``Decimal``) must equal the settlement's
        ``amount_due``; the signed request is kept as your attestation.
        """
        return self.request(
            "POST",
            f"settlements/{quote(str(settlement_id), safe='')}/submit",
            body={
                "invoice_number": invoice_number,
                "invoice_amount": _amount(invoice_amount),
                "note": note,
            },
            idempotency_key=idempotency_key,
        )


def content_key(prefix: str, body: Any) -> str:
    """An Idempotency-Key derived from the body's bytes: the same request
    always carries the same key, whoever sends it and however often."""
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return f"{prefix}-" + hashlib.sha256(raw).hexdigest()[:48]
