"""Eligibility rule sets: data that officials edit, never code.

Each :class:`RuleSet` row is one *version* of a rule set: the versions of one
rule set share a ``lineage`` and are numbered 1, 2, 3 …. A draft version may
be edited; a published version never changes (the services refuse it, and on
PostgreSQL so do the database's triggers). Editing a published version makes
the next draft version, which is published in turn; a program names the
version it applies and adopts a newer one explicitly, and an application
keeps the version it was decided under.

A rule set is a tree of all/any groups and ``fact op value`` conditions,
stored as rows (:class:`RuleNode`) so the admin can edit it as a form: each
row has a path (``1``, ``2``, ``2.1`` …) that places it in the tree; the
rule set's own combinator joins the top-level rows. :meth:`RuleSet.definition`
turns the rows into the JSON tree the evaluator reads (and that is exported
and imported).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from accounts.models import District, Membership, localized
from accounts.scoping import scope_for

if TYPE_CHECKING:
    from accounts.scoping import Scope

#: The columns of one rule row, as :meth:`RuleNode.as_row` gives them.
ROW_FIELDS = ("path", "kind", "fact", "operator", "value")
PATH_RE = re.compile(r"^[1-9]\d*(\.[1-9]\d*)*$")


def path_key(path: str) -> tuple[int, ...]:
    """Sort key of a path: 2.10 after 2.9."""
    return tuple(int(part) for part in path.split("."))


def _is_program_manager(rule_set: Any, user: Any) -> bool:
    """Only a program manager of the rule set's own district edits, publishes or adopts it."""
    return scope_for(user).has_district_role(rule_set.district_id, Membership.Role.PROGRAM_MANAGER)


