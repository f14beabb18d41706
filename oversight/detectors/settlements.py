"""Settlement detectors: lines the district would pay without a signed request
that verifies, and a platform whose share of rejected charges jumps.

Both look at settlements, not at charges: the evidence detector at the
settlements of periods that ended in the window (so a period is checked from
the day it is drawn, while reviewers still have it), the rejected-share
detector at settlements decided (approved) in the window. The window is the
run's period widened to :data:`PATTERN_WINDOW_DAYS`; a flag covers the
settlement's own period (a calendar month or quarter).
"""

from __future__ import annotations

import datetime
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.db.models import QuerySet
from django.utils import timezone

from oversight.detectors.base import (
    MAX_IDS,
    PATTERN_WINDOW_DAYS,
    REJECTED_HISTORY,
    REJECTED_MIN_HISTORY,
    Candidate,
    Detector,
    Period,
    Thresholds,
    as_ratio,
    as_text,
    ids_of,
    thresholds_or_default,
)
from oversight.models import AnomalyFlag
from platforms.evidence import (
    EvidenceInvalid,
    evidence_verify,
    full_evidence,
    is_reference,
    signed_record_mismatch,
)
from platforms.models import PlatformKey, SignedRequestBody
from settlements.models import Settlement, SettlementLine

ZERO = Decimal("0")
#: Lines read, and signed bodies fetched, at a time.
CHUNK = 2000

# Why a line's evidence does not verify (the flag's summary names them in
# the reader's language; see oversight.detectors.summary).
UNSIGNED = "unsigned"
UNKNOWN_KEY = "unknown_key"
BODY_MISSING = "body_missing"
SIGNATURE = "signature"
NOT_REPORTED = "not_reported"
MISMATCH = "mismatch"


def settlement_period(settlement: Settlement) -> Period:
    """The settlement's period as local days, both ends included."""
    first = timezone.localtime(settlement.starts_at).date()
    last = timezone.localtime(settlement.ends_at).date() - datetime.timedelta(days=1)
    return Period(first, max(first, last))


