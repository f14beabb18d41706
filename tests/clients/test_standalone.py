"""The reference client is a package of its own: it imports nothing from the
server (no Django), needs only ``requests`` and ``requests-http-signature``,
and its metadata pins what the server is tested with."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import cv_client

REPO = Path(__file__).resolve().parents[2]
CLIENT_ROOT = REPO / "clients" / "python"
PACKAGE = CLIENT_ROOT / "cv_client"
DEPENDENCIES = {"requests", "requests-http-signature"}


def _python(code: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, *args, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_package_imports_without_django_or_the_server(tmp_path: Path) -> None:
    # Isolated mode (-I): no PYTHONPATH, no current directory, no user site;
    # only the client's folder is put on the path, from an empty directory.
    code = f"""
import sys
sys.path.insert(0, {str(CLIENT_ROOT)!r})
import cv_client, cv_client.cli, cv_client.client, cv_client.journal
assert cv_client.__file__.startswith({str(PACKAGE)!r}), cv_client.__file__
assert "django" not in sys.modules, sorted(m for m in sys.modules if "django" in m)
repo, client = {str(REPO)!r}, {str(CLIENT_ROOT)!r}
from_server = sorted(
    name for name, module in list(sys.modules.items())
    if (getattr(module, "__file__", None) or "").startswith(repo)
    and not module.__file__.startswith(client)
    # The project's virtualenv may live inside the checkout (.venv): what it
    # installed (requests and friends) is not the server's code.
    and not module.__file__.startswith(sys.prefix)
)
assert not from_server, from_server
print("ok")
"""
    done = _python(code, tmp_path, "-I")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_package_imports_only_the_standard_library_and_its_two_dependencies() -> None:
    allowed = set(sys.stdlib_module_names) | {"requests", "requests_http_signature", "cv_client"}
    imported: set[str] = set()
    for source in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert imported - allowed == set()
    assert {"requests", "requests_http_signature"} <= imported


def test_python_dash_m_cv_client_is_the_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(CLIENT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "cv_client", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m cv_client ")
    for option in ("--url", "--key-id", "--key-file", "--demo-keys", "--platform", "--lang"):
        assert option in done.stdout
    assert "{ping,lookup,redeem}" in done.stdout
    assert "CV_API_URL" in done.stdout


def test_the_metadata_pins_the_servers_versions_and_names_the_script() -> None:
    project = tomllib.loads((CLIENT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == cv_client.__version__
    pins = {}
    for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match:
            pins[match[1].lower().replace("_", "-")] = match[2]
    wanted = sorted(f"{name}=={pins[name]}" for name in DEPENDENCIES)
    assert sorted(project["dependencies"]) == wanted
    assert project["scripts"] == {"cv-client": "cv_client.cli:console"}
    assert (CLIENT_ROOT / "README.md").exists()
