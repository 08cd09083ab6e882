"""clinic-worker alerts ...: who may be in danger, who was told when, and closing the loop."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from worker.cli.context import ctx_of
from worker.cli.output import LimitOpt, OffsetOpt, emit, emit_json, page_limit, say, say_page
from worker.cli.replies import acting_person
from worker.db.engine import transaction
from worker.db.models import AlertTrigger, SafetyAlert, utcnow
from worker.inbound.queries import patient_names
from worker.jobs.queueing import enqueue_sends
from worker.lib.errors import NotFound
from worker.lib.localtime import show
from worker.safety.acks import acknowledge_and_tell
from worker.safety.alerts import count_alerts, list_alerts, triggers_of
from worker.safety.notices import Told, told_about

app = typer.Typer(help="Safety alerts: list, show and acknowledge.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
COLUMNS = (
    "id",
    "status",
    "patient_id",
    "patient",
    "summary",
    "created_at",
    "more_texts",
    "told",
    "acknowledged_by",
)
# `alerts show`: one line each, in this order (times on the clinic's wall clock).
SHOWN = (
    "id",
    "status",
    "patient_id",
    "patient",
    "source",
    "category",
    "rule",
    "summary",
    "created_at",
    "more_texts",
    "notified_count",
    "last_notified_at",
    "escalation_level",
    "acknowledged_at",
    "acknowledged_by",
    "note",
    "inbound_id",
    "run_id",
)


def alert_dict(alert: SafetyAlert, told: list[Told], triggers: list[AlertTrigger]) -> dict[str, Any]:
    return {
        "id": alert.id,
        "patient_id": alert.patient_id,
        "source": alert.source,
        "category": alert.category,
        "rule": alert.rule,
        "summary": alert.summary,
        "created_at": alert.created_at,
        "status": "acknowledged" if alert.acknowledged_at else "open",
        "notified_count": alert.notified_count,
        "last_notified_at": alert.last_notified_at,
        "more_texts": alert.more_texts,
        "escalation_level": alert.escalation_level,
        "told": [
            {
                "to": t.to_number,
                "text": t.template,
                "status": t.status,
                "queued_at": t.queued_at,
                "sent_at": t.sent_at,
            }
            for t in told
        ],
        "triggers": [
            {
                "source": t.source,
                "category": t.category,
                "rule": t.rule,
                "inbound_id": t.inbound_id,
                "at": t.created_at,
            }
            for t in triggers
        ],
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "note": alert.note,
        "inbound_id": alert.inbound_id,
        "run_id": alert.run_id,
    }


def _told_line(told: list[dict[str, Any]], zone: ZoneInfo) -> str:
    """`+1******0177 2026-12-03 10:01 EST sent; ...`: who was told when, at a glance."""
    parts = []
    for t in told:
        at = t["sent_at"] or t["queued_at"]
        parts.append(f"{t['to']} {show(at, zone)} {t['status']}" if at else f"{t['to']} {t['status']}")
    return "; ".join(parts)


def for_people(row: dict[str, Any], names: dict[int, str], zone: ZoneInfo) -> dict[str, Any]:
    """An alert as staff read it: the patient's name, times on the clinic's wall clock."""
    local = {key: show(value, zone) for key, value in row.items() if isinstance(value, datetime)}
    return row | local | {"patient": names.get(row["patient_id"], ""), "told": _told_line(row["told"], zone)}


def _rows(session: Any, alerts: list[SafetyAlert]) -> list[dict[str, Any]]:
    ids = [a.id for a in alerts]
    told, triggers = told_about(session, ids), triggers_of(session, ids)
    return [alert_dict(a, told[a.id], triggers[a.id]) for a in alerts]


@app.command("list")
def alerts_list(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only alerts nobody acknowledged.")] = False,
    limit: LimitOpt = None,
    offset: OffsetOpt = 0,
    as_json: JsonFlag = False,
) -> None:
    """Safety alerts, newest first, with the patient, who was texted when (`told`) and what raised them."""
    cli = ctx_of(ctx)
    with cli.sessions() as session:
        page = list_alerts(session, open_only=open_only, limit=page_limit(limit, as_json), offset=offset)
        rows = _rows(session, page)
        total = count_alerts(session, open_only=open_only)
        names = {} if as_json else patient_names(session, [r["patient_id"] for r in rows])
    cli.audit_read(
        "alerts.list",
        patient_ids=[r["patient_id"] for r in rows],
        count=len(rows),
        open_only=open_only,
        limit=limit,
        offset=offset or None,
    )
    if as_json:
        emit_json(rows)
        return
    zone = ZoneInfo(cli.settings.timezone)
    table = [for_people(row, names, zone) for row in rows]
    emit(table, as_json=False, title="Safety alerts", columns=COLUMNS)
    say_page(offset, len(rows), total)


@app.command("show")
def alerts_show(ctx: typer.Context, alert_id: int, as_json: JsonFlag = False) -> None:
    """One alert: the patient, what raised it (each trigger), who was told when, who closed it."""
    cli = ctx_of(ctx)
    with cli.sessions() as session:
        alert = session.get(SafetyAlert, alert_id)
        if alert is None:
            raise NotFound(f"no alert with id {alert_id}")
        row = _rows(session, [alert])[0]
        names = {} if as_json else patient_names(session, [row["patient_id"]])
    cli.audit_read("alerts.show", patient_ids=[row["patient_id"]], alert=alert_id)
    if as_json:
        emit_json(row)
        return
    zone = ZoneInfo(cli.settings.timezone)
    shown = for_people(row, names, zone)
    for key in SHOWN:
        say(f"{key}: {'' if shown[key] is None else shown[key]}")
    for t in row["told"]:
        at = show(t["sent_at"] or t["queued_at"], zone)
        say(f"told: {t['to']} {t['text']} {t['status']} {at}".rstrip())
    for t in row["triggers"]:
        text = f" inbound {t['inbound_id']}" if t["inbound_id"] is not None else ""
        say(f"trigger: {show(t['at'], zone)} {t['source']} {t['category']} ({t['rule']}){text}")


@app.command("ack")
def alerts_ack(
    ctx: typer.Context,
    alert_id: int,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who took care of it (default: the --by given before the command)."),
    ] = None,
    note: Annotated[str | None, typer.Option(help="What was done.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Acknowledge an alert: nobody is texted about it again; those who were are told it is closed."""
    cli = ctx_of(ctx)
    who = acting_person(ctx, by)
    with transaction(cli.sessions) as session:
        alert, closure_texts = acknowledge_and_tell(session, alert_id, by=who, note=note, now=utcnow())
        row = alert_dict(
            alert, told_about(session, [alert.id])[alert.id], triggers_of(session, [alert.id])[alert.id]
        )
    enqueue_sends(cli.settings, closure_texts, urgent=True)  # else the dispatcher sends them
    if as_json:
        emit_json(row)
    else:
        say(f"alert {alert_id} acknowledged by {row['acknowledged_by']}")
