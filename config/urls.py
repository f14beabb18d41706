"""URL configuration."""

from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from eligibility.views import (
    enterprise_correct_view,
    enterprise_detail_view,
    enterprise_register_view,
)

from .views import home, portal

urlpatterns = [
    path("", home, name="home"),
    path("portal/", portal, name="portal"),
    path("enterprise/register/", enterprise_register_view, name="enterprise_register"),
    path("enterprise/<int:pk>/", enterprise_detail_view, name="enterprise_detail"),
    path(
        "enterprise/<int:pk>/registration/",
        enterprise_correct_view,
        name="enterprise_registration_correct",
    ),
    path("", include("applications.urls")),
    path("claims/", include("settlements.claim_urls")),
    path("notifications/", include("notices.urls")),
    path("", include("vouchers.urls")),
    path("accounts/", include("allauth.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    # Scoped: the dashboard, program reports and disclosures read only the
    # programs accounts.scoping.scoped lets the official see.
    path("admin/dashboard/", include("oversight.dashboard")),
    # Admin pages of models that moved to another app (programs, applications,
    # oversight): permanent redirects from their old addresses, before the admin.
    path("", include("config.legacy_admin")),
    path("admin/", admin.site.urls),
    # The settlement endpoints first: the platform API's own patterns end
    # with a catch-all 404.
    path("api/v1/", include("settlements.api_urls")),
    path("api/v1/", include("platforms.urls")),
    path("operator/", include("settlements.operator_urls")),
    path("operator/", include("platforms.operator_urls")),
]

# Error pages in the site's look and language; JSON under /api/ (config/errors.py).
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
