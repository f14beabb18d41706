"""The demo catalog and demo keys of ``seed_demo``."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from demo.seed_platforms import CATALOG
from platforms.models import ModelCatalogEntry, PlatformKey
from tests.platforms.conftest import SigningKey, send, sign

pytestmark = pytest.mark.django_db


def _seed(*args: str) -> dict:
    out = io.StringIO()
    call_command("seed_demo", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_every_demo_platform_gets_the_catalog_anchored_on_kimi_input(tmp_path: Path) -> None:
    result = _seed()
    slugs = [p["slug"] for p in result["platforms"]]
    assert set(result["platforms"][0]) >= {"slug", "name"}
    for slug in slugs:
        models = set(
            ModelCatalogEntry.objects.filter(platform__slug=slug).values_list("model_id", flat=True)
        )
        assert models == {row[0] for row in CATALOG}
    kimi = ModelCatalogEntry.objects.filter(model_id="kimi-k2.5").first()
    assert kimi is not None
    assert kimi.points_input_per_1k == 1000
    assert kimi.points_output_per_1k == 5250
    names = set(ModelCatalogEntry.objects.values_list("display_name", flat=True))
    assert {"GLM-5", "DeepSeek-V3.2", "Kimi-K2.5"} <= names


def test_demo_keys_are_written_registered_usable_and_stable(tmp_path: Path, client: Client) -> None:
    assert not PlatformKey.objects.exists()
    first = _seed("--demo-keys", str(tmp_path))
    entries = first["platforms"]
    assert all({"slug", "name", "key_id", "private_key"} <= set(p) for p in entries)
    for entry in entries:
        pem = Path(entry["private_key"])
        assert pem.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600
        assert (tmp_path / f"{entry['slug']}.key_id").read_text().strip() == entry["key_id"]
    second = _seed("--demo-keys", str(tmp_path))
    assert [p["key_id"] for p in second["platforms"]] == [p["key_id"] for p in entries]
    assert PlatformKey.objects.count() == len(entries)
    assert ModelCatalogEntry.objects.count() == len(entries) * len(CATALOG)

    entry = entries[0]
    key = PlatformKey.objects.get(key_id=entry["key_id"])
    signing = SigningKey(
        platform=key.platform, key=key, private_pem=Path(entry["private_key"]).read_bytes()
    )
    response = send(client, sign("GET", "/api/v1/ping", signing.auth()))
    assert response.status_code == 200
    assert response.json()["platform"] == entry["slug"]


def test_without_the_option_no_keys_are_made() -> None:
    _seed()
    assert not PlatformKey.objects.exists()
