"""The documented backup procedure, end to end: seed the demo into a scratch
database, pg_dump it, restore into a fresh one, and the restored copy's
ledger and audit chain check clean (scripts/backup_restore_check)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import environ
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(shutil.which("pg_dump") is None, reason="needs pg_dump"),
]


def _psql(url: dict[str, Any], sql: str) -> None:
    subprocess.run(  # noqa: S603 - fixed local tools, our own statements
        [
            shutil.which("psql") or "psql",
            "-h",
            url["HOST"] or "127.0.0.1",
            "-p",
            str(url["PORT"] or 5432),
            "-U",
            url["USER"] or "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ],
        check=True,
        capture_output=True,
    )


def test_a_restored_backup_of_the_demo_passes_check_ledger_and_verify_audit(
    tmp_path: Path, db: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    base = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    source, target = f"cv_backup_src_{os.getpid()}", f"cv_backup_dst_{os.getpid()}"
    host, port, user = base["HOST"] or "127.0.0.1", base["PORT"] or 5432, base["USER"] or "postgres"
    source_url = f"postgres://{user}@{host}:{port}/{source}"
    env = {
        **os.environ,
        "DATABASE_URL": source_url,
        "PRIVATE_MEDIA_ROOT": str(tmp_path / "private"),
        "CELERY_BROKER_URL": "",
    }
    _psql(base, f'DROP DATABASE IF EXISTS "{source}"')
    _psql(base, f'CREATE DATABASE "{source}"')
    try:
        python = sys.executable
        for command in (["migrate", "-v", "0"], ["seed_demo"], ["seal_audit"]):
            subprocess.run(  # noqa: S603 - our own manage.py
                [python, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True
            )
        result = subprocess.run(  # noqa: S603 - our own script
            [
                str(ROOT / "scripts" / "backup_restore_check"),
                source_url,
                target,
                str(tmp_path / "demo.dump"),
            ],
            cwd=ROOT,
            env={**env, "PY": python},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ledger OK" in result.stdout
        assert "restored copy is consistent" in result.stdout
    finally:
        _psql(base, f'DROP DATABASE IF EXISTS "{source}" WITH (FORCE)')
        _psql(base, f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
