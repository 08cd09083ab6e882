"""clinic-worker keys ...: encryption and blind-index keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from cryptography.fernet import Fernet

from worker.cli.context import ctx_of
from worker.cli.output import emit_json, say
from worker.db import audit
from worker.db.engine import Sessions, cipher_for, transaction
from worker.db.rotation import Progress, rotate_all, rotate_indexes
from worker.lib.crypto import Cipher

app = typer.Typer(help="Encryption and blind-index keys for patient data.", no_args_is_help=True)


@app.command("generate")
def generate() -> None:
    """Print a new key. For CLINIC_ENCRYPTION_KEYS: put it first, keep the old ones after it,
    run `keys rotate`, then drop the old ones. For CLINIC_BLIND_INDEX_KEYS the same, with
    `keys rotate-index`. Never use one key for both."""
    typer.echo(Fernet.generate_key().decode())


@app.command("rotate")
def rotate(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Re-encrypt every encrypted column (names, phone numbers, replies, answers, scores,
    alerts, stored forms) under the first key of CLINIC_ENCRYPTION_KEYS."""
    _run_rotation(ctx, rotate_all, "keys.rotate", "re-encrypted", as_json)


@app.command("rotate-index")
def rotate_index(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Recompute every blind index (phone numbers, alert sources) under the first key of
    CLINIC_BLIND_INDEX_KEYS. Lookups match every listed key meanwhile, so nothing is missed
    while it runs; drop the old index key afterwards."""
    _run_rotation(ctx, rotate_indexes, "keys.rotate_index", "re-indexed", as_json)


Rotation = Callable[[Sessions, Cipher, Progress], dict[str, int]]


def _run_rotation(ctx: typer.Context, rotation: Rotation, action: str, verb: str, as_json: bool) -> None:
    """Run `rotation` with progress on stderr, audit it as `action`, print the counts."""
    cli = ctx_of(ctx)
    counts = rotation(cli.sessions, cipher_for(cli.settings), _progress(verb))
    with transaction(cli.sessions) as session:
        audit.record(session, cli.actor, action, rows=counts)
    if as_json:
        emit_json(counts)
    else:
        say(", ".join(f"{name}: {n} {verb}" for name, n in counts.items()))


def _progress(verb: str) -> Progress:
    def show(table: str, done: int) -> None:
        # On stderr, so --json output stays one document.
        typer.echo(f"{table}: {done} rows {verb}", err=True)

    return show
