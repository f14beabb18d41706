"""Reference client of the compute-voucher platform API, for platforms.

Built on ``requests`` and the stock ``requests-http-signature`` signer, with no
Django import, so a platform can copy this one file. It

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

    from platforms.client import PlatformClient
    api = PlatformClient("https://vouchers.example.cn", key_id="pk_…",
                         private_key_pem=open("wuhan-aicc.pem", "rb").read())
    api.lookup("CV-…")
    api.redeem(voucher="CV-…", reference="inv-000123",
               occurred_at="2026-05-01T10:00:00+08:00",
               billed_amount="120.00", currency="CNY")

Command line: ``python -m platforms.client --help``. Its ``redeem`` keeps a
journal of the requests it sent (``SentJournal``), so that running the same
command again, for the same ``--reference``, sends the very same request
(same ``occurred_at``, same body, same Idempotency-Key) and the server replays
the first answer instead of charging twice or refusing the reference.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
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


def content_key(prefix: str, body: Any) -> str:
    """An Idempotency-Key derived from the body's bytes: the same request
    always carries the same key, whoever sends it and however often."""
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return f"{prefix}-" + hashlib.sha256(raw).hexdigest()[:48]


class SentJournal:
    """The command line's record of the redemptions it sent, one JSON line each.

    A redemption's ``occurred_at`` is part of its body; the command line
    stamps it with the time of sending when ``--occurred-at`` is not given,
    so re-running the same command later would send a different body under
    the same reference, which the API refuses (409 ``reference_conflict``).
    The journal keeps the body that was sent for each (server, key,
    reference), written before sending, so a re-run sends the very same
    request again and the server replays it instead of charging twice.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def _key(url: str, key_id: str, reference: str) -> list[str]:
        return [url.rstrip("/"), key_id, reference]

    def find(self, *, url: str, key_id: str, reference: str) -> dict[str, Any] | None:
        """The last request sent for this reference that the server did not
        refuse (it may have been done, or its answer lost), or None."""
        wanted = self._key(url, key_id, reference)
        found = None
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if isinstance(entry, dict) and entry.get("key") == wanted:
                found = entry
        # A request the server refused did nothing: a new run starts afresh.
        if found is not None and found.get("refused"):
            return None
        return found

    def record(
        self,
        *,
        url: str,
        key_id: str,
        reference: str,
        body: dict[str, Any],
        refused: str | None = None,
    ) -> None:
        """Append what is about to be sent (or, with ``refused``, the error
        code the server refused it with)."""
        entry: dict[str, Any] = {
            "key": self._key(url, key_id, reference),
            "sent_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "body": body,
        }
        if refused:
            entry["refused"] = refused
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Readable by its owner only: it holds voucher codes.
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as journal:
            journal.write(json.dumps(entry, ensure_ascii=False) + "\n")
            journal.flush()
            os.fsync(journal.fileno())


# -- command line ------------------------------------------------------------


def _usage_line(text: str) -> dict[str, Any]:
    try:
        model, input_tokens, output_tokens = text.rsplit(":", 2)
        return {
            "model": model,
            "input_tokens": int(input_tokens),
            "output_tokens": int(output_tokens),
        }
    except ValueError as exc:
        raise argparse.ArgumentTypeError("usage is MODEL:INPUT_TOKENS:OUTPUT_TOKENS") from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m platforms.client",
        description="Try the compute-voucher platform API with a signed request.",
        epilog="Key and URL may come from CV_API_URL, CV_KEY_ID and CV_KEY_FILE; with "
        "--demo-keys DIR --platform SLUG (as written by 'manage.py seed_demo --demo-keys DIR') "
        "the key id and private key are read from DIR/SLUG.key_id and DIR/SLUG.pem. "
        "Re-running a redeem command with the same --reference replays it (see --journal).",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("CV_API_URL", "http://127.0.0.1:8000"),
        help="the server (default: CV_API_URL, else http://127.0.0.1:8000)",
    )
    parser.add_argument("--key-id", default=os.environ.get("CV_KEY_ID"))
    parser.add_argument("--key-file", default=os.environ.get("CV_KEY_FILE"), help="private key PEM")
    parser.add_argument("--demo-keys", metavar="DIR", help="directory of seed_demo's demo keys")
    parser.add_argument("--platform", metavar="SLUG", help="platform slug, with --demo-keys")
    parser.add_argument("--lang", default=None, help="Accept-Language, e.g. zh-Hans or en")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ping", help="check that your signature is accepted")
    lookup = sub.add_parser("lookup", help="look up a voucher")
    lookup.add_argument("code")
    redeem = sub.add_parser("redeem", help="deduct one charge from a voucher")
    redeem.add_argument("code", help="voucher code")
    redeem.add_argument("--reference", required=True, help="your invoice or job id")
    redeem.add_argument("--amount", help='billed amount in CNY, e.g. "120.00" (CNY programs)')
    redeem.add_argument("--currency", default="CNY")
    redeem.add_argument(
        "--usage",
        action="append",
        type=_usage_line,
        default=[],
        metavar="MODEL:IN:OUT",
        help="a usage line (POINTS programs); repeat for several models",
    )
    redeem.add_argument(
        "--occurred-at",
        help="when the usage happened, ISO 8601 with offset; default: now on the first "
        "run of a reference, the time then sent on a re-run (see --journal)",
    )
    redeem.add_argument("--no-partial", action="store_true", help="refuse rather than cover part")
    redeem.add_argument(
        "--idempotency-key", help="default: derived from the request body, so a re-run replays"
    )
    redeem.add_argument(
        "--journal",
        metavar="FILE",
        default=os.environ.get("CV_JOURNAL"),
        help="record of sent redemptions, so re-running a command replays it "
        "(default: CV_JOURNAL, else beside the private key and named after it: "
        "SLUG.sent.jsonl with --demo-keys, NAME.sent.jsonl for --key-file NAME.pem)",
    )
    redeem.add_argument(
        "--no-journal", action="store_true", help="neither read nor write the journal"
    )
    return parser


