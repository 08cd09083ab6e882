"""clinic-worker replies ..."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from worker.cli.context import ctx_of
from worker.cli.output import emit, say
from worker.clinic.records import parse_start
from worker.db.models import InboundMessage, utcnow
from worker.inbound.queries import list_replies
from worker.inbound.screening import screen_text
from worker.language.rules import LANGUAGES
from worker.language.screening import Screener, Screening
from worker.lib.durations import parse_duration
from worker.lib.errors import InputError
from worker.runtime import load_crisis_screener

app = typer.Typer(help="Texts patients sent.", no_args_is_help=True)
COLUMNS = ("id", "patient_id", "received_at", "kind", "appointment_id", "body")


def reply_dict(row: InboundMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "body": row.body,
        "received_at": row.received_at,
        "kind": row.kind or "pending",
        "appointment_id": row.appointment_id,
        "message_sid": row.message_sid,
    }


def parse_since(text: str) -> datetime:
    """`24h` (that long ago) or an ISO 8601 time."""
    try:
        return utcnow() - parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_start(text, "UTC")
    except InputError:
        raise InputError(f"--since {text!r}: give a duration like 24h or an ISO 8601 time") from None


@app.command("list")
def list_(
    ctx: typer.Context,
    patient: Annotated[int | None, typer.Option(help="Only this patient.")] = None,
    since: Annotated[str | None, typer.Option(help="Only since then: 24h, 7d or an ISO 8601 time.")] = None,
    unmatched: Annotated[bool, typer.Option("--unmatched", help="Only texts staff must read.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List inbound texts, newest first."""
    cli = ctx_of(ctx)
    after = parse_since(since) if since is not None else None
    with cli.sessions() as session:
        found = list_replies(session, patient_id=patient, since=after, unmatched_only=unmatched)
        rows = [reply_dict(r) for r in found]
    cli.audit_read("replies.list", patient=patient, count=len(rows))
    emit(rows, as_json=as_json, title="Replies", columns=COLUMNS)


@app.command("classify")
def classify(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Argument(help="The text to read, as a patient would send it.")] = None,
    language: Annotated[str | None, typer.Option(help="en or es: the patient's language, if known.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            help='One JSON object per line, {"text": ..., "language": ...}; - for standard input. '
            "Prints one JSON result per line, in order.",
        ),
    ] = None,
) -> None:
    """Read texts for crisis language exactly as the webhook does (no database needed)."""
    if (text is None) == (file is None):
        raise InputError("give a TEXT or --file FILE (not both)")
    _check_language(language, "--language")
    screener = load_crisis_screener(ctx_of(ctx).settings)
    if file is not None:
        items = list(_read_items(file))
        for item_text, item_language in items:
            result = _result(screener, item_text, item_language or language)
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    assert text is not None
    result = _result(screener, text, language)
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    else:
        say(_human(screen_text(screener, text, language)))


def _result(screener: Screener, text: str, language: str | None) -> dict[str, Any]:
    found = screen_text(screener, text, language)
    return {
        "text": text,
        "language": found.language,
        "alert": found.alert,
        "category": found.category,
        "rule": found.rule,
        "negated": found.negated,
    }


def _human(found: Screening) -> str:
    if found.alert:
        return f"ALERT  {found.category}  (rule {found.rule}, language {found.language})"
    if found.negated:
        return (
            f"no alert: denied or in the past, for staff to read  "
            f"({found.category}, rule {found.rule}, language {found.language})"
        )
    return f"no alert  (language {found.language})"


def _check_language(language: object, where: str) -> None:
    if language is not None and language not in LANGUAGES:
        raise InputError(f"{where}: language must be one of {', '.join(LANGUAGES)}, not {language!r}")


def _read_items(file: str) -> Iterable[tuple[str, str | None]]:
    """(text, language) for each non-blank line; a bad line is a one-line InputError."""
    name = "standard input" if file == "-" else file
    try:
        lines = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    for number, line in enumerate(lines.splitlines(), start=1):
        if line.strip():
            yield _parse_line(line, f"{name}:{number}")


def _parse_line(line: str, where: str) -> tuple[str, str | None]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise InputError(f'{where}: expected an object with a "text" string')
    language = item.get("language")
    _check_language(language, where)
    return item["text"], language
