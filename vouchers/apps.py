from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VouchersConfig(AppConfig):
    name = "vouchers"
    verbose_name = _("Vouchers")

    def ready(self) -> None:
        from . import roles  # noqa: F401  (grants this app's permissions to roles)
        from .budget import register_figures
        from .facts import register_facts

        register_figures()
        register_facts()
