from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class ProgramsConfig(AppConfig):
    name = "programs"
    verbose_name = pgettext_lazy("admin section", "Programs")

    def ready(self) -> None:
        from . import roles  # noqa: F401  (grants this app's permissions to roles)
