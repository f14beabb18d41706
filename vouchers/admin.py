"""The officials' side of vouchers in the admin: lists scoped to their
districts, each voucher with its ledger, the actions it allows now
(suspend, resume, revoke, clawback). Bulk issuance is added by the
applications app, whose checks it goes through."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from accounts.admin_scoping import ScopedInline
from audit.admin_mixins import AuditedModelAdmin
from audit.services import Actor, client_ip
from common.errors import BusinessError
from programs.admin_display import amount_display, own_unit, voucher_unit, yuan

from .forms import ClawbackForm, VoucherActionForm
from .models import Hold, LedgerEntry, Receivable, Redemption, Voucher
from .selectors import voucher_rate_outlook
from .services import (
    OFFICIAL_ACTIONS,
    voucher_action_refusal,
    voucher_claw_back,
    voucher_resume,
    voucher_revoke,
    voucher_suspend,
)

ACTION_LABELS = {
    "suspend": gettext_lazy("Suspend"),
    "resume": gettext_lazy("Resume"),
    "revoke": gettext_lazy("Revoke"),
    "clawback": gettext_lazy("Claw back"),
}


class ReadOnlyAdmin(AuditedModelAdmin):
    """Rows that only services write: officials look, nobody edits here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LedgerEntryInline(ScopedInline, admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    ordering = ["id"]
    # "ledger" lets admin.css drop the caption Django puts over each row
    # (the entry's str(), "Charge 5520.00"), which only repeats the columns.
    classes = ["ledger"]
    # Any: Django takes callables among read-only fields; the stubs allow
    # only names.
    fields: ClassVar[Any] = (
        "created_at",
        "entry_kind",
        # No "amount" column: the signed changes of balance and held say it.
        amount_display(LedgerEntry, "balance_change", unit=voucher_unit),
        amount_display(LedgerEntry, "held_change", unit=voucher_unit),
        amount_display(LedgerEntry, "balance_after", unit=voucher_unit),
        amount_display(LedgerEntry, "held_after", unit=voucher_unit),
        amount_display(LedgerEntry, "program_return", unit=voucher_unit),
        "platform",
        "actor_label",
        "note",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("voucher", "platform")

    # The model field's label, "kind", reads 券种 (a program's kind of
    # voucher) in Chinese; an entry's kind is its type.
    @admin.display(description=pgettext_lazy("ledger entry", "Type"))
    def entry_kind(self, obj: LedgerEntry) -> str:
        return obj.get_kind_display()

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Voucher)
class VoucherAdmin(ReadOnlyAdmin):
    list_display = [
        "code",
        "enterprise",
        "program",
        "status",
        amount_display(Voucher, "face_value", unit=own_unit),
        amount_display(Voucher, "balance", unit=own_unit),
        amount_display(Voucher, "held", unit=own_unit),
        "expires_at",
    ]
    # Only districts and programs that appear in the official's own vouchers.
    list_filter = [
        "status",
        "unit",
        ("program__district", admin.RelatedOnlyFieldListFilter),
        ("program", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["code", "enterprise__name", "enterprise__uscc"]
    list_select_related = ["enterprise", "program", "program__district"]
    # Any: Django takes callables among read-only fields; the stubs allow
    # only names.
    readonly_fields: ClassVar[Any] = (
        "code",
        "program",
        "enterprise",
        "unit",
        amount_display(Voucher, "face_value", unit=own_unit),
        amount_display(Voucher, "balance", unit=own_unit),
        amount_display(Voucher, "held", unit=own_unit),
        "valid_from",
        "expires_at",
        "status",
        "status_reason",
        "issued_at",
        "issued_by",
    )
    fields = readonly_fields
    inlines = [LedgerEntryInline]
    change_form_template = "vouchers/voucher_admin_change_form.html"
    change_list_template = "vouchers/voucher_admin_change_list.html"

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/act/<str:action>/",
                self.admin_site.admin_view(self.action_view),
                name="vouchers_voucher_action",
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
        voucher = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if voucher is not None:
            extra["voucher_actions"] = [
                (action, ACTION_LABELS[action])
                for action in OFFICIAL_ACTIONS
                if voucher_action_refusal(voucher=voucher, user=request.user, action=action) is None
            ]
            extra["outlook"] = voucher_rate_outlook(voucher)
            extra["voucher_obj"] = voucher
        return super().change_view(request, object_id, form_url, extra)

    def action_view(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        if action not in OFFICIAL_ACTIONS:
            raise PermissionDenied
        voucher = get_object_or_404(self.get_queryset(request), pk=pk)
        refusal = voucher_action_refusal(voucher=voucher, user=request.user, action=action)
        change_url = reverse("admin:vouchers_voucher_change", args=[voucher.pk])
        if refusal is not None:
            messages.error(request, refusal)
            return HttpResponseRedirect(change_url)
        form_class = ClawbackForm if action == "clawback" else VoucherActionForm
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            actor = Actor.for_user(request.user, source_ip=client_ip(request))
            data = form.cleaned_data
            try:
                if action == "suspend":
                    voucher_suspend(actor=actor, voucher=voucher, reason=data["reason"])
                elif action == "resume":
                    voucher_resume(actor=actor, voucher=voucher, reason=data["reason"])
                elif action == "revoke":
                    voucher_revoke(actor=actor, voucher=voucher, reason=data["reason"])
                else:
                    voucher_claw_back(
                        actor=actor,
                        voucher=voucher,
                        reason=data["reason"],
                        amount=data.get("amount") or None,
                    )
            except BusinessError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
            else:
                messages.success(
                    request,
                    _("%(action)s: done for voucher %(code)s.")
                    % {"action": ACTION_LABELS[action], "code": voucher.code},
                )
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{ACTION_LABELS[action]} · {voucher.code}",
            "voucher": voucher,
            "action": action,
            "action_label": ACTION_LABELS[action],
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "vouchers/voucher_admin_action.html", context)


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "reference",
        "voucher",
        "platform",
        amount_display(Redemption, "billed_amount", unit=yuan),
        "rate_applied",
        amount_display(Redemption, "covered", unit=voucher_unit),
        amount_display(Redemption, "reversed_amount", unit=voucher_unit),
        "status",
    ]
    list_filter = ["status", ("platform", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["reference", "voucher__code"]
    list_select_related = ["voucher", "platform"]


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "reference",
        "voucher",
        "platform",
        amount_display(Hold, "amount", unit=voucher_unit),
        "status",
        "expires_at",
    ]
    list_filter = ["status", ("platform", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["reference", "voucher__code"]
    list_select_related = ["voucher", "platform"]


@admin.register(Receivable)
class ReceivableAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "enterprise",
        "voucher",
        amount_display(Receivable, "amount", unit=own_unit),
        "status",
        "collection",
    ]
    list_filter = ["status"]
    search_fields = ["enterprise__name", "voucher__code"]

    @admin.display(description=gettext_lazy("Repayments"))
    def collection(self, obj: Receivable) -> str:
        """Repayments and write-offs are recorded on the settlements app's
        receivable page (linked by URL name: vouchers does not import it)."""
        try:
            url = reverse("admin:settlements_performanceagreement_receivable", args=[obj.pk])
        except NoReverseMatch:
            return ""
        return format_html('<a href="{}">{}</a>', url, _("Repayments and write-off"))

    list_select_related = ["enterprise", "voucher"]
