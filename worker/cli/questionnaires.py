"""clinic-worker questionnaires ..., results ..."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from worker.cli.context import CliContext, ctx_of
from worker.cli.output import LimitOpt, OffsetOpt, emit, emit_json, page_limit, say, say_error, say_page
from worker.db.engine import transaction
from worker.db.models import utcnow
from worker.jobs.queueing import enqueue_sends
from worker.language.rules import RuleFileError
from worker.lib import localtime
from worker.lib.errors import InputError, NotFound
from worker.lib.files import write_private
from worker.outbound.manual import hand_over, queue_checkin
from worker.questionnaires import results as results_mod
from worker.questionnaires.definitions import Catalogue, Item, item_text, load_catalogue, pick
from worker.questionnaires.texts import MAX_SEGMENTS, text_costs
from worker.runtime import CRISIS_RULES, load_crisis_screener
from worker.settings import config_file, require_clinic_phone

app = typer.Typer(help="Questionnaire definitions; start one for a patient.", no_args_is_help=True)
results_app = typer.Typer(help="Questionnaire results, scores and exports.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def catalogue_of(cli: CliContext) -> Catalogue:
    return load_catalogue(config_file(cli.settings, "questionnaires"))


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """The questionnaires this worker can send."""
    rows = [
        {"id": q.id, "title": q.title, "items": len(q.items), "scored": q.scored, "source": q.source}
        for q in catalogue_of(ctx_of(ctx)).by_id.values()
    ]
    emit(rows, as_json=as_json, title="Questionnaires", columns=("id", "title", "items", "scored", "source"))


@app.command("validate")
def validate(
    ctx: typer.Context,
    folder: Annotated[
        Path | None, typer.Argument(help="Default: the configured questionnaires folder.")
    ] = None,
) -> None:
    """Check every definition and the crisis rules; each problem is one line naming its file."""
    cli = ctx_of(ctx)
    catalogue = load_catalogue(folder or config_file(cli.settings, "questionnaires"))
    for questionnaire in catalogue.by_id.values():
        say(f"ok  {questionnaire.source}: {questionnaire.id}, {len(questionnaire.items)} items")
        _print_costs(catalogue, questionnaire.id, cli.settings.clinic_name)
    try:
        screener = load_crisis_screener(cli.settings)
    except RuleFileError as exc:
        # Every problem of the rule file, each with its line, so one run finds them all.
        for problem in exc.problems:
            say_error(problem)
        raise typer.Exit(1) from None
    say(f"ok  {CRISIS_RULES}: {len(screener)} rules")
    if screener.model is not None:
        say(
            f"ok  crisis_model.json: learned model, alerts at p >= {screener.model.threshold:g} "
            "where no rule matched"
        )
    else:
        say("--  crisis_model.json: none; the rules read texts alone")


def _print_costs(catalogue: Catalogue, questionnaire_id: str, clinic_name: str) -> None:
    """Per text: length, encoding and segments; a warning over MAX_SEGMENTS."""
    for text in text_costs(catalogue, questionnaire_id, clinic_name):
        c = text.cost
        line = (
            f"{text.template:<26} {text.language}  {c.length:>4} chars  {c.encoding}  {c.segments} segment(s)"
        )
        if c.segments > MAX_SEGMENTS:
            say(f"warn  {line}: over {MAX_SEGMENTS} segments, shorten it")
        else:
            say(f"      {line}")


@app.command("start")
def start(
    ctx: typer.Context,
    questionnaire: Annotated[str, typer.Argument(help="Questionnaire id, e.g. phq9.")],
    patient: Annotated[int, typer.Option("--patient", help="Patient id.")],
    as_json: JsonFlag = False,
) -> None:
    """Send a questionnaire to a patient now (it waits if another one is in progress)."""
    _send_now(ctx, questionnaire, patient_id=patient, appointment_id=None, as_json=as_json)


def _send_now(
    ctx: typer.Context, questionnaire: str, *, patient_id: int, appointment_id: int | None, as_json: bool
) -> None:
    cli = ctx_of(ctx)
    require_clinic_phone(cli.settings)  # item 9 of a PHQ-9 answered above 0 sends the crisis text
    with transaction(cli.sessions) as session:
        message = queue_checkin(
            session,
            cli.settings,
            catalogue_of(cli),
            patient_id,
            questionnaire,
            appointment_id=appointment_id,
            actor=cli.actor,
            now=utcnow(),
        )
        row = {
            "id": message.id,
            "patient_id": message.patient_id,
            "appointment_id": message.appointment_id,
            "questionnaire": questionnaire,
            "status": message.status,
        }
    handed = hand_over(
        cli.sessions,
        cli.settings,
        message.id,
        enqueued=enqueue_sends(cli.settings, [message.id]),
        now=utcnow(),
    )
    row.update(status=handed.status, enqueued=handed.enqueued)
    if as_json:
        emit_json(row)
    else:
        who = f"questionnaire {questionnaire} for patient {row['patient_id']}"
        say(f"{who}: message {row['id']}: {handed.notice}")


def send_checkin(
    ctx: typer.Context,
    appointment_id: int,
    questionnaire: Annotated[str, typer.Option(help="Questionnaire id.")] = "checkin",
    as_json: JsonFlag = False,
) -> None:
    """Send the post-session check-in for an appointment now."""
    _send_now(ctx, questionnaire, patient_id=0, appointment_id=appointment_id, as_json=as_json)


@results_app.command("list")
def results_list(
    ctx: typer.Context,
    patient: Annotated[int | None, typer.Option(help="Only this patient.")] = None,
    limit: LimitOpt = None,
    offset: OffsetOpt = 0,
    as_json: JsonFlag = False,
) -> None:
    """Questionnaire runs with status, score, severity and answers; change from the first score."""
    cli = ctx_of(ctx)
    limit = page_limit(limit, as_json)
    with cli.sessions() as session:
        # Every run is read: the change is measured from each patient's first score.
        every = results_mod.result_rows(session, catalogue_of(cli), patient)
    rows = every[offset : None if limit is None else offset + limit]
    cli.audit_read(
        "results.list",
        patient_ids=[r["patient_id"] for r in rows],
        count=len(rows),
        patient=patient,
        offset=offset or None,
    )
    if as_json:
        emit_json(rows)
        return
    table = [r | {"change": (r["progress"] or {}).get("change"), "answered": len(r["answers"])} for r in rows]
    emit(
        table,
        as_json=False,
        title="Results",
        columns=(
            "id",
            "patient_id",
            "questionnaire",
            "status",
            "score",
            "severity",
            "change",
            "answered",
            "finished_at",
        ),
        zone=ZoneInfo(cli.settings.timezone),
    )
    say_page(offset, len(rows), len(every))


@results_app.command("show")
def results_show(ctx: typer.Context, run_id: int, as_json: JsonFlag = False) -> None:
    """One run, item by item: each answer with its label beside the item's words."""
    cli = ctx_of(ctx)
    catalogue = catalogue_of(cli)
    with cli.sessions() as session:
        rows = [r for r in results_mod.result_rows(session, catalogue) if r["id"] == run_id]
    if not rows:
        raise NotFound(f"no result with id {run_id}")
    row = rows[0]
    cli.audit_read("results.show", patient_ids=[row["patient_id"]], run=run_id)
    if as_json:
        emit_json(row)
        return
    finished = localtime.show(row["finished_at"], ZoneInfo(cli.settings.timezone))
    say(
        f"run {row['id']}: {row['questionnaire']} for patient {row['patient_id']}, {row['status']}, "
        f"score {row['score']}, severity {row['severity']}" + (f", finished {finished}" if finished else "")
    )
    questionnaire = catalogue.get(row["questionnaire"])
    for stem in _stems([item for item in questionnaire.items if item.id in row["answers"]]):
        say(f"  {stem}")  # said once, not on every item that shares it
    items = [
        {
            "item": item.id,
            "answer": answer_label(item, row["answers"][item.id]),
            "question": item_text(item, "en"),
        }
        for item in questionnaire.items
        if item.id in row["answers"]
    ]
    # A table wraps long questions at word boundaries within their column, never mid-word.
    emit(items, as_json=False, title=f"Answers, run {row['id']}", columns=("item", "answer", "question"))


