"""clinic-worker replies ..."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from typer._click.exceptions import MissingParameter  # typer's own copy of click

from worker.cli.classify import classify
from worker.cli.context import ctx_of
from worker.cli.output import LimitOpt, OffsetOpt, emit, emit_json, page_limit, say, say_page
from worker.clinic.records import parse_start
from worker.db.engine import transaction
from worker.db.models import InboundMessage, utcnow
from worker.inbound.attention import resolve
from worker.inbound.queries import ReplyFilter, count_replies, list_replies
from worker.lib.durations import parse_duration
from worker.lib.errors import InputError
from worker.lib.localtime import show

app = typer.Typer(help="Texts patients sent.", no_args_is_help=True)
COLUMNS = ("id", "patient_id", "received_at", "kind", "appointment_id", "body")
ATTENTION_COLUMNS = ("id", "patient_id", "received_at", "attention", "detail", "appointment_id", "body")


def reply_dict(row: InboundMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "body": row.body,
        "received_at": row.received_at,
        "kind": row.kind or "pending",
        "appointment_id": row.appointment_id,
        "message_sid": row.message_sid,
        "intent": row.intent,
        "intent_rule": row.intent_rule,
        "attention": row.attention,
        "detail": row.attention_detail,
        "resolved_at": row.resolved_at,
        "resolved_by": row.resolved_by,
        "resolution_note": row.resolution_note,
    }


def local_times(row: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """The row for people: every time on the clinic's wall clock, with its zone (`--json`
    keeps UTC ISO 8601)."""
    return row | {key: show(value, zone) for key, value in row.items() if isinstance(value, datetime)}


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


def acting_person(ctx: typer.Context, by: str | None) -> str:
    """A command's own `--by`, else the one given before the command; neither is a usage error
    (`alerts ack: missing option --by`): an acknowledgement must name a person."""
    if by is not None:
        return by
    chosen = ctx_of(ctx).by
    if chosen is None:
        raise MissingParameter(ctx=ctx, param_hint="--by", param_type="option")
    return chosen


@app.command("list")
def list_(
    ctx: typer.Context,
    patient: Annotated[int | None, typer.Option(help="Only this patient.")] = None,
    since: Annotated[str | None, typer.Option(help="Only since then: 24h, 7d or an ISO 8601 time.")] = None,
    unmatched: Annotated[bool, typer.Option("--unmatched", help="Only texts staff must read.")] = False,
    needs_attention: Annotated[
        bool,
        typer.Option(
            "--needs-attention",
            help="Only texts waiting for a person (reschedule requests, questions, unclear replies, "
            "wrong numbers), oldest first, with the reason; `replies resolve` takes one off.",
        ),
    ] = False,
    limit: LimitOpt = None,
    offset: OffsetOpt = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List inbound texts, newest first (--needs-attention: oldest first)."""
    cli = ctx_of(ctx)
    after = parse_since(since) if since is not None else None
    wanted = ReplyFilter(patient, after, unmatched, needs_attention)
    with cli.sessions() as session:
        found = list_replies(session, wanted, limit=page_limit(limit, as_json), offset=offset)
        rows = [reply_dict(r) for r in found]
        total = count_replies(session, wanted)
    cli.audit_read(
        "replies.list",
        patient_ids=[r["patient_id"] for r in rows],
        count=len(rows),
        patient=patient,
        since=after.isoformat() if after else None,
        unmatched=unmatched,
        needs_attention=needs_attention,
        limit=limit,
        offset=offset or None,
    )
    if as_json:
        emit_json(rows)
        return
    title = "Replies that need a person" if needs_attention else "Replies"
    zone = ZoneInfo(cli.settings.timezone)
    emit(
        [local_times(row, zone) for row in rows],
        as_json=False,
        title=title,
        columns=ATTENTION_COLUMNS if needs_attention else COLUMNS,
    )
    say_page(offset, len(rows), total)


@app.command("resolve")
def resolve_(
    ctx: typer.Context,
    reply_id: Annotated[
        int, typer.Argument(metavar="ID", help="The reply's id (replies list --needs-attention).")
    ],
    by: Annotated[
        str | None,
        typer.Option(
            "--by", help="Who handled it, kept in the audit log (default: the --by given before the command)."
        ),
    ] = None,
    note: Annotated[str | None, typer.Option(help="What was done, for the record.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Take a reply off the needs-attention list, saying who handled it."""
    cli = ctx_of(ctx)
    who = acting_person(ctx, by)
    with transaction(cli.sessions) as session:
        row = resolve(session, reply_id, who, note, utcnow())
        result = reply_dict(row)
    if as_json:
        emit_json(result)
    else:
        say(f"resolved reply {reply_id} ({result['attention']}) by {result['resolved_by']}")


app.command("classify")(classify)
