"""Duplicate checks that run beside the rules and are flagged to reviewers.

They never decide eligibility on their own: a reviewer reads the flag and the
evidence and decides. The caller (the applications app) supplies the data
that lives in its own tables, so this module needs nothing but accounts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from accounts.models import District, Enterprise


@dataclass(frozen=True)
class Flag:
    """One duplicate-check finding."""

    code: str
    message: str


@dataclass(frozen=True)
class FundedElsewhere:
    """A grant of the same kind, this year, from another district's program."""

    district_name: str
    program_name: str
    amount: str


def shared_contact_flags(enterprise: Enterprise, others: Iterable[Enterprise]) -> list[Flag]:
    """Other applicants with the same legal representative or contact phone."""
    flags: list[Flag] = []
    phone = "".join(ch for ch in enterprise.contact_phone if ch.isdigit())
    for other in others:
        if other.pk == enterprise.pk:
            continue
        if other.legal_representative.strip() == enterprise.legal_representative.strip():
            flags.append(
                Flag(
                    "shared_legal_representative",
                    _("%(other)s (%(uscc)s) has the same legal representative, %(name)s.")
                    % {
                        "other": other.name,
                        "uscc": other.uscc,
                        "name": enterprise.legal_representative,
                    },
                )
            )
        other_phone = "".join(ch for ch in other.contact_phone if ch.isdigit())
        if phone and phone == other_phone:
            flags.append(
                Flag(
                    "shared_contact_phone",
                    _("%(other)s (%(uscc)s) gives the same contact phone, %(phone)s.")
                    % {"other": other.name, "uscc": other.uscc, "phone": other.contact_phone},
                )
            )
    return flags


def locality_flags(enterprise: Enterprise, district: District, *, nationwide: bool) -> list[Flag]:
    """The enterprise is registered outside the district (unless nationwide)."""
    if nationwide or district.covers(enterprise.uscc[2:8]):
        return []
    return [
        Flag(
            "outside_district",
            _(
                "Registered in division %(division)s, outside %(district)s (%(code)s), "
                "according to its USCC."
            )
            % {
                "division": enterprise.division_label,
                "district": district.display_name,
                "code": district.code,
            },
        )
    ]


def funded_elsewhere_flags(grants: Iterable[FundedElsewhere]) -> list[Flag]:
    """The same USCC already holds a grant of this kind from another district this year."""
    return [
        Flag(
            "funded_elsewhere",
            _(
                "Already approved this year for the same kind of voucher by %(district)s: "
                "%(program)s, %(amount)s."
            )
            % {"district": g.district_name, "program": g.program_name, "amount": g.amount},
        )
        for g in grants
    ]
