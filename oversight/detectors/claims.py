"""Claim detectors: the ways a reimbursement claim ("How the money flows", 2
and 3 in DESIGN.md) is padded or claimed twice.

- **invoice_reused** — one invoice number used more than once: recorded under
  two contracts (of different enterprises, or two contracts of one
  enterprise), or claimed in claims of two programs (two districts are two
  programs). Invoices are read through their contracts, so claims that were
  rejected or withdrawn (whose :class:`ClaimedInvoice` rows are gone) count
  too. Numbers compare without spaces and case.
- **claim_near_threshold** — a claim is *near the limits* when its eligible
  spend is at most ``claim_near_margin`` above the program's minimum spend,
  when its claimed amount is at most that margin below the program's cap per
  claim (a claim that hits the cap exactly was capped, which is normal), or
  when it brings the enterprise's claimed total for the program and service
  year to at most that margin below the yearly cap. An enterprise, or a
  supplier (by USCC, whoever claims its contracts), with at least
  ``claim_near_min_claims`` contracts claimed near the limits in the past
  :data:`LOOKBACK_DAYS` days is flagged: one such claim is chance, several
  are a habit of shaping claims to the rules. A program's share of such
  claims is not judged.
- **supplier_and_buyer_claim** — one contract key claimed by the buyer's
  record and by the supplier's record, in any programs.
- **price_rise_before_subsidy** (先涨价后补贴) — contracts of one supplier and
  kind of service signed on or after the day the program opened (the
  earlier of ``application_opens_on`` and ``claim_opens_on``) and claimed in
  it, costing more per day of service than ``price_rise_ratio`` × the median
  price per day of that supplier's contracts of the same kind signed before
  that day (at least :data:`PRICE_RISE_MIN_EARLIER` of them, from any
  enterprise's records).
- **supplier_shared_contacts** — a supplier with at least
  ``supplier_shared_min_buyers`` claiming buyers (over the past
  :data:`LOOKBACK_DAYS` days) that share a legal representative or contact
  phone with one another or with the supplier's registered enterprise.

The last two detectors read suppliers rather than claims and live in
:mod:`oversight.detectors.suppliers`; what the five share is here.

A claim counts once it was submitted (``submitted_at`` is set), whatever
its status since: a draft asks for nothing yet. Each detector looks at the
claims submitted in a window of at least :data:`PATTERN_WINDOW_DAYS` days
ending on the period's last day (China time): a finding is reported when one
of the claims it involves was submitted in that window, over that window,
and filed in the district of each program whose claims it involves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import QuerySet

from oversight.detectors.base import (
    MAX_IDS,
    PATTERN_WINDOW_DAYS,
    Candidate,
    Detector,
    Period,
    Thresholds,
    as_text,
    local_day,
    thresholds_or_default,
)
from programs.models import Program
from settlements.models import Claim, Contract, Invoice

#: Pattern detectors over claims also count what happened this many days back.
LOOKBACK_DAYS = 365
#: Claims that no longer ask for money when the enterprise's yearly total is summed.
NOT_COUNTED = [Claim.Status.DRAFT, Claim.Status.REJECTED, Claim.Status.WITHDRAWN]
CNY = Program.Unit.CNY


# ---------------------------------------------------------------------------
# What the claim detectors share
# ---------------------------------------------------------------------------


def submitted_claims(period: Period) -> QuerySet[Claim]:
    """Claims submitted in the period (China time), in any status since."""
    start, end = period.bounds()
    return (
        Claim.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
        .select_related("program__district", "enterprise", "contract")
        .order_by("submitted_at", "pk")
    )


def lookback(period: Period) -> Period:
    """The :data:`LOOKBACK_DAYS` days ending on the period's last day."""
    return Period.ending(period.end, max(LOOKBACK_DAYS, period.days))


def submitted_in(period: Period, claim: Claim) -> bool:
    return claim.submitted_at is not None and (
        period.start <= local_day(claim.submitted_at) <= period.end
    )


def claim_row(claim: Claim, **extra: Any) -> dict[str, Any]:
    """A claim as the evidence names it."""
    return {
        "claim": claim.pk,
        "district": claim.program.district.code,
        "program": claim.program.name,
        "enterprise": claim.enterprise.name,
        "uscc": claim.enterprise.uscc,
        "contract": claim.contract_key,
        "side": claim.contract.side,
        "status": claim.status,
        "submitted_on": (local_day(claim.submitted_at).isoformat() if claim.submitted_at else None),
        "claimed_amount": as_text(claim.claimed_amount),
        **extra,
    }


