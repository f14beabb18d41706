"""The audit log's permissions: every official may read their districts' events."""

from accounts.models import Membership
from accounts.roles import grant

for _role in Membership.OFFICIAL_ROLES:
    grant(_role, "audit.view_auditevent")