# ---------------------------------------------------------------------------
# (k) Settlement lines whose signed request does not verify
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why one line's evidence fails: a code, and the verifier's own words."""

    check: str
    detail: str


@dataclass
class _Request:
    """One signed request, verified once for all the lines it caused."""

    problem: Problem | None
    records: dict[str, dict[str, Any]]
    target_path: str


def _records_by_reference(body: Any) -> dict[str, dict[str, Any]]:
    """The charges a signed body reports, by reference: the body itself, or
    each record of a usage batch (the first one with a reference wins, as
    :func:`platforms.evidence.redemption_evidence_verify` takes it)."""
    found: dict[str, dict[str, Any]] = {}
    if not isinstance(body, dict):
        return found
    if isinstance(body.get("reference"), str):
        found[body["reference"]] = body
    records = body.get("records")
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict) and isinstance(record.get("reference"), str):
            found.setdefault(record["reference"], record)
    return found


def _signed_path(evidence: dict[str, Any]) -> str:
    """The path of the signed ``@target-uri`` (the server requires it to be covered)."""
    for pair in evidence.get("covered_components") or []:
        if isinstance(pair, list | tuple) and len(pair) == 2 and pair[0] == '"@target-uri"':
            return urlsplit(str(pair[1])).path.rstrip("/")
    return ""


def _stored_evidence(line: SettlementLine) -> Any:
    """What the line's charge or reversal keeps of its request: the evidence,
    or (a usage batch's charge) the key and body hash naming it."""
    if line.kind == SettlementLine.Kind.REVERSAL and line.reversal is not None:
        return line.reversal.request_evidence
    return line.redemption.request_evidence


class EvidenceChecker:
    """Re-verifies the signed requests behind settlement lines, each request once.

    A request is checked as :func:`platforms.evidence.redemption_evidence_verify`
    checks it — the key is one of the line's platform's keys (revoked ones
    too: they were valid when used), the body is kept, and
    :func:`platforms.evidence.evidence_verify` accepts the signature and the
    body's Content-Digest — and then each line against the record the body
    reports for its reference. A usage batch is one request for up to 1,000
    lines: verifying it once, rather than once per line, is what makes a
    month of lines affordable every day.
    """

    def __init__(self, platform_ids: Iterable[int]) -> None:
        self._keys = {
            (key.platform_id, key.key_id): key
            for key in PlatformKey.objects.filter(platform_id__in=set(platform_ids))
        }
        self._requests: dict[tuple[int, str, str, str], _Request] = {}
        self._bodies: dict[str, bytes | None] = {}
        self._stored: dict[str, SignedRequestBody] = {}

    def evidence_of(self, line: SettlementLine) -> Any:
        """The line's evidence, whole: a usage batch's lines name their request,
        whose evidence is kept once with its body (fetched by :meth:`prepare`)."""
        evidence = _stored_evidence(line)
        if is_reference(evidence):
            return full_evidence(evidence, self._stored.get(evidence["body_sha256"]))
        return evidence

    def prepare(self, lines: Iterable[SettlementLine]) -> None:
        """Fetch the signed bodies a chunk of ``lines`` names, forgetting the
        previous chunk's: a usage batch's lines are recorded together, so
        they come in one chunk (or two), and memory stays bounded by a chunk
        however many lines a window holds."""
        self._requests = {}
        self._bodies = {}
        self._stored = {}
        wanted = set()
        for line in lines:
            evidence = _stored_evidence(line)
            sha = evidence.get("body_sha256") if isinstance(evidence, dict) else None
            if isinstance(sha, str):
                wanted.add(sha)
        for stored in SignedRequestBody.objects.filter(sha256__in=wanted):
            self._stored[stored.sha256] = stored
            self._bodies[stored.sha256] = bytes(stored.body)

    def _request(self, platform_id: int, evidence: dict[str, Any]) -> _Request:
        key_id = str(evidence.get("key_id") or "")
        sha = str(evidence.get("body_sha256") or "")
        cache_key = (platform_id, key_id, str(evidence.get("signature")), sha)
        if cache_key in self._requests:
            return self._requests[cache_key]
        request = _Request(problem=None, records={}, target_path=_signed_path(evidence))
        key = self._keys.get((platform_id, key_id))
        body = self._bodies.get(sha) if sha else None
        if key is None:
            request.problem = Problem(
                UNKNOWN_KEY, f"key {key_id!r} is not a key of the settlement's platform"
            )
        elif body is None:
            request.problem = Problem(BODY_MISSING, "the signed body is not stored")
        else:
            try:
                evidence_verify(evidence, public_key_pem=key.public_key_pem, body=body)
            except (EvidenceInvalid, ValueError) as invalid:
                request.problem = Problem(SIGNATURE, str(invalid) or type(invalid).__name__)
            else:
                try:
                    request.records = _records_by_reference(json.loads(body))
                except ValueError:
                    request.problem = Problem(NOT_REPORTED, "the signed body is not JSON")
        self._requests[cache_key] = request
        return request

    def problem(self, line: SettlementLine, platform_id: int) -> Problem | None:
        """Why ``line`` is not backed by a signed request that verifies, or None."""
        evidence = self.evidence_of(line)
        if not isinstance(evidence, dict) or not evidence.get("signature"):
            return Problem(UNSIGNED, "no signed request is stored with this line")
        request = self._request(platform_id, evidence)
        if request.problem is not None:
            return request.problem
        record = request.records.get(line.reference)
        if record is None:
            return Problem(
                NOT_REPORTED, f"the signed body reports nothing with reference {line.reference!r}"
            )
        if line.kind == SettlementLine.Kind.REVERSAL:
            return _reversal_mismatch(line, record, request.target_path)
        return _charge_mismatch(line, record)


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        return None


def _charge_mismatch(line: SettlementLine, record: dict[str, Any]) -> Problem | None:
    """The checks of :func:`platforms.evidence.redemption_evidence_verify` on one record."""
    mismatch = signed_record_mismatch(line.redemption, record)
    return Problem(MISMATCH, mismatch) if mismatch is not None else None


def _reversal_mismatch(
    line: SettlementLine, record: dict[str, Any], target_path: str
) -> Problem | None:
    if line.reversal is None:
        return Problem(NOT_REPORTED, "the reversal line names no reversal")
    if not target_path.endswith(f"/redemptions/{line.redemption_id}/reversals"):
        return Problem(MISMATCH, "the signed request reverses another charge")
    if _decimal(record.get("amount")) != line.reversal.amount:
        return Problem(MISMATCH, "the signed amount differs from the recorded one")
    return None


def _evidence_subject(settlement: Settlement) -> str:
    return f"settlement:{settlement.pk}"


def _already_flagged(settlements: list[Settlement]) -> set[int]:
    """Settlements whose evidence was already flagged (any status): detection
    would file nothing new for them (:func:`oversight.flags.anomalies_detect`
    skips a subject already flagged), so their lines are not read again."""
    subjects = {_evidence_subject(s): s.pk for s in settlements}
    return {
        subjects[found]
        for found in AnomalyFlag.objects.filter(
            detector=Detector.SETTLEMENT_EVIDENCE, subject__in=list(subjects)
        ).values_list("subject", flat=True)
    }


def _lines_of(settlement: Settlement) -> QuerySet[SettlementLine]:
    return (
        SettlementLine.objects.filter(settlement=settlement, status=SettlementLine.Status.INCLUDED)
        .select_related("redemption__voucher", "reversal")
        .order_by("recorded_at", "id")
    )


def detect_settlement_evidence(
    period: Period, thresholds: Thresholds | None = None
) -> list[Candidate]:
    """Settlements of periods that ended in the window with included lines not
    backed by the platform's signed request: none kept, an unknown key, the
    body missing, a signature or body digest that does not verify, or a body
    that does not report the line as recorded. One flag per settlement,
    listing the lines (the first :data:`MAX_IDS`)."""
    window = period.window(PATTERN_WINDOW_DAYS)
    start, end = window.bounds()
    settlements = list(
        Settlement.objects.filter(ends_at__gte=start, ends_at__lt=end)
        .select_related("program", "platform")
        .order_by("ends_at", "pk")
    )
    done = _already_flagged(settlements)
    settlements = [s for s in settlements if s.pk not in done]
    checker = EvidenceChecker(s.platform_id for s in settlements)
    found = []
    for settlement in settlements:
        failing: list[tuple[SettlementLine, Problem]] = []
        lines = _lines_of(settlement).iterator(chunk_size=CHUNK)
        while chunk := [line for _n, line in zip(range(CHUNK), lines, strict=False)]:
            checker.prepare(chunk)
            for line in chunk:
                problem = checker.problem(line, settlement.platform_id)
                if problem is not None:
                    failing.append((line, problem))
        if not failing:
            continue
        at_stake = sum((line.amount for line, _p in failing), ZERO)
        found.append(
            Candidate(
                detector=Detector.SETTLEMENT_EVIDENCE,
                district_id=settlement.program.district_id,
                subject=_evidence_subject(settlement),
                period=settlement_period(settlement),
                score=Decimal(len(failing)),
                evidence={
                    "measured": str(len(failing)),
                    "measure": "included lines not backed by a signed request that verifies",
                    "threshold": "0",
                    "unit": settlement.unit,
                    "settlement": settlement.pk,
                    "settlement_period": settlement.period,
                    "settlement_status": settlement.status,
                    "lines_checked": settlement.line_count,
                    "amount": as_text(at_stake),
                    "check": failing[0][1].check,
                    "lines": [
                        {
                            "line": line.pk,
                            "kind": line.kind,
                            "reference": line.reference,
                            "redemption_id": line.redemption_id,
                            "amount": as_text(line.amount),
                            "check": problem.check,
                            "problem": problem.detail,
                        }
                        for line, problem in failing[:MAX_IDS]
                    ],
                    "redemption_ids": ids_of(line.redemption_id for line, _p in failing),
                },
                program_id=settlement.program_id,
                platform_id=settlement.platform_id,
            )
        )
    return found


# ---------------------------------------------------------------------------
# (l) A platform whose share of rejected charges jumps
# ---------------------------------------------------------------------------


def rejected_share(settlement: Settlement) -> Decimal | None:
    """The share of the settlement's charges (by covered amount) that reviewers
    rejected; None when it drew no charge."""
    drawn = settlement.covered + settlement.rejected
    if drawn <= 0:
        return None
    return settlement.rejected / drawn


def _rejected_lines(settlement: Settlement) -> list[dict[str, Any]]:
    rows = SettlementLine.objects.filter(
        settlement=settlement,
        kind=SettlementLine.Kind.CAPTURE,
        status=SettlementLine.Status.REJECTED,
    ).order_by("recorded_at", "id")[:MAX_IDS]
    return [
        {
            "line": line.pk,
            "reference": line.reference,
            "redemption_id": line.redemption_id,
            "amount": as_text(line.covered),
            "reason": line.rejection_reason,
        }
        for line in rows
    ]


def detect_rejected_share_jump(
    period: Period, thresholds: Thresholds | None = None
) -> list[Candidate]:
    """Settlements decided in the window whose rejected share (by amount) is
    above ``rejected_jump_multiple`` × the median share of the same platform's
    previous decided settlements of the program (at least
    :data:`REJECTED_MIN_HISTORY` of them, the latest :data:`REJECTED_HISTORY`)
    and at least ``rejected_jump_min_share``: a platform whose statements
    reviewers suddenly cut is one to look at more closely.

    Per platform and program: one program's settlements share a period
    length and their district's reviewers, so their shares compare.
    """
    settings_of = thresholds_or_default(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    start, end = window.bounds()
    decided = list(
        Settlement.objects.filter(
            status__in=Settlement.DECIDED, approved_at__gte=start, approved_at__lt=end
        )
        .select_related("program", "platform")
        .order_by("starts_at", "pk")
    )
    if not decided:
        return []
    history: dict[tuple[int, int], list[Settlement]] = defaultdict(list)
    for earlier in Settlement.objects.filter(
        status__in=Settlement.DECIDED,
        platform_id__in={s.platform_id for s in decided},
        program_id__in={s.program_id for s in decided},
    ).order_by("-starts_at", "-pk"):
        history[(earlier.platform_id, earlier.program_id)].append(earlier)
    found = []
    for settlement in decided:
        share = rejected_share(settlement)
        if share is None:
            continue
        previous = [
            (s, shared)
            for s in history[(settlement.platform_id, settlement.program_id)]
            if s.starts_at < settlement.starts_at and (shared := rejected_share(s)) is not None
        ][:REJECTED_HISTORY]
        if len(previous) < REJECTED_MIN_HISTORY:
            continue
        cfg = settings_of(settlement.program_id)
        median = Decimal(statistics.median(shared for _s, shared in previous))
        if not (
            share > cfg.rejected_jump_multiple * median and share >= cfg.rejected_jump_min_share
        ):
            continue
        limit = max(cfg.rejected_jump_multiple * median, cfg.rejected_jump_min_share)
        rejected = _rejected_lines(settlement)
        found.append(
            Candidate(
                detector=Detector.REJECTED_SHARE,
                district_id=settlement.program.district_id,
                subject=f"platform:{settlement.platform_id}/program:{settlement.program_id}",
                period=settlement_period(settlement),
                score=as_ratio(share),
                evidence={
                    "measured": as_text(as_ratio(share)),
                    "measure": "share of the settlement's charges rejected, by amount",
                    "threshold": as_text(as_ratio(limit)),
                    "unit": settlement.unit,
                    "settlement": settlement.pk,
                    "settlement_period": settlement.period,
                    "rejected": as_text(settlement.rejected),
                    "drawn": as_text(settlement.covered + settlement.rejected),
                    "median_share": as_text(as_ratio(median)),
                    "multiple": as_text(cfg.rejected_jump_multiple),
                    "min_share": as_text(cfg.rejected_jump_min_share),
                    "previous": [
                        {
                            "settlement": s.pk,
                            "settlement_period": s.period,
                            "share": as_text(as_ratio(shared)),
                        }
                        for s, shared in previous
                    ],
                    "lines": rejected,
                    "redemption_ids": ids_of(row["redemption_id"] for row in rejected),
                },
                program_id=settlement.program_id,
                platform_id=settlement.platform_id,
            )
        )
    return found
