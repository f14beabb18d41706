from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        from . import roles, signals  # noqa: F401  (role grants; login events)

    def install_beat_schedule(self) -> list[tuple[str, bool]]:
        """This app's periodic tasks, for ``manage.py setup_periodic_tasks``."""
        from .schedule import install_schedule

        return install_schedule()
