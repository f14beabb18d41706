from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = _("Applications")

    def ready(self) -> None:
        from . import roles  # noqa: F401  (grants this app's permissions to roles)
        from .budget import register_figures

        register_figures()