def _credentials(args: argparse.Namespace) -> tuple[str, Path]:
    key_id, key_file = args.key_id, args.key_file
    if args.demo_keys:
        if not args.platform:
            raise SystemExit("--demo-keys needs --platform SLUG")
        directory = Path(args.demo_keys)
        key_id = key_id or (directory / f"{args.platform}.key_id").read_text().strip()
        key_file = key_file or str(directory / f"{args.platform}.pem")
    if not key_id or not key_file:
        raise SystemExit("give --key-id and --key-file (or --demo-keys DIR --platform SLUG)")
    return key_id, Path(key_file)


def _journal(args: argparse.Namespace, key_file: Path) -> SentJournal | None:
    if args.no_journal:
        return None
    if args.journal:
        return SentJournal(Path(args.journal))
    return SentJournal(key_file.with_name(key_file.stem + ".sent.jsonl"))


def _redeem(
    api: PlatformClient, args: argparse.Namespace, key_id: str, key_file: Path
) -> tuple[Any, str]:
    """Send the redemption the command describes; a re-run of a command sends
    the request of its first run again. Returns the answer and a note for stderr."""
    journal = _journal(args, key_file)
    sent = (
        journal.find(url=args.url, key_id=key_id, reference=args.reference)
        if journal is not None
        else None
    )
    # On a re-run without --occurred-at, the time that was sent the first
    # time; on a first run, now (to the second).
    occurred_at = (
        args.occurred_at
        or (sent or {}).get("body", {}).get("occurred_at")
        or datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    )
    body = redemption_body(
        voucher=args.code,
        reference=args.reference,
        occurred_at=occurred_at,
        billed_amount=args.amount,
        currency=args.currency if args.amount else None,
        usage=args.usage or None,
        allow_partial=not args.no_partial,
    )
    again = sent is not None and sent.get("body") == body
    if journal is not None and not again:
        # Written before sending: if the answer is lost, or this process
        # dies, the next run finds it and sends the same request again.
        journal.record(url=args.url, key_id=key_id, reference=args.reference, body=body)
    try:
        answer = api.request(
            "POST",
            "redemptions",
            body=body,
            idempotency_key=args.idempotency_key or content_key("redeem", body),
        )
    except APIError as error:
        # A 4xx refusal changed nothing (the contract: a request that does not
        # answer 2xx commits nothing), so its time need not be kept; a 5xx
        # after the retries leaves the outcome open, so the request is kept.
        if journal is not None and 400 <= error.status < 500:
            journal.record(
                url=args.url, key_id=key_id, reference=args.reference, body=body, refused=error.code
            )
        raise
    response = api.last_response
    replayed = (isinstance(answer, dict) and answer.get("replayed") is True) or (
        response is not None and response.headers.get("Idempotent-Replayed") == "true"
    )
    note = ""
    if again and sent is not None:
        note = (
            f"re-sent the request first sent at {sent.get('sent_at')} for reference "
            f"{args.reference} (occurred_at {occurred_at})"
        )
    if replayed:
        note = (note + "; " if note else "") + (
            "the server answered with the original result: nothing was charged again"
        )
    return answer, note


_CONFLICT_HINT = (
    "hint: this reference was already used for a charge with a different body. If this "
    "is a retry of that charge, give the same voucher, amount or usage and its original "
    "--occurred-at (GET redemptions lists it); re-running a command replays it only where "
    "its journal is (--journal)."
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    key_id, key_file = _credentials(args)
    api = PlatformClient(
        args.url, key_id=key_id, private_key_pem=key_file.read_bytes(), accept_language=args.lang
    )
    note = ""
    try:
        if args.command == "ping":
            answer = api.ping()
        elif args.command == "lookup":
            answer = api.lookup(args.code)
        else:
            answer, note = _redeem(api, args, key_id, key_file)
    except APIError as error:
        body = error.body or {"error": {"code": error.code, "message": error.message}}
        json.dump(body, sys.stderr, ensure_ascii=False, indent=2)
        sys.stderr.write("\n")
        if error.code == "reference_conflict":
            sys.stderr.write(_CONFLICT_HINT + "\n")
        return 1
    except requests.RequestException as error:
        sys.stderr.write(f"cannot reach {args.url}: {error}\n")
        return 2
    json.dump(answer, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    if note:
        sys.stderr.write(note + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
