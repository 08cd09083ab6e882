"""What every command shares: the Settings (built once), the database and the actor."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import typer

from worker.db import audit
from worker.db.audit import default_actor
from worker.db.engine import Sessions, engine_for, require_database, session_factory, transaction
from worker.settings import Settings, load_settings


@dataclass
class CliContext:
    by: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None
    _sessions: Sessions | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(**self.overrides)
        return self._settings

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None:
            # Checked before the engine (and the development key files) is made: in a folder
            # with no database this says which one it would use instead of creating it.
            require_database(self.settings.database_url)
            self._sessions = session_factory(engine_for(self.settings))
        return self._sessions

    def audit_read(self, action: str, *, patient_ids: Iterable[int | None] = (), **detail: Any) -> None:
        """Reading patients' data is an action too: who looked, at whom, when.

        One row per command run, written before anything is printed, even when nothing was
        found. `patient_ids` are every patient the command is about to show, so that
        `audit list --patient ID` finds the read; `detail` holds the filters (ids and flags,
        never names, phone numbers or free text) and the count."""
        shown = sorted({pid for pid in patient_ids if pid is not None})
        used = {key: value for key, value in detail.items() if value is not None}
        with transaction(self.sessions) as session:
            audit.record(session, self.actor, action, patient_ids=shown, **used)

    @property
    def actor(self) -> str:
        return f"operator:{self.by}" if self.by else default_actor()


def ctx_of(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext)
    return obj
