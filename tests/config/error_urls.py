"""The site's URLs plus views that fail on purpose, for the error-page tests."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path

from config import urls as site_urls

handler400 = site_urls.handler400
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500


def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a fault on the server's side, for the test")


def deny(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def broken_context_processor(request: HttpRequest) -> dict[str, object]:
    raise RuntimeError("a context processor that fails, for the test")


urlpatterns = [
    path("failing-page/", fail),
    path("api/failing-endpoint/", fail),
    path("api/denied-endpoint/", deny),
    *site_urls.urlpatterns,
]
