"""Factories of the applications tests: applications with a document."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import Enterprise
from applications.models import Application, ApplicationDocument
from programs.models import Program

SHANGHAI = ZoneInfo("Asia/Shanghai")
YEAR = datetime.timedelta(days=365)


# applications

PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def pdf_upload(name: str = "licence.pdf") -> ContentFile:
    return ContentFile(PDF_BYTES, name=name)


def application(
    enterprise: Enterprise,
    program: Program,
    *,
    status: str = Application.Status.DRAFT,
    amount: Decimal = Decimal("100000"),
    with_document: bool = True,
) -> Application:
    """An application put straight into ``status`` (for tests of later steps)."""
    app = Application.objects.create(
        enterprise=enterprise, program=program, requested_amount=amount, purpose="Training a model."
    )
    if with_document:
        doc = ApplicationDocument(
            application=app,
            original_name="licence.pdf",
            content_type="application/pdf",
            size=len(PDF_BYTES),
            sha256="0" * 64,
        )
        doc.file.save("licence.pdf", ContentFile(PDF_BYTES), save=False)
        doc.save()
    if status != Application.Status.DRAFT:
        Application.objects.filter(pk=app.pk).update(status=status, submitted_at=timezone.now())
        app.refresh_from_db()
    return app
