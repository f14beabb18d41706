"""Eligibility rule sets: data that officials edit, never code.

A rule set is a tree of all/any groups and ``fact op value`` conditions,
stored as rows (:class:`RuleNode`) so the admin can edit it as a form: each
row has a path (``1``, ``2``, ``2.1`` …) that places it in the tree; the
rule set's own combinator joins the top-level rows. :meth:`RuleSet.definition`
turns the rows into the JSON tree the evaluator reads (and that is exported
and imported).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import District, localized

if TYPE_CHECKING:
    from accounts.scoping import Scope

PATH_RE = re.compile(r"^[1-9]\d*(\.[1-9]\d*)*$")


def path_key(path: str) -> tuple[int, ...]:
    """Sort key of a path: 2.10 after 2.9."""
    return tuple(int(part) for part in path.split("."))


class RuleSet(models.Model):
    """A named set of eligibility rules owned by a district."""

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
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("eligibility rule set")
        verbose_name_plural = _("eligibility rule sets")
        ordering = ["district__code", "name"]
        constraints = [
            models.UniqueConstraint(fields=["district", "name"], name="rule_set_unique_name")
        ]

    def __str__(self) -> str:
        return self.display_name

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

    def __str__(self) -> str:
        if self.kind != self.Kind.CONDITION:
            return f"{self.path} {self.get_kind_display()}"
        return f"{self.path} {self.fact} {self.operator} {self.value}"

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
