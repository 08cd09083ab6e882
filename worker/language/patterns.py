"""The small pattern language of config/crisis_rules.yaml: parsing and matching. Pure.

A pattern is words in order, over the normalised words of a text (see normalise.py):

    want to ...3 die            "want to die", "want to honestly die", "wanna just die"
    (kill|end) my life          alternatives in parentheses
    i [really] want             optional words in brackets
    suicid*                     a word beginning so: suicide, suicidal, suicidio
    end ... my life             a gap of up to 3 words (`...N`: up to N, at most 12)
    @meds                       any entry of the list `meds` in the rule file
    #                           a number of 5 or more ("took 30 pills")
    $                           the end of a clause (a comma, a full stop, the end)

`a b | c d` at the top level means "a b" or "c d". Words are normalised like texts, so
"don't" in a pattern is the same as "dont" and "do not", and "dieee" the same as "die".
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from worker.language.normalise import words

MAX_GAP = 12
DEFAULT_GAP = 3
MIN_PREFIX = 3
NUMBER = "#"  # the atom a number of 5 or more carries (see screening.atoms_of)

# Syntax: parentheses, brackets, bars, gaps, list names, and words (with a trailing *).
_LEXEME = re.compile(r"\s*(\.\.\.\d*|[()\[\]|]|@[\w-]+|[#$]|[^\s()\[\]|]+)")


class PatternError(ValueError):
    """A pattern that cannot be read; the message says why."""


# Nodes. Atoms are strings: "w:<word>" for a word, "p:<stem>" for a prefix, "#" a number.
@dataclass(frozen=True)
class Atom:
    key: str


@dataclass(frozen=True)
class End:
    pass


@dataclass(frozen=True)
class Gap:
    most: int


@dataclass(frozen=True)
class Seq:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    options: tuple[Node, ...]


@dataclass(frozen=True)
class Opt:
    node: Node


Node = Atom | End | Gap | Seq | Alt | Opt


def word_key(word: str) -> str:
    return f"w:{word}"


def prefix_key(stem: str) -> str:
    return f"p:{stem}"


class _Parser:
    """Recursive descent over the lexemes of one pattern."""

    def __init__(self, text: str, lists: Mapping[str, Node]) -> None:
        self.lexemes = _lex(text)
        self.pos = 0
        self.lists = lists

    def parse(self) -> Node:
        node = self._alternatives(closing=None)
        if self.pos < len(self.lexemes):
            raise PatternError(f"unexpected {self.lexemes[self.pos]!r}")
        return node

    def _alternatives(self, closing: str | None) -> Node:
        options = [self._sequence(closing)]
        while self._peek() == "|":
            self.pos += 1
            options.append(self._sequence(closing))
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def _sequence(self, closing: str | None) -> Node:
        items: list[Node] = []
        while (lexeme := self._peek()) is not None and lexeme not in ("|", ")", "]"):
            items.extend(self._item(lexeme))
        if self._peek() in (")", "]") and self._peek() != closing:
            raise PatternError(f"unexpected {self._peek()!r}")
        if not items:
            raise PatternError("empty alternative")
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def _item(self, lexeme: str) -> list[Node]:
        self.pos += 1
        if lexeme in ("(", "["):
            closing = ")" if lexeme == "(" else "]"
            inner = self._alternatives(closing)
            if self._peek() != closing:
                raise PatternError(f"{lexeme!r} is never closed")
            self.pos += 1
            return [inner if lexeme == "(" else Opt(inner)]
        if lexeme.startswith("..."):
            return [Gap(_gap_size(lexeme))]
        if lexeme.startswith("@"):
            if lexeme[1:] not in self.lists:
                raise PatternError(f"no list called {lexeme[1:]!r}")
            return [self.lists[lexeme[1:]]]
        if lexeme == "#":
            return [Atom(NUMBER)]
        if lexeme == "$":
            return [End()]
        return _word_nodes(lexeme)

    def _peek(self) -> str | None:
        return self.lexemes[self.pos] if self.pos < len(self.lexemes) else None


def _lex(text: str) -> list[str]:
    lexemes: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _LEXEME.match(text, pos)
        if match is None:  # pragma: no cover - the last alternative takes any other run
            raise PatternError(f"cannot read {text[pos:]!r}")
        lexemes.append(match.group(1))
        pos = match.end()
    return lexemes


def _gap_size(lexeme: str) -> int:
    size = int(lexeme[3:]) if len(lexeme) > 3 else DEFAULT_GAP
    if not 1 <= size <= MAX_GAP:
        raise PatternError(f"a gap is 1 to {MAX_GAP} words, not {size}")
    return size


def _word_nodes(lexeme: str) -> list[Node]:
    if lexeme.endswith("*"):
        stem = "".join(words(lexeme[:-1]))
        if "*" in lexeme[:-1] or len(stem) < MIN_PREFIX:
            raise PatternError(f"{lexeme!r}: a prefix needs {MIN_PREFIX} letters or more before one *")
        return [Atom(prefix_key(stem))]
    if "*" in lexeme:
        raise PatternError(f"{lexeme!r}: * goes only at the end of a word")
    normal = words(lexeme)
    if not normal:
        raise PatternError(f"{lexeme!r} has no letters")
    return [Atom(word_key(w)) for w in normal]


def parse(text: str, lists: Mapping[str, Node] | None = None) -> Node:
    """The node for one pattern; PatternError says what is wrong with it."""
    node = _Parser(text, lists or {}).parse()
    _check_shape(node)
    return node


def _check_shape(node: Node) -> None:
    # A pattern that can match nothing, or that starts or ends with a gap, is a mistake:
    # the first would fire on every text, the second just widens the match.
    if not clauses(node):
        raise PatternError("needs at least one word that is not optional")
    items = node.items if isinstance(node, Seq) else (node,)
    if isinstance(items[0], Gap) or isinstance(items[-1], Gap):
        raise PatternError("a pattern cannot start or end with a gap")


def clauses(node: Node) -> list[frozenset[str]]:
    """Atoms a text must hold for the pattern to match: one of each set (for indexing)."""
    if isinstance(node, Atom):
        return [frozenset([node.key])]
    if isinstance(node, Seq):
        return [c for item in node.items for c in clauses(item)]
    if isinstance(node, Alt):
        per_option = [clauses(option) for option in node.options]
        if all(per_option):
            return [frozenset().union(*(min(c, key=len) for c in per_option))]
    return []


def has_end(node: Node) -> bool:
    """The pattern names a clause end (`$`), so it may run on past one."""
    if isinstance(node, End):
        return True
    if isinstance(node, Seq):
        return any(has_end(item) for item in node.items)
    if isinstance(node, Alt):
        return any(has_end(option) for option in node.options)
    if isinstance(node, Opt):
        return has_end(node.node)
    return False


def atoms(node: Node) -> set[str]:
    """Every atom a pattern mentions (the vocabulary the screener indexes)."""
    if isinstance(node, Atom):
        return {node.key}
    if isinstance(node, Seq | Alt):
        children = node.items if isinstance(node, Seq) else node.options
        return set().union(*(atoms(child) for child in children))
    if isinstance(node, Opt):
        return atoms(node.node)
    return set()


@dataclass(frozen=True)
class Text:
    """A text as the matcher sees it: each word's atoms, and where clauses end."""

    atoms: Sequence[frozenset[str]]
    clause_ends: frozenset[int]  # positions (0..len) at which a clause ends


