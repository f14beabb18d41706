"""This app's permissions, granted to roles."""

from accounts.models import Membership
from accounts.roles import crud_perms, grant, view_perms

Role = Membership.Role

grant(Role.PROGRAM_MANAGER, *crud_perms("programs", "program", "phasestep"))
grant(Role.REVIEWER, *view_perms("programs", "program", "phasestep"))
grant(Role.AUDITOR, *view_perms("programs", "program", "phasestep"))
