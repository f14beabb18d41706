"""A chunked request body (no Content-Length) over real HTTP: gunicorn and the dev server.

Node's ``fetch`` sends a stream body chunked. Behind the shipped nginx the
body arrives with a Content-Length (nginx buffers it); these tests go
straight to the application servers, where it used to be read as empty.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection
from django.utils import timezone

from tests.platforms.conftest import register_key
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue
from vouchers.models import Redemption

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


def _chunked(prepared: requests.PreparedRequest) -> requests.PreparedRequest:
    """The signed request with its body sent as a stream: chunked, no Content-Length."""
    body = prepared.body if isinstance(prepared.body, bytes) else str(prepared.body).encode()
    del prepared.headers["Content-Length"]
    prepared.body = iter([body[:10], body[10:]])  # type: ignore[assignment]
    return prepared


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def gunicorn_url(tmp_path: Path) -> Iterator[str]:
    """gunicorn (the shipped deploy/gunicorn.conf.py) serving the test database."""
    port = _free_port()
    db = connection.settings_dict
    env = dict(
        os.environ,
        DJANGO_MODE="development",
        DEBUG="false",
        DATABASE_URL=(
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        ALLOWED_HOSTS="127.0.0.1",
        AUDIT_SEAL_AFTER_COMMIT="false",
    )
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - the venv's gunicorn, fixed arguments
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/api/v1/ping", timeout=10)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail((tmp_path / "gunicorn.log").read_text()[-3000:])
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.mark.postgres
def test_a_chunked_redemption_through_gunicorn_is_read_and_charged(gunicorn_url: str) -> None:
    signing = register_key()
    program = ProgramFactory(per_charge_cap=Decimal("500.00"))
    bind(program, signing.platform)
    voucher = issue(program, amount="1000.00")
    body = {
        "voucher": voucher.code,
        "reference": "chunked-1",
        "occurred_at": timezone.localtime(timezone.now()).isoformat(),
        "billed_amount": "120.00",
        "currency": "CNY",
    }
    prepared = requests.Request(
        "POST", f"{gunicorn_url}/api/v1/redemptions", json=body, auth=signing.auth()
    ).prepare()
    with requests.Session() as session:
        response = session.send(_chunked(prepared), timeout=20)
    assert response.status_code == 201, response.text
    redemption = Redemption.objects.get(reference="chunked-1")
    assert redemption.billed_amount == Decimal("120.00")


def test_a_chunked_body_to_the_development_server_is_refused_with_its_own_message(
    live_server: Any,
) -> None:
    signing = register_key()
    prepared = requests.Request(
        "POST", f"{live_server.url}/api/v1/ping", json={"amount": "1.00"}, auth=signing.auth()
    ).prepare()
    with requests.Session() as session:
        response = session.send(_chunked(prepared), timeout=20)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "chunked" in error["message"]
