"""clinic-worker appointments import: appointments (and new patients) from a CSV file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from worker.cli.context import CliContext, ctx_of
from worker.cli.output import emit_json, say, say_error
from worker.clinic import import_write, importer
from worker.db.models import utcnow
from worker.lib.errors import InputError

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV file; header in docs/operations.md (CSV import).")],
    skip_invalid: Annotated[bool, typer.Option(help="Import the good rows even if some are bad.")] = False,
    update_patients: Annotated[
        bool,
        typer.Option(
            help="A known phone with a different name renames that patient (and sets the "
            "timezone and language given) instead of being refused; audited."
        ),
    ] = False,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="COLUMN=FIELD",
            help="Read a column as a field ('Cell #=phone'), or drop it ('Provider=-'); repeatable.",
        ),
    ] = None,
    date_format: Annotated[
        str,
        typer.Option(
            metavar="iso|us|FORMAT",
            help="How times are written: iso (2026-12-01T15:30, the default), us (12/01/2026 03:30 PM) "
            "or a strptime format like '%d.%m.%Y %H:%M'.",
        ),
    ] = "iso",
    ignore_unknown: Annotated[
        bool, typer.Option(help="Drop every column that is no field instead of refusing the file.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import appointments (and new patients) from CSV. All or nothing unless --skip-invalid."""
    cli = ctx_of(ctx)
    now = utcnow()
    report = importer.read_rows(
        file, cli.settings, now, mapping=mapping or (), date_format=date_format, ignore_unknown=ignore_unknown
    )
    with cli.sessions() as session:  # reads only: every check comes before the first write
        importer.check_against_database(session, report, update_patients=update_patients)
    _refuse_if_invalid(report.invalid, skip_invalid)
    _write_with_progress(cli, report, now)
    summary = {
        "imported": report.imported,
        "existing": report.existing,
        "patients_created": report.patients_created,
        "patients_updated": report.patients_updated,
        "invalid": [{"line": line, "error": error} for line, error in sorted(report.invalid)],
    }
    if as_json:
        emit_json(summary)
        return
    for line, error in sorted(report.invalid):
        say(f"skipped line {line}: {error}")
    say(
        f"imported {report.imported} appointment(s); {report.existing} already present; "
        f"{report.patients_created} new patient(s); {report.patients_updated} patient(s) updated; "
        f"{len(report.invalid)} invalid row(s) skipped"
    )


def _write_with_progress(cli: CliContext, report: importer.ImportReport, now: Any) -> None:
    with Progress(
        console=Console(stderr=True),
        transient=True,
        disable=len(report.ready) < 200 or not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task("importing", total=len(report.ready))
        import_write.write(
            cli.sessions,
            cli.settings,
            report,
            actor=cli.actor,
            now=now,
            progress=lambda n: bar.advance(task, n),
        )


def _refuse_if_invalid(invalid: list[tuple[int, str]], skip_invalid: bool) -> None:
    if not invalid or skip_invalid:
        return
    for line, error in sorted(invalid):
        say_error(error, prefix=f"line {line}: ")  # a cell's text, shown escaped
    raise InputError(f"nothing imported: {len(invalid)} invalid row(s); fix them or use --skip-invalid")
