"""clinic-worker keys ...: encryption keys for replies and free-text answers."""

from __future__ import annotations

from typing import Annotated

import typer
from cryptography.fernet import Fernet

from worker.cli.context import ctx_of
from worker.cli.output import emit_json, say
from worker.db import audit
from worker.db.engine import transaction
from worker.db.rotation import rotate_all
from worker.lib import crypto

app = typer.Typer(help="Encryption keys for what patients write.", no_args_is_help=True)


@app.command("generate")
def generate() -> None:
    """Print a new key. Put it first in CLINIC_ENCRYPTION_KEYS, keep the old ones after it,
    run `keys rotate`, then drop the old ones."""
    typer.echo(Fernet.generate_key().decode())


@app.command("rotate")
def rotate(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Re-encrypt every stored reply and free-text answer under the first key."""
    cli = ctx_of(ctx)
    counts = rotate_all(cli.sessions, crypto.Cipher(cli.settings.key_list()))
    with transaction(cli.sessions) as session:
        audit.record(
            session,
            cli.actor,
            "keys.rotate",
            replies=counts["inbound_messages"],
            answers=counts["questionnaire_answers"],
        )
    if as_json:
        emit_json(counts)
    else:
        say(", ".join(f"{table}: {n} re-encrypted" for table, n in counts.items()))
