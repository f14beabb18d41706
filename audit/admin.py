"""The audit log in the admin: a read-only, scoped list of events with
filters and a CSV export of the filtered range, and each object's timeline."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_scoping import ScopedModelAdmin
from accounts.scoping import scope_for, scoped
from common.csv_safe import safe_writer

# admin_accounts registers the audited admins of people and organisations
# (the anomaly queue and the detector thresholds are oversight.admin's).
from . import admin_accounts, events  # noqa: F401
from .event_labels import event_label
from .models import AuditEvent
from .object_types import model_for, object_type_of
from .services import Actor, audit_record, client_ip

EXPORT_COLUMNS = [
    "id",
    "occurred_at",
    "event_type",
    "actor_kind",
    "actor_label",
    "actor_user_id",
    "source_ip",
    "object_type",
    "object_id",
    "object_repr",
    "district_id",
    "enterprise_id",
    "platform_id",
    "before",
    "after",
    "evidence",
    "note",
    "seal_seq",
    "seal_entry_hash",
]


def _local_day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class DateRangeFilter(admin.ListFilter):
    """Events from one day to another (both inclusive), typed as dates."""

    title = _("date range")
    template = "admin/audit/date_range_filter.html"
    parameter_from = "occurred_from"
    parameter_to = "occurred_to"

    def __init__(
        self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any
    ) -> None:
        super().__init__(request, params, model, model_admin)
        self.values: dict[str, str] = {}
        self.errors: list[str] = []
        for name in (self.parameter_from, self.parameter_to):
            if name in params:
                raw = params.pop(name)
                value = raw[-1] if isinstance(raw, list) else raw
                self.values[name] = value
        self.day_from = self._parse(self.parameter_from)
        self.day_to = self._parse(self.parameter_to)
        if self.day_from and self.day_to and self.day_from > self.day_to:
            self.errors.append(gettext("The start date is after the end date."))

    def _parse(self, name: str) -> datetime.date | None:
        raw = self.values.get(name, "").strip()
        if not raw:
            return None
        try:
            day = parse_date(raw) if len(raw) == 10 else None
        except ValueError:
            day = None
        if day is None:
            self.errors.append(gettext("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": raw})
        return day

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return [self.parameter_from, self.parameter_to]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.errors:
            return queryset
        if self.day_from:
            queryset = queryset.filter(occurred_at__gte=_local_day_start(self.day_from))
        if self.day_to:
            queryset = queryset.filter(
                occurred_at__lt=_local_day_start(self.day_to + datetime.timedelta(days=1))
            )
        return queryset

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        # One "choice": the form, with the other filters kept as hidden fields.
        keep = {k: v for k, v in changelist.params.items() if k not in self.expected_parameters()}
        yield {
            "from_name": self.parameter_from,
            "to_name": self.parameter_to,
            "from_value": self.values.get(self.parameter_from, ""),
            "to_value": self.values.get(self.parameter_to, ""),
            "errors": self.errors,
            "hidden": [
                (k, item) for k, v in keep.items() for item in (v if isinstance(v, list) else [v])
            ],
            "clear_url": changelist.get_query_string(remove=self.expected_parameters()),
        }


class EventTypeFilter(admin.SimpleListFilter):
    """Events of one type, offered by their labels (the types found in the
    events this official may see)."""

    title = _("event type")
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        types = (
            model_admin.get_queryset(request)
            .order_by()
            .values_list("event_type", flat=True)
            .distinct()
        )
        return sorted(((t, event_label(t)) for t in types), key=lambda pair: pair[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(event_type=self.value())
        return queryset


class ActorFilter(admin.ListFilter):
    """Events by one actor: part of an e-mail address, key id or task name."""

    title = _("actor")
    template = "admin/audit/text_filter.html"
    parameter_name = "actor"

    def __init__(
        self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any
    ) -> None:
        super().__init__(request, params, model, model_admin)
        raw = params.pop(self.parameter_name, "")
        self.value = (raw[-1] if isinstance(raw, list) else raw).strip()[:200]

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return [self.parameter_name]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value:
            return queryset.filter(actor_label__icontains=self.value)
        return queryset

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        keep = {k: v for k, v in changelist.params.items() if k not in self.expected_parameters()}
        yield {
            "name": self.parameter_name,
            "value": self.value,
            "hidden": [
                (k, item) for k, v in keep.items() for item in (v if isinstance(v, list) else [v])
            ],
            "clear_url": changelist.get_query_string(remove=self.expected_parameters()),
        }


def _pretty(value: Any) -> str:
    if value in (None, "", {}, []):
        return "—"
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def _csv_cell(value: Any) -> Any:
    """A cell's value as the export shows it (the safe writer neutralises formulas)."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedModelAdmin):
    """The audit log, read-only: nobody adds, changes or deletes events here."""

    change_list_template = "admin/audit/auditevent/change_list.html"
    list_display = [
        "occurred_at",
        "event",
        "actor_label",
        "source_ip",
        "object_link",
        "sealed",
    ]
    list_filter = [
        EventTypeFilter,
        DateRangeFilter,
        ActorFilter,
        "actor_kind",
    ]
    search_fields = ["object_repr", "object_id", "actor_label", "note"]
    date_hierarchy = None
    list_per_page = 50
    show_full_result_count = False
    fields = (
        "occurred_at",
        "event",
        "actor_kind",
        "actor_label",
        "source_ip",
        "object_type",
        "object_id",
        "object_link",
        "district_id",
        "enterprise_id",
        "platform_id",
        "before_pretty",
        "after_pretty",
        "evidence_pretty",
        "note",
        "seal_info",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("seal")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("event type"), ordering="event_type")
    def event(self, obj: AuditEvent) -> str:
        return obj.event_label

    @admin.display(description=_("object"))
    def object_link(self, obj: AuditEvent) -> str:
        label = obj.object_repr or f"{obj.object_type}:{obj.object_id}"
        if "." not in obj.object_type or not obj.object_id:
            return label
        app_label, model_name = obj.object_type.split(".", 1)
        url = reverse(
            "admin:audit_auditevent_timeline", args=[app_label, model_name, obj.object_id]
        )
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description=_("sealed"), boolean=True)
    def sealed(self, obj: AuditEvent) -> bool:
        return hasattr(obj, "seal")

    @admin.display(description=_("before"))
    def before_pretty(self, obj: AuditEvent) -> str:
        return format_html("<pre>{}</pre>", _pretty(obj.before))

    @admin.display(description=_("after"))
    def after_pretty(self, obj: AuditEvent) -> str:
        after = obj.after
        if obj.event_type == events.RECORDS_COMMITTED and isinstance(after, dict):
            # A batch's leaves are one long base64 text (32 bytes per entry):
            # shown as what it is, not printed out.
            leaves = str(after.get("leaves", ""))
            after = {
                **after,
                "leaves": _("%(count)s leaf hashes (%(size)s characters of base64)")
                % {"count": after.get("count"), "size": len(leaves)},
            }
        return format_html("<pre>{}</pre>", _pretty(after))

    @admin.display(description=_("request evidence"))
    def evidence_pretty(self, obj: AuditEvent) -> str:
        return format_html("<pre>{}</pre>", _pretty(obj.evidence))

    @admin.display(description=_("seal"))
    def seal_info(self, obj: AuditEvent) -> str:
        seal = getattr(obj, "seal", None)
        if seal is None:
            return gettext("Not sealed yet (sealing follows the commit within seconds).")
        return gettext("Sequence %(seq)s, %(algorithm)s entry hash %(hash)s, sealed at %(at)s") % {
            "seq": seal.seq,
            "algorithm": seal.algorithm,
            "hash": seal.entry_hash,
            "at": timezone.localtime(seal.sealed_at).strftime("%Y-%m-%d %H:%M:%S"),
        }

    # --- Extra views --------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        extra = [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            path(
                "timeline/<str:app_label>/<str:model_name>/<str:object_id>/",
                self.admin_site.admin_view(self.timeline_view),
                name="{}_{}_timeline".format(*info),
            ),
        ]
        return extra + super().get_urls()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        query = request.GET.urlencode()
        extra_context["export_url"] = reverse("admin:audit_auditevent_export") + (
            f"?{query}" if query else ""
        )
        return super().changelist_view(request, extra_context)

    def export_view(self, request: HttpRequest) -> StreamingHttpResponse:
        """The filtered range as CSV; the export itself is recorded first."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request).order_by("id")
        count = queryset.count()
        scope = scope_for(request.user)
        district_ids = sorted(scope.district_ids)
        filters = {k: v for k, v in request.GET.items()}
        with transaction.atomic():
            audit_record(
                actor=Actor.for_user(request.user, source_ip=client_ip(request)),
                event_type=events.AUDIT_EXPORTED,
                obj=None,
                object_type="audit.auditevent",
                object_id="export",
                object_repr=gettext("CSV export of %(count)s audit events") % {"count": count},
                district_id=district_ids[0] if len(district_ids) == 1 else None,
                after={"filters": filters, "rows": count, "districts": district_ids},
            )
        writer = safe_writer(_Echo())

        def rows() -> Iterator[str]:
            yield "\ufeff"  # so spreadsheet programs read the UTF-8 (Chinese) correctly
            yield writer.writerow(EXPORT_COLUMNS)
            for event in queryset.select_related("seal").iterator(chunk_size=2000):
                seal = getattr(event, "seal", None)
                values = [getattr(event, c) for c in EXPORT_COLUMNS[:-2]]
                values += [seal.seq if seal else "", seal.entry_hash if seal else ""]
                yield writer.writerow([_csv_cell(v) for v in values])

        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.csv"'
        return response

    def timeline_view(
        self, request: HttpRequest, app_label: str, model_name: str, object_id: str
    ) -> HttpResponse:
        """Every event about one object, oldest first, as far as the user may see."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        model = model_for(f"{app_label}.{model_name}")
        if model is None:
            raise Http404
        obj = None
        try:
            obj = model._default_manager.filter(pk=object_id).first()
        except (ValueError, TypeError):
            obj = None
        if (
            obj is not None
            and not scoped(model._default_manager.filter(pk=obj.pk), request.user).exists()
        ):
            # Someone else's object: not even its existence is shown.
            raise Http404
        events_qs = scoped(
            AuditEvent.objects.filter(
                object_type=object_type_of(model), object_id=object_id
            ).select_related("seal"),
            request.user,
        ).order_by("occurred_at", "id")
        entries = list(events_qs[:1000])
        if obj is None and not entries:
            raise Http404
        rows = []
        for event in entries:
            before = event.before if isinstance(event.before, dict) else {}
            after = event.after if isinstance(event.after, dict) else {}
            changes = [
                (_field_label(model, name), _short(before.get(name)), _short(after.get(name)))
                for name in sorted(before.keys() | after.keys())
            ]
            rows.append({"event": event, "changes": changes})
        change_url = ""
        if obj is not None and model in self.admin_site._registry:
            opts = model._meta
            change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Audit timeline: %(object)s")
            % {
                "object": str(obj) if obj is not None else f"{model._meta.verbose_name} {object_id}"
            },
            "subject": obj,
            "subject_opts": model._meta,
            "object_id": object_id,
            "rows": rows,
            "truncated": len(entries) == 1000,
            "change_url": change_url,
            "opts": self.opts,
            "changelist_url": reverse("admin:audit_auditevent_changelist") + f"?q={object_id}",
        }
        return TemplateResponse(request, "admin/audit/timeline.html", context)


def _field_label(model: Any, name: str) -> str:
    """The field's verbose name when the model has it, else the recorded name.

    Events are never rewritten: an old event may name a field the model no
    longer has, or one that is now the other side of a relation (a voucher's
    ``application`` since the application names its voucher)."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    label = getattr(field, "verbose_name", None)
    return str(label) if label else name


def _short(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    return text if len(text) <= 300 else text[:299] + "…"
