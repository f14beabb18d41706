"""The subsidy a claim asks for, by the program's rule, with its arithmetic.

    eligible spend = min(paid invoices of eligible services, contract amount)
    pro-rated      = eligible spend × days of service in the funded period
                                    ÷ days of the contract's service
    subsidy        = Σ over the rates in force (phase-down by service date)
                     pro-rated × days at that rate ÷ days in the period × rate
    then rounded by the program's rule and capped per claim and per
    enterprise-year.

Every step is kept as plain values (``Arithmetic.as_json``) on the claim so
that the applicant and the reviewers read the same figures; the words are
put on them when the page is shown (:func:`arithmetic_lines`), in the
reader's language. Pure functions: no queries except the phase-down steps.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from django.utils.translation import gettext as _

from common.formatting import amount as format_amount
from common.formatting import rate as format_rate
from programs.models import Program
from programs.phasedown import rate_in_force, steps_of

from .models import ACCELERATED, ZERO, Contract, Invoice

_TEN_THOUSAND = Decimal("10000")


def round_by_rule(value: Decimal, rule: str) -> Decimal:
    """Round a yuan amount by the program's rule (always to whole fen after)."""
    if rule == Program.ClaimRounding.YUAN_DOWN:
        return value.quantize(Decimal("1"), rounding=ROUND_DOWN).quantize(Decimal("0.01"))
    if rule == Program.ClaimRounding.WAN4_DOWN:
        # Nanning: amounts in 万元 kept to four decimals, truncated.
        wan = (value / _TEN_THOUSAND).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
        return (wan * _TEN_THOUSAND).quantize(Decimal("0.01"))
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def days_inclusive(first: datetime.date, last: datetime.date) -> int:
    return (last - first).days + 1


@dataclass(frozen=True)
class InvoiceCount:
    """One invoice and whether it counts towards the eligible spend."""

    number: str
    amount: Decimal
    counted: bool
    reason: str  # "", "unpaid", "service", "excluded"


@dataclass
class Arithmetic:
    """The computation of one claim."""

    invoices: list[InvoiceCount] = field(default_factory=list)
    invoiced_paid: Decimal = ZERO
    contract_amount: Decimal = ZERO
    eligible_spend: Decimal = ZERO
    overlap_days: int = 0
    term_days: int = 0
    prorated: Decimal = ZERO
    #: (first day, last day, days, rate, amount) per rate in force.
    segments: list[tuple[datetime.date, datetime.date, int, Decimal, Decimal]] = field(
        default_factory=list
    )
    subsidy: Decimal = ZERO
    rounded: Decimal = ZERO
    claim_cap: Decimal | None = None
    year_cap: Decimal | None = None
    already_in_year: Decimal = ZERO
    amount: Decimal = ZERO
    service_year: int = 0
    #: Why the claim cannot be made as it stands (shown before submission).
    refusals: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "invoices": [
                {
                    "number": i.number,
                    "amount": str(i.amount),
                    "counted": i.counted,
                    "reason": i.reason,
                }
                for i in self.invoices
            ],
            "invoiced_paid": str(self.invoiced_paid),
            "contract_amount": str(self.contract_amount),
            "eligible_spend": str(self.eligible_spend),
            "overlap_days": self.overlap_days,
            "term_days": self.term_days,
            "prorated": str(self.prorated),
            "segments": [
                {
                    "from": a.isoformat(),
                    "to": b.isoformat(),
                    "days": d,
                    "rate": str(r),
                    "amount": str(x),
                }
                for a, b, d, r, x in self.segments
            ],
            "subsidy": str(self.subsidy),
            "rounded": str(self.rounded),
            "claim_cap": None if self.claim_cap is None else str(self.claim_cap),
            "year_cap": None if self.year_cap is None else str(self.year_cap),
            "already_in_year": str(self.already_in_year),
            "amount": str(self.amount),
            "service_year": self.service_year,
        }


def _segments(
    program: Program, first: datetime.date, last: datetime.date
) -> list[tuple[datetime.date, datetime.date, Decimal]]:
    """The runs of days in [first, last] under one rate in force."""
    steps = steps_of(program)
    boundaries = sorted({s.starts_on for s in steps if first < s.starts_on <= last})
    runs: list[tuple[datetime.date, datetime.date, Decimal]] = []
    start = first
    for boundary in [*boundaries, last + datetime.timedelta(days=1)]:
        end = boundary - datetime.timedelta(days=1)
        runs.append((start, end, rate_in_force(program, on=start, steps=steps)))
        start = boundary
    return runs


