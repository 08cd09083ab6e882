"""clinic-worker replies ..."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from worker.cli.context import ctx_of
from worker.cli.output import emit
from worker.clinic.records import parse_start
from worker.db.models import InboundMessage, utcnow
from worker.inbound.queries import list_replies
from worker.lib.durations import parse_duration
from worker.lib.errors import InputError

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
