"""config/crisis_rules.yaml read into rules, every problem reported as "file:line: message".

The file is edited by clinics, so a mistake in it must be found before it ships and be
easy to find in the file: the YAML is composed into nodes (which know their line) and
checked node by node. All problems are collected, not just the first, so one run of
`clinic-worker questionnaires validate` lists everything to fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from worker.language import patterns
from worker.language.normalise import words
from worker.lib.errors import InputError

# Most severe first: when several rules match a text, the first category here wins.
CATEGORIES = ("plan_or_means", "intent", "ideation", "self_harm", "passive_ideation")
LANGUAGES = ("en", "es")
_ID = re.compile(r"^([a-z]{2})\.[a-z0-9_]+(\.[a-z0-9_]+)*$")
_TOP_KEYS = ("lists", "rules", "not_crisis", "never_fuzzy")
_RULE_KEYS = ("id", "category", "pattern", "patterns")


class RuleFileError(InputError):
    """The rule file has problems; `problems` holds one "file:line: message" each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Rule:
    id: str
    category: str | None  # None for a not_crisis entry (an idiom or a mere mention)
    language: str
    patterns: tuple[patterns.Node, ...]
    line: int


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    not_crisis: tuple[Rule, ...]
    never_fuzzy: frozenset[str]


def load_rules(path: Path) -> RuleSet:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleFileError([f"{path.name}: cannot read crisis rules: {exc.strerror or exc}"]) from None
    return read_rules(text, path.name)


def read_rules(text: str, name: str) -> RuleSet:
    reader = _Reader(name)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise RuleFileError([f"{name}:{line}: not valid YAML: {exc.problem}"]) from None
    result = reader.read(root)
    if reader.problems:
        raise RuleFileError(reader.problems)
    return result


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Reader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[str] = []
        self.lists: dict[str, patterns.Node] = {}
        self.ids: dict[str, int] = {}

    def problem(self, node: Node | int, message: str) -> None:
        line = node if isinstance(node, int) else _line(node)
        self.problems.append(f"{self.name}:{line}: {message}")

    def read(self, root: Node | None) -> RuleSet:
        if not isinstance(root, MappingNode):
            self.problem(root.start_mark.line + 1 if root else 1, "expected `rules:` and its list")
            return RuleSet((), (), frozenset())
        sections = dict(self._pairs(root, _TOP_KEYS, "section"))
        if "lists" in sections:
            self._read_lists(sections["lists"])
        if "rules" not in sections:
            self.problem(root, "no `rules:`: crisis language would never be noticed")
        rules = self._read_rules(sections["rules"], crisis=True) if "rules" in sections else ()
        kept = self._read_rules(sections["not_crisis"], crisis=False) if "not_crisis" in sections else ()
        fuzzy = self._read_words(sections["never_fuzzy"]) if "never_fuzzy" in sections else frozenset()
        return RuleSet(rules, kept, fuzzy)

    def _pairs(self, node: MappingNode, allowed: tuple[str, ...], what: str) -> Iterator[tuple[str, Node]]:
        seen: set[str] = set()
        for key_node, value in node.value:
            key = str(key_node.value)
            if key not in allowed:
                self.problem(key_node, f"unknown {what} {key!r} (expected {', '.join(allowed)})")
            elif key in seen:
                self.problem(key_node, f"{key!r} given twice")
            else:
                seen.add(key)
                yield key, value

    def _items(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what}: expected a list")
            return []
        if not node.value:
            self.problem(node, f"{what}: empty list")
        return list(node.value)

    def _scalar(self, node: Node, what: str) -> str | None:
        if not isinstance(node, ScalarNode) or not str(node.value).strip():
            self.problem(node, f"{what}: expected a word or a line of text")
            return None
        return str(node.value).strip()

    def _read_lists(self, node: Node) -> None:
        if not isinstance(node, MappingNode):
            self.problem(node, "lists: expected names, each with a list")
            return
        for key_node, value in node.value:
            name = str(key_node.value)
            if name in self.lists:
                self.problem(key_node, f"list {name!r} given twice")
            entries = [self._pattern(item, f"list {name}") for item in self._items(value, f"list {name}")]
            found = tuple(e for e in entries if e is not None)
            if found and len(found) == len(entries):
                self.lists[name] = found[0] if len(found) == 1 else patterns.Alt(found)

    def _read_words(self, node: Node) -> frozenset[str]:
        found = (self._scalar(item, "never_fuzzy") for item in self._items(node, "never_fuzzy"))
        return frozenset(w for word in found if word for w in words(word))

    def _read_rules(self, node: Node, *, crisis: bool) -> tuple[Rule, ...]:
        what = "rules" if crisis else "not_crisis"
        found = (self._rule(item, crisis) for item in self._items(node, what))
        return tuple(rule for rule in found if rule is not None)

    def _rule(self, node: Node, crisis: bool) -> Rule | None:
        if not isinstance(node, MappingNode):
            self.problem(node, "a rule is `id:`, `category:` and `pattern:` (or `patterns:`)")
            return None
        fields = dict(self._pairs(node, _RULE_KEYS, "key"))
        rule_id = self._rule_id(node, fields.get("id"))
        category = self._category(node, fields.get("category"), crisis)
        found = self._rule_patterns(node, fields)
        if rule_id is None or found is None or (crisis and category is None):
            return None
        return Rule(rule_id, category, rule_id[:2], found, _line(node))

    def _rule_id(self, rule: Node, node: Node | None) -> str | None:
        if node is None:
            self.problem(rule, "rule without `id:`")
            return None
        rule_id = self._scalar(node, "id")
        if rule_id is None:
            return None
        if not _ID.match(rule_id) or rule_id[:2] not in LANGUAGES:
            self.problem(
                node,
                f"id {rule_id!r}: expected a language ({', '.join(LANGUAGES)}), a dot "
                "and lower-case words joined by dots or underscores, like en.plan.pills_saved",
            )
            return None
        if rule_id in self.ids:
            self.problem(node, f"id {rule_id!r} is used twice (first on line {self.ids[rule_id]})")
            return None
        self.ids[rule_id] = _line(node)
        return rule_id

    def _category(self, rule: Node, node: Node | None, crisis: bool) -> str | None:
        if node is None:
            if crisis:
                self.problem(rule, f"rule without `category:` (one of {', '.join(CATEGORIES)})")
            return None
        category = self._scalar(node, "category")
        if not crisis:
            self.problem(node, "a not_crisis entry has no category: it never raises an alert")
            return None
        if category is not None and category not in CATEGORIES:
            self.problem(node, f"unknown category {category!r} (expected one of {', '.join(CATEGORIES)})")
            return None
        return category

    def _rule_patterns(self, rule: Node, fields: dict[str, Node]) -> tuple[patterns.Node, ...] | None:
        if ("pattern" in fields) == ("patterns" in fields):
            self.problem(rule, "give either `pattern:` or `patterns:` (a list)")
            return None
        items = [fields["pattern"]] if "pattern" in fields else self._items(fields["patterns"], "patterns")
        found = [self._pattern(item, "pattern") for item in items]
        if not found or any(node is None for node in found):
            return None
        return tuple(node for node in found if node is not None)

    def _pattern(self, node: Node, what: str) -> patterns.Node | None:
        text = self._scalar(node, what)
        if text is None:
            return None
        try:
            return patterns.parse(text, self.lists)
        except patterns.PatternError as exc:
            self.problem(node, f"{what} {text!r}: {exc}")
            return None
