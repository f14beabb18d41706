"""This app's permissions, granted to roles."""

from accounts.models import Membership
from accounts.roles import crud_perms, grant, view_perms

Role = Membership.Role

grant(Role.PROGRAM_MANAGER, *crud_perms("vouchers", "program"))
grant(Role.REVIEWER, *view_perms("vouchers", "program"))
grant(Role.AUDITOR, *view_perms("vouchers", "program"))

# Vouchers: program managers act on them; reviewers and auditors read them.
_VOUCHER_MODELS = (
    "voucher",
    "ledgerentry",
    "hold",
    "redemption",
    "reversal",
    "receivable",
    "bulkissuance",
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
grant(Role.PROGRAM_MANAGER, *crud_perms("vouchers", "program", "phasestep"))
grant(Role.PROGRAM_MANAGER, *view_perms("vouchers", "application", "applicationdocument"))
grant(Role.REVIEWER, *view_perms("vouchers", "program", "phasestep", "applicationdocument"))
# Reviewers change applications only through the review actions the admin offers.
grant(Role.REVIEWER, "vouchers.view_application", "vouchers.change_application")
grant(
    Role.AUDITOR,
    *view_perms("vouchers", "program", "phasestep", "application", "applicationdocument"),
)
