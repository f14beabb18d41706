"""Forms of the enterprise's contract and claim pages and of the assessor's
pages. They only read what was typed; every rule is the services' (a refusal
comes back as a ``BusinessError`` and :func:`add_refusal` shows it on the
field it names)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.forms import USCCField
from applications.documents import max_bytes
from common.errors import BusinessError
from programs.models import Program

from .claims.contracts import DECLARATION
from .models import Contract, ContractDocument, Invoice, Obligation, ServiceKind

#: The declaration the claimant ticks; the same words ``claim_submit`` keeps
#: on the claim (one msgid, so both read the same in every language).

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
_MONEY = forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"})
_ACCEPT = ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"


def add_refusal(
    form: forms.Form,
    exc: BusinessError | PermissionDenied,
    aliases: dict[str, str] | None = None,
) -> None:
    """Show a service's refusal on the field it names (else above the form)."""
    if isinstance(exc, BusinessError):
        field = (aliases or {}).get(exc.field or "", exc.field)
        message = str(exc.message)
    else:
        field = None
        message = str(exc) or gettext("You may not do this.")
    form.add_error(field if field in form.fields else None, message)


#: Plain words for what Django's stock messages say of a decimal field.
MONEY_ERRORS = {
    "invalid": _("Enter the amount in yuan as a number, e.g. 12000 or 12000.50."),
    "max_decimal_places": _("Give the amount to the fen at most (two decimals)."),
    "max_digits": _("This amount is far too large; enter it in yuan."),
    "max_whole_digits": _("This amount is far too large; enter it in yuan."),
    "min_value": _("The amount cannot be negative."),
}


def _money_field(label: Any, **kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=16,
        decimal_places=2,
        widget=_MONEY,
        error_messages=MONEY_ERRORS,
        **kwargs,
    )


class ContractForm(forms.Form):
    """A compute contract as the enterprise records it."""

    side = forms.ChoiceField(
        label=_("Our side of the contract"),
        choices=Contract.Side.choices,
        initial=Contract.Side.BUYER,
        widget=forms.RadioSelect,
    )
    number = forms.CharField(label=_("Contract number"), max_length=100)
    # Pasted codes come with spaces and lower case: the field normalises them.
    counterparty_uscc = USCCField(label=_("Counterparty's Unified Social Credit Code"))
    counterparty_name = forms.CharField(label=_("Counterparty's name"), max_length=200)
    signed_on = forms.DateField(label=_("Signed on"), widget=_DATE)
    service_starts_on = forms.DateField(label=_("Service from"), widget=_DATE)
    service_ends_on = forms.DateField(label=_("Service until"), widget=_DATE)
    amount = _money_field(_("Contract amount (yuan)"))
    service_kind = forms.ChoiceField(label=_("What it buys"), choices=ServiceKind.choices)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What is delivered: cards, hours, models (optional)."),
    )

    def __init__(self, *args: Any, enterprises: QuerySet[Any] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # A person who administers several enterprises says for which one.
        if enterprises is not None and enterprises.count() > 1:
            self.fields["enterprise"] = forms.ModelChoiceField(
                label=_("Enterprise"), queryset=enterprises, empty_label=None
            )
            self.order_fields(["enterprise"])


class InvoiceForm(forms.Form):
    """An invoice under the contract, and when it was paid."""

    number = forms.CharField(
        label=_("Invoice number"),
        max_length=40,
        error_messages={
            "max_length": _("An invoice number has at most 40 characters; check what was typed.")
        },
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "mono"}),
    )
    issued_on = forms.DateField(label=_("Invoice date"), widget=_DATE)
    amount = _money_field(_("Amount (yuan)"))
    service_kind = forms.ChoiceField(label=_("What it bills"), choices=ServiceKind.choices)
    paid_on = forms.DateField(
        label=_("Paid on"),
        required=False,
        widget=_DATE,
        help_text=_("Only paid invoices count; leave empty until it is paid."),
    )

    def __init__(self, *args: Any, contract: Contract, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "invoice")
        kwargs.setdefault("initial", {"service_kind": contract.service_kind})
        super().__init__(*args, **kwargs)