def contract_row(contract: Contract, **extra: Any) -> dict[str, Any]:
    """A contract as the evidence names it."""
    return {
        "contract_id": contract.pk,
        "contract": contract.key,
        "recorded_by": contract.enterprise.name,
        "side": contract.side,
        "signed_on": contract.signed_on.isoformat(),
        "service": f"{contract.service_starts_on.isoformat()}/{contract.service_ends_on.isoformat()}",
        "amount": as_text(contract.amount),
        **extra,
    }


def per_district(
    claims: Iterable[Claim],
    make: Callable[[], Candidate],
    *,
    enterprise_id: int | None = None,
) -> list[Candidate]:
    """One candidate (built by ``make``) for each district whose programs the
    claims belong to, naming the program and the claimant when the
    district's claims have just one (``enterprise_id`` names it instead)."""
    by_district: dict[int, list[Claim]] = defaultdict(list)
    for claim in claims:
        by_district[claim.program.district_id].append(claim)
    found = []
    for district_id in sorted(by_district):
        own = by_district[district_id]
        candidate = make()
        candidate.district_id = district_id
        programs = {c.program_id for c in own}
        claimants = {c.enterprise_id for c in own}
        candidate.program_id = programs.pop() if len(programs) == 1 else None
        if enterprise_id is not None:
            candidate.enterprise_id = enterprise_id
        elif len(claimants) == 1:
            candidate.enterprise_id = claimants.pop()
        found.append(candidate)
    return found


def _unique(claims: Iterable[Claim]) -> list[Claim]:
    return sorted({c.pk: c for c in claims}.values(), key=lambda c: c.pk)


# ---------------------------------------------------------------------------
# (m) One invoice number under several contracts or programs
# ---------------------------------------------------------------------------


def invoice_number_key(number: str) -> str:
    """An invoice number as compared: without spaces, in capitals."""
    return "".join(number.split()).upper()


