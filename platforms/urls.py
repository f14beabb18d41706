"""The platform API, mounted at ``/api/v1/`` by ``config/urls.py``."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .api import NotFoundView, PingView
from .schema import SPECTACULAR_API_SETTINGS

app_name = "platform_api"

urlpatterns = [
    path("ping", PingView.as_view(), name="ping"),
    path(
        "schema/",
        SpectacularAPIView.as_view(custom_settings=SPECTACULAR_API_SETTINGS),
        name="schema",
    ),
    path(
        "docs/",
        # The split view serves its start-up script from a URL, and this
        # template moves the page's inline style into a static file, so the
        # page works under a Content-Security-Policy without 'unsafe-inline'.
        SpectacularSwaggerSplitView.as_view(
            url_name="platform_api:schema", template_name="platforms/swagger_ui.html"
        ),
        name="docs",
    ),
    # Last: any other path under the API is a 404 in the contract's shape.
    re_path(r"^.*$", NotFoundView.as_view(), name="not-found"),
]
