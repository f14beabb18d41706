"""Anomaly detectors: plain functions over a period that return flag candidates.

Each detector reads vouchers, redemptions, enterprises and platforms and
returns :class:`Candidate` rows with the evidence behind them (what was
measured, against which threshold, the redemptions involved); it writes
nothing. :func:`oversight.flags.anomalies_detect` runs them all and stores the
candidates as :class:`oversight.models.AnomalyFlag` rows.

Periods are calendar days in China time (``TIME_ZONE``), both ends inclusive.
What a flag's own period is depends on the detector:

- day-based detectors (spike, headcount) examine each day of the run's
  period and file one flag per voucher over the run's period;
- pattern detectors (round or even bills, night usage, catalog price, points
  drift, related parties) look at a window of at least
  :data:`PATTERN_WINDOW_DAYS` days ending on the period's last day, and file
  the flag over that window;
- the expiry drain files its flag over the voucher's last days;
- structural detectors (shared contacts, several districts) file theirs over
  the calendar year;
- settlement detectors (lines without verified evidence, a jump in the
  rejected share) look at the settlements of periods that ended, or that
  were decided, in a window of at least :data:`PATTERN_WINDOW_DAYS` days
  ending on the period's last day, and file the flag over the settlement's
  own period (a calendar month or quarter);
- claim detectors (an invoice used twice, claims just inside the program's
  limits, a contract claimed by both parties, a price rise when the program
  opened, a supplier's buyers sharing contacts) report what involves a claim
  submitted in a window of at least :data:`PATTERN_WINDOW_DAYS` days ending
  on the period's last day, over that window, in the district of each
  program involved.

Thresholds are per program (:class:`oversight.models.DetectorSettings`, defaults
when a program has none).

The detectors live in one module per family (``usage``, ``patterns``,
``catalog``, ``parties``, ``settlements``, ``claims`` and ``suppliers``; what
they share in ``base``, how a flag reads in ``summary``); :data:`DETECTORS`
below is the registry that :func:`detect_all` runs, one entry per :class:`AnomalyFlag.Detector`.
"""

from __future__ import annotations

from collections.abc import Callable

from oversight.detectors.base import (
    PATTERN_WINDOW_DAYS,
    Candidate,
    Detector,
    Period,
    Thresholds,
    day_start,
    local_day,
    thresholds_or_default,
)
from oversight.detectors.catalog import detect_catalog_price, detect_points_drift
from oversight.detectors.claims import (
    detect_claims_near_threshold,
    detect_invoice_reuse,
    detect_supplier_and_buyer_claims,
)
from oversight.detectors.parties import (
    detect_multi_district_funding,
    detect_related_parties,
    detect_shared_contacts,
    related_party_reason,
)
from oversight.detectors.patterns import detect_even_bills, detect_night_usage, detect_round_bills
from oversight.detectors.settlements import (
    detect_rejected_share_jump,
    detect_settlement_evidence,
)
from oversight.detectors.summary import AMOUNT_DETECTORS, SHARE_DETECTORS, flag_summary, shown_value
from oversight.detectors.suppliers import (
    detect_price_rise_before_subsidy,
    detect_supplier_shared_contacts,
)
from oversight.detectors.usage import (
    detect_expiry_drain,
    detect_headcount_excess,
    detect_usage_spikes,
)

#: The registry: every detector, by the flag kind it files.
DETECTORS: dict[str, Callable[[Period, Thresholds | None], list[Candidate]]] = {
    Detector.USAGE_SPIKE: detect_usage_spikes,
    Detector.HEADCOUNT: detect_headcount_excess,
    Detector.ROUND_BILLS: detect_round_bills,
    Detector.EVEN_BILLS: detect_even_bills,
    Detector.NIGHT_USAGE: detect_night_usage,
    Detector.CATALOG_PRICE: detect_catalog_price,
    Detector.POINTS_DRIFT: detect_points_drift,
    Detector.EXPIRY_DRAIN: detect_expiry_drain,
    Detector.SHARED_CONTACT: detect_shared_contacts,
    Detector.MULTI_DISTRICT: detect_multi_district_funding,
    Detector.RELATED_PARTY: detect_related_parties,
    Detector.SETTLEMENT_EVIDENCE: detect_settlement_evidence,
    Detector.REJECTED_SHARE: detect_rejected_share_jump,
    Detector.INVOICE_REUSED: detect_invoice_reuse,
    Detector.CLAIM_NEAR_THRESHOLD: detect_claims_near_threshold,
    Detector.SUPPLIER_AND_BUYER_CLAIM: detect_supplier_and_buyer_claims,
    Detector.PRICE_RISE_BEFORE_SUBSIDY: detect_price_rise_before_subsidy,
    Detector.SUPPLIER_SHARED_CONTACTS: detect_supplier_shared_contacts,
}


def detect_all(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Every detector's candidates for the period."""
    thresholds = thresholds_or_default(thresholds)
    return [c for detect in DETECTORS.values() for c in detect(period, thresholds)]


__all__ = [
    "AMOUNT_DETECTORS",
    "DETECTORS",
    "PATTERN_WINDOW_DAYS",
    "SHARE_DETECTORS",
    "Candidate",
    "Detector",
    "Period",
    "Thresholds",
    "day_start",
    "detect_all",
    "flag_summary",
    "local_day",
    "related_party_reason",
    "shown_value",
    *[f.__name__ for f in DETECTORS.values()],
]
