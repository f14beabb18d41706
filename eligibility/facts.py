"""The registry of enterprise facts that eligibility rules may test.

A fact has a key (stored in rules), a translatable label, a type that says
how rule values are parsed and shown, and a function that reads the value
from an enterprise. Facts that need other apps' data (for example "already
funded this year", which needs applications) are registered by those apps in
their ``AppConfig.ready`` through :func:`register`, so this app imports none
of them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.divisions import locality_code
from accounts.models import Enterprise


class FactType:
    NUMBER = "number"
    MONEY = "money"
    BOOLEAN = "boolean"
    DIVISION = "division"
    CHOICE = "choice"


@dataclass(frozen=True)
class Context:
    """What an evaluation is about besides the enterprise: the program's kind
    and district (when evaluating for a program) and the day."""

    on: datetime.date
    program_kind: str = ""
    program_district_id: int | None = None
    program_id: int | None = None


@dataclass(frozen=True)
class Fact:
    key: str
    label: Promise | str
    type: str
    read: Callable[[Enterprise, Context], Any]
    choices: tuple[tuple[str, Any], ...] = field(default=())
    unit: Promise | str = ""
    # For units whose word depends on the number ("1 year", "2 years").
    counted: Callable[[int, str], str] | None = None

    def parse(self, raw: Any) -> Any:
        """Turn a rule's stored value into the fact's type; ValueError when it cannot."""
        if self.type in (FactType.NUMBER, FactType.MONEY):
            if isinstance(raw, list):
                raise ValueError(gettext("Give one number, not a list."))
            try:
                return Decimal(str(raw).replace(",", "").strip())
            except (InvalidOperation, ValueError):
                raise ValueError(gettext("“%(value)s” is not a number.") % {"value": raw}) from None
        if self.type == FactType.BOOLEAN:
            text = str(raw).strip().lower()
            if text in {"true", "yes", "1", "是"}:
                return True
            if text in {"false", "no", "0", "否"}:
                return False
            raise ValueError(gettext("Answer yes or no (true / false)."))
        if self.type == FactType.DIVISION:
            codes = _as_list(raw)
            for code in codes:
                if not (code.isdigit() and len(code) == 6):
                    raise ValueError(
                        gettext("“%(value)s” is not a six-digit division code.") % {"value": code}
                    )
            return codes
        if self.type == FactType.CHOICE:
            values = _as_list(raw)
            allowed = {key for key, _label in self.choices}
            for value in values:
                if value not in allowed:
                    raise ValueError(
                        gettext("“%(value)s” is not one of: %(allowed)s.")
                        % {"value": value, "allowed": ", ".join(sorted(allowed))}
                    )
            return values
        return raw

    def show(self, value: Any) -> str:
        """A value of this fact as a person reads it, in the active language."""
        if value is None:
            return gettext("unknown")
        if isinstance(value, list):
            return ", ".join(self.show(v) for v in value)
        if self.type == FactType.BOOLEAN:
            return gettext("yes") if value else gettext("no")
        if self.type == FactType.MONEY:
            return gettext("%(amount)s yuan") % {"amount": f"{Decimal(value):,.0f}"}
        if self.type == FactType.NUMBER:
            number = Decimal(value)
            text = f"{number:,.0f}" if number == number.to_integral() else f"{number:,}"
            if self.counted is not None:
                return self.counted(int(number), text)
            return f"{text} {self.unit}".strip() if self.unit else text
        if self.type == FactType.CHOICE:
            labels = dict(self.choices)
            return f"{labels.get(value, value)} ({value})"
        return str(value)


def _as_list(raw: Any) -> list[str]:
    if isinstance(raw, list | tuple):
        return [str(v).strip() for v in raw if str(v).strip()]
    return [part.strip() for part in str(raw).replace("，", ",").split(",") if part.strip()]


def _years_since_founding(enterprise: Enterprise, context: Context) -> Decimal:
    founded = enterprise.founded_on
    on = context.on
    years = on.year - founded.year - ((on.month, on.day) < (founded.month, founded.day))
    return Decimal(max(years, 0))


FACTS: dict[str, Fact] = {}


def register(fact: Fact) -> None:
    """Add (or replace) a fact in the registry."""
    FACTS[fact.key] = fact


def get_fact(key: str) -> Fact | None:
    return FACTS.get(key)


def fact_choices() -> list[tuple[str, str]]:
    return [(f.key, str(f.label)) for f in FACTS.values()]


def _years(count: int, text: str) -> str:
    return ngettext("%(number)s year", "%(number)s years", count) % {"number": text}


def _people(count: int, text: str) -> str:
    return ngettext("%(number)s person", "%(number)s people", count) % {"number": text}


def today() -> datetime.date:
    return timezone.localdate()


for _fact in [
    Fact(
        "prior_year_revenue",
        _("prior-year revenue"),
        FactType.MONEY,
        lambda e, c: e.prior_year_revenue,
    ),
    Fact(
        "headcount",
        _("headcount"),
        FactType.NUMBER,
        lambda e, c: e.headcount,
        counted=_people,
    ),
    Fact(
        "registered_division",
        _("registered division (from the USCC)"),
        FactType.DIVISION,
        # Where the registering authority lies today: a renumbered code
        # stands for the division that succeeded it.
        lambda e, c: locality_code(e.uscc[2:8]),
    ),
    Fact(
        "years_since_founding",
        _("years since founding"),
        FactType.NUMBER,
        _years_since_founding,
        counted=_years,
    ),
    Fact(
        "industry",
        _("industry (GB/T 4754 section)"),
        FactType.CHOICE,
        lambda e, c: e.industry,
        choices=tuple(Enterprise.Industry.choices),
    ),
    Fact(
        "is_one_person_company",
        _("one-person company"),
        FactType.BOOLEAN,
        lambda e, c: e.is_one_person_company,
    ),
    Fact(
        "local_tax_paid",
        _("local tax paid last year"),
        FactType.MONEY,
        lambda e, c: e.local_tax_paid,
    ),
    Fact(
        "is_verified",
        _("enterprise verified by the district"),
        FactType.BOOLEAN,
        lambda e, c: e.status == Enterprise.Status.VERIFIED,
    ),
]:
    register(_fact)
