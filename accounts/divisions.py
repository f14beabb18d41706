"""GB/T 2260 administrative divisions: which codes exist, and where each lies now.

Characters 3–8 of a USCC are the division code of the authority that
registered the organisation, *at the time it registered*. Divisions are
merged and renumbered (Beijing's 崇文区 110103 became part of 东城区 110101 in
2010), but the codes already issued stay valid. So a code is accepted when it
was a division at any time since 1980, and for locality ("is this enterprise
registered in our district?") a historical code stands for the division that
succeeded it. The data and its provenance are in ``accounts/data/``.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

from django.db.models import Q
from django.utils.translation import gettext

DATA = Path(__file__).resolve().parent / "data" / "gb2260.tsv"


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    first_seen: str
    last_seen: str
    successor: str  # empty while the code is in force
    rule: str

    @property
    def in_force(self) -> bool:
        return not self.successor


@functools.cache
def _divisions() -> dict[str, Division]:
    with DATA.open(encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return {row["code"]: Division(**row) for row in rows}


def division(code: str) -> Division | None:
    """The division of ``code`` (in force or historical), or None if it never existed."""
    return _divisions().get(code)


def division_known(code: str) -> bool:
    """True when ``code`` is, or was, a GB/T 2260 division."""
    return code in _divisions()


def locality_code(code: str) -> str:
    """The division in force that ``code`` stands for: itself, or its successor.

    An unknown code is returned unchanged (it matches no district)."""
    found = _divisions().get(code)
    if found is None or found.in_force:
        return code
    return found.successor


def division_label(code: str) -> str:
    """``code`` with its name, and the division that succeeded it if any:
    ``420103 江汉区``; ``110103 崇文区 → 110101 东城区``."""
    found = _divisions().get(code)
    if found is None:
        return code
    label = f"{code} {found.name}"
    if found.successor:
        now = _divisions().get(found.successor)
        label += f" → {found.successor} {now.name if now else ''}".rstrip()
    return label


# Placeholder levels of GB/T 2260 ("districts under the city", "counties"),
# no place a person names.
_PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


def _path_name(code: str) -> str:
    """The full name of an existing ``code``: province, prefecture, county."""
    names: list[str] = []
    for level in (code[:2] + "0000", code[:4] + "00", code):
        found = _divisions().get(level)
        if found is not None and found.name not in _PLACEHOLDERS and found.name not in names:
            names.append(found.name)
    return "".join(names)


def division_name(code: str) -> str:
    """The name of the division ``code`` as people read it, without the code:
    ``420103`` → ``湖北省武汉市江汉区``; a historical code names the division
    that succeeded it too (``110103`` → ``北京市崇文区（今北京市东城区）``
    in Chinese, ``北京市崇文区 (now 北京市东城区)`` in English).
    An unknown code is returned unchanged (nothing better is known of it)."""
    found = _divisions().get(code)
    if found is None:
        return code
    name = _path_name(code)
    if found.successor and found.successor in _divisions():
        name = gettext("%(name)s (now %(successor)s)") % {
            "name": name,
            "successor": _path_name(found.successor),
        }
    return name


@functools.cache
def _moved(prefix: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Historical codes that moved into ``prefix`` from outside it, and those
    that start with ``prefix`` but whose successor lies outside it."""
    into, out_of = [], []
    for code, found in _divisions().items():
        if found.in_force:
            continue
        inside_now = found.successor.startswith(prefix)
        if inside_now and not code.startswith(prefix):
            into.append(code)
        elif code.startswith(prefix) and not inside_now:
            out_of.append(code)
    return tuple(into), tuple(out_of)


def within(code: str, prefix: str) -> bool:
    """True when the division ``code`` stands for today lies inside ``prefix``."""
    return locality_code(code).startswith(prefix)


def within_q(prefix: str, field: str = "division_code") -> Q:
    """A filter on ``field`` (a USCC's division code) matching :func:`within`."""
    into, out_of = _moved(prefix)
    q = Q(**{f"{field}__startswith": prefix})
    if out_of:
        q &= ~Q(**{f"{field}__in": out_of})
    if into:
        q |= Q(**{f"{field}__in": into})
    return q
