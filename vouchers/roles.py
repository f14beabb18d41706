"""This app's permissions, granted to roles."""

from accounts.models import Membership
from accounts.roles import grant, view_perms

Role = Membership.Role

# Vouchers: program managers act on them; reviewers and auditors read them.
_VOUCHER_MODELS = (
    "voucher",
    "ledgerentry",
    "hold",
    "redemption",
    "reversal",
    "receivable",
)
grant(
    Role.PROGRAM_MANAGER,
    *view_perms("vouchers", *_VOUCHER_MODELS),
    "vouchers.issue_voucher",
    "vouchers.suspend_voucher",
    "vouchers.revoke_voucher",
    "vouchers.clawback_voucher",
)
grant(Role.REVIEWER, *view_perms("vouchers", *_VOUCHER_MODELS))
grant(Role.AUDITOR, *view_perms("vouchers", *_VOUCHER_MODELS))
