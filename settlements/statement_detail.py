"""The line detail of a settlement statement (the PDF the platform signs).

Up to ``LINES_IN_FULL`` lines the statement lists every charge and reversal
with its reference, voucher and model; a longer settlement would run to
dozens of pages, so its lines are summed per day (China Standard Time) and
model instead — every single line stays on the settlement's page and in the
ledger export.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from .models import ZERO, Settlement, SettlementLine
from .selectors import settlement_lines

LINES_IN_FULL = 150


def usage_models(usage: Any) -> str:
    """The model names of a charge's usage lines, each once, in their order:
    "Qwen3-235B, Kimi-K2.5"; empty when the platform reported none."""
    names: list[str] = []
    for line in usage if isinstance(usage, list) else []:
        name = line.get("model") if isinstance(line, dict) else None
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return ", ".join(names)


@dataclass
class DayModelTotals:
    """One day's lines of one model (or set of models): how many charges and
    reversals, what the included ones covered and reversed, what was rejected."""

    day: datetime.date
    model: str
    charges: int = 0
    reversals: int = 0
    covered: Decimal = ZERO
    reversed: Decimal = ZERO
    rejected: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.covered - self.reversed


@dataclass
class StatementDetail:
    """Either every line (``lines``, each with its ``models``) or, for a long
    settlement, ``by_day_model``; ``line_count`` is the settlement's count."""

    line_count: int
    limit: int
    lines: list[SettlementLine] = field(default_factory=list)
    by_day_model: list[DayModelTotals] = field(default_factory=list)

    @property
    def summarised(self) -> bool:
        return self.line_count > self.limit


def settlement_statement_detail(
    settlement: Settlement, *, limit: int = LINES_IN_FULL
) -> StatementDetail:
    """The statement's line detail: each line, or the lines per day and model."""
    rows = settlement_lines(settlement).select_related("redemption")
    count = rows.count()
    detail = StatementDetail(line_count=count, limit=limit)
    if count <= limit:
        for line in rows:
            line.models = usage_models(line.redemption.usage)  # type: ignore[attr-defined]
            detail.lines.append(line)
        return detail
    groups: dict[tuple[datetime.date, str], DayModelTotals] = {}
    values = rows.values_list(
        "recorded_at", "kind", "status", "covered", "reversed", "redemption__usage"
    )
    for recorded_at, kind, status, covered, reversed_, usage in values.iterator():
        day = timezone.localtime(recorded_at).date()
        model = usage_models(usage)
        group = groups.setdefault((day, model), DayModelTotals(day=day, model=model))
        if kind == SettlementLine.Kind.CAPTURE:
            group.charges += 1
        else:
            group.reversals += 1
        if status == SettlementLine.Status.REJECTED:
            group.rejected += covered
        else:
            group.covered += covered
            group.reversed += reversed_
    detail.by_day_model = [groups[key] for key in sorted(groups)]
    return detail
