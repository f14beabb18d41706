"""Charts drawn on the server as inline SVG: no script, no font or library
from a CDN, so they render under the site's Content-Security-Policy, offline,
and in the PDF report alike.

Colours are presentation attributes (not ``style``, which the policy
refuses); text and axes use ``currentColor`` so a chart follows the page's
light or dark theme. Every amount is written with the ``amount`` filter.
Each function returns safe markup with a ``<title>`` for screen readers; the
pages show the same figures as tables beside the charts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from common.formatting import amount, rate

FONT = "'Noto Sans CJK SC','WenQuanYi Zen Hei','Source Han Sans SC',sans-serif"
# The site's reds for what was spent, amber for what is promised, grey for
# what is left; the rate line in a contrasting blue.
REDEEMED = "#8c1b21"
ISSUED = "#e3a1a4"
RESERVED = "#e0a526"
REMAINING = "#d5dbe1"
PROJECTED = "#b9c4ce"
RATE = "#1f6f8b"
BAR = "#b4232a"
LATE = "#6d1419"


def _text_width(text: str, size: float) -> float:
    """The approximate width of ``text``: wide (CJK) characters are one em."""
    return sum(
        size if unicodedata.east_asian_width(ch) in ("W", "F") else size * 0.58 for ch in text
    )


def _fit(text: str, width: float, size: float) -> str:
    """``text`` shortened with an ellipsis so it fits in ``width``."""
    if _text_width(text, size) <= width:
        return text
    while text and _text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: float = 12,
    anchor: str = "start",
    weight: str = "normal",
    fill: str = "currentColor",
    opacity: str = "1",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'font-weight="{weight}" fill="{fill}" fill-opacity="{opacity}">{escape(text)}</text>'
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
        f'fill="{fill}"{extra}/>'
    )


def _svg(
    width: int, height: int, title: str, body: list[str], *, css: str = "", desc: str = ""
) -> SafeString:
    described = f"<desc>{escape(desc)}</desc>" if desc else ""
    return mark_safe(  # noqa: S308 (every text in ``body`` went through escape())
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" font-family="{FONT}" preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(title)}</title>{described}{''.join(body)}</svg>"
    )


def _legend(items: Sequence[tuple[str, str]], x: float, y: float, *, dashed: str = "") -> str:
    parts = []
    for colour, label in items:
        extra = ' stroke="currentColor" stroke-dasharray="3 2"' if colour == dashed else ""
        parts.append(_rect(x, y - 9, 12, 10, colour, extra))
        parts.append(_text(x + 17, y, label, size=11))
        x += 17 + _text_width(label, 11) + 18
    return "".join(parts)


def _nice_max(value: Decimal) -> Decimal:
    """A round axis maximum at or above ``value`` (1, 2 or 5 × a power of ten)."""
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return Decimal(step) * magnitude
    return Decimal(10) * magnitude


# --- Budget: one 100 % bar per program ---------------------------------------


@dataclass(frozen=True)
class BudgetBar:
    label: str
    unit: str
    total: Decimal
    redeemed: Decimal
    issued_unredeemed: Decimal
    reserved: Decimal
    remaining: Decimal


def budget_chart(bars: Sequence[BudgetBar], *, title: str) -> SafeString:
    """Each program's budget as one bar split into redeemed, issued and not yet
    redeemed, reserved and remaining (units differ between programs, so each
    bar is its own 100 %)."""
    width, label_w, right_w = 760, 250, 150
    row_h, top = 34, 34
    height = top + row_h * max(len(bars), 1) + 8
    plot_w = width - label_w - right_w
    body = [
        _legend(
            [
                (REDEEMED, _("Redeemed")),
                (ISSUED, _("Issued, not yet redeemed")),
                (RESERVED, _("Reserved by approvals")),
                (REMAINING, _("Remaining")),
            ],
            label_w,
            14,
        )
    ]
    if not bars:
        body.append(_text(label_w, top + 18, _("No programs."), size=12, opacity=".7"))
    for i, bar in enumerate(bars):
        y = top + i * row_h
        body.append(_text(0, y + 16, _fit(bar.label, label_w - 10, 12), size=12))
        x = float(label_w)
        total = bar.total or Decimal(1)
        for value, colour in (
            (bar.redeemed, REDEEMED),
            (bar.issued_unredeemed, ISSUED),
            (bar.reserved, RESERVED),
            (bar.remaining, REMAINING),
        ):
            w = float(max(value, Decimal(0)) / total) * plot_w
            if w > 0:
                body.append(_rect(x, y + 4, w, 18, colour))
            x += w
        used = (bar.total - bar.remaining) / total if bar.total else Decimal(0)
        body.append(
            _text(
                label_w + plot_w + 8,
                y + 12,
                _("%(share)s committed") % {"share": rate(used)},
                size=11,
            )
        )
        body.append(
            _text(
                label_w + plot_w + 8,
                y + 25,
                _("of %(total)s") % {"total": amount(bar.total, bar.unit)},
                size=10,
                opacity=".7",
            )
        )
    return _svg(width, height, title, body, css="chart-budget")


# --- Horizontal bars (platforms, models, enterprises) ------------------------


def bar_chart(
    items: Sequence[tuple[str, Decimal]], *, unit: str, title: str, empty: str = ""
) -> SafeString:
    """Horizontal bars, largest first as given, each labelled with its amount."""
    width, label_w, value_w = 760, 230, 150
    row_h, top = 26, 6
    height = top + row_h * max(len(items), 1) + 6
    plot_w = width - label_w - value_w
    top_value = max((v for _label, v in items), default=Decimal(0))
    body = []
    if not items:
        body.append(_text(0, top + 16, empty or _("Nothing in this period."), opacity=".7"))
    for i, (label, value) in enumerate(items):
        y = top + i * row_h
        w = float(value / top_value) * plot_w if top_value > 0 else 0.0
        body.append(_text(0, y + 15, _fit(label, label_w - 10, 12), size=12))
        body.append(_rect(label_w, y + 3, max(w, 1.5), 16, BAR))
        body.append(_text(label_w + w + 6, y + 15, amount(value, unit), size=11))
    return _svg(width, height, title, body, css="chart-bars")


def count_chart(items: Sequence[tuple[str, int]], *, title: str) -> SafeString:
    """Vertical columns of counts (waiting applications by age)."""
    width, height, bottom, top = 440, 170, 28, 18
    plot_h = height - bottom - top
    n = max(len(items), 1)
    slot = width / n
    most = max((c for _label, c in items), default=0) or 1
    body = [
        f'<line x1="0" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        'stroke="currentColor" stroke-opacity=".35"/>'
    ]
    for i, (label, count) in enumerate(items):
        h = plot_h * count / most
        x = i * slot + slot * 0.2
        colour = LATE if i == len(items) - 1 and count else BAR
        body.append(_rect(x, height - bottom - h, slot * 0.6, h, colour))
        body.append(
            _text(x + slot * 0.3, height - bottom - h - 4, str(count), size=12, anchor="middle")
        )
        body.append(
            _text(x + slot * 0.3, height - 10, _fit(label, slot - 4, 11), size=11, anchor="middle")
        )
    return _svg(width, height, title, body, css="chart-counts")


# --- Burn over time against the projection -----------------------------------


@dataclass(frozen=True)
class BurnPoint:
    label: str
    covered: Decimal | None
    projected: Decimal | None
    rate: Decimal
    current: bool = False


def burn_chart(points: Sequence[BurnPoint], *, unit: str, title: str, desc: str = "") -> SafeString:
    """Monthly covered amounts (solid) and the phase-down projection for the
    coming months (dashed), with the rate in force as a step line."""
    width, height = 760, 250
    left, right, top, bottom = 118, 46, 26, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [(p.covered or Decimal(0)) + (p.projected or Decimal(0)) for p in points]
    axis_max = _nice_max(max(values, default=Decimal(0)))
    base_y = top + plot_h
    n = max(len(points), 1)
    slot = plot_w / n
    body = [
        _legend(
            [
                (REDEEMED, _("Covered (net of reversals)")),
                (PROJECTED, _("Projected under the schedule")),
                (RATE, _("Rate in force")),
            ],
            left,
            12,
            dashed=PROJECTED,
        )
    ]
    for k in range(5):
        value = axis_max * k / 4
        y = base_y - plot_h * k / 4
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'stroke="currentColor" stroke-opacity="{".35" if k == 0 else ".12"}"/>'
        )
        body.append(_text(left - 6, y + 4, amount(value, unit), size=10, anchor="end"))
        body.append(
            _text(left + plot_w + 6, y + 4, f"{25 * k}%", size=10, fill=RATE, opacity=".85")
        )
    rate_path: list[str] = []
    for i, point in enumerate(points):
        x = left + i * slot
        # In the current month the projection (for its remaining days) sits
        # on top of what was already covered.
        stacked_y: float = base_y
        if point.covered is not None and point.covered > 0:
            h = float(point.covered / axis_max) * plot_h
            body.append(_rect(x + slot * 0.15, base_y - h, slot * 0.7, h, REDEEMED))
            stacked_y = base_y - h
        if point.projected is not None and point.projected > 0:
            h = float(point.projected / axis_max) * plot_h
            body.append(
                _rect(
                    x + slot * 0.15,
                    stacked_y - h,
                    slot * 0.7,
                    h,
                    PROJECTED,
                    ' fill-opacity=".55" stroke="currentColor" stroke-opacity=".5" '
                    'stroke-dasharray="3 2"',
                )
            )
        if point.current:
            body.append(
                f'<line x1="{x + slot:.1f}" y1="{top}" x2="{x + slot:.1f}" y2="{base_y}" '
                'stroke="currentColor" stroke-opacity=".45" stroke-dasharray="2 3"/>'
            )
            body.append(
                _text(x + slot - 3, top + 10, _("today"), size=10, anchor="end", opacity=".7")
            )
        y_rate = base_y - float(point.rate) * plot_h
        rate_path.append(f"{'M' if i == 0 else 'L'}{x:.1f},{y_rate:.1f}")
        rate_path.append(f"L{x + slot:.1f},{y_rate:.1f}")
        if i % 2 == 0 or n <= 12:
            body.append(
                _text(
                    x + slot / 2, base_y + 16, point.label, size=9.5, anchor="middle", opacity=".8"
                )
            )
    if rate_path:
        body.append(
            f'<path d="{"".join(rate_path)}" fill="none" stroke="{RATE}" stroke-width="2"/>'
        )
    return _svg(width, height, title, body, css="chart-burn", desc=desc)


# --- Phase-down steps: the rate by date --------------------------------------


@dataclass(frozen=True)
class RateStep:
    """One stretch of a schedule: from ``starts_on`` (already written as a
    date) at ``rate``; ``title`` is what a screen reader or a hover says."""

    starts_on: str
    rate: Decimal
    title: str
    current: bool = False
    is_exit: bool = False


def step_chart(steps: Sequence[RateStep], *, title: str, desc: str = "") -> SafeString:
    """The rate as a staircase, one equal column per step (the dates are
    written under each), the step in force today marked."""
    width, height = 760, 196
    left, right, top, bottom = 46, 12, 30, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    base_y = top + plot_h
    n = max(len(steps), 1)
    slot = plot_w / n
    body = []
    for k in range(5):
        y = base_y - plot_h * k / 4
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'stroke="currentColor" stroke-opacity="{".35" if k == 0 else ".12"}"/>'
        )
        body.append(_text(left - 6, y + 4, f"{25 * k}%", size=10, anchor="end", opacity=".8"))
    if not steps:
        body.append(_text(left + 8, top + 18, _("No schedule yet."), opacity=".7"))
    path: list[str] = []
    for i, step in enumerate(steps):
        x = left + i * slot
        y = base_y - float(step.rate) * plot_h
        path.append(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}L{x + slot:.1f},{y:.1f}")
        parts = [f"<title>{escape(step.title)}</title>"]
        opacity = ".28" if step.current else ".12"
        if step.rate > 0:
            parts.append(_rect(x + 1, y, slot - 2, base_y - y, RATE, f' fill-opacity="{opacity}"'))
        label = _("exit") if step.is_exit else rate(step.rate)
        parts.append(
            _text(x + slot / 2, y - 7, label, size=13, anchor="middle", weight="bold", fill=RATE)
        )
        parts.append(
            _text(x + 4, base_y + 15, _fit(step.starts_on, slot - 8, 11), size=11, opacity=".85")
        )
        if step.current:
            parts.append(_text(x + 4, base_y + 30, _("in force today"), size=10, weight="bold"))
        parts.append(
            f'<line x1="{x:.1f}" y1="{base_y:.1f}" x2="{x:.1f}" y2="{base_y + 4:.1f}" '
            'stroke="currentColor" stroke-opacity=".5"/>'
        )
        body.append(f"<g>{''.join(parts)}</g>")
    if path:
        body.append(f'<path d="{"".join(path)}" fill="none" stroke="{RATE}" stroke-width="2.5"/>')
    return _svg(width, height, title, body, css="chart-steps", desc=desc)
