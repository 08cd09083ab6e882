"""clinic-worker messages ... and clinic-worker send ..."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy import select

from worker.cli.context import ctx_of
from worker.cli.output import emit, emit_json, say
from worker.db.engine import transaction
from worker.db.models import Message, MessageStatus, utcnow
from worker.manual import queue_manual_reminder

app = typer.Typer(help="See planned and sent messages.", no_args_is_help=True)
send_app = typer.Typer(help="Send a message now, through the queue.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
COLUMNS = (
    "id",
    "appointment_id",
    "patient_id",
    "kind",
    "due_at",
    "status",
    "attempts",
    "twilio_sid",
    "error_code",
    "reason",
)


def message_dict(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "appointment_id": message.appointment_id,
        "patient_id": message.patient_id,
        "kind": message.kind,
        "due_at": message.due_at,
        "status": message.status,
        "attempts": message.attempts,
        "twilio_sid": message.twilio_sid,
        "error_code": message.error_code,
        "reason": message.reason,
        "sent_at": message.sent_at,
    }


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[MessageStatus | None, typer.Option(help="Only this status.")] = None,
    appointment: Annotated[int | None, typer.Option(help="Only this appointment.")] = None,
    patient: Annotated[int | None, typer.Option(help="Only this patient.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List messages by due time."""
    cli = ctx_of(ctx)
    query = select(Message).order_by(Message.due_at, Message.id)
    if status is not None:
        query = query.where(Message.status == status.value)
    if appointment is not None:
        query = query.where(Message.appointment_id == appointment)
    if patient is not None:
        query = query.where(Message.patient_id == patient)
    with cli.sessions() as session:
        rows = [message_dict(m) for m in session.scalars(query)]
    emit(rows, as_json=as_json, title="Messages", columns=COLUMNS)


@send_app.command("reminder")
def send_reminder(ctx: typer.Context, appointment_id: int, as_json: JsonFlag = False) -> None:
    """Queue a reminder for an appointment now; the same checks as a planned one apply."""
    cli = ctx_of(ctx)
    with transaction(cli.sessions) as session:
        message = queue_manual_reminder(session, cli.settings, appointment_id, actor=cli.actor, now=utcnow())
        row = message_dict(message)
    enqueued = _enqueue(cli.settings, message.id)
    row["enqueued"] = enqueued
    if as_json:
        emit_json(row)
        return
    how = "on the queue" if enqueued else "saved; the dispatcher will queue it (Redis did not answer)"
    say(f"reminder {row['id']} for appointment {appointment_id}: {how}")


def _enqueue(settings: Any, message_id: int) -> bool:
    from worker.queueing import enqueue_sends

    return enqueue_sends(settings, [message_id])