def detect_invoice_reuse(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Invoice numbers of claims submitted in the window that are also recorded
    under another contract, or claimed in another program (in any status);
    one flag per number and per district of a program claiming it."""
    window = period.window(PATTERN_WINDOW_DAYS)
    start, end = window.bounds()
    numbers = {
        invoice_number_key(n)
        for n in Invoice.objects.filter(
            contract__claims__submitted_at__gte=start, contract__claims__submitted_at__lt=end
        ).values_list("number", flat=True)
    }
    if not numbers:
        return []
    invoices = list(
        # Numbers are stored as compared (settlements.claims.normalize_invoice_number):
        # a plain lookup, on every database.
        Invoice.objects.filter(number__in=numbers)
        .select_related("contract__enterprise")
        .order_by("pk")
    )
    claims_of: dict[int, list[Claim]] = defaultdict(list)
    for claim in Claim.objects.filter(
        contract_id__in={i.contract_id for i in invoices}, submitted_at__isnull=False
    ).select_related("program__district", "enterprise", "contract"):
        claims_of[claim.contract_id].append(claim)
    by_number: dict[str, list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        by_number[invoice_number_key(invoice.number)].append(invoice)

    found = []
    for number, rows in sorted(by_number.items()):
        claims = _unique(c for i in rows for c in claims_of[i.contract_id])
        if not claims:
            continue
        keys = {i.contract.key for i in rows}
        programs = {c.program_id for c in claims}
        if len(keys) < 2 and len(programs) < 2:
            continue
        # Where the number is used: each contract in each program claiming it,
        # and each contract nobody claimed.
        places: set[tuple[str, int | None]] = {(c.contract_key, c.program_id) for c in claims}
        claimed_keys = {key for key, _p in places}
        places |= {(key, None) for key in keys - claimed_keys}
        evidence = {
            "measured": str(len(places)),
            "measure": "contracts and programs the invoice number is used in",
            "threshold": "1",
            "unit": CNY,
            "invoice": number,
            "contract_count": len(keys),
            "enterprise_count": len({i.contract.enterprise_id for i in rows}),
            "program_count": len(programs),
            "invoices": [
                {
                    "invoice_id": i.pk,
                    "number": i.number,
                    "issued_on": i.issued_on.isoformat(),
                    "amount": as_text(i.amount),
                    "issued_by": i.supplier_uscc,
                    **contract_row(i.contract),
                }
                for i in rows[:MAX_IDS]
            ],
            "claims": [claim_row(c) for c in claims[:MAX_IDS]],
            "claim_ids": [c.pk for c in claims[:MAX_IDS]],
        }

        def make(number: str = number, evidence: dict[str, Any] = evidence) -> Candidate:
            return Candidate(
                detector=Detector.INVOICE_REUSED,
                subject=f"invoice:{number}"[:200],
                period=window,
                score=Decimal(evidence["measured"]),
                evidence=evidence,
            )

        found.extend(per_district(claims, make))
    return found


# ---------------------------------------------------------------------------
# (n) Claims sitting just inside the program's limits
# ---------------------------------------------------------------------------


def eligible_spend(claim: Claim) -> Decimal | None:
    """The eligible spend the claim's arithmetic recorded, if it did."""
    arithmetic = claim.arithmetic if isinstance(claim.arithmetic, dict) else {}
    value = arithmetic.get("eligible_spend")
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


@dataclass
class Near:
    """One limit a claim sits just inside: which, the limit and the claim's figure."""

    limit: str
    limit_amount: Decimal
    value: Decimal

    def row(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "limit_amount": as_text(self.limit_amount),
            "figure": as_text(self.value),
        }


def _year_totals(claims: Iterable[Claim]) -> dict[tuple[int, int, int], list[Claim]]:
    """{(enterprise, program, service year): the claims counted against the
    yearly cap, in submission order} for the groups of ``claims``."""
    wanted = {(c.enterprise_id, c.program_id, c.service_year) for c in claims}
    if not wanted:
        return {}
    groups: dict[tuple[int, int, int], list[Claim]] = defaultdict(list)
    for claim in (
        Claim.objects.filter(
            enterprise_id__in={w[0] for w in wanted},
            program_id__in={w[1] for w in wanted},
            service_year__in={w[2] for w in wanted},
            submitted_at__isnull=False,
        )
        .exclude(status__in=NOT_COUNTED)
        .order_by("submitted_at", "pk")
    ):
        key = (claim.enterprise_id, claim.program_id, claim.service_year)
        if key in wanted:
            groups[key].append(claim)
    return groups


def near_limits(
    claim: Claim, margin: Decimal, year_claims: list[Claim] | None = None
) -> list[Near]:
    """The program's limits the claim sits just inside (within ``margin``)."""
    program = claim.program
    found = []
    spend = eligible_spend(claim)
    low = program.claim_min_spend
    if low and spend is not None and low <= spend <= low * (1 + margin):
        found.append(Near("min_spend", low, spend))
    cap = program.claim_cap
    if cap and cap * (1 - margin) <= claim.claimed_amount < cap:
        found.append(Near("cap", cap, claim.claimed_amount))
    yearly = program.claim_cap_per_year
    if yearly and year_claims and claim.status not in NOT_COUNTED:
        # The total the claim brought the year to: it and those submitted before it.
        total = Decimal("0")
        for counted in year_claims:
            total += counted.claimed_amount
            if counted.pk == claim.pk:
                break
        if yearly * (1 - margin) <= total < yearly:
            found.append(Near("cap_per_year", yearly, total))
    return found


@dataclass
class _NearGroup:
    name: str
    enterprise_id: int | None
    claims: list[tuple[Claim, list[Near]]] = field(default_factory=list)


def detect_claims_near_threshold(
    period: Period, thresholds: Thresholds | None = None
) -> list[Candidate]:
    """Enterprises and suppliers with several contracts claimed near the
    program's limits in the past year, one of them in the window; one flag
    per enterprise or supplier and per district of a program involved."""
    settings_of = thresholds_or_default(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    claims = list(submitted_claims(lookback(period)).exclude(status=Claim.Status.WITHDRAWN))
    if not any(submitted_in(window, c) for c in claims):
        return []
    years = _year_totals(c for c in claims if c.program.claim_cap_per_year)
    groups: dict[tuple[str, str], _NearGroup] = {}
    for claim in claims:
        margin = settings_of(claim.program_id).claim_near_margin
        year_claims = years.get((claim.enterprise_id, claim.program_id, claim.service_year))
        near = near_limits(claim, margin, year_claims)
        if not near:
            continue
        contract = claim.contract
        for key, name, enterprise_id in (
            (("enterprise", claim.enterprise.uscc), claim.enterprise.name, claim.enterprise_id),
            (
                ("supplier", contract.supplier_uscc),
                contract.supplier_name,
                contract.supplier_enterprise_id,
            ),
        ):
            group = groups.setdefault(key, _NearGroup(name=name, enterprise_id=enterprise_id))
            group.claims.append((claim, near))

    found = []
    for (party, uscc), group in sorted(groups.items()):
        contracts = {c.contract_key for c, _n in group.claims}
        needed = min(settings_of(c.program_id).claim_near_min_claims for c, _n in group.claims)
        if len(contracts) < needed or not any(submitted_in(window, c) for c, _n in group.claims):
            continue
        margin = min(settings_of(c.program_id).claim_near_margin for c, _n in group.claims)
        evidence = {
            "measured": str(len(contracts)),
            "measure": "contracts claimed near the program's limits in the past year",
            "threshold": str(needed),
            "unit": CNY,
            "party": party,
            "name": group.name,
            "uscc": uscc,
            "margin": as_text(margin),
            "lookback_days": LOOKBACK_DAYS,
            "claims": [
                claim_row(
                    c,
                    supplier=c.contract.supplier_uscc,
                    eligible_spend=as_text(eligible_spend(c)),
                    near=[n.row() for n in near],
                )
                for c, near in group.claims[:MAX_IDS]
            ],
            "claim_ids": [c.pk for c, _n in group.claims[:MAX_IDS]],
        }

        def make(party: str = party, uscc: str = uscc, evidence: dict = evidence) -> Candidate:
            return Candidate(
                detector=Detector.CLAIM_NEAR_THRESHOLD,
                subject=f"{party}:{uscc}",
                period=window,
                score=Decimal(evidence["measured"]),
                evidence=evidence,
            )

        found.extend(
            per_district((c for c, _n in group.claims), make, enterprise_id=group.enterprise_id)
        )
    return found


# ---------------------------------------------------------------------------
# (o) The same contract claimed by its supplier and its buyer
# ---------------------------------------------------------------------------


def detect_supplier_and_buyer_claims(
    period: Period, thresholds: Thresholds | None = None
) -> list[Candidate]:
    """Contract keys claimed (in any status, any program) from both the
    buyer's record and the supplier's record, one of the claims submitted
    in the window; one flag per key and per district of a program involved."""
    window = period.window(PATTERN_WINDOW_DAYS)
    keys = set(submitted_claims(window).values_list("contract_key", flat=True))
    if not keys:
        return []
    by_key: dict[str, list[Claim]] = defaultdict(list)
    for claim in (
        Claim.objects.filter(contract_key__in=keys, submitted_at__isnull=False)
        .select_related("program__district", "enterprise", "contract")
        .order_by("submitted_at", "pk")
    ):
        by_key[claim.contract_key].append(claim)
    found = []
    for key, claims in sorted(by_key.items()):
        sides = {c.contract.side for c in claims}
        if not {Contract.Side.BUYER, Contract.Side.SUPPLIER} <= sides:
            continue
        contract = claims[0].contract
        evidence = {
            "measured": str(len(claims)),
            "measure": "claims on the contract by its buyer and by its supplier",
            "threshold": "1",
            "unit": CNY,
            "contract": key,
            "supplier": contract.supplier_name,
            "supplier_uscc": contract.supplier_uscc,
            "buyer": contract.buyer_name,
            "buyer_uscc": contract.buyer_uscc,
            "buyer_claims": sum(1 for c in claims if c.contract.side == Contract.Side.BUYER),
            "supplier_claims": sum(1 for c in claims if c.contract.side == Contract.Side.SUPPLIER),
            "claims": [claim_row(c) for c in claims[:MAX_IDS]],
            "claim_ids": [c.pk for c in claims[:MAX_IDS]],
        }

        def make(key: str = key, evidence: dict = evidence) -> Candidate:
            return Candidate(
                detector=Detector.SUPPLIER_AND_BUYER_CLAIM,
                subject=f"contract:{key}"[:200],
                period=window,
                score=Decimal(evidence["measured"]),
                evidence=evidence,
            )

        found.extend(per_district(claims, make))
    return found
