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
