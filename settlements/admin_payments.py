"""Admin of the treasury's payment batches (:mod:`settlements.payments`).

The list shows the batches of the official's districts. A batch's page lists
its items — each a platform's settlement or an enterprise's claim, linked to
its own admin page — account numbers masked except to the district's finance officers,
who also get the buttons: download the payment instruction (CSV, XLSX) and
upload the bank's confirmation (a refused file is listed row by row). "New
payment batch" on the list is offered to finance officers only.

Registers itself with ``admin.site`` when imported (settlements/admin.py
imports it).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Count, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_scoping import refuse_unless
from accounts.models import District, Membership
from accounts.scoping import scope_for
from audit.admin_mixins import AuditedModelAdmin
from audit.services import Actor, client_ip
from common.errors import BusinessError
from common.formatting import amount

from .models import Claim, PaymentBatch, PaymentBatchItem
from .payment_files import CLAIM, MAX_FILE_BYTES
from .payments import (
    EXPORT_FORMATS,
    Candidate,
    item_payout_id,
    item_payout_type,
    item_reference,
    may_pay_for,
    payment_batch_candidates,
    payment_batch_confirm,
    payment_batch_create,
    payment_batch_export,
)


def masked(account: str) -> str:
    """An account number as people who may not read it see it: its last four digits."""
    account = (account or "").strip()
    if not account:
        return ""
    return "•••• " + account[-4:] if len(account) > 4 else "••••"


def finance_districts(user: Any) -> QuerySet[District]:
    """The districts where ``user`` may make payment batches."""
    scope = scope_for(user)
    if scope.is_superuser:
        return District.objects.order_by("name")
    return District.objects.filter(
        pk__in=scope.districts_with_role(Membership.Role.FINANCE_OFFICER)
    ).order_by("name")


def reasons(exc: BusinessError) -> tuple[str, list[str]]:
    """A refusal's summary, and its problems one by one when it lists several."""
    summary = str(exc.message)
    return summary, [str(m) for m in exc.messages if str(m) != summary]


def payout_url(payout_type: str, pk: int) -> str | None:
    """The admin page of the settlement or claim ``pk``, when it is there."""
    name = (
        "admin:settlements_claim_change"
        if payout_type == CLAIM
        else "admin:settlements_settlement_change"
    )
    # The settlement and claim admins are registered apart and may be absent.
    with contextlib.suppress(NoReverseMatch):
        return reverse(name, args=[pk])
    return None


def payout_type_label(payout_type: str) -> str:
    """The word for a payout type on the batch pages: "Settlement" or "Claim"."""
    return gettext("Claim") if payout_type == CLAIM else gettext("Settlement")


def payout_name(payout: Any) -> str:
    """A settlement or claim as a batch page names it."""
    if payout is None:
        return ""
    if isinstance(payout, Claim):
        return gettext("Claim #%(id)s · %(claimant)s") % {
            "id": payout.pk,
            "claimant": payout.enterprise,
        }
    return str(payout)


@dataclass(frozen=True)
class ItemRow:
    """One item of a batch as its page shows it."""

    item: PaymentBatchItem
    reference: str
    account: str
    payout_type: str
    payout_name: str
    payout_url: str | None


@dataclass(frozen=True)
class CandidateRow:
    """An approved settlement or claim waiting for payment, as "New payment
    batch" lists it."""

    payout: Any
    payout_type: str
    payout_name: str
    payee: str
    outstanding: str
    yuan: Decimal
    has_bank_details: bool


