"""How a flag reads: its measured value and threshold as people read them,
and one sentence about it in the active language."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from common.formatting import amount, rate
from oversight.detectors.base import (
    Detector,
)
from oversight.models import AnomalyFlag
from programs.models import Program
from settlements.models import ServiceKind

#: Detectors whose measured value and threshold are shares (shown as percentages).
SHARE_DETECTORS = {
    Detector.ROUND_BILLS,
    Detector.CATALOG_PRICE,
    Detector.POINTS_DRIFT,
    Detector.EXPIRY_DRAIN,
    Detector.REJECTED_SHARE,
}
#: Detectors whose measured value and threshold are amounts in the voucher's unit.
AMOUNT_DETECTORS = {Detector.HEADCOUNT, Detector.RELATED_PARTY}


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (ArithmeticError, ValueError):
        return Decimal("0")


def shown_value(value: Any, detector: str, unit: str) -> str:
    """A measured value or threshold as people read it: a percentage, an amount
    with its unit, or a plain number, depending on the detector."""
    try:
        number = Decimal(str(value))
    except (ArithmeticError, ValueError):
        return str(value)
    if detector in SHARE_DETECTORS:
        return rate((number * 100).quantize(Decimal("0.1")) / 100)
    if detector in AMOUNT_DETECTORS:
        return amount(number, unit or Program.Unit.CNY)
    return f"{number.normalize():f}"


#: Detectors over claims (:mod:`oversight.detectors.claims`).
CLAIM_DETECTORS = {
    Detector.INVOICE_REUSED,
    Detector.CLAIM_NEAR_THRESHOLD,
    Detector.SUPPLIER_AND_BUYER_CLAIM,
    Detector.PRICE_RISE_BEFORE_SUBSIDY,
    Detector.SUPPLIER_SHARED_CONTACTS,
}


def _claim_values(detector: str, ev: dict[str, Any]) -> dict[str, str]:
    """What a claim detector's sentence names, from its evidence."""
    if detector == Detector.INVOICE_REUSED:
        return {
            "invoice": str(ev.get("invoice", "")),
            "contracts": str(ev.get("contract_count", "")),
            "programs": str(ev.get("program_count", "")),
        }
    if detector == Detector.CLAIM_NEAR_THRESHOLD:
        margin = _decimal(ev.get("margin"))
        return {
            "name": str(ev.get("name", "")),
            "margin": rate((margin * 100).quantize(Decimal("0.1")) / 100),
        }
    if detector == Detector.SUPPLIER_AND_BUYER_CLAIM:
        return {
            "contract": str(ev.get("contract", "")),
            "buyer": str(ev.get("buyer", "")),
            "supplier": str(ev.get("supplier", "")),
        }
    if detector == Detector.PRICE_RISE_BEFORE_SUBSIDY:
        kind = str(ev.get("service_kind", ""))
        labels = dict(ServiceKind.choices)
        return {
            "supplier": str(ev.get("supplier", "")),
            "kind": str(labels.get(kind, kind)),
            "opened": str(ev.get("opened_on", "")),
        }
    return {"supplier": str(ev.get("supplier", ""))}


def evidence_check_text(check: str) -> str:
    """Why a settlement line's evidence does not verify, in the active language
    (the checks of :mod:`oversight.detectors.settlements`)."""
    texts = {
        "unsigned": _("no signed request is kept with it"),
        "unknown_key": _("it was signed with a key that is not one of the platform's"),
        "body_missing": _("the signed body is not kept"),
        "signature": _("the signature or the body's digest does not verify"),
        "not_reported": _("the signed body does not report it"),
        "mismatch": _("the signed body differs from what was recorded"),
    }
    return texts.get(check, check)


