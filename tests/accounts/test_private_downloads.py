"""Every download is private data: no cache keeps one."""

from __future__ import annotations

import io

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import RequestFactory

from accounts.middleware import PrivateDownloadsNotStoredMiddleware


def _through_middleware(response: HttpResponse) -> HttpResponse:
    def view(request: HttpRequest) -> HttpResponse:
        return response

    return PrivateDownloadsNotStoredMiddleware(view)(RequestFactory().get("/x"))


def test_any_attachment_or_inline_file_is_marked_no_store_and_private() -> None:
    csv = HttpResponse("a,b\n", content_type="text/csv")
    csv["Content-Disposition"] = 'attachment; filename="export.csv"'
    pdf = HttpResponse(b"%PDF-", content_type="application/pdf")
    pdf["Content-Disposition"] = 'inline; filename="x.pdf"'
    streamed = StreamingHttpResponse(iter(["a"]), content_type="text/csv")
    streamed["Content-Disposition"] = 'attachment; filename="events.csv"'
    public_hint = FileResponse(io.BytesIO(b"%PDF-"), as_attachment=True, filename="f.pdf")
    public_hint["Cache-Control"] = "public, max-age=3600"
    for response in (csv, pdf, streamed, public_hint):
        directives = {d.strip() for d in _through_middleware(response)["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= directives, directives
        assert "public" not in directives


def test_an_ordinary_page_is_left_to_its_view() -> None:
    page = HttpResponse("<p>hello</p>")
    assert not _through_middleware(page).has_header("Cache-Control")
