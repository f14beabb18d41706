"""Translation catalogs: refresh them, or check that they are complete.

    python scripts/i18n.py update   # makemessages for zh_Hans and en; en msgstr = msgid
    python scripts/i18n.py check    # fail if a string is missing or untranslated

Source strings are English; the en catalog carries them over unchanged so
it is complete too, and the zh_Hans catalog holds the Chinese.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ["zh_Hans", "en"]
DOMAINS = ["django"]
IGNORES = [".venv", "var", "staticfiles", "tests", "bench", "node_modules"]


def catalog_path(locale: str, domain: str) -> Path:
    return ROOT / "locale" / locale / "LC_MESSAGES" / f"{domain}.po"


def makemessages() -> None:
    cmd = [sys.executable, "manage.py", "makemessages", "--no-location", "--no-obsolete"]
    for locale in LOCALES:
        cmd += ["-l", locale]
    for ignore in IGNORES:
        cmd += ["--ignore", ignore]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)


def key(entry: polib.POEntry) -> tuple[str | None, str]:
    return (entry.msgctxt, entry.msgid)


def fill_english() -> None:
    for domain in DOMAINS:
        po = polib.pofile(str(catalog_path("en", domain)))
        for entry in po:
            # English is the source language: every msgstr is its msgid. A
            # fuzzy match that makemessages guessed from a neighbouring
            # string must be overwritten, never kept.
            if entry.msgid_plural:
                entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
            else:
                entry.msgstr = entry.msgid
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
            entry.previous_msgid = None
            entry.previous_msgid_plural = None
            entry.previous_msgctxt = None
        po.save()


def untranslated(locale: str, domain: str) -> list[str]:
    po = polib.pofile(str(catalog_path(locale, domain)))
    missing = []
    for entry in po:
        if entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            missing.append(f"fuzzy: {entry.msgid!r}")
        elif entry.msgid_plural:
            if not all(entry.msgstr_plural.values()):
                missing.append(entry.msgid)
        elif not entry.msgstr:
            missing.append(entry.msgid)
    return missing


def check() -> int:
    problems: list[str] = []
    # Which strings do the sources hold now? Run makemessages on a copy.
    backup = Path(tempfile.mkdtemp())
    shutil.copytree(ROOT / "locale", backup / "locale")
    try:
        makemessages()
        current = {
            (d, key(e)) for d in DOMAINS for e in polib.pofile(str(catalog_path("zh_Hans", d)))
        }
    finally:
        shutil.rmtree(ROOT / "locale")
        shutil.copytree(backup / "locale", ROOT / "locale")
        shutil.rmtree(backup)
    for locale in LOCALES:
        for domain in DOMAINS:
            committed = {key(e) for e in polib.pofile(str(catalog_path(locale, domain)))}
            for d, k in sorted(current, key=str):
                if d == domain and k not in committed:
                    problems.append(f"{locale}/{domain}: not in the catalog: {k[1]!r}")
            for msgid in untranslated(locale, domain):
                problems.append(f"{locale}/{domain}: untranslated: {msgid!r}")
    if problems:
        print("Translation catalogs are incomplete (run: python scripts/i18n.py update,")
        print("then translate the zh_Hans entries):")
        for p in problems:
            print("  -", p)
        return 1
    print(f"Catalogs complete: {len(current)} strings in {', '.join(LOCALES)}.")
    return 0


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in {"update", "check"}:
        print(__doc__)
        return 2
    if sys.argv[1] == "update":
        makemessages()
        fill_english()
        for domain in DOMAINS:
            left = untranslated("zh_Hans", domain)
            print(f"zh_Hans/{domain}: {len(left)} entries to translate")
        return 0
    return check()


if __name__ == "__main__":
    sys.exit(main())