def compute(
    *,
    program: Program,
    contract: Contract,
    invoices: list[Invoice],
    excluded: frozenset[str] = frozenset(),
    already_in_year: Decimal = ZERO,
) -> Arithmetic:
    """The claim's subsidy on ``contract`` by ``program``'s rule.

    ``excluded`` are invoice numbers the district's check left out;
    ``already_in_year`` is what the enterprise's other live claims in this
    program ask for in the same year (the yearly cap counts it)."""
    result = Arithmetic(contract_amount=contract.amount, already_in_year=already_in_year)
    for invoice in invoices:
        if invoice.number in excluded:
            reason = "excluded"
        elif invoice.paid_on is None:
            reason = "unpaid"
        elif program.claim_gpu_npu_only and invoice.service_kind not in ACCELERATED:
            reason = "service"
        else:
            reason = ""
        result.invoices.append(InvoiceCount(invoice.number, invoice.amount, not reason, reason))
    result.invoiced_paid = sum((i.amount for i in result.invoices if i.counted), ZERO)
    result.eligible_spend = min(result.invoiced_paid, contract.amount)

    first, last = contract.service_starts_on, contract.service_ends_on
    if program.service_starts_on is not None:
        first = max(first, program.service_starts_on)
    if program.service_ends_on is not None:
        last = min(last, program.service_ends_on)
    result.term_days = contract.term_days
    result.overlap_days = max(days_inclusive(first, last), 0)
    result.service_year = (last if last >= first else contract.service_ends_on).year

    if not result.invoices or result.invoiced_paid <= 0:
        result.refusals.append(
            _("No paid invoice for eligible compute is recorded under this contract yet.")
        )
    if program.claim_min_spend is not None and result.eligible_spend < program.claim_min_spend:
        result.refusals.append(
            _("The eligible spend, %(spend)s, is below the program's minimum of %(minimum)s.")
            % {
                "spend": format_amount(result.eligible_spend),
                "minimum": format_amount(program.claim_min_spend),
            }
        )
    if result.overlap_days <= 0:
        result.refusals.append(
            _("The contract's service falls outside the period the program funds.")
        )
        return result

    with localcontext() as context:
        context.prec = 40
        result.prorated = round_by_rule(
            result.eligible_spend * result.overlap_days / result.term_days, program.claim_rounding
        )
        subsidy = ZERO
        for seg_first, seg_last, rate in _segments(program, first, last):
            days = days_inclusive(seg_first, seg_last)
            part = result.prorated * days / result.overlap_days * rate
            result.segments.append(
                (seg_first, seg_last, days, rate, part.quantize(Decimal("0.0001")))
            )
            subsidy += part
    result.subsidy = subsidy
    result.rounded = round_by_rule(subsidy, program.claim_rounding)
    amount = result.rounded
    if program.claim_cap is not None:
        result.claim_cap = program.claim_cap
        amount = min(amount, program.claim_cap)
    if program.claim_cap_per_year is not None:
        result.year_cap = program.claim_cap_per_year
        room = max(program.claim_cap_per_year - already_in_year, ZERO)
        if room <= 0:
            result.refusals.append(
                _("The enterprise has reached the program's cap of %(cap)s for %(year)s.")
                % {"cap": format_amount(program.claim_cap_per_year), "year": result.service_year}
            )
        amount = min(amount, room)
    result.amount = amount
    if amount <= 0 and not result.refusals:
        result.refusals.append(_("The subsidy on this contract comes to nothing."))
    return result


def _money(value: Any) -> str:
    return format_amount(Decimal(value)) if value is not None else "—"


_REASONS = {
    "unpaid": lambda: _("not paid yet"),
    "service": lambda: _("not GPU/NPU compute"),
    "excluded": lambda: _("left out by the district's check"),
}


def arithmetic_lines(data: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """The stored arithmetic as (what, how, amount) lines a person reads, in
    the current language. Empty for a claim not computed yet."""
    if not data:
        return []
    lines: list[tuple[str, str, str]] = []
    for invoice in data.get("invoices", []):
        how = _("counted") if invoice["counted"] else _REASONS[invoice["reason"]]()
        lines.append(
            (
                _("Invoice %(number)s") % {"number": invoice["number"]},
                how,
                _money(invoice["amount"]),
            )
        )
    lines.append((_("Paid invoices for eligible compute"), "", _money(data["invoiced_paid"])))
    lines.append(
        (
            _("Eligible spend"),
            _("the lesser of the paid invoices and the contract (%(contract)s)")
            % {"contract": _money(data["contract_amount"])},
            _money(data["eligible_spend"]),
        )
    )
    if data.get("overlap_days") and data["overlap_days"] != data["term_days"]:
        lines.append(
            (
                _("Pro-rated by days"),
                _("%(spend)s × %(days)s days ÷ %(term)s days")
                % {
                    "spend": _money(data["eligible_spend"]),
                    "days": data["overlap_days"],
                    "term": data["term_days"],
                },
                _money(data["prorated"]),
            )
        )
    for segment in data.get("segments", []):
        lines.append(
            (
                _("Subsidy at %(rate)s") % {"rate": format_rate(Decimal(segment["rate"]))},
                _("%(from)s – %(to)s, %(days)s days") % segment,
                _money(segment["amount"]),
            )
        )
    if data.get("segments"):
        lines.append((_("Subsidy, rounded by the program's rule"), "", _money(data["rounded"])))
    if data.get("claim_cap") is not None:
        lines.append((_("Cap per claim"), "", _money(data["claim_cap"])))
    if data.get("year_cap") is not None:
        lines.append(
            (
                _("Cap per enterprise in %(year)s") % {"year": data["service_year"]},
                _("already claimed %(already)s") % {"already": _money(data["already_in_year"])},
                _money(data["year_cap"]),
            )
        )
    lines.append((_("Subsidy claimed"), "", _money(data["amount"])))
    return lines
