"""English formats: Django's own (commas every three digits)."""

from django.conf.locale.en.formats import *  # noqa: F403
