"""clinic-worker audit list | verify"""

from __future__ import annotations

import sys
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import Progress

from worker.cli.context import ctx_of
from worker.cli.output import LimitOpt, OffsetOpt, emit, emit_json, page_limit, say, say_page
from worker.cli.replies import local_times, parse_since
from worker.db import audit
from worker.db.models import AuditEntry

app = typer.Typer(help="The audit trail (append-only, hash-chained).", no_args_is_help=True)

COLUMNS = (
    "id",
    "at",
    "actor",
    "os_user",
    "action",
    "patient_id",
    "patients",
    "entity",
    "entity_id",
    "detail",
)


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "actor": entry.actor,
        "os_user": entry.os_user,  # the login that ran the process, whatever --by said
        "action": entry.action,
        "patient_id": entry.patient_id,
        "patient_ids": audit.linked_ids(entry),
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "detail": entry.detail,
    }


def _table_row(row: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    return local_times(row, zone) | {"patients": ",".join(str(p) for p in row["patient_ids"])}


@app.command("list")
def list_(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="Only since then: 24h, 7d or an ISO 8601 time.")] = None,
    patient: Annotated[
        int | None, typer.Option(help="Only rows about this patient, or that showed them.")
    ] = None,
    limit: LimitOpt = None,
    offset: OffsetOpt = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Who did what, when: consent and opt-outs, sends, statuses, replies, alerts, reads."""
    cli = ctx_of(ctx)
    after = parse_since(since) if since is not None else None
    with cli.sessions() as session:
        page = audit.entries(
            session, since=after, patient_id=patient, limit=page_limit(limit, as_json), offset=offset
        )
        rows = [entry_dict(e) for e in page]
        total = audit.count_entries(session, since=after, patient_id=patient)
    # Reading one patient's trail is a read about that patient; the whole trail is ids only.
    cli.audit_read(
        "audit.list",
        patient_ids=[patient],
        patient=patient,
        count=len(rows),
        limit=limit,
        offset=offset or None,
    )
    if as_json:
        emit_json(rows)
        return
    zone = ZoneInfo(cli.settings.timezone)
    emit([_table_row(r, zone) for r in rows], as_json=False, title="Audit trail", columns=COLUMNS)
    say_page(offset, len(rows), total)


@app.command("verify")
def verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Check the hash chain: every row unchanged, none removed or inserted. Exit 1 if broken."""
    cli = ctx_of(ctx)
    with cli.sessions() as session:
        total = audit.count(session)
        with Progress(
            console=Console(stderr=True), transient=True, disable=total < 50_000 or not sys.stderr.isatty()
        ) as bar:
            task = bar.add_task("verifying", total=total)
            verdict = audit.verify(session, progress=lambda n: bar.advance(task, n))
    if as_json:
        emit_json(verdict.as_dict())
    elif verdict.ok:
        say(f"audit trail intact: {verdict.rows} row(s) verified; last hash {verdict.head}")
    else:
        say(f"{verdict.reason} ({verdict.rows} row(s) before it verified)")
    if not verdict.ok:
        raise typer.Exit(1)
