from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Tools every app may use and that know no domain; an app only for its
    template filters (``common/templatetags``)."""

    name = "common"
    verbose_name = "Common"
