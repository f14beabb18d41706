"""Claim detectors about suppliers: a price rise when the program opened
(先涨价后补贴), and a supplier's claiming buyers sharing a representative or
phone. The rules, and the window they read, are described in
:mod:`oversight.detectors.claims`."""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from accounts.models import Enterprise
from eligibility.duplicates import shared_contact_flags
from oversight.detectors.base import (
    MAX_IDS,
    PATTERN_WINDOW_DAYS,
    Candidate,
    Detector,
    Period,
    Thresholds,
    as_ratio,
    as_text,
    thresholds_or_default,
)
from oversight.detectors.claims import (
    CNY,
    LOOKBACK_DAYS,
    claim_row,
    contract_row,
    lookback,
    per_district,
    submitted_claims,
    submitted_in,
)
from programs.models import Program
from settlements.models import Claim, Contract

#: Earlier contracts of a supplier needed before its usual price is known.
PRICE_RISE_MIN_EARLIER = 2


# ---------------------------------------------------------------------------
# (p) A supplier raising its prices when the program opens (先涨价后补贴)
# ---------------------------------------------------------------------------


def program_opened_on(program: Program) -> datetime.date:
    """The day the subsidy could first be counted on: the earlier of the day
    applications open and the day claims open."""
    days = [program.application_opens_on]
    if program.claim_opens_on is not None:
        days.append(program.claim_opens_on)
    return min(days)


def price_per_day(contract: Contract) -> Decimal:
    """The contract amount per day of service (both ends counted)."""
    return contract.amount / Decimal(contract.term_days)


def _by_key(contracts: Iterable[Contract]) -> list[Contract]:
    """One record per contract key (both parties may have recorded it)."""
    seen: dict[str, Contract] = {}
    for contract in contracts:
        seen.setdefault(contract.key, contract)
    return list(seen.values())


