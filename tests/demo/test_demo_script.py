"""``scripts/demo`` serves where PORT and HOST say, and its banner says where.

The script runs for real in a copy of the project's layout whose
``scripts/setup`` and ``.venv/bin/python`` are stand-ins that record how
they were called (set-up, migrations and seeding are tested elsewhere).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PYTHON_STAND_IN = """#!/usr/bin/env bash
echo "python $* SITE_URL=${SITE_URL:-}" >> "$(dirname "$0")/../../calls.log"
"""


def _run_demo(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "demo", tmp_path / "scripts" / "demo")
    setup = tmp_path / "scripts" / "setup"
    setup.write_text("#!/usr/bin/env bash\nexit 0\n")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(PYTHON_STAND_IN)
    for script in (setup, python):
        script.chmod(0o755)
    clean = {k: v for k, v in os.environ.items() if k not in {"PORT", "HOST", "SITE_URL"}}
    done = subprocess.run(  # noqa: S603
        [str(tmp_path / "scripts" / "demo")],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    log = tmp_path / "calls.log"
    return done, log.read_text() if log.exists() else ""


def test_the_demo_serves_on_port_and_its_banner_shows_that_address(tmp_path: Path) -> None:
    done, calls = _run_demo(tmp_path, PORT="8765")
    assert done.returncode == 0, done.stderr
    assert "runserver 127.0.0.1:8765" in calls
    assert "http://127.0.0.1:8765/accounts/login/" in done.stdout
    assert "http://127.0.0.1:8765/admin/" in done.stdout
    assert "--url http://127.0.0.1:8765" in done.stdout
    assert "8000" not in done.stdout
    # The seeded e-mails' links point at the same server.
    assert "seed_demo SITE_URL=http://127.0.0.1:8765" in calls


def test_the_demo_defaults_to_port_8000_and_shows_a_reachable_address_for_all_interfaces(
    tmp_path: Path,
) -> None:
    done, calls = _run_demo(tmp_path, HOST="0.0.0.0")  # noqa: S104
    assert done.returncode == 0, done.stderr
    assert "runserver 0.0.0.0:8000" in calls
    assert "starting on http://127.0.0.1:8000/" in done.stdout


@pytest.mark.parametrize("port", ["80a", "8000;id"])
def test_a_port_that_is_no_number_is_refused(tmp_path: Path, port: str) -> None:
    done, calls = _run_demo(tmp_path, PORT=port)
    assert done.returncode == 2
    assert "PORT must be a port number" in done.stderr
    assert calls == ""
