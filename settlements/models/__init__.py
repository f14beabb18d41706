"""The settlements app's models: platform settlements, payments, claims on
contracts and performance agreements (one module each)."""

from .agreements import (
    Obligation,
    PerformanceAgreement,
    ReceivableReminder,
    Repayment,
)
from .claims import (
    ACCELERATED,
    Claim,
    ClaimedInvoice,
    Contract,
    ContractDocument,
    Invoice,
    ServiceKind,
)
from .payment import Payment, PaymentBatch, PaymentBatchItem
from .settlement import (
    ZERO,
    Settlement,
    SettlementLine,
    is_finance_officer_of,
)

__all__ = [
    "ACCELERATED",
    "ZERO",
    "Claim",
    "ClaimedInvoice",
    "Contract",
    "ContractDocument",
    "Invoice",
    "Obligation",
    "Payment",
    "PaymentBatch",
    "PaymentBatchItem",
    "PerformanceAgreement",
    "ReceivableReminder",
    "Repayment",
    "ServiceKind",
    "Settlement",
    "SettlementLine",
    "is_finance_officer_of",
]
