"""What each role may do with the platforms app's models.

Keys and catalog rows are registered by superusers; officials may look at
those of the platforms serving their districts, operators at their own
(rows are scoped by ``scope_q``)."""

from accounts.models import Membership
from accounts.roles import grant, view_perms

for _role in Membership.OFFICIAL_ROLES:
    grant(_role, *view_perms("platforms", "platformkey", "modelcatalogentry"))
grant(
    Membership.Role.PLATFORM_OPERATOR,
    *view_perms("platforms", "platformkey", "modelcatalogentry"),
)
