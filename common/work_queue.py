"""The officials' work queue ("Waiting for you" on the admin's home): what
waits for this user, by the roles they hold in each district.

Each app knows its own work and registers it here in its ``AppConfig.ready``
as :class:`WorkKind` entries (``applications.queue``, ``settlements.queue``,
…), so the admin's home composes the queue without importing the apps, and
oversight, which nothing imports, contributes its own flags the same way.

A kind's ``rows(user)`` is the one definition of "what waits": the home
counts it, and the admin's change list filters by it
(:class:`WaitingFilter`, ``?waiting=<key>``), so the link of a line opens
exactly the rows it counted.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

#: The query parameter of the admin's change lists that selects a kind of work.
PARAMETER = "waiting"


class Urgency(IntEnum):
    """How soon a kind of work needs its official; the home lists the most urgent first."""

    #: A date has passed (a clawback past its due date).
    OVERDUE = 0
    #: A date comes close (vouchers about to expire, agreements due for assessment).
    DEADLINE = 1
    #: A colleague already approved: the item waits for a second official only.
    SECOND_APPROVAL = 2
    #: Taken up or flagged: waits for a decision.
    DECIDE = 3
    #: Approved: waits for its payment.
    PAY = 4
    #: New: waits to be taken up.
    TAKE_UP = 5

    @property
    def label(self) -> str:
        """What the home's tag says of this urgency ("" for none worth a tag)."""
        return str(_URGENCY_LABELS.get(self, ""))


_URGENCY_LABELS = {
    Urgency.OVERDUE: _("Overdue"),
    Urgency.DEADLINE: _("Due soon"),
    Urgency.SECOND_APPROVAL: _("Second official"),
}


@dataclass(frozen=True)
class WorkKind:
    """One kind of work: its label, the role that does it and how to find its rows.

    ``rows(user)`` returns the rows waiting for ``user`` (a lazy queryset,
    no query run), or None when the user holds no role that does this work.
    ``shown(user)``, asked on the home only, may hide a kind with nothing in
    it from districts that never have such work (it may query).
    """

    key: str
    model: type[Model]
    label: Any
    role: Any
    urgency: Urgency
    rows: Callable[[Any], QuerySet[Any] | None]
    shown: Callable[[Any], bool] | None = None


@dataclass(frozen=True)
class QueueItem:
    """One line of a user's work queue."""

    key: str
    label: str
    role: str
    count: int
    url: str
    urgency: Urgency


_KINDS: dict[str, WorkKind] = {}


def register(*kinds: WorkKind) -> None:
    """Add ``kinds`` to the work queue (again on a reload: the key decides)."""
    for kind in kinds:
        _KINDS[kind.key] = kind


def kind_for(key: str) -> WorkKind | None:
    return _KINDS.get(key)


def kinds_of(model: type[Model]) -> list[WorkKind]:
    """The kinds of work whose rows are rows of ``model``."""
    return [kind for kind in _KINDS.values() if kind.model is model]


def changelist_url(kind: WorkKind) -> str:
    """The admin's list of ``kind``'s model, filtered to the rows waiting."""
    opts = kind.model._meta
    path = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{path}?{urlencode({PARAMETER: kind.key})}"


def work_queue(
    user: Any, *, prefix: str = "", models: Collection[type[Model]] | None = None
) -> list[QueueItem]:
    """Every kind of work ``user``'s roles do, with how many rows wait, most
    urgent first (zero counts included: the page decides what to show).

    ``prefix`` keeps the kinds whose key starts with it (one app's work);
    ``models`` keeps those whose model the admin site shows."""
    items: list[QueueItem] = []
    for kind in _KINDS.values():
        if not kind.key.startswith(prefix) or (models is not None and kind.model not in models):
            continue
        rows = kind.rows(user)
        if rows is None or (kind.shown is not None and not kind.shown(user)):
            continue
        items.append(
            QueueItem(
                key=kind.key,
                label=str(kind.label),
                role=str(kind.role),
                count=rows.count(),
                url=changelist_url(kind),
                urgency=kind.urgency,
            )
        )
    # A stable sort: kinds of one urgency keep the order their app gave them.
    return sorted(items, key=lambda item: item.urgency)


class WaitingFilter(admin.SimpleListFilter):
    """The change list's "Waiting for you" filter: the rows of one kind of
    work, exactly as the home counted them."""

    title = _("work queue")
    parameter_name = PARAMETER

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            (kind.key, kind.label)
            for kind in kinds_of(model_admin.model)
            if kind.rows(request.user) is not None
        ]

    def has_output(self) -> bool:
        # Django applies only the filters it shows: one asked for by the URL
        # applies (and shows nothing) even for a user with no such work.
        return bool(self.lookup_choices) or self.value() is not None

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        key = self.value()
        if not key:
            return None
        kind = kind_for(str(key))
        rows = kind.rows(request.user) if kind is not None else None
        if kind is None or kind.model is not queryset.model or rows is None:
            return queryset.none()
        return queryset.filter(pk__in=rows.values("pk"))
