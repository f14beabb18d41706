"""The officials' anomaly queue and the per-program detector thresholds.

Flags are scoped by district: an official sees their districts' flags, an
official of another district sees nothing. Confirm and dismiss are offered
only to those :func:`oversight.flags.flag_decision_refusal` lets decide (program
managers and reviewers of the flag's district) and only while the flag is
open; auditors read the queue and the evidence but cannot act. The decision
goes through :mod:`oversight.flags`, which audits it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_scoping import ScopedModelAdmin
from audit.admin_mixins import AuditedModelAdmin
from audit.services import Actor, client_ip
from common.errors import BusinessError
from common.formatting import amount as format_unit_amount
from common.formatting import date, period, rate, unit_name
from programs.models import Program
from settlements.models import Settlement

from .detectors import flag_summary, shown_value
from .detectors.summary import evidence_check_text
from .flags import flag_actions_for, flag_confirm, flag_decision_refusal, flag_dismiss
from .models import AnomalyFlag, DetectorSettings
from .subjects import PART_LABELS, subject_text

#: Evidence keys that hold an amount in the flag's unit.
AMOUNT_KEYS = {
    "covered",
    "median",
    "billed",
    "billed_total",
    "catalog_total",
    "catalog_price",
    "face_value",
    "drained",
    "round_amount",
    "per_head",
    "amount",
    "rejected",
    "drawn",
    "claimed_amount",
    "eligible_spend",
    "limit_amount",
    "figure",
    "median_price_per_day",
    "price_per_day",
}

EVIDENCE_LABELS = {
    "measured": _("measured"),
    "threshold": _("threshold"),
    "unit": _("unit"),
    "redemption_ids": _("redemptions"),
    "redemption_id": _("redemption"),
    "trailing_days": _("trailing window (days)"),
    "days": _("days"),
    "day": _("day"),
    "covered": _("covered"),
    "median": _("median day"),
    "multiple": _("multiple"),
    "history_days": _("days of history"),
    "headcount": _("headcount"),
    "billed": _("billed"),
    "per_head": _("per head"),
    "round_amount": _("round amount"),
    "bills": _("bills"),
    "round_bills": _("round bills"),
    "amounts": _("amounts"),
    "interval_seconds": _("interval (seconds)"),
    "times": _("times"),
    "night_hours": _("night hours"),
    "other_charges": _("other charges"),
    "office_hours_share": _("share in office hours"),
    "billed_total": _("billed in total"),
    "catalog_total": _("catalog price in total"),
    "charges": _("charges"),
    "reference": _("platform reference"),
    "catalog_price": _("catalog price"),
    "deviation": _("difference"),
    "model": _("model"),
    "tokens": _("tokens"),
    "points_charged": _("points charged"),
    "points_by_catalog": _("points by the catalog"),
    "charged_per_1k_tokens": _("points charged per 1,000 tokens"),
    "catalog_points_per_1k": _("catalog points per 1,000 input / output tokens"),
    "points_per_1k_implied_by_price": _("points per 1,000 tokens implied by the price"),
    "drain_days": _("last days watched"),
    "face_value": _("face value"),
    "drained": _("used in those days"),
    "expires_at": _("expires at"),
    "shared": _("shared detail"),
    "value": _("shared value"),
    "enterprises": _("enterprises"),
    "id": _("id"),
    "name": _("name"),
    "uscc": _("Unified Social Credit Code"),
    "funded_by_districts": _("funded by districts (ids)"),
    "messages": _("findings"),
    "kind": _("kind"),
    "vouchers": _("vouchers"),
    "voucher_id": _("voucher id"),
    "code": _("code"),
    "district": _("district"),
    "program": _("program"),
    "rule": _("rule matched"),
    "platform": _("platform"),
    "operator": _("operating company"),
    "operator_uscc": _("operator's USCC"),
    "enterprise": _("enterprise"),
    "enterprise_uscc": _("enterprise's USCC"),
    "settlement": _("settlement"),
    "settlement_period": _("settlement period"),
    "settlement_status": _("settlement status"),
    "lines_checked": _("lines in the settlement"),
    "amount": _("amount"),
    "check": _("what failed"),
    "problem": _("verifier's finding"),
    "lines": _("lines"),
    "line": _("line"),
    "rejected": _("rejected"),
    "drawn": _("charges drawn"),
    "share": _("rejected share"),
    "median_share": _("median rejected share before"),
    "min_share": _("least share flagged"),
    "previous": _("previous settlements"),
    "reason": _("reason"),
    "invoice": _("invoice number"),
    "invoices": _("invoices"),
    "invoice_id": _("invoice id"),
    "number": _("number"),
    "issued_on": _("invoice date"),
    "issued_by": _("issued by (USCC)"),
    "contract": _("contract"),
    "contract_id": _("contract id"),
    "contract_count": _("contracts"),
    "enterprise_count": _("enterprises"),
    "program_count": _("programs"),
    "recorded_by": _("recorded by"),
    "side": _("side"),
    "signed_on": _("signed on"),
    "service": _("service period"),
    "claims": _("claims"),
    "claim": _("claim"),
    "claim_ids": _("claims (ids)"),
    "status": _("status"),
    "submitted_on": _("submitted on"),
    "claimed_amount": _("claimed"),
    "eligible_spend": _("eligible spend"),
    "near": _("near the limits"),
    "limit": _("limit"),
    "limit_amount": _("limit amount"),
    "figure": _("the claim's figure"),
    "party": _("party"),
    "margin": _("margin"),
    "lookback_days": _("days looked back"),
    "supplier": _("supplier"),
    "supplier_uscc": _("supplier's USCC"),
    "buyer": _("buyer"),
    "buyer_uscc": _("buyer's USCC"),
    "buyer_claims": _("claims by the buyer"),
    "supplier_claims": _("claims by the supplier"),
    "service_kind": _("what it buys"),
    "opened_on": _("program opened on"),
    "median_price_per_day": _("median price per day before"),
    "price_per_day": _("price per day"),
    "earlier": _("earlier contracts"),
    "ratio": _("ratio"),
    "supplier_registered": _("supplier (registered, id)"),
    "buyers": _("claiming buyers"),
    "groups": _("shared details"),
    "role": _("role"),
}
#: Evidence keys that hold a share (shown as a percentage).
PERCENT_KEYS = {
    "deviation",
    "office_hours_share",
    "share",
    "median_share",
    "min_share",
    "margin",
}
#: Evidence keys not shown (the summary says it in the reader's language).
HIDDEN_KEYS = {"measure"}


def _label(key: str) -> Any:
    return EVIDENCE_LABELS.get(key, key.replace("_", " "))


def _amount(value: Any, unit: str) -> str:
    try:
        return format_unit_amount(Decimal(str(value)), unit or "CNY")
    except (InvalidOperation, ValueError, TypeError):
        return str(value)


def _cell(key: str, value: Any, unit: str) -> Any:
    if isinstance(value, dict):
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><th>{}</th><td>{}</td></tr>",
                ((_label(k), _cell(k, v, unit)) for k, v in value.items()),
            ),
        )
    if isinstance(value, list):
        if key in {"redemption_ids"}:
            return format_html_join(
                ", ",
                '<a href="{}">#{}</a>',
                ((reverse("admin:vouchers_redemption_change", args=[i]), i) for i in value),
            )
        if value and all(isinstance(v, dict) for v in value):
            # A list of rows: one table, a column per key.
            columns = list(dict.fromkeys(k for row in value for k in row))
            head = format_html_join("", "<th>{}</th>", ((_label(k),) for k in columns))
            body = format_html_join(
                "",
                "<tr>{}</tr>",
                (
                    (
                        format_html_join(
                            "", "<td>{}</td>", ((_cell(k, row.get(k), unit),) for k in columns)
                        ),
                    )
                    for row in value
                ),
            )
            return format_html("<table><tr>{}</tr>{}</table>", head, body)
        if key in {"messages", "times"}:
            return format_html_join("", "<div>{}</div>", ((str(v),) for v in value))
        return ", ".join(str(v) for v in value) or "—"
    if key == "check" and value:
        return evidence_check_text(str(value))
    if key == "kind" and value:
        return str(dict(Program.Kind.choices).get(value, value))
    if key == "unit" and value:
        return unit_name(str(value))
    if key == "shared" and value in PART_LABELS:
        return str(PART_LABELS[value])
    if key == "settlement_status" and value:
        return str(dict(Settlement.Status.choices).get(value, value))
    if key in AMOUNT_KEYS and value is not None:
        return _amount(value, unit)
    if key in PERCENT_KEYS and value is not None:
        try:
            return rate(Decimal(str(value)).quantize(Decimal("0.0001")))
        except (InvalidOperation, ValueError):
            return str(value)
    return "—" if value in (None, "") else str(value)


def evidence_table(flag: AnomalyFlag) -> SafeString:
    """The evidence as a two-column table: amounts with their unit, redemptions as links."""
    evidence = flag.evidence or {}
    unit = evidence.get("unit", "")

    def shown(key: str, value: Any) -> Any:
        if key in {"measured", "threshold"}:
            return shown_value(value, flag.detector, unit)
        return _cell(key, value, unit)

    rows = (
        (_label(key), shown(key, value))
        for key, value in evidence.items()
        if key not in HIDDEN_KEYS
    )
    return format_html(
        '<table class="anomaly-evidence">{}</table>',
        format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
    )


class DecisionForm(forms.Form):
    """Confirm or dismiss a flag, with a note; a confirmation may act on the voucher."""

    decision = forms.ChoiceField(
        label=_("decision"),
        choices=[
            ("confirm", _("Confirm: this is an anomaly")),
            ("dismiss", _("Dismiss: no anomaly")),
        ],
        widget=forms.RadioSelect,
    )
    action = forms.ChoiceField(label=_("action on the voucher"), required=False)
    note = forms.CharField(
        label=_("decision note"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Required: what you checked and why you decided so."),
    )

    def __init__(self, *args: Any, actions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(AnomalyFlag.Action.choices)
        field = cast(forms.ChoiceField, self.fields["action"])
        field.choices = [(a, labels[a]) for a in actions]
        field.initial = AnomalyFlag.Action.NONE


@admin.register(AnomalyFlag)
class AnomalyFlagAdmin(ScopedModelAdmin):
    """The anomaly queue, read-only except for the decision page."""

    change_form_template = "admin/audit/flag_change_form.html"
    list_display = [
        "created_at",
        "detector",
        "status",
        "district",
        "program",
        "enterprise",
        "voucher",
        "platform",
        "period",
        "measured",
        "action_taken",
    ]
    list_filter = [
        "status",
        "detector",
        ("program", admin.RelatedOnlyFieldListFilter),
        "action_taken",
    ]
    list_select_related = ["district", "program", "enterprise", "voucher", "platform"]
    search_fields = ["subject", "enterprise__name", "enterprise__uscc", "voucher__code"]
    list_per_page = 50
    fields = (
        "detector",
        "summary",
        "status",
        "district",
        "program",
        "enterprise",
        "voucher",
        "platform",
        "subject_display",
        "period",
        "measured",
        "evidence_display",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_note",
        "action_taken",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("subject"))
    def subject_display(self, obj: AnomalyFlag) -> str:
        return subject_text(obj.subject)

    @admin.display(description=_("summary"))
    def summary(self, obj: AnomalyFlag) -> str:
        return flag_summary(obj)

    @admin.display(description=_("period"), ordering="period_start")
    def period(self, obj: AnomalyFlag) -> str:
        if obj.period_start == obj.period_end:
            return date(obj.period_start)
        return period(obj.period_start, obj.period_end)

    @admin.display(description=_("measured value"), ordering="score")
    def measured(self, obj: AnomalyFlag) -> str:
        evidence = obj.evidence or {}
        unit = evidence.get("unit", "")
        return gettext("%(value)s (threshold %(threshold)s)") % {
            "value": shown_value(evidence.get("measured", obj.score), obj.detector, unit),
            "threshold": shown_value(evidence.get("threshold", "0"), obj.detector, unit),
        }

    @admin.display(description=_("evidence"))
    def evidence_display(self, obj: AnomalyFlag) -> SafeString:
        return evidence_table(obj)

    # --- Deciding ------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="oversight_anomalyflag_decide",
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
        extra = dict(extra_context or {})
        flag = self.get_object(request, object_id)
        if flag is not None and flag_decision_refusal(flag=flag, user=request.user) is None:
            extra["decide_url"] = reverse("admin:oversight_anomalyflag_decide", args=[flag.pk])
        return super().change_view(request, object_id, form_url, extra)

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        flag = get_object_or_404(self.get_queryset(request), pk=pk)
        change_url = reverse("admin:oversight_anomalyflag_change", args=[flag.pk])
        refusal = flag_decision_refusal(flag=flag, user=request.user)
        if refusal is not None:
            if flag.status == AnomalyFlag.Status.OPEN:
                raise PermissionDenied(refusal)
            messages.error(request, refusal)
            return HttpResponseRedirect(change_url)
        form = DecisionForm(
            request.POST or None, actions=flag_actions_for(flag=flag, user=request.user)
        )
        if request.method == "POST" and form.is_valid():
            actor = Actor.for_user(request.user, source_ip=client_ip(request))
            data = form.cleaned_data
            try:
                if data["decision"] == "confirm":
                    flag_confirm(
                        actor=actor,
                        flag=flag,
                        note=data["note"],
                        action=data.get("action") or AnomalyFlag.Action.NONE,
                    )
                else:
                    flag_dismiss(actor=actor, flag=flag, note=data["note"])
            except BusinessError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
            else:
                messages.success(request, gettext("The flag was decided."))
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Decide: %(flag)s") % {"flag": flag.get_detector_display()},
            "flag": flag,
            "summary": flag_summary(flag),
            "evidence": evidence_table(flag),
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/audit/flag_decide.html", context)


@admin.register(DetectorSettings)
class DetectorSettingsAdmin(AuditedModelAdmin):
    """Per-program thresholds of the detectors; program managers edit them."""

    list_display = [
        "program",
        "spike_multiplier",
        "per_head_daily_cny",
        "per_head_daily_points",
        "round_share",
        "night_min_redemptions",
        "price_tolerance",
        "points_tolerance",
        "drain_share",
        "updated_at",
    ]
    list_select_related = ["program"]
    fieldsets = [
        (None, {"fields": ["program"]}),
        (
            _("Usage spikes"),
            {"fields": ["spike_multiplier", "spike_trailing_days", "spike_min_active_days"]},
        ),
        (_("Headcount"), {"fields": ["per_head_daily_cny", "per_head_daily_points"]}),
        (
            _("Round and evenly spaced bills"),
            {
                "fields": [
                    "round_unit_cny",
                    "round_unit_points",
                    "round_min_bills",
                    "round_share",
                    "even_min_intervals",
                ]
            },
        ),
        (
            _("Night hours"),
            {"fields": ["night_start_hour", "night_end_hour", "night_min_redemptions"]},
        ),
        (_("Model catalog"), {"fields": ["price_tolerance", "points_tolerance"]}),
        (_("Drain before expiry"), {"fields": ["drain_days", "drain_share"]}),
        (
            _("Settlements"),
            {"fields": ["rejected_jump_multiple", "rejected_jump_min_share"]},
        ),
        (
            _("Claims"),
            {
                "fields": [
                    "claim_near_margin",
                    "claim_near_min_claims",
                    "price_rise_ratio",
                    "supplier_shared_min_buyers",
                ]
            },
        ),
    ]