def detect_price_rise_before_subsidy(
    period: Period, thresholds: Thresholds | None = None
) -> list[Candidate]:
    """Programs whose claims (one submitted in the window) are on contracts
    signed since the program opened at a price per day above
    ``price_rise_ratio`` × the median of the supplier's earlier contracts of
    the same kind; one flag per program, supplier and kind of service."""
    settings_of = thresholds_or_default(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    recent = list(submitted_claims(window))
    wanted = {
        (c.program_id, c.contract.supplier_uscc, c.contract.service_kind)
        for c in recent
        if c.contract.signed_on >= program_opened_on(c.program)
    }
    if not wanted:
        return []
    later: dict[tuple[int, str, str], list[Claim]] = defaultdict(list)
    for claim in (
        Claim.objects.filter(
            program_id__in={w[0] for w in wanted},
            contract__supplier_uscc__in={w[1] for w in wanted},
            submitted_at__isnull=False,
        )
        .select_related("program__district", "enterprise", "contract__enterprise")
        .order_by("submitted_at", "pk")
    ):
        key = (claim.program_id, claim.contract.supplier_uscc, claim.contract.service_kind)
        if key in wanted and claim.contract.signed_on >= program_opened_on(claim.program):
            later[key].append(claim)

    found = []
    for (program_id, supplier_uscc, kind), claims in sorted(later.items()):
        program = claims[0].program
        opened = program_opened_on(program)
        earlier = _by_key(
            Contract.objects.filter(
                supplier_uscc=supplier_uscc, service_kind=kind, signed_on__lt=opened
            )
            .select_related("enterprise")
            .order_by("signed_on", "pk")
        )
        if len(earlier) < PRICE_RISE_MIN_EARLIER:
            continue
        median = Decimal(statistics.median(price_per_day(c) for c in earlier))
        ratio = settings_of(program_id).price_rise_ratio
        risen = [
            (claim, price_per_day(claim.contract) / median)
            for claim in claims
            if price_per_day(claim.contract) > ratio * median
        ]
        if not any(submitted_in(window, claim) for claim, _r in risen):
            continue
        highest = max(r for _c, r in risen)
        contract = risen[0][0].contract
        evidence = {
            "measured": as_text(as_ratio(highest)),
            "measure": "price per day against the supplier's median before the program opened",
            "threshold": as_text(ratio),
            "unit": CNY,
            "supplier": contract.supplier_name,
            "supplier_uscc": supplier_uscc,
            "service_kind": kind,
            "opened_on": opened.isoformat(),
            "median_price_per_day": as_text(median.quantize(Decimal("0.01"))),
            "earlier": [
                contract_row(c, price_per_day=as_text(price_per_day(c).quantize(Decimal("0.01"))))
                for c in earlier[:MAX_IDS]
            ],
            "claims": [
                claim_row(
                    claim,
                    signed_on=claim.contract.signed_on.isoformat(),
                    amount=as_text(claim.contract.amount),
                    price_per_day=as_text(price_per_day(claim.contract).quantize(Decimal("0.01"))),
                    ratio=as_text(as_ratio(r)),
                )
                for claim, r in risen[:MAX_IDS]
            ],
            "claim_ids": [claim.pk for claim, _r in risen[:MAX_IDS]],
        }

        def make(
            program_id: int = program_id,
            supplier_uscc: str = supplier_uscc,
            kind: str = kind,
            evidence: dict = evidence,
            highest: Decimal = highest,
        ) -> Candidate:
            return Candidate(
                detector=Detector.PRICE_RISE_BEFORE_SUBSIDY,
                subject=f"supplier:{supplier_uscc}/kind:{kind}/program:{program_id}",
                period=window,
                score=as_ratio(highest),
                evidence=evidence,
            )

        found.extend(
            per_district(
                (claim for claim, _r in risen),
                make,
                enterprise_id=contract.supplier_enterprise_id,
            )
        )
    return found


# ---------------------------------------------------------------------------
# (q) A supplier's buyers sharing a representative or phone
# ---------------------------------------------------------------------------


def _phone_key(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


#: The contact details compared, with the code of the matching
#: :func:`eligibility.duplicates.shared_contact_flags` finding.
SHARED: list[tuple[str, str, Callable[[Enterprise], str]]] = [
    (
        "legal_representative",
        "shared_legal_representative",
        lambda e: e.legal_representative.strip(),
    ),
    ("contact_phone", "shared_contact_phone", lambda e: _phone_key(e.contact_phone)),
]


def _supplier_enterprise(supplier_uscc: str, claims: list[Claim]) -> Enterprise | None:
    for claim in claims:
        if claim.contract.supplier_enterprise is not None:
            return claim.contract.supplier_enterprise
    return Enterprise.objects.filter(uscc=supplier_uscc).first()


def detect_supplier_shared_contacts(
    period: Period, thresholds: Thresholds | None = None
) -> list[Candidate]:
    """Suppliers whose claiming buyers (past year, one claim in the window)
    share a legal representative or contact phone with one another or with
    the supplier's registered enterprise, at least ``supplier_shared_min_buyers``
    of them; one flag per supplier and per district of a program involved.

    The findings read as the check reviewers see on applications
    (:func:`eligibility.duplicates.shared_contact_flags`).
    """
    settings_of = thresholds_or_default(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    by_supplier: dict[str, list[Claim]] = defaultdict(list)
    for claim in (
        submitted_claims(lookback(period))
        .filter(contract__side=Contract.Side.BUYER)
        .select_related("contract__supplier_enterprise")
    ):
        by_supplier[claim.contract.supplier_uscc].append(claim)

    found = []
    for supplier_uscc, claims in sorted(by_supplier.items()):
        if not any(submitted_in(window, c) for c in claims):
            continue
        buyers = {
            c.enterprise_id: c.enterprise for c in claims if c.enterprise.uscc != supplier_uscc
        }
        needed = min(settings_of(c.program_id).supplier_shared_min_buyers for c in claims)
        if len(buyers) < needed:
            continue
        supplier = _supplier_enterprise(supplier_uscc, claims)
        members = ([supplier] if supplier is not None else []) + sorted(
            (b for b in buyers.values() if supplier is None or b.pk != supplier.pk),
            key=lambda e: e.pk,
        )
        linked: set[int] = set()
        shared: list[dict[str, Any]] = []
        messages: list[str] = []
        for field_name, code, key_of in SHARED:
            buckets: dict[str, list[Enterprise]] = defaultdict(list)
            for member in members:
                if value := key_of(member):
                    buckets[value].append(member)
            for value, sharing in buckets.items():
                if len(sharing) < 2:
                    continue
                linked |= {e.pk for e in sharing if e.pk in buyers}
                first = sharing[0]
                shared.append(
                    {
                        "shared": field_name,
                        "value": value,
                        "enterprises": [
                            {
                                "id": e.pk,
                                "name": e.name,
                                "uscc": e.uscc,
                                "role": "supplier" if e.pk not in buyers else "buyer",
                            }
                            for e in sharing
                        ],
                    }
                )
                messages += [
                    f.message
                    for other in sharing[1:]
                    for f in shared_contact_flags(first, [other])
                    if f.code == code
                ]
        if len(linked) < needed:
            continue
        involved = [c for c in claims if c.enterprise_id in linked]
        supplier_name = claims[0].contract.supplier_name
        evidence = {
            "measured": str(len(linked)),
            "measure": "claiming buyers sharing a representative or phone",
            "threshold": str(needed),
            "unit": CNY,
            "supplier": supplier_name,
            "supplier_uscc": supplier_uscc,
            "supplier_registered": supplier.pk if supplier is not None else None,
            "buyers": len(buyers),
            "lookback_days": LOOKBACK_DAYS,
            "groups": shared[:MAX_IDS],
            "messages": messages[:MAX_IDS],
            "claims": [claim_row(c) for c in involved[:MAX_IDS]],
            "claim_ids": [c.pk for c in involved[:MAX_IDS]],
        }

        def make(supplier_uscc: str = supplier_uscc, evidence: dict = evidence) -> Candidate:
            return Candidate(
                detector=Detector.SUPPLIER_SHARED_CONTACTS,
                subject=f"supplier:{supplier_uscc}",
                period=window,
                score=Decimal(evidence["measured"]),
                evidence=evidence,
            )

        found.extend(
            per_district(
                involved, make, enterprise_id=supplier.pk if supplier is not None else None
            )
        )
    return found
