"""Detectors over who is funded: enterprises sharing a contact detail, one
USCC funded by several districts, platform and enterprise as related parties."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.models import ComputePlatform, Enterprise
from common.formatting import amount
from eligibility.duplicates import FundedElsewhere, funded_elsewhere_flags, shared_contact_flags
from oversight.detectors.base import (
    PATTERN_WINDOW_DAYS,
    Candidate,
    Detector,
    Period,
    Thresholds,
    as_text,
    charges_in,
    ids_of,
)
from vouchers.models import Redemption, Voucher

# ---------------------------------------------------------------------------
# (h) Enterprises sharing a legal representative, phone or address
# (i) The same USCC funded by several districts for the same kind
# ---------------------------------------------------------------------------


def _funded(year: Period) -> QuerySet[Voucher]:
    """Vouchers issued in the year that still count as funding (the rule of
    :func:`vouchers.selectors.vouchers_funded_in_year`)."""
    start, end = year.bounds()
    return (
        Voucher.objects.filter(issued_at__gte=start, issued_at__lt=end)
        .exclude(status__in=[Voucher.Status.REVOKED, Voucher.Status.CLAWED_BACK])
        .select_related("program__district", "enterprise")
    )


def _address_key(address: str) -> str:
    return "".join(address.split()).lower()


def _phone_key(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


SHARED_FIELDS: list[tuple[str, Callable[[Enterprise], str]]] = [
    ("legal_representative", lambda e: e.legal_representative.strip()),
    ("contact_phone", lambda e: _phone_key(e.contact_phone)),
    ("address", lambda e: _address_key(e.address)),
]


def detect_shared_contacts(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Funded enterprises (this year) that share a legal representative, a
    contact phone or a registered address; one flag per shared value and
    per district that funded one of them.

    The messages for representatives and phones come from
    :func:`eligibility.duplicates.shared_contact_flags`, the check reviewers
    see on applications.
    """
    year = period.year()
    districts: dict[int, set[int]] = defaultdict(set)
    enterprises: dict[int, Enterprise] = {}
    for v in _funded(year):
        districts[v.enterprise_id].add(v.program.district_id)
        enterprises[v.enterprise_id] = v.enterprise
    found = []
    for field_name, key_of in SHARED_FIELDS:
        buckets: dict[str, list[Enterprise]] = defaultdict(list)
        for e in enterprises.values():
            key = key_of(e)
            if key:
                buckets[key].append(e)
        for value, members in buckets.items():
            if len(members) < 2:
                continue
            members.sort(key=lambda e: e.pk)
            first = members[0]
            if field_name == "address":
                messages = [
                    _("%(other)s (%(uscc)s) gives the same registered address, %(address)s.")
                    % {"other": e.name, "uscc": e.uscc, "address": e.address}
                    for e in members[1:]
                ]
            else:
                wanted = {
                    "legal_representative": "shared_legal_representative",
                    "contact_phone": "shared_contact_phone",
                }[field_name]
                messages = [
                    f.message
                    for other in members[1:]
                    for f in shared_contact_flags(first, [other])
                    if f.code == wanted
                ]
            listed = [
                {
                    "id": e.pk,
                    "name": e.name,
                    "uscc": e.uscc,
                    "funded_by_districts": sorted(districts[e.pk]),
                }
                for e in members
            ]
            for district_id in sorted(set().union(*(districts[e.pk] for e in members))):
                found.append(
                    Candidate(
                        detector=Detector.SHARED_CONTACT,
                        district_id=district_id,
                        subject=f"{field_name}:{value}"[:200],
                        period=year,
                        score=Decimal(len(members)),
                        evidence={
                            "measured": str(len(members)),
                            "measure": "funded enterprises sharing the value",
                            "threshold": "2",
                            "shared": field_name,
                            "value": value,
                            "enterprises": listed,
                            "messages": messages,
                        },
                        enterprise_id=next(
                            (e.pk for e in members if district_id in districts[e.pk]), None
                        ),
                    )
                )
    return found


