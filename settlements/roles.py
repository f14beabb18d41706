"""This app's permissions, granted to roles."""

from accounts.models import Membership
from accounts.roles import grant, view_perms

Role = Membership.Role

_ALL = ("settlement", "settlementline", "payment", "paymentbatch", "paymentbatchitem")

# Reviewers work settlements through the review actions the admin offers;
# finance officers approve and record payments; managers and auditors read.
grant(Role.REVIEWER, *view_perms("settlements", *_ALL), "settlements.change_settlement")
grant(
    Role.FINANCE_OFFICER,
    *view_perms("settlements", *_ALL),
    "settlements.change_settlement",
    "settlements.add_payment",
    "settlements.add_paymentbatch",
)
grant(Role.PROGRAM_MANAGER, *view_perms("settlements", *_ALL))
grant(Role.AUDITOR, *view_perms("settlements", *_ALL))
# Finance officers read the programs whose payouts they approve.
grant(Role.FINANCE_OFFICER, *view_perms("programs", "program"))

# Claims, their contracts and performance agreements: reviewers check claims
# and finance officers approve and pay them through the steps the admin
# offers (the services check the role in the program's district again);
# program managers give agreements to assessors and decide them; finance
# officers record repayments of the clawbacks, whose receivables they read.
# Assessors are no officials: they work on pages of their own.
_CLAIMS = (
    "claim",
    "contract",
    "invoice",
    "contractdocument",
    "claimedinvoice",
    "performanceagreement",
    "obligation",
    "repayment",
)
for _role in (Role.REVIEWER, Role.FINANCE_OFFICER, Role.PROGRAM_MANAGER, Role.AUDITOR):
    grant(_role, *view_perms("settlements", *_CLAIMS))
grant(Role.REVIEWER, "settlements.change_claim")
grant(
    Role.FINANCE_OFFICER,
    "settlements.change_claim",
    "settlements.add_repayment",
    "vouchers.view_receivable",
)
grant(Role.PROGRAM_MANAGER, "settlements.change_performanceagreement")
