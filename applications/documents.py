"""Checking uploaded supporting documents by their content, not their name.

Only PDF, PNG and JPEG are accepted, recognised by their first bytes (and,
for images, by decoding them), and no larger than
``settings.APPLICATION_DOCUMENT_MAX_BYTES`` (10 MB unless configured). A
renamed executable or script is refused whatever it is called.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from common.errors import BusinessError, Code

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_DOCUMENTS = 10

SIGNATURES = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
]


# The file-name extension of each accepted type: stored files and downloads
# are named by what their content is, never by what the uploader called them.
EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def extension_for(content_type: str) -> str:
    """The extension of a detected content type (``bin`` for anything else)."""
    return EXTENSIONS.get(content_type, "bin")


def download_name(original_name: str, content_type: str) -> str:
    """The name a document is downloaded under: the uploader's name with the
    extension of its detected type (``polyglot.html`` holding a PDF is
    ``polyglot.pdf``), so no browser or desktop opens it as something else."""
    base = PurePosixPath(str(original_name).replace("\\", "/")).name
    stem = base.rsplit(".", 1)[0].strip(" .") if "." in base else base.strip(" .")
    return f"{stem or 'document'}.{extension_for(content_type)}"


def max_bytes() -> int:
    return int(getattr(settings, "APPLICATION_DOCUMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


@dataclass(frozen=True)
class CheckedDocument:
    content_type: str
    size: int
    sha256: str


def sniff(head: bytes) -> str | None:
    """The content type the first bytes show, or None when not accepted."""
    for magic, content_type in SIGNATURES:
        if head.startswith(magic):
            return content_type
    return None


def check_document(upload: Any) -> CheckedDocument:
    """Check an uploaded file; BusinessError (field ``document``) when refused."""
    size = upload.size or 0
    limit = max_bytes()
    if size > limit:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("“%(name)s” is %(size)s MB; the limit is %(limit)s MB.")
            % {
                "name": upload.name,
                "size": f"{size / 1024 / 1024:.1f}",
                "limit": f"{limit / 1024 / 1024:.0f}",
            },
            field="document",
        )
    if size == 0:
        raise BusinessError(
            Code.VALIDATION_ERROR, _("“%(name)s” is empty.") % {"name": upload.name}, "document"
        )
    upload.seek(0)
    head = upload.read(16)
    content_type = sniff(head)
    if content_type is None:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _(
                "“%(name)s” is not a PDF, PNG or JPEG file (its content says otherwise, "
                "whatever its name)."
            )
            % {"name": upload.name},
            field="document",
        )
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    if content_type.startswith("image/"):
        from PIL import Image

        upload.seek(0)
        try:
            with Image.open(upload) as image:
                image.verify()
        except Exception:
            raise BusinessError(
                Code.VALIDATION_ERROR,
                _("“%(name)s” looks like an image but cannot be read.") % {"name": upload.name},
                field="document",
            ) from None
    upload.seek(0)
    return CheckedDocument(content_type=content_type, size=size, sha256=digest.hexdigest())
