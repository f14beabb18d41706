from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlatformsConfig(AppConfig):
    name = "platforms"
    verbose_name = _("Compute platforms")

    def ready(self) -> None:
        # Registers the signature scheme with drf-spectacular and the
        # platform roles' permissions.
        from . import roles, schema  # noqa: F401
