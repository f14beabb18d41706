"""The platform API, mounted at ``/api/v1/`` by ``config/urls.py``."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .api import NotFoundView, PingView
from .schema import SPECTACULAR_API_SETTINGS
from .views import (
    HoldCaptureView,
    HoldReleaseView,
    HoldsView,
    RedemptionsView,
    ReversalsView,
    UsageBatchesView,
    VoucherDetailView,
)

app_name = "platform_api"

urlpatterns = [
    path("ping", PingView.as_view(), name="ping"),
    # Path ids are matched loosely and checked by the view, so that a bad id
    # gets the contract's hold_not_found / redemption_not_found, not a bare 404.
    path("vouchers/<str:code>", VoucherDetailView.as_view(), name="voucher-detail"),
    path("redemptions", RedemptionsView.as_view(), name="redemptions"),
    path(
        "redemptions/<str:redemption_id>/reversals",
        ReversalsView.as_view(),
        name="redemption-reversals",
    ),
    path("holds", HoldsView.as_view(), name="holds"),
    path("holds/<str:hold_id>/capture", HoldCaptureView.as_view(), name="hold-capture"),
    path("holds/<str:hold_id>/release", HoldReleaseView.as_view(), name="hold-release"),
    path("usage-batches", UsageBatchesView.as_view(), name="usage-batches"),
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