def flag_summary(flag: AnomalyFlag) -> str:
    """One sentence about a flag in the active language, from its evidence."""
    ev = flag.evidence or {}
    unit = ev.get("unit", "")
    values = {
        "measured": shown_value(ev.get("measured", flag.score), flag.detector, unit),
        "threshold": shown_value(ev.get("threshold", "0"), flag.detector, unit),
    }
    if flag.detector == Detector.SETTLEMENT_EVIDENCE:
        values["period"] = str(ev.get("settlement_period", ""))
        values["amount"] = amount(_decimal(ev.get("amount")), unit or Program.Unit.CNY)
        values["problem"] = evidence_check_text(str(ev.get("check", "")))
    if flag.detector == Detector.REJECTED_SHARE:
        values["period"] = str(ev.get("settlement_period", ""))
        values["median"] = shown_value(ev.get("median_share", "0"), flag.detector, unit)
    if flag.detector in CLAIM_DETECTORS:
        values.update(_claim_values(flag.detector, ev))
    texts: dict[str, str] = {
        Detector.USAGE_SPIKE: _(
            "Daily usage reached %(measured)s× the trailing median (limit %(threshold)s×)."
        ),
        Detector.HEADCOUNT: _(
            "Up to %(measured)s per declared head per day (limit %(threshold)s)."
        ),
        Detector.ROUND_BILLS: _(
            "%(measured)s of the bills are round amounts (limit %(threshold)s)."
        ),
        Detector.EVEN_BILLS: _(
            "%(measured)s equal intervals in a row between bills (limit %(threshold)s)."
        ),
        Detector.NIGHT_USAGE: _(
            "%(measured)s charges at night from an enterprise that keeps office hours "
            "(limit %(threshold)s)."
        ),
        Detector.CATALOG_PRICE: _(
            "Bills differ from the catalog price by up to %(measured)s (tolerance %(threshold)s)."
        ),
        Detector.POINTS_DRIFT: _(
            "Points charged drift %(measured)s from the catalog (tolerance %(threshold)s)."
        ),
        Detector.EXPIRY_DRAIN: _(
            "%(measured)s of the face value used in the last days before expiry "
            "(limit %(threshold)s)."
        ),
        Detector.SHARED_CONTACT: _("%(measured)s funded enterprises share this contact detail."),
        Detector.MULTI_DISTRICT: _(
            "Funded by %(measured)s districts for the same kind of voucher this year."
        ),
        Detector.RELATED_PARTY: _("%(measured)s covered by a platform related to the enterprise."),
        Detector.SETTLEMENT_EVIDENCE: _(
            "Lines of the %(period)s settlement not backed by a signed request that verifies: "
            "%(measured)s, for %(amount)s; on the first, %(problem)s."
        ),
        Detector.REJECTED_SHARE: _(
            "Reviewers rejected %(measured)s of the charges in the %(period)s settlement, "
            "against a usual %(median)s (limit %(threshold)s)."
        ),
        Detector.INVOICE_REUSED: _(
            "Invoice number %(invoice)s is used %(measured)s times: under %(contracts)s "
            "contracts, claimed in %(programs)s programs."
        ),
        Detector.CLAIM_NEAR_THRESHOLD: (
            _(
                "Contracts of supplier %(name)s were claimed just inside the program's limits "
                "(within %(margin)s of a minimum or cap) %(measured)s times in the past year "
                "(limit %(threshold)s)."
            )
            if ev.get("party") == "supplier"
            else _(
                "%(name)s claimed %(measured)s contracts just inside the program's limits "
                "(within %(margin)s of a minimum or cap) in the past year "
                "(limit %(threshold)s)."
            )
        ),
        Detector.SUPPLIER_AND_BUYER_CLAIM: _(
            "Contract %(contract)s is claimed both by its buyer, %(buyer)s, and by its "
            "supplier, %(supplier)s (%(measured)s claims)."
        ),
        Detector.PRICE_RISE_BEFORE_SUBSIDY: _(
            "Contracts for %(kind)s signed with %(supplier)s since the program opened on "
            "%(opened)s cost up to %(measured)s× its usual price per day before "
            "(limit %(threshold)s×)."
        ),
        Detector.SUPPLIER_SHARED_CONTACTS: _(
            "%(measured)s claiming buyers of supplier %(supplier)s share a legal "
            "representative or contact phone with one another or with the supplier "
            "(limit %(threshold)s)."
        ),
    }
    template = texts.get(flag.detector, "%(measured)s")
    return template % values
