"""Printing for people (Rich tables) and for scripts (--json).

Text from patients or files reaches people only through here, shown safely: control
characters (C0, C1, DEL, so every escape sequence), line and paragraph separators and bidi
controls are printed escaped (`\x1b`, `\u202e`), and nothing in the data is read as Rich
markup (`[red]`) or emoji codes (`:smile:`). A reply cannot clear the operator's screen, set
the window title, hide a line or reorder what is shown. JSON stays exact: json.dumps escapes
control characters itself, and a script gets the text as the patient sent it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from worker.lib import localtime

_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_SAFE = str.maketrans(
    {chr(c): _escape(c) for c in (*range(0x20), *range(0x7F, 0xA0))}
    | {ch: _escape(ord(ch)) for ch in _BIDI_CONTROLS + "\u2028\u2029"}
    | _NAMED
)


_JSON_SAFE = str.maketrans({chr(c): f"\\u{c:04x}" for c in range(0x7F, 0xA0)})


def safe_text(text: str) -> str:
    """`text` with every character a terminal would act on written as an escape."""
    return text.translate(_SAFE)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def emit_json(data: Any, *, indent: int | None = 2) -> None:
    text = json.dumps(data, default=_plain, ensure_ascii=False, indent=indent)
    # json.dumps escapes C0 but not DEL or C1 (U+009B is a CSI to some terminals); written as
    # \u escapes they read back as the same text, so the output stays exact.
    sys.stdout.write(text.translate(_JSON_SAFE) + "\n")


def emit_table(
    title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str], *, zone: ZoneInfo | None = None
) -> None:
    """A table; with `zone`, a time cell is that zone's wall clock with its abbreviation."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        # Text, not str: Rich reads a str cell as markup.
        table.add_row(*(Text(safe_text(_cell(row.get(column), zone))) for column in columns))
    console = _console()
    if not rows:
        console.print(f"{title}: none", markup=False)
        return
    console.print(table)


def _cell(value: Any, zone: ZoneInfo | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if zone is not None:
            return localtime.show(value, zone)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def emit(
    rows: Sequence[dict[str, Any]],
    *,
    as_json: bool,
    title: str,
    columns: Sequence[str],
    zone: ZoneInfo | None = None,
) -> None:
    if as_json:
        emit_json(list(rows))
    else:
        emit_table(title, rows, columns, zone=zone)


def say_page(offset: int, shown: int, total: int) -> None:
    """The footer of a paged table: `showing 1-50 of 1,016; --offset 50 for more`. Said only
    when some rows were left out, never in --json (a script gets a plain list)."""
    if offset == 0 and shown >= total:
        return
    if shown == 0:
        say(f"showing none of {total:,} (--offset {offset:,} is past the end)")
        return
    line = f"showing {offset + 1:,}-{offset + shown:,} of {total:,}"
    if offset + shown < total:
        line += f"; --offset {offset + shown} for more"
    say(line)


def _console() -> Console:
    console = Console()
    # Piped to a file or a pager, Rich would squeeze the table into 80 columns.
    return console if console.is_terminal else Console(width=220)


def say(text: str) -> None:
    """One line for people; a newline inside it is shown escaped, so data cannot add lines."""
    # soft_wrap: a line piped to a file or a log stays one line.
    Console(soft_wrap=True).print(safe_text(text), markup=False, emoji=False)


def say_status(ok: bool, text: str) -> None:
    """A line led by a green `ok` or a red `FAIL` (the only markup: ours, not the data's)."""
    tag = ("ok", "green") if ok else ("FAIL", "red")
    Console(soft_wrap=True).print(Text.assemble(tag, "  ", safe_text(text)))


def say_error(text: str, *, prefix: str = "error: ") -> None:
    """One line on standard error (`error: ...` by default), shown as safely as `say`."""
    sys.stderr.write(f"{prefix}{safe_text(text)}\n")


DEFAULT_LIMIT = 50
LimitOpt = Annotated[
    int | None,
    typer.Option(min=1, help=f"At most this many rows (default {DEFAULT_LIMIT}; with --json, all)."),
]
OffsetOpt = Annotated[int, typer.Option(min=0, help="Skip this many rows first (paging).")]


def page_limit(limit: int | None, as_json: bool) -> int | None:
    """A table for people stops at DEFAULT_LIMIT rows and says how to see more; --json keeps
    its plain list of every row (a script cannot read the footer), unless --limit is given."""
    if limit is not None:
        return limit
    return None if as_json else DEFAULT_LIMIT
