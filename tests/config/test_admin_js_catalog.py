"""The admin's JavaScript speaks Chinese: every string its scripts ask
gettext for is in the zh-hans JavaScript catalog (/admin/jsi18n/)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import django.contrib.admin
import pytest
from django.test import RequestFactory
from django.utils import translation
from django.views.i18n import JSONCatalog

ADMIN_JS = Path(django.contrib.admin.__file__).parent / "static" / "admin" / "js"
# gettext('…') / ngettext('…', …) with a literal first argument.
CALL = re.compile(r"""\b(?:n?gettext)\(\s*(['"])((?:\\.|(?!\1).)*)\1""")


def admin_script_strings() -> set[str]:
    """The literal msgids passed to gettext/ngettext in the admin's own scripts."""
    found: set[str] = set()
    for script in ADMIN_JS.rglob("*.js"):
        if "vendor" in script.parts or script.name.endswith(".min.js"):
            continue
        for match in CALL.finditer(script.read_text(encoding="utf-8")):
            found.add(re.sub(r"\\(.)", r"\1", match.group(2)))
    return found


def admin_js_catalog(language: str) -> dict[str, object]:
    """The catalog /admin/jsi18n/ serves in ``language`` (the admin uses django.contrib.admin)."""
    view = JSONCatalog.as_view(packages=["django.contrib.admin"])
    with translation.override(language):
        response = view(RequestFactory().get("/admin/jsi18n/"))
    return json.loads(response.content)["catalog"]


def test_the_admin_scripts_were_found() -> None:
    strings = admin_script_strings()
    assert 'Choose %s by selecting them and then select the "Choose" arrow button.' in strings
    assert "Choose all %s" in strings


@pytest.mark.parametrize("msgid", sorted(admin_script_strings()))
def test_every_admin_script_string_is_translated_into_chinese(msgid: str) -> None:
    catalog = admin_js_catalog("zh-hans")
    assert msgid in catalog, f"no zh-hans translation for {msgid!r}"


def test_the_platform_picker_reads_in_chinese() -> None:
    catalog = admin_js_catalog("zh-hans")
    assert catalog["Choose all %s"] == "选择全部%s"
    assert catalog["Remove all %s"] == "移除全部%s"
