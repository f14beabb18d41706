"""The officials' admin site: logins go through allauth, so they get its rate
limits and MFA; only superusers and district officials get in."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _


class ComputeVoucherAdminSite(admin.AdminSite):
    site_header = _("Compute-voucher administration")
    site_title = _("Compute vouchers")
    index_title = _("District administration")

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff)

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        from common.work_queue import work_queue

        # What waits for this official, by the roles they hold in each
        # district (each app registers its own work); lines link to this
        # site's change lists, so only models it shows.
        queue = work_queue(request.user, models=self._registry)
        return super().index(
            request,
            {
                **(extra_context or {}),
                "work_queue": [item for item in queue if item.count],
            },
        )

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return secure_admin_login(super().login)(request, extra_context)
