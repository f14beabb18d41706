"""The structure of the code: which app may import which, and how the admin is
wired. These read the code rather than use the site."""

from __future__ import annotations

from accounts.models import User


def test_accounts_imports_no_other_app() -> None:
    from pathlib import Path

    import accounts

    root = Path(accounts.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for app in ("audit", "vouchers", "platforms", "eligibility"):
            assert f"from {app}" not in text and f"import {app}" not in text, (path, app)


def test_the_user_admin_is_the_audited_one() -> None:
    from django.contrib import admin

    from audit.admin_mixins import AuditedModelAdmin

    assert isinstance(admin.site._registry[User], AuditedModelAdmin)
