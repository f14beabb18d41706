"""The voucher certificate: a one-page PDF (WeasyPrint) with a QR code of
the voucher's code, set in a CJK font so Chinese renders correctly."""

from __future__ import annotations

import base64

import qrcode
import qrcode.image.svg
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import Voucher
from .selectors import voucher_rate_outlook


def qr_data_uri(text: str) -> str:
    """An SVG QR code of ``text`` as a data URI (no file, no network)."""
    image = qrcode.make(
        text,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=10,
        border=2,
    )
    svg = image.to_string(encoding="unicode")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def certificate_pdf(voucher: Voucher, *, language: str) -> bytes:
    """Render the certificate of ``voucher`` in ``language`` as PDF bytes."""
    from weasyprint import CSS, HTML

    with translation.override(language):
        context = {
            "voucher": voucher,
            "program": voucher.program,
            "district": voucher.program.district,
            "enterprise": voucher.enterprise,
            "outlook": voucher_rate_outlook(voucher),
            "platforms": list(voucher.program.platforms.all()),
            "qr": qr_data_uri(voucher.code),
            "printed_at": timezone.localtime(),
            "language": language,
        }
        html = render_to_string("pdf/voucher_certificate.html", context)
        css = render_to_string("pdf/voucher_certificate.css", context)
    return HTML(string=html).write_pdf(stylesheets=[CSS(string=css)])