def detect_multi_district_funding(
    period: Period, thresholds: Thresholds | None = None
) -> list[Candidate]:
    """The same enterprise (USCC) holding vouchers of the same kind from
    programs of two or more districts in the year; one flag per district."""
    year = period.year()
    grants: dict[tuple[int, str], list[Voucher]] = defaultdict(list)
    for v in _funded(year):
        grants[(v.enterprise_id, v.program.kind)].append(v)
    found = []
    for (enterprise_id, kind), vouchers in grants.items():
        district_ids = {v.program.district_id for v in vouchers}
        if len(district_ids) < 2:
            continue
        enterprise = vouchers[0].enterprise
        for district_id in sorted(district_ids):
            own = [v for v in vouchers if v.program.district_id == district_id]
            elsewhere = [v for v in vouchers if v.program.district_id != district_id]
            messages = [
                f.message
                for f in funded_elsewhere_flags(
                    FundedElsewhere(
                        district_name=v.program.district.display_name,
                        program_name=v.program.display_name,
                        amount=amount(v.face_value, v.unit),
                    )
                    for v in elsewhere
                )
            ]
            found.append(
                Candidate(
                    detector=Detector.MULTI_DISTRICT,
                    district_id=district_id,
                    subject=f"uscc:{enterprise.uscc}/kind:{kind}",
                    period=year,
                    score=Decimal(len(district_ids)),
                    evidence={
                        "measured": str(len(district_ids)),
                        "measure": "districts funding the same kind of voucher this year",
                        "threshold": "2",
                        "uscc": enterprise.uscc,
                        "kind": kind,
                        "vouchers": [
                            {
                                "voucher_id": v.pk,
                                "code": v.code,
                                "district": v.program.district.code,
                                "program": v.program.name,
                                "face_value": as_text(v.face_value),
                                "unit": v.unit,
                            }
                            for v in vouchers
                        ],
                        "messages": messages,
                    },
                    program_id=own[0].program_id,
                    enterprise_id=enterprise_id,
                    voucher_id=own[0].pk if len(own) == 1 else None,
                )
            )
    return found


# ---------------------------------------------------------------------------
# (j) Platform and enterprise are related parties
# ---------------------------------------------------------------------------


def _norm_name(name: str) -> str:
    return "".join(name.split()).replace("（", "(").replace("）", ")").lower()


def related_party_reason(platform: ComputePlatform, enterprise: Enterprise) -> str | None:
    """Why a platform and an enterprise are related parties, or None.

    The rule: the platform's operating company *is* the enterprise (its
    operator's USCC is the enterprise's USCC, or the operator's name is the
    enterprise's name), or the operator is itself a registered enterprise
    that shares the enterprise's legal representative or contact phone
    (:func:`eligibility.duplicates.shared_contact_flags`).
    """
    if platform.operator_uscc and platform.operator_uscc == enterprise.uscc:
        return "operator_uscc"
    if platform.operator and _norm_name(platform.operator) == _norm_name(enterprise.name):
        return "operator_name"
    if platform.operator_uscc:
        operator = Enterprise.objects.filter(uscc=platform.operator_uscc).first()
        if operator is not None and operator.pk != enterprise.pk:
            shared = shared_contact_flags(operator, [enterprise])
            if shared:
                return shared[0].code
    return None


def detect_related_parties(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Vouchers charged in the window by a platform related to the voucher's
    enterprise (see :func:`related_party_reason`); one flag per voucher and
    platform, with the charges."""
    window = period.window(PATTERN_WINDOW_DAYS)
    pairs: dict[tuple[int, int], list[Redemption]] = defaultdict(list)
    for r in charges_in(window):
        pairs[(r.voucher_id, r.platform_id)].append(r)
    found = []
    reasons: dict[tuple[int, int], str | None] = {}
    for (_voucher_id, _platform_id), rows in pairs.items():
        voucher, platform = rows[0].voucher, rows[0].platform
        key = (platform.pk, voucher.enterprise_id)
        if key not in reasons:
            reasons[key] = related_party_reason(platform, voucher.enterprise)
        reason = reasons[key]
        if reason is None:
            continue
        covered = sum((r.covered - r.reversed_amount for r in rows), Decimal("0"))
        candidate = Candidate(
            detector=Detector.RELATED_PARTY,
            district_id=voucher.program.district_id,
            subject=f"voucher:{voucher.pk}/platform:{platform.pk}",
            period=window,
            score=covered,
            evidence={
                "measured": as_text(covered),
                "measure": "covered by the related platform in the window",
                "threshold": "0",
                "unit": voucher.unit,
                "rule": reason,
                "platform": platform.slug,
                "operator": platform.operator,
                "operator_uscc": platform.operator_uscc,
                "enterprise": voucher.enterprise.name,
                "enterprise_uscc": voucher.enterprise.uscc,
                "charges": len(rows),
                "redemption_ids": ids_of(rows),
            },
        ).for_voucher(voucher)
        candidate.platform_id = platform.pk
        found.append(candidate)
    return found
