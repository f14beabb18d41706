"""Evaluating a rule set for an enterprise into a decision that says why.

A rule is a tree in plain JSON::

    {"all": [
        {"fact": "registered_division", "op": "within", "value": ["420103"]},
        {"any": [
            {"fact": "prior_year_revenue", "op": "gte", "value": "5000000"},
            {"fact": "headcount", "op": "gte", "value": "20"}
        ]}
    ]}

:func:`evaluate_definition` returns a :class:`Decision` with one line per
condition and per group: the fact, the value found, what was required, and
whether it passed. :meth:`Decision.as_record` renders the lines in every
language of the site, so the record frozen into an application reads the
same later in Chinese and in English.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import District, Enterprise

from .facts import Context, Fact, FactType, get_fact, today

if TYPE_CHECKING:
    from .models import RuleSet


@dataclass(frozen=True)
class Operator:
    key: str
    label: Any
    test: Callable[[Any, Any], bool]
    types: tuple[str, ...]


def _within(found: Any, prefixes: list[str]) -> bool:
    return any(str(found).startswith(District(code=p).division_prefix) for p in prefixes)


NUMERIC = (FactType.NUMBER, FactType.MONEY, FactType.PERCENT)
OPERATORS: dict[str, Operator] = {
    op.key: op
    for op in [
        Operator("gte", _("at least"), operator.ge, NUMERIC),
        Operator("gt", _("more than"), operator.gt, NUMERIC),
        Operator("lte", _("at most"), operator.le, NUMERIC),
        Operator("lt", _("less than"), operator.lt, NUMERIC),
        Operator("eq", _("equal to"), operator.eq, (*NUMERIC, FactType.BOOLEAN)),
        Operator("ne", _("not equal to"), operator.ne, (*NUMERIC, FactType.BOOLEAN)),
        Operator("in", _("one of"), lambda f, v: f in v, (FactType.CHOICE,)),
        Operator("not_in", _("none of"), lambda f, v: f not in v, (FactType.CHOICE,)),
        Operator("within", _("inside division"), _within, (FactType.DIVISION,)),
        Operator(
            "not_within",
            _("outside division"),
            lambda f, v: not _within(f, v),
            (FactType.DIVISION,),
        ),
    ]
}
GROUPS = {"all": _("All of the following"), "any": _("At least one of the following")}


# How each operator reads as a sentence; the fact's label comes first.
SENTENCES = {
    "gte": pgettext_lazy("rule condition", "%(fact)s is at least %(value)s"),
    "gt": pgettext_lazy("rule condition", "%(fact)s is more than %(value)s"),
    "lte": pgettext_lazy("rule condition", "%(fact)s is at most %(value)s"),
    "lt": pgettext_lazy("rule condition", "%(fact)s is less than %(value)s"),
    "eq": pgettext_lazy("rule condition", "%(fact)s is %(value)s"),
    "ne": pgettext_lazy("rule condition", "%(fact)s is not %(value)s"),
    "in": pgettext_lazy("rule condition", "%(fact)s is one of: %(value)s"),
    "not_in": pgettext_lazy("rule condition", "%(fact)s is none of: %(value)s"),
    "within": pgettext_lazy("rule condition", "%(fact)s is within %(value)s"),
    "not_within": pgettext_lazy("rule condition", "%(fact)s is outside %(value)s"),
}
# A yes/no fact reads as the answer it requires.
YES_NO_SENTENCES = {
    True: pgettext_lazy("rule condition", "%(fact)s: yes"),
    False: pgettext_lazy("rule condition", "%(fact)s: no"),
}


def condition_sentence(fact_key: str, op_key: str, raw_value: Any) -> str:
    """A condition as one sentence in the active language, with the fact's
    label and the value formatted per its unit: "Prior-year revenue is at
    least ¥5,000,000" / "上年度营业收入 不少于 500 万元".

    Every page that shows a rule to a person (the rule editor, the preview of
    who qualifies, the decision tables) renders it through this function. A
    condition that does not check (an unknown fact or operator, a value of
    the wrong type) reads as it is stored, so nothing is hidden."""
    try:
        fact, op, value = check_condition(fact_key, op_key, raw_value)
    except RuleError:
        return " ".join(str(part) for part in (fact_key, op_key, raw_value) if part)
    label = capfirst(str(fact.label))
    if fact.type == FactType.BOOLEAN:
        wanted = value if op.key == "eq" else not value
        return str(YES_NO_SENTENCES[bool(wanted)]) % {"fact": label}
    return str(SENTENCES[op.key]) % {"fact": label, "value": fact.show(value)}


def operator_choices() -> list[tuple[str, str]]:
    return [(op.key, str(op.label)) for op in OPERATORS.values()]


class RuleError(ValueError):
    """A rule tree that cannot be evaluated, with the reason."""


def check_condition(fact_key: str, op_key: str, raw_value: Any) -> tuple[Fact, Operator, Any]:
    """Validate one condition; return the fact, the operator and the parsed value."""
    # An imported tree is any JSON: a key that is not a string names nothing.
    fact = get_fact(fact_key) if isinstance(fact_key, str) else None
    if fact is None:
        raise RuleError(gettext("Unknown fact “%(fact)s”.") % {"fact": fact_key})
    op = OPERATORS.get(op_key) if isinstance(op_key, str) else None
    if op is None:
        raise RuleError(gettext("Unknown operator “%(op)s”.") % {"op": op_key})
    if fact.type not in op.types:
        allowed = ", ".join(str(o.label) for o in OPERATORS.values() if fact.type in o.types)
        raise RuleError(
            gettext("“%(op)s” does not apply to %(fact)s; use one of: %(allowed)s.")
            % {"op": op.label, "fact": fact.label, "allowed": allowed}
        )
    try:
        value = fact.parse(raw_value)
    except ValueError as exc:
        raise RuleError(str(exc)) from None
    return fact, op, value


def check_definition(node: Any, *, path: str = "") -> list[str]:
    """Every problem of a rule tree, as messages naming where it is."""
    where = path or gettext("top level")
    if not isinstance(node, dict):
        return [gettext("%(where)s: expected a group or a condition.") % {"where": where}]
    groups = [k for k in ("all", "any") if k in node]
    if groups:
        children = node[groups[0]]
        if len(groups) > 1 or not isinstance(children, list):
            return [
                gettext("%(where)s: a group is either all or any, with a list.") % {"where": where}
            ]
        if not children:
            return [gettext("%(where)s: a group needs at least one member.") % {"where": where}]
        problems: list[str] = []
        for index, child in enumerate(children, start=1):
            problems += check_definition(child, path=f"{path}.{index}" if path else str(index))
        return problems
    try:
        check_condition(node.get("fact", ""), node.get("op", ""), node.get("value"))
    except RuleError as exc:
        return [f"{where}: {exc}"]
    return []


@dataclass(frozen=True)
class Line:
    """One row of the explanation."""

    path: str
    depth: int
    kind: str  # "condition" or "all" / "any"
    passed: bool
    fact: str = ""
    op: str = ""
    value: Any = None
    found: Any = None

    def texts(self) -> dict[str, str]:
        """The line in the active language: what was tested, found and required."""
        if self.kind in GROUPS:
            label = str(GROUPS[self.kind])
            return {"label": label, "found": "", "required": "", "condition": label}
        fact = get_fact(self.fact)
        op = OPERATORS[self.op]
        if fact is None:
            return {
                "label": self.fact,
                "found": str(self.found),
                "required": str(self.value),
                "condition": condition_sentence(self.fact, self.op, self.value),
            }
        parsed = fact.parse(self.value)
        if fact.type == FactType.BOOLEAN:
            # "equal to yes" says no more than "yes": a yes/no fact requires
            # the answer itself.
            wanted = parsed if op.key == "eq" else not parsed
            required = fact.show(wanted)
        else:
            required = f"{op.label} {fact.show(parsed)}"
        return {
            "label": str(fact.label),
            "found": fact.show(self.found),
            "required": required,
            "condition": condition_sentence(self.fact, self.op, self.value),
        }


@dataclass
class Decision:
    """The outcome of a rule set for one enterprise, line by line."""

    eligible: bool
    lines: list[Line] = field(default_factory=list)
    rule_set_name: str = ""
    # Which version of which rule set decided (none: no rule set).
    rule_set_id: int | None = None
    rule_set_version: int | None = None

    def rows(self) -> list[dict[str, Any]]:
        """The lines with their texts in the active language (for templates)."""
        return [{"line": line, **line.texts()} for line in self.lines]

    def failed_reasons(self) -> list[str]:
        return [
            gettext("%(condition)s (found: %(found)s)") % line.texts()
            for line in self.lines
            if line.kind == "condition" and not line.passed
        ]

    def as_record(self) -> dict[str, Any]:
        """A JSON record of the decision with the texts in every site language."""
        texts: dict[str, list[dict[str, str]]] = {}
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                texts[code] = [line.texts() for line in self.lines]
        return {
            "eligible": self.eligible,
            "rule_set": self.rule_set_name,
            "rule_set_id": self.rule_set_id,
            "rule_set_version": self.rule_set_version,
            "lines": [
                {
                    "path": line.path,
                    "depth": line.depth,
                    "kind": line.kind,
                    "passed": line.passed,
                    "fact": line.fact,
                    "op": line.op,
                    "value": line.value,
                    "found": _json_value(line.found),
                    "text": {code: texts[code][i] for code in texts},
                }
                for i, line in enumerate(self.lines)
            ],
        }


def _json_value(value: Any) -> Any:
    if isinstance(value, bool | int | str) or value is None:
        return value
    return str(value)


def record_rows(record: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The lines of a frozen decision record in the active language (for templates)."""
    if not record:
        return []
    language = translation.get_language() or settings.LANGUAGE_CODE
    rows = []
    for line in record.get("lines", []):
        text = dict(line["text"].get(language) or next(iter(line["text"].values())))
        if line.get("kind") == "condition" and get_fact(line.get("fact", "")) is not None:
            # The sentence is made from the frozen fact, operator and value, so
            # records frozen before sentences existed read the same way.
            text["condition"] = condition_sentence(line["fact"], line["op"], line["value"])
        elif "condition" not in text:
            text["condition"] = " ".join(
                part for part in (text.get("label", ""), text.get("required", "")) if part
            )
        rows.append({**line, **text})
    return rows


