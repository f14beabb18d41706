"""The program admin page's two charts: budget burn against the projection
and the phase-down steps, drawn with :mod:`common.charts`, each with its
figures as a table beside it (the chart's text alternative)."""

from __future__ import annotations

import datetime

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from common import charts
from common.formatting import amount, date, rate

from .burn import program_burn
from .models import Program
from .phasedown import schedule_periods


def burn_figure(program: Program, *, today: datetime.date | None = None) -> SafeString:
    """Net charged per month for the last year and the projection for the next."""
    today = today or timezone.localdate()
    months = program_burn(program=program, today=today)
    unit = str(program.unit)
    this_month = today.replace(day=1)
    chart = charts.burn_chart(
        [
            charts.BurnPoint(
                label=f"{m.month:%Y-%m}",
                covered=m.covered,
                projected=m.projected,
                rate=m.rate,
                current=m.month == this_month,
            )
            for m in months
        ],
        unit=unit,
        title=_("Burn over time: %(program)s") % {"program": program.display_name},
        desc=_(
            "Bars: amount covered per month, net of reversals; dashed bars: projected under "
            "the phase-down schedule; line: the rate in force. The table below lists the figures."
        ),
    )
    rows = [
        {
            "month": f"{m.month:%Y-%m}",
            "covered": "" if m.covered is None else amount(m.covered, unit),
            "projected": "" if m.projected is None else amount(m.projected, unit),
            "rate": rate(m.rate),
            "current": m.month == this_month,
        }
        for m in months
    ]
    return render_to_string("vouchers/admin/_burn_chart.html", {"chart": chart, "rows": rows})


def steps_figure(program: Program, *, today: datetime.date | None = None) -> SafeString:
    """The rate from the window's opening to the exit, one column per step."""
    periods = schedule_periods(program, today=today)
    steps = []
    for period in periods:
        starts = date(period.starts_on)
        if period.is_exit:
            title = _("From %(date)s: exit, the program covers nothing") % {"date": starts}
        else:
            title = _("From %(date)s: %(rate)s of each bill covered") % {
                "date": starts,
                "rate": rate(period.rate),
            }
        steps.append(
            charts.RateStep(
                starts_on=starts,
                rate=period.rate,
                title=title,
                current=period.current,
                is_exit=period.is_exit,
            )
        )
    chart = charts.step_chart(
        steps,
        title=_("Phase-down steps: %(program)s") % {"program": program.display_name},
        desc="; ".join(s.title for s in steps),
    )
    return render_to_string(
        "vouchers/admin/_steps_chart.html", {"chart": chart, "periods": periods}
    )