def ends(node: Node, text: Text, pos: int) -> Iterator[int]:
    """Every position at which `node`, matched from `pos`, can end."""
    if isinstance(node, Atom):
        if pos < len(text.atoms) and node.key in text.atoms[pos]:
            yield pos + 1
    elif isinstance(node, Seq):
        yield from _seq_ends(node.items, 0, text, pos)
    elif isinstance(node, Alt):
        for option in node.options:
            yield from ends(option, text, pos)
    elif isinstance(node, Opt):
        yield pos
        yield from ends(node.node, text, pos)
    elif isinstance(node, Gap):
        yield from range(pos, min(pos + node.most, len(text.atoms)) + 1)
    elif pos in text.clause_ends:
        yield pos


def _seq_ends(items: tuple[Node, ...], index: int, text: Text, pos: int) -> Iterator[int]:
    if index == len(items):
        yield pos
        return
    for end in ends(items[index], text, pos):
        yield from _seq_ends(items, index + 1, text, end)


def first_atoms(node: Node) -> frozenset[str] | None:
    """Atoms a match must start with; None when it may start anywhere (an optional start)."""
    if isinstance(node, Atom):
        return frozenset([node.key])
    if isinstance(node, Seq):
        return first_atoms(node.items[0])
    if isinstance(node, Alt):
        union: set[str] = set()
        for option in node.options:
            first = first_atoms(option)
            if first is None:
                return None
            union |= first
        return frozenset(union)
    return None


def matches(node: Node, text: Text, starts: frozenset[str] | None) -> Iterator[tuple[int, int]]:
    """(start, end) of the shortest match at each start position, left to right."""
    for start in range(len(text.atoms)):
        if starts is not None and not starts & text.atoms[start]:
            continue
        found = [end for end in ends(node, text, start) if end > start]
        if found:
            yield start, min(found)
