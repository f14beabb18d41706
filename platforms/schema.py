"""The OpenAPI document: the signature scheme and the error codes, described once."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .api_errors import ALL_CODES

SIGNATURE_SCHEME_DESCRIPTION = """\
RFC 9421 HTTP Message Signatures with Ed25519.

Register your Ed25519 **public** key (the operator of this service runs
`python manage.py platform_key add <platform-slug> <public-key.pem>`); you get a key id.
Sign every request with the private key:

* `Signature-Input: pyhms=("@method" "@authority" "@target-uri" "content-digest" …);created=…;keyid="<key id>";alg="ed25519";nonce="…"`
* `Signature: pyhms=:<base64 signature>:`
* `Content-Digest: sha-256=:<base64 SHA-256 of the body>:` (RFC 9530), covered by the
  signature whenever there is a body.

`created` must be within 300 s in the past and 30 s in the future; each `nonce` may be
used once per key within 300 s. `@authority` and `@target-uri` are the host and URL
*you* requested (e.g. `https://api.example.cn/api/v1/ping`).

In Python, the stock client does all of this:

```python
import requests
from requests_http_signature import HTTPSignatureAuth, algorithms
auth = HTTPSignatureAuth(signature_algorithm=algorithms.ED25519, key=open("key.pem", "rb").read(),
                         key_id="<key id>", use_nonce=True)
requests.get("https://api.example.cn/api/v1/ping", auth=auth)
```
"""


def _error_table() -> str:
    rows = "\n".join(f"| `{code}` | {status} |" for code, status in sorted(ALL_CODES.items()))
    return "| code | HTTP status |\n| --- | --- |\n" + rows


API_DESCRIPTION = f"""\
The redemption API for compute platforms (contract: `platform-api.md`).

**Conventions.** JSON in and out, UTF-8. Amounts are decimal strings (`"120.00"`); a JSON
number where an amount belongs is a `validation_error`. Every POST accepts
`Idempotency-Key` (1–255 characters): the same key and body within 24 h returns the
original status and byte-identical body (header `Idempotent-Replayed: true`); the same key
with a different body is 409 `idempotency_key_reused`. Messages follow `Accept-Language`
(`zh-Hans` or `en`); codes never change.

**Authentication.** {SIGNATURE_SCHEME_DESCRIPTION}

**Errors.** Every failure has the body
`{{"error": {{"code": "<stable_code>", "message": "<human text>", "field": "<field or null>"}}}}`:

{_error_table()}
"""

SPECTACULAR_API_SETTINGS: dict[str, Any] = {
    "TITLE": "Compute-voucher platform API",
    "DESCRIPTION": API_DESCRIPTION,
    "VERSION": "1.1.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
}


class SignatureAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes :class:`platforms.authentication.HTTPMessageSignatureAuthentication`."""

    target_class = "platforms.authentication.HTTPMessageSignatureAuthentication"
    name = "httpMessageSignature"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Signature",
            "description": SIGNATURE_SCHEME_DESCRIPTION,
        }
