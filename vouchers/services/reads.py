"""The voucher as a platform may see it (the API's GET vouchers/{code})."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import ComputePlatform
from programs.phasedown import rate_in_force
from vouchers import queries
from vouchers.services.coverage import refuse_unless_bound
from vouchers.services.inputs import checked_code, voucher_not_found
from vouchers.services.responses import VoucherView


def voucher_lookup(*, platform: ComputePlatform, voucher_code: str) -> VoucherView:
    """The voucher as a platform may see it: only when bound to it."""
    code = checked_code(voucher_code)
    voucher = queries.voucher_for_lookup(platform_id=platform.pk, code=code)
    if voucher is None:
        raise voucher_not_found()
    refuse_unless_bound(voucher, platform=platform)
    return VoucherView(
        voucher=voucher, rate_in_force=rate_in_force(voucher.program, on=timezone.now())
    )
