"""Oversight's permissions: officials read the anomaly flags, program managers
tune the detectors' thresholds."""

from accounts.models import Membership
from accounts.roles import grant

# Anomaly flags: every official reads their district's queue (deciding is
# checked per flag by oversight.flags); program managers tune the thresholds.
for _role in Membership.OFFICIAL_ROLES:
    grant(_role, "oversight.view_anomalyflag", "oversight.view_detectorsettings")
grant(
    Membership.Role.PROGRAM_MANAGER,
    "oversight.add_detectorsettings",
    "oversight.change_detectorsettings",
)
