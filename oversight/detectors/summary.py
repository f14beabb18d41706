"""How a flag reads: its measured value and threshold as people read them,
and one sentence about it in the active language."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from common.formatting import amount
from oversight.detectors.base import (
    Detector,
)
from oversight.models import AnomalyFlag
from programs.models import Program

#: Detectors whose measured value and threshold are shares (shown as percentages).
SHARE_DETECTORS = {
    Detector.ROUND_BILLS,
    Detector.CATALOG_PRICE,
    Detector.POINTS_DRIFT,
    Detector.EXPIRY_DRAIN,
}
#: Detectors whose measured value and threshold are amounts in the voucher's unit.
AMOUNT_DETECTORS = {Detector.HEADCOUNT, Detector.RELATED_PARTY}


def shown_value(value: Any, detector: str, unit: str) -> str:
    """A measured value or threshold as people read it: a percentage, an amount
    with its unit, or a plain number, depending on the detector."""
    try:
        number = Decimal(str(value))
    except (ArithmeticError, ValueError):
        return str(value)
    if detector in SHARE_DETECTORS:
        return f"{(number * 100).quantize(Decimal('0.1')).normalize():f} %"
    if detector in AMOUNT_DETECTORS:
        return amount(number, unit or Program.Unit.CNY)
    return f"{number.normalize():f}"


def flag_summary(flag: AnomalyFlag) -> str:
    """One sentence about a flag in the active language, from its evidence."""
    ev = flag.evidence or {}
    unit = ev.get("unit", "")
    values = {
        "measured": shown_value(ev.get("measured", flag.score), flag.detector, unit),
        "threshold": shown_value(ev.get("threshold", "0"), flag.detector, unit),
    }
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
    }
    template = texts.get(flag.detector, "%(measured)s")
    return template % values
