from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class OversightConfig(AppConfig):
    """Analysis on top of every app: anomaly detectors and flags, dashboards,
    reports and disclosure exports. It reads everything and nothing imports it."""

    name = "oversight"
    verbose_name = pgettext_lazy("admin section", "Oversight")

    def ready(self) -> None:
        from . import roles  # noqa: F401  (grants this app's permissions to roles)
        from .queue import register_work

        register_work()