def _stems(items: list[Item]) -> list[str]:
    """The words items share before their own (`Over the last 2 weeks, how often have you
    been bothered by:`), which item_text leaves out, in the order they first appear."""
    stems: list[str] = []
    for item in items:
        prompt = re.sub(r"^\d+/\d+\s+", "", pick(item.prompt, "en"))
        own = item_text(item, "en")
        stem = prompt.split(own, 1)[0].strip() if own in prompt else ""
        if stem and stem not in stems:
            stems.append(stem)
    return stems


def answer_label(item: Item, value: Any) -> str:
    """`2 — More than half the days`; yes or no; the number; the patient's words; `skipped`."""
    if value is None:
        return "skipped"
    if isinstance(value, bool):
        return "yes" if value else "no"
    for option in item.options:
        if option.value == value:
            return f"{value} — {pick(option.label, 'en')}"
    return str(value)


@results_app.command("export")
def results_export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="csv, json or fhir (FHIR R4 QuestionnaireResponse).")],
    output: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    patient: Annotated[int | None, typer.Option(help="Only this patient.")] = None,
) -> None:
    """Export every result."""
    cli = ctx_of(ctx)
    catalogue = catalogue_of(cli)
    writers: dict[str, Callable[[list[dict[str, Any]]], str]] = {
        "csv": results_mod.to_csv,
        "json": results_mod.to_json,
        "fhir": lambda rows: results_mod.to_fhir(rows, catalogue),
    }
    if fmt not in writers:
        raise InputError(f"--format must be csv, json or fhir, not {fmt!r}")
    with cli.sessions() as session:
        rows = results_mod.result_rows(session, catalogue, patient)
    # The format and count, not the file's path: a path may carry a patient's name.
    cli.audit_read(
        "results.export",
        patient_ids=[r["patient_id"] for r in rows],
        format=fmt,
        count=len(rows),
        patient=patient,
        to_file=output is not None,
    )
    text = writers[fmt](rows)
    if output is None:
        sys.stdout.write(text)
    else:
        write_private(output, text)  # results are health data: 0600 from the first byte
        say(f"wrote {len(rows)} result(s) to {output}")
