"""Unified Social Credit Code (统一社会信用代码), GB 32100-2015.

An 18-character code:

====== =============================================================
chars  meaning
====== =============================================================
1      registration authority (9 = market regulation, 5 = civil
       affairs, 1 = staffing office, ...)
2      kind of organisation under that authority (91 = enterprise,
       92 = individual business, 93 = farmers' cooperative, ...)
3–8    administrative division code of the registering authority
       (GB/T 2260), e.g. 420103 for Jianghan District, Wuhan: a code
       in force at the time of registration, so possibly one since
       abolished or renumbered (see ``accounts/divisions.py``)
9–17   organisation code (GB 11714)
18     check character over the first 17
====== =============================================================

Characters come from ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (no I, O, S, V, Z);
each has the value of its position in that alphabet. The check character is
the one whose value is ``(-Σ value_i · 3^(i-1)) mod 31`` over the first 17.
Since 31 is prime and no weight is 0 mod 31, every single-character
substitution changes the check, so every such typo is caught.

The organisation code's own GB 11714 check (character 17) is not enforced:
codes issued to individual businesses (92…) use organisation codes that do
not follow it, and refusing a real, registered code is worse than accepting
a code whose first 17 characters were mistyped in a way that keeps the
GB 32100 check — which a single typo cannot do.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .divisions import division_known

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {ch: i for i, ch in enumerate(ALPHABET)}
WEIGHTS = [pow(3, i, 31) for i in range(17)]

# Registration authority (character 1) → allowed organisation kinds
# (character 2), as listed in GB 32100-2015 Annex A and the registration
# authorities' published code tables.
AUTHORITY_KINDS: dict[str, str] = {
    "1": "1239",  # staffing offices: organs, public institutions, mass organisations
    "2": "19",  # foreign affairs
    "3": "123459",  # justice: law firms, notaries, legal services, forensics, arbitration
    "4": "19",  # culture
    "5": "1239",  # civil affairs: social organisations, private non-enterprises, foundations
    "6": "129",  # tourism
    "7": "129",  # religious affairs
    "8": "19",  # trade unions
    "9": "123",  # market regulation: enterprises, individual businesses, cooperatives
    "A": "19",  # military reform and staffing office
    "N": "1239",  # agriculture: collective economic organisations
    "Y": "1",  # other
}


def check_character(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters."""
    total = sum(VALUES[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(-total) % 31]


def uscc_problem(value: str) -> str | None:
    """Return why ``value`` is not a valid USCC, or None when it is valid.

    ``value`` is taken as given: callers normalise (strip, upper-case) first
    with :func:`normalize_uscc`.
    """
    if len(value) != 18:
        return str(
            _("A Unified Social Credit Code has 18 characters; this one has %(n)d.")
            % {"n": len(value)}
        )
    bad = sorted({ch for ch in value if ch not in VALUES})
    if bad:
        return str(
            _(
                "A Unified Social Credit Code uses only digits and the letters "
                "A–Y without I, O, S, V and Z; found: %(chars)s."
            )
            % {"chars": " ".join(bad)}
        )
    authority, kind = value[0], value[1]
    if authority not in AUTHORITY_KINDS:
        return str(
            _("The first character (%(ch)s) is not a registration authority code.")
            % {"ch": authority}
        )
    if kind not in AUTHORITY_KINDS[authority]:
        return str(
            _(
                "The second character (%(kind)s) is not an organisation kind "
                "that authority %(authority)s registers."
            )
            % {"kind": kind, "authority": authority}
        )
    if not value[2:8].isdigit():
        return str(
            _("Characters 3 to 8 (%(code)s) must be a six-digit administrative division code.")
            % {"code": value[2:8]}
        )
    expected = check_character(value[:17])
    if value[17] != expected:
        return str(
            _(
                "The check character does not match: the last character is %(found)s, "
                "but the first 17 characters give %(expected)s. Please check the code "
                "for a typing error."
            )
            % {"found": value[17], "expected": expected}
        )
    if not division_known(value[2:8]):
        # Checked after the check character, so that a typo in characters
        # 3–8 is reported as a typo.
        return str(
            _(
                "Characters 3 to 8 (%(code)s) are not the code of any administrative "
                "division (GB/T 2260), now or in the past."
            )
            % {"code": value[2:8]}
        )
    return None


def normalize_uscc(value: str) -> str:
    """A code as typed or pasted, normalised: full-width characters made
    ASCII (NFKC), spaces and hyphens dropped, upper-cased."""
    text = unicodedata.normalize("NFKC", value)
    return "".join(text.split()).replace("-", "").upper()


def validate_uscc(value: str) -> None:
    """Django validator: raise ValidationError with the reason when invalid."""
    problem = uscc_problem(value)
    if problem:
        raise ValidationError(problem, code="invalid_uscc")


def division_code(value: str) -> str:
    """Return the registering authority's division code (characters 3–8)."""
    return value[2:8]
