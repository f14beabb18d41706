"""The command line: ``python -m cv_client`` (or ``cv-client``).

Its ``redeem`` keeps a journal of the requests it sent (``SentJournal``), so
that running the same command again, for the same ``--reference``, sends the
very same request (same ``occurred_at``, same body, same Idempotency-Key) and
the server replays the first answer instead of charging twice or refusing the
reference.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from .client import APIError, PlatformClient, content_key, redemption_body
from .journal import SentJournal


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


PROG = "python -m cv_client"


def _parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
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


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run one command (``argv``, default the process's); the exit status.

    0 with the answer as JSON on stdout; 1 when the API refused (its error
    body on stderr); 2 when the server could not be reached.
    """
    args = _parser(prog).parse_args(argv)
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


def console() -> int:
    """The ``cv-client`` script that installing the package puts on the PATH."""
    return main(prog="cv-client")