class ContractDocumentForm(forms.Form):
    """The contract file or a proof, by kind."""

    kind = forms.ChoiceField(label=_("What the document is"), choices=ContractDocument.Kind.choices)
    invoice = forms.ModelChoiceField(
        label=_("For invoice"),
        queryset=Invoice.objects.none(),
        required=False,
        empty_label=_("(the contract as a whole)"),
    )
    file = forms.FileField(
        label=_("File"), widget=forms.ClearableFileInput(attrs={"accept": _ACCEPT})
    )

    def __init__(self, *args: Any, contract: Contract, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "document")
        super().__init__(*args, **kwargs)
        invoice: Any = self.fields["invoice"]
        invoice.queryset = contract.invoices.all()
        self.fields["file"].help_text = gettext("PDF, PNG or JPEG, up to %(limit)s MB.") % {
            "limit": max_bytes() // (1024 * 1024)
        }


class ClaimStartForm(forms.Form):
    """Which program, on which contract."""

    program = forms.ModelChoiceField(label=_("Program"), queryset=Program.objects.none())
    contract = forms.ModelChoiceField(label=_("Contract"), queryset=Contract.objects.none())

    def __init__(
        self, *args: Any, programs: QuerySet[Program], contracts: QuerySet[Contract], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        program: Any = self.fields["program"]
        program.queryset = programs
        program.label_from_instance = lambda p: f"{p.display_name} · {p.district.display_name}"
        contract: Any = self.fields["contract"]
        contract.queryset = contracts
        contract.label_from_instance = lambda c: (
            f"{c.number} · {c.supplier_name if c.side == Contract.Side.BUYER else c.buyer_name}"
        )


class ClaimSubmitForm(forms.Form):
    """The declaration and where the subsidy is paid."""

    declaration = forms.BooleanField(label=DECLARATION, required=False)
    payee_bank = forms.CharField(
        label=_("Bank of the account"),
        max_length=200,
        required=False,
        help_text=_("The bank and branch, e.g. 中国银行保定分行."),
    )
    payee_account = forms.CharField(
        label=_("Account number"),
        max_length=60,
        error_messages={
            "max_length": _(
                "A bank account number has at most 60 characters; check what was typed."
            )
        },
        required=False,
        help_text=_("The enterprise's own account the subsidy is paid to (digits)."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )


class AssessmentForm(forms.Form):
    """The assessor's findings on a claim and the amount they recommend."""

    findings = forms.CharField(
        label=_("Findings"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "What you checked and what you found; the district and the finance office read it."
        ),
    )
    recommended = _money_field(
        _("Recommended amount (yuan)"),
        min_value=Decimal("0"),
        help_text=_("At most the amount after the district's check."),
    )


def measured_field_name(kind: str) -> str:
    return f"measured_{kind}"


class AgreementAssessmentForm(forms.Form):
    """The measured value of every obligation of an agreement, and the report."""

    report = forms.CharField(
        label=_("Assessment report"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 8}),
    )

    def __init__(self, *args: Any, obligations: list[Obligation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.obligations = obligations
        for obligation in obligations:
            self.fields[measured_field_name(obligation.kind)] = forms.DecimalField(
                label=obligation.get_kind_display(),
                max_digits=16,
                decimal_places=2,
                widget=_MONEY,
                help_text=gettext("Target: %(target)s") % {"target": obligation.target},
            )
        self.order_fields([measured_field_name(o.kind) for o in obligations])

    def measured(self) -> dict[str, Decimal]:
        return {o.kind: self.cleaned_data[measured_field_name(o.kind)] for o in self.obligations}

    def field_for_refusal(self, exc: BusinessError) -> str | None:
        """The obligation a "measured" refusal is about (named in its message),
        else the first one."""
        if exc.field != "measured":
            return exc.field
        for obligation in self.obligations:
            if str(obligation.get_kind_display()) in str(exc.message):
                return measured_field_name(obligation.kind)
        return measured_field_name(self.obligations[0].kind) if self.obligations else None
