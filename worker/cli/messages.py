"""clinic-worker messages ... and clinic-worker send ..."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from worker.cli.context import ctx_of
from worker.cli.output import OffsetOpt, emit, emit_json, page_limit, say, say_page
from worker.db.engine import transaction
from worker.db.models import Message, utcnow
from worker.enums import MessageKind, MessageStatus
from worker.jobs.queueing import enqueue_sends
from worker.lib import localtime
from worker.messages.queries import list_messages, patient_zone
from worker.outbound.manual import hand_over, queue_manual_reminder
from worker.settings import require_clinic_phone

app = typer.Typer(help="See planned and sent messages.", no_args_is_help=True)
send_app = typer.Typer(help="Send a message now, through the queue.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
# For people, times are the patient's wall clock (`local_due`, labelled with its zone),
# never bare UTC; --json keeps due_at in UTC.
UPCOMING_COLUMNS = ("id", "patient_id", "appointment_id", "kind", "local_due", "status", "notes")
COLUMNS = (
    "id",
    "appointment_id",
    "patient_id",
    "kind",
    "local_due",
    "status",
    "attempts",
    "twilio_sid",
    "error_code",
    "notes",
)


def message_dict(
    message: Message, zone: str | None = None, questionnaire: str | None = None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": message.id,
        "appointment_id": message.appointment_id,
        "patient_id": message.patient_id,
        "kind": message.kind,
        "questionnaire": questionnaire,
        "due_at": message.due_at,
        "status": message.status,
        "attempts": message.attempts,
        "twilio_sid": message.twilio_sid,
        "error_code": message.error_code,
        "reason": message.reason,
        "sent_at": message.sent_at,
        "original_due_at": message.original_due_at,
        "adjust_reason": message.adjust_reason,
    }
    if zone is not None:
        row["timezone"] = zone
        row["local_due"] = _local(message.due_at, zone)
        row["notes"] = _notes(message, zone)
    return row


def _local(at: datetime, zone: str) -> str:
    """`Thu 2026-12-03 10:00 EST`: the weekday helps read a send time at a glance."""
    where = ZoneInfo(zone)
    return f"{at.astimezone(where):%a} {localtime.show(at, where)}"


def _notes(message: Message, zone: str) -> str:
    """Why it moved (quiet hours) and why it ended as it did, for the operator's eye."""
    notes = []
    if message.original_due_at is not None:
        notes.append(f"was {_local(message.original_due_at, zone)}: {message.adjust_reason}")
    if message.reason:
        notes.append(message.reason)
    return "; ".join(notes)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[MessageStatus | None, typer.Option(help="Only this status.")] = None,
    appointment: Annotated[int | None, typer.Option(help="Only this appointment.")] = None,
    patient: Annotated[int | None, typer.Option(help="Only this patient.")] = None,
    upcoming: Annotated[
        bool, typer.Option("--upcoming", help="Only messages still to go out, with their local send time.")
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="At most this many (default 50; with --json, all unless --upcoming)."),
    ] = None,
    offset: OffsetOpt = 0,
    as_json: JsonFlag = False,
) -> None:
    """List messages by due time, with where quiet hours moved them and why."""
    cli = ctx_of(ctx)
    # --upcoming always stopped at 50, --json or not; scripts rely on that.
    limit = (limit or 50) if upcoming else page_limit(limit, as_json)
    clinic_zone = cli.settings.timezone
    with cli.sessions() as session:
        found, total = list_messages(
            session,
            status=status,
            appointment_id=appointment,
            patient_id=patient,
            upcoming_at=utcnow() if upcoming else None,
            limit=limit,
            offset=offset,
        )
        rows = [message_dict(r.message, r.zone or clinic_zone, r.questionnaire) for r in found]
    cli.audit_read(
        "messages.list",
        patient_ids=[r["patient_id"] for r in rows],
        count=len(rows),
        status=status.value if status else None,
        appointment=appointment,
        patient=patient,
        upcoming=upcoming,
        limit=limit,
        offset=offset or None,
    )
    if as_json:
        emit_json(rows)
        return
    title = (
        "Upcoming messages (local time is the patient's)"
        if upcoming
        else "Messages (local time is the patient's)"
    )
    table = [r | {"kind": _kind(r)} for r in rows]
    emit(table, as_json=False, title=title, columns=UPCOMING_COLUMNS if upcoming else COLUMNS)
    say_page(offset, len(rows), total)


def _kind(row: dict[str, Any]) -> str:
    """A check-in is shown as the questionnaire it starts (phq9, gad7, checkin); its
    questions and nudge as `phq9 question`, `phq9 nudge`."""
    questionnaire, kind = row["questionnaire"], str(row["kind"])
    if questionnaire is None:
        return kind
    return questionnaire if kind == MessageKind.CHECKIN else f"{questionnaire} {kind}"


@send_app.command("reminder")
def send_reminder(ctx: typer.Context, appointment_id: int, as_json: JsonFlag = False) -> None:
    """Queue a reminder for an appointment now; the same checks as a planned one apply."""
    cli = ctx_of(ctx)
    require_clinic_phone(cli.settings)  # a reply to this text may need the crisis text, which names it
    with transaction(cli.sessions) as session:
        message = queue_manual_reminder(session, cli.settings, appointment_id, actor=cli.actor, now=utcnow())
        row = message_dict(message)
        zone = cli.settings.timezone
        if message.patient_id is not None:
            zone = patient_zone(session, message.patient_id)
    quiet = cli.settings.quiet_hours is not None and cli.settings.quiet_hours.contains(utcnow(), zone)
    handed = hand_over(
        cli.sessions, cli.settings, message.id, enqueued=_enqueue(cli.settings, message.id), now=utcnow()
    )
    row.update(status=handed.status, enqueued=handed.enqueued, quiet_hours_now=quiet)
    if as_json:
        emit_json(row)
        return
    say(f"reminder {row['id']} for appointment {appointment_id}: {handed.notice}")
    if quiet:
        say("note: it is quiet hours for this patient; the worker will hold it until they end (or skip it)")


def _enqueue(settings: Any, message_id: int) -> bool:
    return enqueue_sends(settings, [message_id])
