"""Supporting documents: checked by content and size, served only to those allowed."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from accounts.models import Membership
from applications.models import ApplicationDocument
from applications.services import application_document_add
from audit.services import Actor
from common.errors import BusinessError
from tests.accounts.factories import EnterpriseFactory
from tests.applications.factories import PDF_BYTES, application
from tests.vouchers.factories import client_for, member, official, with_mfa

pytestmark = pytest.mark.django_db

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_renamed_executable_is_refused(program: Any, enterprise: Any, applicant: Any) -> None:
    app = application(enterprise, program, with_document=False)
    upload = SimpleUploadedFile("licence.pdf", EXE, content_type="application/pdf")
    with pytest.raises(BusinessError) as refused:
        application_document_add(actor=Actor.for_user(applicant), application=app, upload=upload)
    assert refused.value.field == "document"
    assert "not a PDF, PNG or JPEG" in str(refused.value.message)
    assert not ApplicationDocument.objects.exists()


def test_an_oversize_file_is_refused(
    program: Any, enterprise: Any, applicant: Any, settings: Any
) -> None:
    settings.APPLICATION_DOCUMENT_MAX_BYTES = 1024 * 1024
    app = application(enterprise, program, with_document=False)
    upload = SimpleUploadedFile(
        "big.pdf", PDF_BYTES + b"0" * (1024 * 1024), content_type="application/pdf"
    )
    with pytest.raises(BusinessError) as refused:
        application_document_add(actor=Actor.for_user(applicant), application=app, upload=upload)
    assert "the limit is 1 MB" in str(refused.value.message)


def test_a_fake_image_is_refused(program: Any, enterprise: Any, applicant: Any) -> None:
    app = application(enterprise, program, with_document=False)
    upload = SimpleUploadedFile("x.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(BusinessError):
        application_document_add(actor=Actor.for_user(applicant), application=app, upload=upload)


def test_pdf_png_and_jpeg_are_accepted_and_stored_under_random_names(
    program: Any, enterprise: Any, applicant: Any, settings: Any
) -> None:
    app = application(enterprise, program, with_document=False)
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buffer, format="JPEG")
    for name, content in [("a.pdf", PDF_BYTES), ("b.png", _png()), ("c.jpeg", buffer.getvalue())]:
        doc = application_document_add(
            actor=Actor.for_user(applicant),
            application=app,
            upload=SimpleUploadedFile(name, content),
        )
        stored = doc.file.name.rsplit("/", 1)[-1]
        assert re.fullmatch(r"[0-9a-f]{32}\.(pdf|png|jpg)", stored), stored
        assert str(settings.PRIVATE_MEDIA_ROOT) in doc.file.path
    assert sorted(app.documents.values_list("content_type", flat=True)) == [
        "application/pdf",
        "image/jpeg",
        "image/png",
    ]


def test_the_upload_form_shows_the_refusal_next_to_the_field_and_keeps_the_text(
    program: Any, enterprise: Any, applicant: Any
) -> None:
    client = client_for(applicant)
    response = client.post(
        reverse("application_apply", args=[program.pk]),
        {
            "requested_amount": "120000",
            "purpose": "My carefully typed purpose.",
            "document": SimpleUploadedFile("setup.pdf", EXE),
            "intent": "save",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "not a PDF, PNG or JPEG" in body
    assert "My carefully typed purpose." in body
    assert 'value="120000"' in body


def test_documents_are_served_only_to_the_enterprise_and_the_districts_officials(
    program: Any, enterprise: Any, applicant: Any, jianghan: Any, guiyang: Any
) -> None:
    app = application(enterprise, program)
    doc = app.documents.get()
    url = reverse("application_document", args=[app.pk, doc.pk])
    own = client_for(applicant).get(url)
    assert own.status_code == 200
    assert b"".join(own.streaming_content) == PDF_BYTES
    assert own["Content-Type"] == "application/pdf"
    reviewer = with_mfa(official(jianghan, Membership.Role.REVIEWER))
    assert client_for(reviewer).get(url).status_code == 200
    # Someone else's document is not found, exactly as one that does not exist.
    stranger = member(EnterpriseFactory())
    assert client_for(stranger).get(url).status_code == 404
    far_official = with_mfa(official(guiyang, Membership.Role.REVIEWER))
    assert client_for(far_official).get(url).status_code == 404
    from django.test import Client

    anonymous = Client().get(url)
    assert anonymous.status_code == 302


def test_someone_elses_document_answers_exactly_like_a_document_that_does_not_exist(
    program: Any, enterprise: Any, applicant: Any, guiyang: Any
) -> None:
    app = application(enterprise, program)
    doc = app.documents.get()
    missing = ApplicationDocument.objects.order_by("-pk").first().pk + 1000  # type: ignore[union-attr]
    for outsider in (
        member(EnterpriseFactory()),
        with_mfa(official(guiyang, Membership.Role.REVIEWER)),
    ):
        client = client_for(outsider)
        theirs = client.get(reverse("application_document", args=[app.pk, doc.pk]))
        absent = client.get(reverse("application_document", args=[app.pk, missing]))
        nowhere = client.get(reverse("application_document", args=[app.pk + 1000, doc.pk]))
        assert theirs.status_code == absent.status_code == nowhere.status_code == 404
        # The site's 404 page differs only in what echoes the request itself:
        # the CSRF token (masked afresh on every page) and the path that the
        # language switch returns to. Everything else is the same bytes.
        assert _unechoed(theirs) == _unechoed(absent) == _unechoed(nowhere)
        assert theirs["Content-Type"] == absent["Content-Type"]


def _unechoed(response: Any) -> str:
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "CSRF", body)
    return re.sub(r'name="next" type="hidden" value="[^"]*"', "NEXT", body)


@pytest.mark.parametrize(
    ("uploaded_as", "content", "served_as", "content_type"),
    [
        ("polyglot.html", PDF_BYTES, "polyglot.pdf", "application/pdf"),
        ("picture.svg", None, "picture.png", "image/png"),
        ("no-extension", PDF_BYTES, "no-extension.pdf", "application/pdf"),
        ("报告.PDF", PDF_BYTES, "报告.pdf", "application/pdf"),
    ],
)
def test_a_download_is_named_by_its_detected_type_not_the_uploaders_extension(
    program: Any,
    enterprise: Any,
    applicant: Any,
    uploaded_as: str,
    content: bytes | None,
    served_as: str,
    content_type: str,
) -> None:
    app = application(enterprise, program, with_document=False)
    doc = application_document_add(
        actor=Actor.for_user(applicant),
        application=app,
        upload=SimpleUploadedFile(uploaded_as, content or _png()),
    )
    response = client_for(applicant).get(reverse("application_document", args=[app.pk, doc.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment;")
    assert _download_name(response["Content-Disposition"]) == served_as
    assert "no-store" in response["Cache-Control"]


def _download_name(disposition: str) -> str:
    """The file name a browser saves an attachment under (RFC 6266)."""
    encoded = re.search(r"filename\*=utf-8''([^;]+)", disposition)
    if encoded:
        return unquote(encoded.group(1))
    plain = re.search(r'filename="([^"]*)"', disposition)
    assert plain, disposition
    return plain.group(1)


def test_a_document_chosen_with_a_failed_save_is_kept_shown_and_not_stored_twice(
    program: Any, enterprise: Any, applicant: Any
) -> None:
    app = application(enterprise, program, with_document=False)
    client = client_for(applicant)
    url = reverse("application_edit", args=[app.pk])
    failed = client.post(
        url,
        {
            "requested_amount": "120000",
            "purpose": "",
            "document": SimpleUploadedFile("licence.pdf", PDF_BYTES),
            "intent": "save",
        },
    )
    assert failed.status_code == 400
    body = failed.content.decode()
    # The file was kept, and the page says so instead of "no document yet".
    assert app.documents.count() == 1
    assert "No document yet" not in body
    assert "licence.pdf" in body
    assert "you need not choose it again" in body
    # The applicant, not trusting it, fixes the purpose and chooses the file again.
    again = client.post(
        url,
        {
            "requested_amount": "120000",
            "purpose": "Fine-tune a dialect model.",
            "document": SimpleUploadedFile("licence (1).pdf", PDF_BYTES),
            "intent": "save",
        },
    )
    assert again.status_code == 302
    assert list(app.documents.values_list("original_name", flat=True)) == ["licence.pdf"]
    page = client.get(url).content.decode()
    assert "is already attached" in page


def test_the_same_content_is_attached_once_per_application(
    program: Any, enterprise: Any, applicant: Any
) -> None:
    app = application(enterprise, program, with_document=False)
    actor = Actor.for_user(applicant)
    first = application_document_add(
        actor=actor, application=app, upload=SimpleUploadedFile("a.pdf", PDF_BYTES)
    )
    second = application_document_add(
        actor=actor, application=app, upload=SimpleUploadedFile("b.pdf", PDF_BYTES)
    )
    assert second.pk == first.pk
    assert app.documents.count() == 1
    # Another application may hold the same file.
    someone_else = EnterpriseFactory()
    other = application(someone_else, program, with_document=False)
    application_document_add(
        actor=Actor.for_user(member(someone_else)),
        application=other,
        upload=SimpleUploadedFile("a.pdf", PDF_BYTES),
    )
    assert other.documents.count() == 1


def test_the_database_refuses_the_same_content_twice_on_one_application(
    program: Any, enterprise: Any
) -> None:
    from django.db import IntegrityError, transaction

    app = application(enterprise, program)
    doc = app.documents.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        ApplicationDocument.objects.create(
            application=app,
            file=doc.file.name,
            original_name="copy.pdf",
            content_type=doc.content_type,
            size=doc.size,
            sha256=doc.sha256,
        )
