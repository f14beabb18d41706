"""Settings from the environment, each case in a fresh process with a clean
environment: production mode passes ``check --deploy``, development mode
needs nothing set up."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"],
    "name": str(db["NAME"]),
    "debug": s.DEBUG,
    "eager": s.CELERY_TASK_ALWAYS_EAGER,
    "broker": s.CELERY_BROKER_URL,
    "time_zone": s.TIME_ZONE,
    "language_code": s.LANGUAGE_CODE,
    "languages": [code for code, _ in s.LANGUAGES],
    "email_backend": s.EMAIL_BACKEND,
    "middleware": s.MIDDLEWARE,
    "allowed_hosts": s.ALLOWED_HOSTS,
    "session_cookie_secure": s.SESSION_COOKIE_SECURE,
    "csrf_cookie_secure": s.CSRF_COOKIE_SECURE,
    "use_tz": s.USE_TZ,
}))
"""


def clean_env(**extra: str) -> dict[str, str]:
    """Only what a process needs to start, plus ``extra``: nothing of the
    test run's own environment (DATABASE_URL, DJANGO_MODE...) leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(Path.home()),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [PYTHON, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def settings_in(env: dict[str, str]) -> dict[str, Any]:
    result = run(["-c", PRINT_SETTINGS], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def production_env(**extra: str) -> dict[str, str]:
    return clean_env(
        DJANGO_MODE="production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="vouchers.example.gov.cn",
        FIELD_ENCRYPTION_KEYS=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        **extra,
    )


def test_check_deploy_reports_nothing_in_production_mode() -> None:
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr
    assert "WARNING" not in result.stderr
    assert "?: (security" not in result.stdout + result.stderr


def test_check_deploy_also_passes_with_postgresql_and_a_broker() -> None:
    env = production_env(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/cv_tests",
        CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//",
    )
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_mode_is_hardened() -> None:
    s = settings_in(production_env())
    assert s["debug"] is False
    assert s["allowed_hosts"] == ["vouchers.example.gov.cn"]
    assert s["session_cookie_secure"] is True
    assert s["csrf_cookie_secure"] is True


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "FIELD_ENCRYPTION_KEYS"])
def test_production_mode_refuses_to_start_without_its_secrets(missing: str) -> None:
    env = production_env()
    del env[missing]
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_an_unknown_mode_is_refused() -> None:
    result = run(["manage.py", "check"], clean_env(DJANGO_MODE="staging"))
    assert result.returncode != 0
    assert "DJANGO_MODE" in result.stderr


def test_development_mode_defaults_to_sqlite_without_database_url() -> None:
    s = settings_in(clean_env())
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"].endswith("db.sqlite3")
    assert Path(s["name"]).parent == BASE_DIR / "var"
    assert s["debug"] is True


def test_database_url_selects_postgresql() -> None:
    s = settings_in(clean_env(DATABASE_URL="postgres://postgres@127.0.0.1:5432/cv_tests"))
    assert s["engine"] == "django.db.backends.postgresql"
    assert s["name"] == "cv_tests"


def test_tasks_run_eagerly_without_a_broker() -> None:
    s = settings_in(clean_env())
    assert s["eager"] is True
    assert s["broker"] == ""


def test_tasks_go_to_the_broker_when_one_is_set() -> None:
    s = settings_in(clean_env(CELERY_BROKER_URL="redis://127.0.0.1:6379/0"))
    assert s["eager"] is False
    assert s["broker"] == "redis://127.0.0.1:6379/0"


def test_time_zone_and_languages() -> None:
    s = settings_in(clean_env())
    assert s["time_zone"] == "Asia/Shanghai"
    assert s["use_tz"] is True
    assert s["language_code"] == "zh-hans"
    assert s["languages"] == ["zh-hans", "en"]


def test_email_goes_to_the_console_by_default() -> None:
    s = settings_in(clean_env())
    assert s["email_backend"] == "django.core.mail.backends.console.EmailBackend"


def test_static_files_are_served_by_whitenoise() -> None:
    s = settings_in(clean_env())
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in s["middleware"]
    assert "django.middleware.locale.LocaleMiddleware" in s["middleware"]


def test_no_template_loads_an_asset_from_another_site() -> None:
    offending = []
    pattern = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*(?:src|href)=["'](?:https?:)?//""")
    for path in (BASE_DIR / "templates").rglob("*.html"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offending.append(f"{path.relative_to(BASE_DIR)}:{number}")
    assert offending == []
