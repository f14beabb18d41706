"""Writes of contracts, invoices and claims: what the enterprise records, the
guards a claim passes when submitted, and its review in tiers — the
district's check, the assessor's findings, finance approval (four eyes
above the program's threshold) and payments.

Each service is one transaction that locks the claim (and the program where
the budget or a yearly cap is at stake), checks the transition and the
actor's role in the program's own district, and records an audit event.
The database backs the guards that must hold under concurrency: one live
claim per contract (both parties' records share its key), an invoice number
in at most one live claim anywhere, and the budget's check constraint.
"""

from .contracts import (
    contract_document_add,
    contract_record,
    invoice_record,
    normalize_invoice_number,
    related_party_flags,
)
from .review import (
    claim_approve,
    claim_assess,
    claim_exclude_invoice,
    claim_pass_on,
    claim_payment_record,
    claim_reject,
    claim_return,
    claim_start_check,
)
from .submission import (
    CLAIM_MODES,
    already_in_year,
    claim_compute,
    claim_create,
    claim_refresh,
    claim_submit,
    claim_withdraw,
    submission_refusals,
)

__all__ = [
    "CLAIM_MODES",
    "already_in_year",
    "claim_approve",
    "claim_assess",
    "claim_compute",
    "claim_create",
    "claim_exclude_invoice",
    "claim_pass_on",
    "claim_payment_record",
    "claim_refresh",
    "claim_reject",
    "claim_return",
    "claim_start_check",
    "claim_submit",
    "claim_withdraw",
    "contract_document_add",
    "contract_record",
    "invoice_record",
    "normalize_invoice_number",
    "related_party_flags",
    "submission_refusals",
]
