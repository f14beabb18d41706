"""Contracts in the admin, read-only: the parties, dates and amount, the
findings of the checks run when it was recorded, its invoices and documents
(streamed to whoever may see the contract) and the claims on it that the
official may see."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.scoping import scoped
from programs.admin_display import amount_display, yuan
from vouchers.admin import ReadOnlyAdmin

from .admin_pages import ReadOnlyInline, serve_document
from .models import Contract, ContractDocument, Invoice


class InvoiceInline(ReadOnlyInline, admin.TabularInline):
    model = Invoice
    fields: ClassVar[Any] = [
        "number",
        "issued_on",
        amount_display(Invoice, "amount", unit=yuan),
        "service_kind",
        "paid_on",
    ]
    readonly_fields: ClassVar[Any] = fields


class ContractDocumentInline(ReadOnlyInline, admin.TabularInline):
    model = ContractDocument
    fields: ClassVar[Any] = ["kind", "download", "invoice", "size", "uploaded_at", "uploaded_by"]
    readonly_fields: ClassVar[Any] = fields

    @admin.display(description=_("file"))
    def download(self, obj: ContractDocument) -> str:
        url = reverse("admin:settlements_contract_document", args=[obj.contract_id, obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.original_name)


@admin.register(Contract)
class ContractAdmin(ReadOnlyAdmin):
    """Read-only: services record contracts, invoices and documents."""

    list_display = [
        "number",
        "enterprise",
        "side",
        "supplier_name",
        "buyer_name",
        "signed_on",
        amount_display(Contract, "amount", unit=yuan),
        "service_kind",
    ]
    list_display_links = ["number"]
    list_filter = ["service_kind", "side"]
    search_fields = ["number", "enterprise__name", "enterprise__uscc", "supplier_uscc"]
    list_select_related = ["enterprise"]
    empty_value_display = "—"
    inlines: ClassVar[Any] = [InvoiceInline, ContractDocumentInline]
    change_form_template = "settlements/admin/contract_change_form.html"
    fields: ClassVar[Any] = [
        "enterprise",
        "side",
        "number",
        "supplier_name",
        "supplier_uscc",
        "buyer_name",
        "buyer_uscc",
        "signed_on",
        "service_starts_on",
        "service_ends_on",
        amount_display(Contract, "amount", unit=yuan),
        "service_kind",
        "description",
        "findings",
        "voucher",
        "created_at",
    ]
    readonly_fields: ClassVar[Any] = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contract]:
        # Officials see a contract through its claims in their districts: one
        # row however many claims it has (else the page itself finds two).
        return super().get_queryset(request).distinct()

    @admin.display(description=_("findings"))
    def findings(self, obj: Contract) -> str:
        messages_ = [flag.get("message", "") for flag in obj.flags or []]
        if not messages_:
            return "—"
        return format_html_join("", '<p class="flag">{}</p>', ((m,) for m in messages_))

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.document_view)
        return [
            path(
                "<int:pk>/documents/<int:document_id>/", view, name="settlements_contract_document"
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        contract = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if contract is not None and self.has_view_permission(request, contract):
            # Only the claims the official sees: another district's are not theirs to read.
            extra["claims"] = scoped(
                contract.claims.select_related("program__district"), request.user
            )
        return super().change_view(request, object_id, form_url, extra)

    def document_view(self, request: HttpRequest, pk: int, document_id: int) -> FileResponse:
        """A document of the contract, to whoever may see the contract."""
        contract = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, contract):
            raise PermissionDenied
        document = get_object_or_404(ContractDocument, pk=document_id, contract=contract)
        return serve_document(document)
