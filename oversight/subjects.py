"""A flag's subject key as an official reads it.

Detectors file a flag under a stable key (``uscc:91420103…/kind:compute``,
``voucher:17/platform:2``) so that one subject is flagged once; the admin shows
the key as translated words: "USCC 91420103… · Compute voucher"."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from programs.models import Program

#: What each part of a key names; the value follows it.
PART_LABELS = {
    "uscc": _("USCC"),
    "supplier": _("supplier's USCC"),
    "enterprise": _("enterprise's USCC"),
    "voucher": _("voucher"),
    "platform": _("platform"),
    "program": _("program"),
    "model": _("model"),
    "settlement": _("settlement"),
    "invoice": _("invoice"),
    "contract": _("contract"),
    "legal_representative": _("legal representative"),
    "contact_phone": _("contact phone"),
    "phone": _("contact phone"),
    "address": _("address"),
}
#: Parts whose value is a row id, shown as "#17".
ID_PARTS = {"voucher", "platform", "program", "settlement"}


def subject_text(subject: str) -> str:
    """``uscc:X/kind:compute`` → "USCC X · Compute voucher", in the active language."""
    words = []
    for part in subject.split("/"):
        key, sep, value = part.partition(":")
        if not sep:
            words.append(part)
        elif key == "kind":
            words.append(str(dict(Program.Kind.choices).get(value, value)))
        elif key in PART_LABELS:
            shown = f"#{value}" if key in ID_PARTS else value
            words.append(f"{PART_LABELS[key]} {shown}")
        else:
            words.append(f"{key.replace('_', ' ')} {value}")
    return " · ".join(words)