class NewPaymentBatchForm(forms.Form):
    district = forms.ModelChoiceField(label=_("District"), queryset=District.objects.none())
    payer_account = forms.CharField(
        label=_("Payer account"),
        max_length=100,
        help_text=_("The district's account the treasury pays from."),
    )

    def __init__(self, *args: Any, districts: QuerySet[District], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["district"]
        field.queryset = districts
        if len(districts) == 1:
            field.initial = districts[0]
            field.widget = forms.HiddenInput()


class BankConfirmationForm(forms.Form):
    file = forms.FileField(
        label=_("The bank's confirmation (CSV or XLSX)"),
        max_length=255,
        help_text=_(
            "Columns: settlement_id or claim_id (or reference), amount_cny, "
            "paid_on (YYYY-MM-DD), bank_reference. The whole file is refused if any "
            "row does not match."
        ),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                gettext("The file is larger than %(size)d MB; split it.")
                % {"size": MAX_FILE_BYTES // (1024 * 1024)}
            )
        return upload


class PaymentBatchAdmin(AuditedModelAdmin):
    list_display = [
        "__str__",
        "district",
        "status",
        "item_count",
        "total_cny",
        "payer_account",
        "created_at",
        "created_by",
    ]
    list_filter = ["status", "district"]
    list_select_related = ["district", "created_by"]
    fields = ("district", "status", "payer_account", "created_by", "created_at", "confirmed_at")
    readonly_fields = fields
    change_form_template = "settlements/admin/payment_batch_change_form.html"
    change_list_template = "settlements/admin/payment_batch_change_list.html"

    # Batches are made by "New payment batch" and change only through the
    # bank's confirmation (the services); never through a model form.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .annotate(item_total=Count("items"), cny_total=Sum("items__amount_cny"))
        )

    @admin.display(description=_("items"), ordering="item_total")
    def item_count(self, obj: Any) -> int:
        return int(getattr(obj, "item_total", 0) or 0)

    @admin.display(description=_("total to pay"), ordering="cny_total")
    def total_cny(self, obj: Any) -> str:
        return amount(getattr(obj, "cny_total", None))

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("new/", wrap(self.new_view), name="settlements_paymentbatch_new"),
            path(
                "<int:pk>/export/<str:fmt>/",
                wrap(self.export_view),
                name="settlements_paymentbatch_export",
            ),
            path(
                "<int:pk>/confirm/",
                wrap(self.confirm_view),
                name="settlements_paymentbatch_confirm",
            ),
            *super().get_urls(),
        ]

    # --- The list and the batch's page ---------------------------------------

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {
            **(extra_context or {}),
            "may_make_batch": finance_districts(request.user).exists(),
        }
        return super().changelist_view(request, extra)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        batch = self.get_object(request, unquote(object_id))
        if batch is not None and self.has_view_permission(request, batch):
            may_pay = may_pay_for(request.user, batch.district_id)
            extra.update(
                batch_items=self._item_rows(batch, reveal=may_pay),
                may_pay=may_pay,
                may_confirm=may_pay and batch.status == PaymentBatch.Status.EXPORTED,
            )
        return super().change_view(request, object_id, form_url, extra)

    def _item_rows(self, batch: PaymentBatch, *, reveal: bool) -> list[ItemRow]:
        items = batch.items.select_related(
            "settlement__program", "settlement__platform", "claim__enterprise", "payment"
        ).order_by("id")
        return [
            ItemRow(
                item=item,
                reference=item_reference(batch.pk, item),
                account=item.payee_account if reveal else masked(item.payee_account),
                payout_type=payout_type_label(item_payout_type(item)),
                payout_name=payout_name(item.payout),
                payout_url=payout_url(item_payout_type(item), item_payout_id(item)),
            )
            for item in items
        ]

    # --- Making a batch -------------------------------------------------------

    def new_view(self, request: HttpRequest) -> HttpResponse:
        """Make a batch of a district's approved settlements and claims waiting for payment."""
        districts = finance_districts(request.user)
        refuse_unless(districts.exists())
        if request.method == "POST":
            form = NewPaymentBatchForm(request.POST, districts=districts)
        else:
            form = NewPaymentBatchForm(districts=districts)
        if request.method == "POST" and form.is_valid():
            try:
                batch = payment_batch_create(
                    actor=Actor.for_user(request.user, source_ip=client_ip(request)),
                    district=form.cleaned_data["district"],
                    payer_account=form.cleaned_data["payer_account"],
                )
            except BusinessError as exc:
                summary, details = reasons(exc)
                for message in (summary, *details):
                    form.add_error(None, message)
            else:
                messages.success(
                    request,
                    gettext("Payment batch %(batch)s was made; download it for the treasury.")
                    % {"batch": f"#{batch.pk}"},
                )
                return redirect(reverse("admin:settlements_paymentbatch_change", args=[batch.pk]))
        waiting = [
            (district, self._candidate_rows(district)) for district in districts.order_by("name")
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("New payment batch"),
            "form": form,
            "waiting": waiting,
        }
        return TemplateResponse(request, "settlements/admin/payment_batch_new.html", context)

    @staticmethod
    def _candidate_rows(district: District) -> list[CandidateRow]:
        def row(candidate: Candidate) -> CandidateRow:
            payout = candidate.payout
            return CandidateRow(
                payout=payout,
                payout_type=payout_type_label(candidate.payout_type),
                payout_name=(
                    payout_name(payout) if isinstance(payout, Claim) else f"#{payout.pk} {payout}"
                ),
                payee=candidate.payee.name,
                outstanding=amount(candidate.outstanding, payout.unit),
                yuan=candidate.yuan,
                has_bank_details=candidate.has_bank_details,
            )

        return [row(c) for c in payment_batch_candidates(district_id=district.pk)]

    # --- The instruction and the bank's confirmation ---------------------------

    def _batch_for_finance(self, request: HttpRequest, pk: int) -> PaymentBatch:
        batch = get_object_or_404(self.get_queryset(request), pk=pk)
        refuse_unless(may_pay_for(request.user, batch.district_id))
        return batch

    def export_view(self, request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
        """The payment instruction as a file (recorded: it shows account numbers)."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        batch = self._batch_for_finance(request, pk)
        if fmt not in EXPORT_FORMATS:
            raise Http404
        exported = payment_batch_export(
            actor=Actor.for_user(request.user, source_ip=client_ip(request)),
            batch=batch,
            file_format=fmt,
        )
        response = HttpResponse(exported.content, content_type=exported.content_type)
        response["Content-Disposition"] = f'attachment; filename="{exported.file_name}"'
        # Account numbers in clear: never kept in a shared cache.
        response["Cache-Control"] = "no-store, private"
        return response

    def confirm_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Upload the bank's confirmation: all its rows are recorded, or none."""
        batch = self._batch_for_finance(request, pk)
        refused = ""
        problems: list[str] = []
        if request.method == "POST":
            form = BankConfirmationForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    payments = payment_batch_confirm(
                        actor=Actor.for_user(request.user, source_ip=client_ip(request)),
                        batch=batch,
                        file_name=upload.name or "",
                        content=upload.read(),
                    )
                except BusinessError as exc:
                    refused, problems = reasons(exc)
                else:
                    batch.refresh_from_db()
                    messages.success(
                        request,
                        gettext(
                            "The bank's confirmation was recorded: %(count)d payments. "
                            "Batch status: %(status)s."
                        )
                        % {"count": len(payments), "status": batch.get_status_display()},
                    )
                    return redirect(
                        reverse("admin:settlements_paymentbatch_change", args=[batch.pk])
                    )
        else:
            form = BankConfirmationForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": batch,
            "title": gettext("The bank's confirmation of payment batch %(batch)s")
            % {"batch": f"#{batch.pk}"},
            "form": form,
            "refused": refused,
            "problems": problems,
            "open": batch.status == PaymentBatch.Status.EXPORTED,
        }
        return TemplateResponse(request, "settlements/admin/payment_batch_confirm.html", context)


if not admin.site.is_registered(PaymentBatch):
    admin.site.register(PaymentBatch, PaymentBatchAdmin)