class RuleSet(FSMModelMixin, models.Model):
    """One version of a named set of eligibility rules owned by a district."""

    class Combinator(models.TextChoices):
        ALL = "all", _("All of the rows below must pass")
        ANY = "any", _("At least one of the rows below must pass")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    district = models.ForeignKey(
        District, verbose_name=_("district"), on_delete=models.PROTECT, related_name="rule_sets"
    )
    name = models.CharField(_("name (Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    description = models.TextField(_("description (Chinese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    combinator = models.CharField(
        _("top level"), max_length=3, choices=Combinator.choices, default=Combinator.ALL
    )
    status = FSMField(_("status"), default=Status.DRAFT, choices=Status.choices, protected=True)
    lineage = models.UUIDField(
        _("rule set"),
        default=uuid.uuid4,
        editable=False,
        db_index=True,
        help_text=_("Shared by every version of one rule set."),
    )
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    based_on = models.ForeignKey(
        "self",
        verbose_name=_("edited from version"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    class Meta:
        verbose_name = _("eligibility rule set")
        verbose_name_plural = _("eligibility rule sets")
        ordering = ["district__code", "name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["district", "name", "version"], name="rule_set_unique_name"
            ),
            models.UniqueConstraint(fields=["lineage", "version"], name="rule_set_unique_version"),
            # One draft at a time: the next version is edited in one place.
            models.UniqueConstraint(
                fields=["lineage"],
                condition=Q(status="draft"),
                name="rule_set_one_draft_per_lineage",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="rule_set_version_positive"),
        ]
        triggers = [
            # A published version never changes and is never deleted: programs
            # apply it and applications were decided under it.
            pgtrigger.Protect(
                name="rule_set_published_never_changes",
                operation=pgtrigger.Update | pgtrigger.Delete,
                condition=pgtrigger.Q(old__status="published"),
            ),
        ]

    def __str__(self) -> str:
        return self.version_label

    @property
    def version_label(self) -> str:
        """The name with the version and, for a draft, that it is one: "Jianghan · v2 (draft)"."""
        from django.utils.translation import gettext

        if self.status == self.Status.DRAFT:
            return gettext("%(name)s · version %(version)s (draft)") % {
                "name": self.display_name,
                "version": self.version,
            }
        return gettext("%(name)s · version %(version)s") % {
            "name": self.display_name,
            "version": self.version,
        }

    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    # Lifecycle: the services in eligibility.services call these, save and audit.
    @transition(
        field=status,
        source=Status.DRAFT,
        target=Status.PUBLISHED,
        permission=_is_program_manager,
    )
    def publish(self, *, by: Any, at: Any) -> None:
        """Freeze this version: from now on it never changes and programs may adopt it."""
        self.published_by = by
        self.published_at = at

    @property
    def display_name(self) -> str:
        return localized(self, "name")

    @property
    def display_description(self) -> str:
        return localized(self, "description")

    def definition(self, nodes: list[RuleNode] | None = None) -> dict[str, Any]:
        """The rule tree as JSON, built from the rows (or from ``nodes``)."""
        rows = sorted(
            nodes if nodes is not None else list(self.nodes.all()), key=lambda n: path_key(n.path)
        )
        return rows_to_definition(self.combinator, [n.as_row() for n in rows])

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(district__in=scope.district_ids)


class RuleNode(models.Model):
    """One row of a rule set: a group (all/any) or a condition."""

    class Kind(models.TextChoices):
        CONDITION = "condition", _("Condition")
        ALL = "all", _("Group: all must pass")
        ANY = "any", _("Group: at least one must pass")

    rule_set = models.ForeignKey(
        RuleSet, verbose_name=_("rule set"), on_delete=models.CASCADE, related_name="nodes"
    )
    path = models.CharField(
        _("position"),
        max_length=30,
        help_text=_("1, 2, 3 … at the top level; 2.1, 2.2 … inside group 2."),
    )
    kind = models.CharField(_("row"), max_length=10, choices=Kind.choices, default=Kind.CONDITION)
    fact = models.CharField(_("fact"), max_length=50, blank=True)
    operator = models.CharField(_("operator"), max_length=20, blank=True)
    value = models.CharField(
        _("value"),
        max_length=500,
        blank=True,
        help_text=_("A number, yes/no, or a comma-separated list of codes."),
    )

    class Meta:
        verbose_name = _("rule row")
        verbose_name_plural = _("rule rows")
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "path"], name="rule_node_unique_path")
        ]
        triggers = [
            # The rows of a published version are part of it: never added,
            # changed or removed (an edit makes a new draft version instead).
            pgtrigger.Trigger(
                name="rule_node_frozen_when_published",
                operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
                when=pgtrigger.Before,
                func=(
                    "IF TG_OP IN ('UPDATE', 'DELETE') THEN"
                    " IF EXISTS (SELECT 1 FROM eligibility_ruleset"
                    " WHERE id = OLD.rule_set_id AND status = 'published') THEN"
                    " RAISE EXCEPTION 'the rows of a published rule set version never change'"
                    " USING ERRCODE = 'integrity_constraint_violation'; END IF;"
                    " END IF;"
                    " IF TG_OP IN ('INSERT', 'UPDATE') THEN"
                    " IF EXISTS (SELECT 1 FROM eligibility_ruleset"
                    " WHERE id = NEW.rule_set_id AND status = 'published') THEN"
                    " RAISE EXCEPTION 'the rows of a published rule set version never change'"
                    " USING ERRCODE = 'integrity_constraint_violation'; END IF;"
                    " RETURN NEW;"
                    " END IF;"
                    " RETURN OLD;"
                ),
            ),
        ]

    def __str__(self) -> str:
        if self.kind != self.Kind.CONDITION:
            return f"{self.path} {self.get_kind_display()}"
        return f"{self.path} {self.sentence()}"

    def sentence(self) -> str:
        """The condition as a sentence in the active language (a group: its kind)."""
        from .evaluator import condition_sentence

        if self.kind != self.Kind.CONDITION:
            return str(self.get_kind_display())
        return condition_sentence(self.fact, self.operator, self.value)

    def as_row(self) -> dict[str, str]:
        return {
            "path": self.path,
            "kind": self.kind,
            "fact": self.fact,
            "operator": self.operator,
            "value": self.value,
        }

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(rule_set__district__in=scope.district_ids)


def rows_to_definition(combinator: str, rows: list[dict[str, str]]) -> dict[str, Any]:
    """Build the JSON tree from rows (paths already valid and sorted)."""
    root: dict[str, Any] = {combinator: []}
    groups: dict[str, dict[str, Any]] = {"": root}
    for row in sorted(rows, key=lambda r: path_key(r["path"])):
        parent_path = row["path"].rpartition(".")[0]
        parent = groups.get(parent_path)
        if parent is None:
            continue
        members = next(iter(parent.values()))
        if row["kind"] == RuleNode.Kind.CONDITION:
            members.append({"fact": row["fact"], "op": row["operator"], "value": row["value"]})
        else:
            group: dict[str, Any] = {row["kind"]: []}
            members.append(group)
            groups[row["path"]] = group
    return root


def definition_to_rows(definition: dict[str, Any]) -> tuple[str, list[dict[str, str]]]:
    """The inverse of :func:`rows_to_definition`: the top combinator and the rows."""
    combinator = "all" if "all" in definition else "any"
    rows: list[dict[str, str]] = []

    def walk(members: list[Any], prefix: str) -> None:
        for index, node in enumerate(members, start=1):
            path = f"{prefix}.{index}" if prefix else str(index)
            kind = next((k for k in ("all", "any") if k in node), None)
            if kind:
                rows.append({"path": path, "kind": kind, "fact": "", "operator": "", "value": ""})
                walk(node[kind], path)
            else:
                value = node.get("value", "")
                if isinstance(value, list):
                    value = ", ".join(str(v) for v in value)
                rows.append(
                    {
                        "path": path,
                        "kind": "condition",
                        "fact": str(node.get("fact", "")),
                        "operator": str(node.get("op", "")),
                        "value": str(value),
                    }
                )

    walk(definition.get(combinator, []), "")
    return combinator, rows


def row_problems(rows: list[dict[str, str]]) -> dict[int, list[str]]:
    """Structural problems of rows, by row index: bad or repeated paths, a
    parent that is missing or not a group, an empty group."""
    from django.utils.translation import gettext as _t

    problems: dict[int, list[str]] = {}
    kinds: dict[str, str] = {}
    for index, row in enumerate(rows):
        path = row["path"].strip()
        if not PATH_RE.match(path):
            problems.setdefault(index, []).append(
                _t("“%(path)s” is not a position like 1, 2 or 2.1.") % {"path": path}
            )
            continue
        if path in kinds:
            problems.setdefault(index, []).append(
                _t("Position %(path)s is used twice.") % {"path": path}
            )
        kinds[path] = row["kind"]
    for index, row in enumerate(rows):
        path = row["path"].strip()
        if index in problems:
            continue
        parent = path.rpartition(".")[0]
        if parent and kinds.get(parent) not in ("all", "any"):
            problems.setdefault(index, []).append(
                _t("Position %(path)s needs a group row at %(parent)s.")
                % {"path": path, "parent": parent}
            )
        if row["kind"] in ("all", "any") and not any(p.rpartition(".")[0] == path for p in kinds):
            problems.setdefault(index, []).append(
                _t("Group %(path)s is empty: add rows %(path)s.1, %(path)s.2 …") % {"path": path}
            )
    return problems
