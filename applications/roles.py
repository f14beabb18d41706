"""This app's permissions, granted to roles."""

from accounts.models import Membership
from accounts.roles import grant, view_perms

Role = Membership.Role

grant(Role.PROGRAM_MANAGER, *view_perms("applications", "application", "applicationdocument"))
grant(Role.PROGRAM_MANAGER, *view_perms("applications", "bulkissuance"))
grant(Role.REVIEWER, *view_perms("applications", "applicationdocument", "bulkissuance"))
# Reviewers change applications only through the review actions the admin offers.
grant(Role.REVIEWER, "applications.view_application", "applications.change_application")
grant(
    Role.AUDITOR,
    *view_perms("applications", "application", "applicationdocument", "bulkissuance"),
)
