from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class VouchersConfig(AppConfig):
    name = "vouchers"
    verbose_name = pgettext_lazy("admin section", "Vouchers")

    def ready(self) -> None:
        from . import roles  # noqa: F401  (grants this app's permissions to roles)
        from .budget import register_figures
        from .commitments import register as register_commitments
        from .facts import register_facts
        from .queue import register_work

        register_figures()
        register_work()
        register_facts()
        register_commitments()
