"""The audit log's permissions: every official may read their districts' events."""

from accounts.models import Membership
from accounts.roles import grant

for _role in Membership.OFFICIAL_ROLES:
    grant(_role, "audit.view_auditevent")

# Anomaly flags: every official reads their district's queue (deciding is
# checked per flag by audit.flags); program managers tune the thresholds.
for _role in Membership.OFFICIAL_ROLES:
    grant(_role, "audit.view_anomalyflag", "audit.view_detectorsettings")
grant(
    Membership.Role.PROGRAM_MANAGER,
    "audit.add_detectorsettings",
    "audit.change_detectorsettings",
)
