"""Log lines about what a transaction did, written only once it has committed.

A transaction here can be rolled back and run again: group commit writes a failed batch
again one text at a time, and the record of a batch of sends is retried while the database
is unavailable. A line logged inside the transaction would then name rows that never
existed ("SAFETY ALERT raised" with an alert id that was rolled back) and repeat the ones
that did, and an operator reading the log could not tell which alert is real. Lines given
to `log_on_commit` wait on the session and are written after its commit; a rollback drops
them.

Only the outermost transaction counts: a savepoint (`begin_nested`) that is released
writes nothing yet, and one that rolls back does not drop the lines logged inside it
(nothing that logs this way runs in one).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "clinic_worker.log_on_commit"
_Line = tuple[logging.Logger, int, str, dict[str, Any]]


def log_on_commit(session: Session, logger: logging.Logger, level: int, msg: str, **extra: Any) -> None:
    """Log `msg` at `level` once `session` commits; never if it rolls back."""
    lines: list[_Line] = session.info.setdefault(_KEY, [])
    lines.append((logger, level, msg, extra))


# Listening on the Session class covers every session, whichever sessionmaker made it:
# a line can never wait on a session whose commit nobody watches.
@event.listens_for(Session, "after_commit")
def _write(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    lines: list[_Line] = session.info.pop(_KEY, [])
    for logger, level, msg, extra in lines:
        logger.log(level, msg, extra=extra)


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint rolled back: see the module's note
        return
    session.info.pop(_KEY, None)
