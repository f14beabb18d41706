"""The structure of the code: which app may import which, and how the admin is
wired. These read the code rather than use the site."""

from __future__ import annotations

from pathlib import Path

from accounts.models import User


def test_accounts_imports_no_other_app() -> None:
    from pathlib import Path

    import accounts

    root = Path(accounts.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for app in (
            "audit",
            "notices",
            "eligibility",
            "programs",
            "vouchers",
            "applications",
            "platforms",
            "oversight",
        ):
            assert f"from {app}" not in text and f"import {app}" not in text, (path, app)


def test_the_user_admin_is_the_audited_one() -> None:
    from django.contrib import admin

    from audit.admin_mixins import AuditedModelAdmin

    assert isinstance(admin.site._registry[User], AuditedModelAdmin)


APPS = (
    "common",
    "accounts",
    "audit",
    "notices",
    "eligibility",
    "programs",
    "vouchers",
    "applications",
    "platforms",
    "oversight",
    "config",
)


def _sources() -> list[Path]:
    root = Path(__file__).resolve().parent.parent
    return [
        path
        for app in APPS
        for path in (root / app).rglob("*.py")
        if "migrations" not in path.parts
    ]


def test_no_source_file_is_over_600_lines() -> None:
    """A file that long does several jobs: split it by job (issue 15)."""
    long = {
        str(path): n
        for path in _sources()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}


def test_the_layers_hold() -> None:
    """The import-linter contracts of pyproject.toml (layers of DESIGN.md,
    oversight imported by nothing, vouchers never importing platforms),
    counting imports inside functions: also run by scripts/test as
    lint-imports, here so a plain pytest run sees a broken layer too."""
    import subprocess
    import sys

    linter = Path(sys.executable).with_name("lint-imports")
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(  # noqa: S603  (our own linter, fixed arguments)
        [str(linter), "--no-cache"], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "BROKEN" not in result.stdout and result.stdout.count("KEPT") == 3
