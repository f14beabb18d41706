from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = pgettext_lazy("admin section", "Applications")

    def ready(self) -> None:
        from . import roles  # noqa: F401  (grants this app's permissions to roles)
        from .budget import register_figures
        from .queue import register_work

        register_figures()
        register_work()
