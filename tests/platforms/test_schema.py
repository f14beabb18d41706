"""The OpenAPI document and the self-hosted Swagger UI."""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from platforms.api_errors import ALL_CODES

pytestmark = pytest.mark.django_db


def test_the_schema_describes_the_signature_scheme_and_every_error_code(client: Client) -> None:
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    scheme = schema["components"]["securitySchemes"]["httpMessageSignature"]
    assert "RFC 9421" in scheme["description"]
    assert "nonce" in scheme["description"]
    ping = schema["paths"]["/api/v1/ping"]["get"]
    assert ping["security"] == [{"httpMessageSignature": []}]
    assert {"200", "400", "401", "403", "429"} <= set(ping["responses"])
    codes = set(schema["components"]["schemas"]["CodeEnum"]["enum"])
    assert codes == set(ALL_CODES)
    for code in ALL_CODES:
        assert f"`{code}`" in schema["info"]["description"]


def test_the_schema_validates() -> None:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null", stdout=out)


def test_the_docs_page_uses_self_hosted_assets_and_no_inline_script(client: Client) -> None:
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "<script>" not in html.replace(" ", "")
    assert "<style" not in html
    assert "/static/platforms/swagger.css" in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert b"SwaggerUIBundle" in script.content
