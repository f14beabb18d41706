"""The Django admin, replaced by the project's own site (allauth login, official roles)."""

from django.contrib.admin.apps import AdminConfig


class ComputeVoucherAdminConfig(AdminConfig):
    default_site = "config.admin.ComputeVoucherAdminSite"
