from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VouchersConfig(AppConfig):
    name = "vouchers"
    verbose_name = _("Programs and vouchers")

    def ready(self) -> None:
        from . import roles  # noqa: F401  (grants this app's permissions to roles)
        from .facts import register_facts

        register_facts()
