"""Usage lines → normalized quota points, with the model catalog.

Normalisation. A point is the unit Shanghai Telecom sells token packages in:
one yuan buys 250,000 points, "roughly 250,000 input tokens on Kimi-K2.5".
So Kimi-K2.5 input is the anchor, 1,000 points per 1,000 tokens, and every
other rate follows from the same yuan: ``points per 1,000 tokens = list price
in CNY per 1,000 tokens × 250,000``. A point is then worth the same money on
every model and every platform, whichever tokenizer counted the tokens — a
model whose tokenizer needs more tokens for the same text is not cheaper in
points unless its price per token is lower too. The demo catalog in
``demo/seed_platforms.py`` lists the list prices it uses.

Rounding: each usage line is converted exactly in integers and rounded half
up to whole points once per line (``(in × p_in + out × p_out + 500) // 1000``),
so splitting a report into more lines cannot add more than half a point each.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from accounts.models import ComputePlatform
from common.errors import BusinessError, Code

from .selectors import CatalogSnapshot, catalog_entry_in_force

POINTS_PER_YUAN = 250_000
MAX_TOKENS_PER_LINE = 10**12


@dataclass(frozen=True)
class UsageLinePoints:
    """One usage line, priced: the catalog row used and the points it costs."""

    model: str
    input_tokens: int
    output_tokens: int
    points: int
    catalog_entry_id: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "points": self.points,
            "catalog_entry_id": self.catalog_entry_id,
        }


def _token_count(line: Mapping[str, Any], name: str, index: int) -> int:
    value = line.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("Token counts are whole numbers."),
            field=f"usage[{index}].{name}",
        )
    if value < 0 or value > MAX_TOKENS_PER_LINE:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("Token counts are between 0 and 10^12."),
            field=f"usage[{index}].{name}",
        )
    return value


def usage_to_points(
    platform: ComputePlatform | int,
    usage_lines: Sequence[Mapping[str, Any]],
    on: datetime.datetime,
    *,
    catalog: CatalogSnapshot | None = None,
) -> tuple[int, list[UsageLinePoints]]:
    """Convert usage lines (``model``, ``input_tokens``, ``output_tokens``) into points.

    Returns the total and one priced line per usage line, naming the catalog
    row in force at ``on`` that priced it. A model the platform's catalog does
    not list at ``on`` is refused with ``validation_error`` on
    ``usage[i].model``. ``catalog`` (a snapshot of the platform's catalog)
    saves a query per line when many reports are priced at once.
    """
    if not usage_lines:
        raise BusinessError(
            Code.VALIDATION_ERROR, _("At least one usage line is required."), field="usage"
        )
    total = 0
    priced: list[UsageLinePoints] = []
    for index, line in enumerate(usage_lines):
        model = line.get("model")
        if not isinstance(model, str) or not model:
            raise BusinessError(
                Code.VALIDATION_ERROR, _("Name the model."), field=f"usage[{index}].model"
            )
        input_tokens = _token_count(line, "input_tokens", index)
        output_tokens = _token_count(line, "output_tokens", index)
        entry = (
            catalog.in_force(model, on=on)
            if catalog is not None
            else catalog_entry_in_force(platform, model, on=on)
        )
        if entry is None:
            raise BusinessError(
                Code.VALIDATION_ERROR,
                _("Model %(model)s is not in this platform's catalog on that date.")
                % {"model": model[:100]},
                field=f"usage[{index}].model",
            )
        points = (
            input_tokens * entry.points_input_per_1k
            + output_tokens * entry.points_output_per_1k
            + 500
        ) // 1000
        total += points
        priced.append(
            UsageLinePoints(
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                points=points,
                catalog_entry_id=entry.pk,
            )
        )
    return total, priced
