"""Telling the claimant's people how their claim goes: a notification each
(notices.notify), e-mailed after the change commits."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse

from notices.services import notify

from ..models import Claim


def notify_claimant(
    *, claim: Claim, kind: str, amount: Decimal | None = None, note: str = ""
) -> None:
    """Notify the claimant's members of ``kind`` (a ``Notification.Kind``) in
    the transaction of the step; ``amount`` is the one the step is about."""
    program = claim.program
    notify(
        enterprise=claim.enterprise,
        kind=kind,
        params={
            "number": claim.pk,
            "program": program.name,
            "program_en": program.name_en,
            "contract": claim.contract.number,
            "stage": claim.stage,
            "amount": str(claim.claimed_amount if amount is None else amount),
            "unit": claim.unit,
            "note": note,
        },
        url=reverse("claim_detail", args=[claim.pk]),
    )
