"""What each audit event type reads as for an official: "Catalog entry created",
not ``catalog_entry.created``.

The event types are stable keys (``audit.events``, and ``anomaly.*`` of the
oversight app, named here by their strings because this app sits below it).
The audit list, its filter, an event's page and the timeline show these labels.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import events

EVENT_LABELS: dict[str, Promise] = {
    events.USER_LOGGED_IN: _("Signed in"),
    events.USER_LOGIN_FAILED: _("Sign-in failed"),
    events.ENTERPRISE_REGISTERED: _("Enterprise registered"),
    events.ENTERPRISE_UPDATED: _("Enterprise updated"),
    events.ENTERPRISE_CONTACT_UPDATED: _("Enterprise contact details updated"),
    events.ENTERPRISE_CORRECTED: _("Enterprise corrected its registration"),
    events.MEMBERSHIP_GRANTED: _("Role granted"),
    events.ADMIN_CHANGE: _("Changed in the admin"),
    events.ADMIN_ADD: _("Added in the admin"),
    events.ADMIN_DELETE: _("Deleted in the admin"),
    events.AUDIT_EXPORTED: _("Audit log exported"),
    events.AUDIT_VERIFICATION_FAILED: _("Audit log verification failed"),
    events.AUDIT_ARCHIVED: _("Audit log archived"),
    events.PLATFORM_KEY_REGISTERED: _("Platform API key registered"),
    events.PLATFORM_KEY_REVOKED: _("Platform API key revoked"),
    events.CATALOG_ENTRY_CREATED: _("Model catalog entry created"),
    events.VOUCHER_ISSUED: _("Voucher issued"),
    events.VOUCHER_ACTIVATED: _("Voucher activated"),
    events.VOUCHER_SUSPENDED: _("Voucher suspended"),
    events.VOUCHER_RESUMED: _("Voucher resumed"),
    events.VOUCHER_EXHAUSTED: _("Voucher used up"),
    events.VOUCHER_REPLENISHED: _("Voucher replenished"),
    events.VOUCHER_EXPIRED: _("Voucher expired"),
    events.VOUCHER_REVOKED: _("Voucher revoked"),
    events.VOUCHER_CLAWED_BACK: _("Voucher clawed back"),
    events.VOUCHER_REMINDED: _("Voucher holder reminded"),
    events.VOUCHERS_BULK_ISSUED: _("Vouchers issued in bulk"),
    events.LEDGER_ENTRY_RECORDED: _("Ledger entry recorded"),
    events.RECORDS_COMMITTED: _("Usage batch recorded"),
    events.RECEIVABLE_CREATED: _("Receivable created"),
    events.PROGRAM_RATE_STEPPED: _("Subsidy rate stepped down"),
    events.PROGRAM_CLOSED_AT_EXIT: _("Program closed at its exit"),
    events.LEDGER_EXPORTED: _("Ledger exported"),
    events.SETTLEMENT_EXPORTED: _("Settlement exported"),
    events.PROGRAM_OPENED: _("Program opened"),
    events.PROGRAM_PAUSED: _("Program paused"),
    events.PROGRAM_RESUMED: _("Program resumed"),
    events.PROGRAM_CLOSED: _("Program closed"),
    events.PROGRAM_BUDGET_RESERVED: _("Budget reserved"),
    events.RULE_SET_IMPORTED: _("Eligibility rules imported"),
    events.RULE_SET_PUBLISHED: _("Eligibility rule set published"),
    events.RULE_SET_CREATED: _("Eligibility rule set created"),
    events.RULE_SET_VERSION_CREATED: _("New version of an eligibility rule set"),
    events.PROGRAM_RULE_SET_ADOPTED: _("Program adopted an eligibility rule set"),
    events.APPLICATION_DRAFT_SAVED: _("Application draft saved"),
    events.APPLICATION_DOCUMENT_ADDED: _("Document added to an application"),
    events.APPLICATION_DOCUMENT_REMOVED: _("Document removed from an application"),
    events.APPLICATION_SUBMITTED: _("Application submitted"),
    events.APPLICATION_RESUBMITTED: _("Application resubmitted"),
    events.APPLICATION_WITHDRAWN: _("Application withdrawn"),
    events.APPLICATION_REVIEW_STARTED: _("Application review started"),
    events.APPLICATION_FIRST_APPROVAL: _("Application: first approval"),
    events.APPLICATION_APPROVED: _("Application approved"),
    events.APPLICATION_REJECTED: _("Application rejected"),
    events.APPLICATION_RETURNED: _("Application returned for changes"),
    events.PROGRAM_REPORT_PRINTED: _("Program report printed"),
    events.DISCLOSURE_EXPORTED: _("Public disclosure exported"),
    events.BULK_ISSUANCE_PROPOSED: _("Bulk issuance proposed"),
    events.BULK_ISSUANCE_CONFIRMED: _("Bulk issuance confirmed"),
    events.BULK_ISSUANCE_CANCELLED: _("Bulk issuance cancelled"),
    events.SETTLEMENT_DRAWN: _("Settlement drawn up"),
    events.SETTLEMENT_SUBMITTED: _("Settlement submitted"),
    events.SETTLEMENT_REVIEW_STARTED: _("Settlement review started"),
    events.SETTLEMENT_LINE_REJECTED: _("Settlement line rejected"),
    events.SETTLEMENT_RETURNED: _("Settlement returned for changes"),
    events.SETTLEMENT_PASSED_ON: _("Settlement passed on to finance"),
    events.SETTLEMENT_FIRST_APPROVAL: _("Settlement: first approval"),
    events.SETTLEMENT_APPROVED: _("Settlement approved"),
    events.SETTLEMENT_PAYMENT_RECORDED: _("Settlement payment recorded"),
    events.SETTLEMENT_PAID: _("Settlement paid"),
    events.PAYMENT_BATCH_CREATED: _("Payment batch created"),
    events.PAYMENT_BATCH_EXPORTED: _("Payment batch exported"),
    events.PAYMENT_BATCH_CONFIRMED: _("Payment batch confirmed"),
    events.CONTRACT_RECORDED: _("Contract recorded"),
    events.INVOICE_RECORDED: _("Invoice recorded"),
    events.CONTRACT_DOCUMENT_ADDED: _("Document added to a contract"),
    events.CLAIM_CREATED: _("Claim drafted"),
    events.CLAIM_SUBMITTED: _("Claim submitted"),
    events.CLAIM_WITHDRAWN: _("Claim withdrawn"),
    events.CLAIM_SUPERSEDED: _("Claim superseded"),
    events.CLAIM_CHECK_STARTED: _("Claim check started"),
    events.CLAIM_INVOICE_EXCLUDED: _("Invoice left out of a claim"),
    events.CLAIM_RETURNED: _("Claim returned for changes"),
    events.CLAIM_REJECTED: _("Claim rejected"),
    events.CLAIM_PASSED_TO_ASSESSOR: _("Claim passed on to the assessor"),
    events.CLAIM_PASSED_TO_FINANCE: _("Claim passed on to finance"),
    events.CLAIM_ASSESSED: _("Claim assessed"),
    events.CLAIM_FIRST_APPROVAL: _("Claim: first approval"),
    events.CLAIM_APPROVED: _("Claim approved"),
    events.CLAIM_PAYMENT_RECORDED: _("Claim payment recorded"),
    events.CLAIM_PAID: _("Claim paid"),
    events.CLAIM_EXPORTED: _("Claim payment notice downloaded"),
    events.AGREEMENT_CREATED: _("Performance agreement created"),
    events.AGREEMENT_ASSIGNED: _("Performance agreement assigned"),
    events.AGREEMENT_ASSESSED: _("Performance agreement assessed"),
    events.AGREEMENT_DECIDED: _("Performance agreement decided"),
    events.RECEIVABLE_REPAID: _("Receivable repaid"),
    events.RECEIVABLE_WRITTEN_OFF: _("Receivable written off"),
    events.RECEIVABLE_REMINDED: _("Receivable reminder sent"),
    # The oversight app's events (oversight.flags), above this app's layer.
    "anomaly.flagged": _("Anomaly flagged"),
    "anomaly.confirmed": _("Anomaly confirmed"),
    "anomaly.dismissed": _("Anomaly dismissed"),
}


def event_label(event_type: str) -> str:
    """The event type as an official reads it, in the active language.

    A type without a label (added without one) reads as "Other event" with
    the key, so it is still identifiable; tests/audit check every type has one."""
    label = EVENT_LABELS.get(event_type)
    if label is None:
        return gettext("Other event (%(type)s)") % {"type": event_type}
    return str(label)
