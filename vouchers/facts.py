"""Enterprise facts that need this app's data, added to the eligibility registry."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from accounts.models import Enterprise
from eligibility.facts import Context, Fact, FactType, register


def funded_this_year(enterprise: Enterprise, context: Context) -> bool:
    """True when the enterprise was issued a voucher of the same kind this year
    (China time), by any district: through an application or in bulk."""
    from .selectors import vouchers_funded_in_year

    funded = vouchers_funded_in_year(
        enterprise=enterprise, year=context.on.year, kind=context.program_kind or None
    )
    if context.program_id:
        funded = funded.exclude(program_id=context.program_id)
    return funded.exists()


def register_facts() -> None:
    register(
        Fact(
            "funded_this_year_same_kind",
            _("already funded this year for this kind of voucher (any district)"),
            FactType.BOOLEAN,
            funded_this_year,
        )
    )
