"""Strings from dependencies whose bundled Chinese catalogs lack them.

Django 5.2's zh_Hans catalog has no translation for these password-validator
messages, so sign-up errors would show in English; and it "translates" the
form label suffix as an ASCII colon, so Chinese labels read "申请金额:"
instead of "申请金额：". Listing them here puts
them in our catalog (``scripts/i18n.py update``), which takes precedence at
run time. Nothing imports this module; makemessages reads it.
"""

from django.utils.translation import gettext_noop, ngettext_lazy

STRINGS = [
    # The suffix forms add after a label, and the characters that, ending a
    # label, make the suffix unnecessary ("我方承诺履行上述义务。" gets no colon).
    gettext_noop(":"),
    gettext_noop(":?.!"),
    ngettext_lazy(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        0,
    ),
    gettext_noop("This password is too common."),
    gettext_noop("This password is entirely numeric."),
    gettext_noop("The password is too similar to the %(verbose_name)s."),
]