def _evaluate(
    node: dict[str, Any],
    enterprise: Enterprise,
    context: Context,
    path: str,
    depth: int,
    lines: list[Line],
) -> bool:
    for kind in ("all", "any"):
        if kind in node:
            index = len(lines)
            lines.append(Line(path=path, depth=depth, kind=kind, passed=False))
            results = [
                _evaluate(
                    child, enterprise, context, f"{path}.{i}" if path else str(i), depth + 1, lines
                )
                for i, child in enumerate(node[kind], start=1)
            ]
            passed = all(results) if kind == "all" else any(results)
            lines[index] = Line(path=path, depth=depth, kind=kind, passed=passed)
            return passed
    fact, op, value = check_condition(node["fact"], node["op"], node.get("value"))
    found = fact.read(enterprise, context)
    passed = found is not None and bool(op.test(found, value))
    lines.append(
        Line(
            path=path,
            depth=depth,
            kind="condition",
            passed=passed,
            fact=fact.key,
            op=op.key,
            value=node.get("value"),
            found=found,
        )
    )
    return passed


def requirement_rows(rule_set: RuleSet | None) -> list[dict[str, Any]]:
    """The rule set's groups and conditions with what each requires, for a
    reader who is not checked against them (no enterprise: nothing found,
    nothing passed); the same texts as :meth:`Decision.rows`."""
    if rule_set is None:
        return []
    lines: list[Line] = []

    def walk(node: dict[str, Any], path: str, depth: int) -> None:
        for kind in GROUPS:
            if kind in node:
                lines.append(Line(path=path, depth=depth, kind=kind, passed=False))
                for i, child in enumerate(node[kind], start=1):
                    walk(child, f"{path}.{i}" if path else str(i), depth + 1)
                return
        fact, op, _value = check_condition(node["fact"], node["op"], node.get("value"))
        lines.append(
            Line(
                path=path,
                depth=depth,
                kind="condition",
                passed=False,
                fact=fact.key,
                op=op.key,
                value=node.get("value"),
            )
        )

    walk(rule_set.definition(), "", 0)
    return [{"line": line, **line.texts()} for line in lines]


def evaluate_definition(
    definition: dict[str, Any],
    enterprise: Enterprise,
    *,
    context: Context | None = None,
    name: str = "",
) -> Decision:
    """Evaluate a rule tree; RuleError when the tree is malformed."""
    context = context or Context(on=today())
    problems = check_definition(definition)
    if problems:
        raise RuleError("; ".join(problems))
    lines: list[Line] = []
    eligible = _evaluate(definition, enterprise, context, "", 0, lines)
    return Decision(eligible=eligible, lines=lines, rule_set_name=name)


def evaluate(
    rule_set: RuleSet | None, enterprise: Enterprise, *, context: Context | None = None
) -> Decision:
    """The decision of ``rule_set`` for ``enterprise``; no rule set admits everyone."""
    if rule_set is None:
        return Decision(eligible=True)
    decision = evaluate_definition(
        rule_set.definition(), enterprise, context=context, name=rule_set.display_name
    )
    decision.rule_set_id = rule_set.pk
    decision.rule_set_version = rule_set.version
    return decision
