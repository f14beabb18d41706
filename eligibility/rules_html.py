"""A rule set's rules as officials read them: nested sentences, in HTML."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .evaluator import GROUPS
from .models import RuleNode, RuleSet, path_key


def rules_in_words(rule_set: RuleSet) -> SafeString:
    """A rule set's rows as a nested list of sentences under its top-level joiner."""
    rows = sorted(rule_set.nodes.all(), key=lambda n: path_key(n.path))
    children: dict[str, list[RuleNode]] = {}
    for row in rows:
        children.setdefault(row.path.rpartition(".")[0], []).append(row)

    def items(parent: str) -> SafeString:
        return format_html_join(
            "",
            "<li>{}{}</li>",
            ((row.sentence(), members(row.path)) for row in children.get(parent, [])),
        )

    def members(path: str) -> SafeString | str:
        return format_html("<ul>{}</ul>", items(path)) if path in children else ""

    return format_html(
        '<div class="rules-in-words">{}<ul>{}</ul></div>', GROUPS[rule_set.combinator], items("")
    )
