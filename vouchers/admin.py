"""The vouchers app's admin: programs and application review
(``admin_programs``), vouchers and their ledger (``admin_vouchers``)."""

from . import admin_programs, admin_vouchers  # noqa: F401  (registers the ModelAdmins)
