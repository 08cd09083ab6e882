"""Printing for people (Rich tables) and for scripts (--json)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_plain, ensure_ascii=False, indent=2) + "\n")


def emit_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    console = _console()
    if not rows:
        console.print(f"{title}: none")
        return
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def emit(rows: Sequence[dict[str, Any]], *, as_json: bool, title: str, columns: Sequence[str]) -> None:
    if as_json:
        emit_json(list(rows))
    else:
        emit_table(title, rows, columns)


def _console() -> Console:
    console = Console()
    # Piped to a file or a pager, Rich would squeeze the table into 80 columns.
    return console if console.is_terminal else Console(width=220)


def say(text: str) -> None:
    # soft_wrap: a line piped to a file or a log stays one line.
    Console(soft_wrap=True).print(text)
