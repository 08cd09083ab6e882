"""Who is acting: the one rule for a name that goes into the audit trail or closes an alert.

An actor is read back by people (in `audit list`, in "acknowledged by ..."), and an
acknowledgement stops the repeat pages to on-call. So the name must name someone: not
empty, one line, nothing a terminal would act on (control characters, escape sequences,
bidi overrides that reorder what is shown), and short enough to read.
"""

from __future__ import annotations

from worker.lib.errors import InputError

# The name is stored with prefixes in bounded columns; the tightest is a staff opt-out's
# source, "staff:operator:NAME" in 64 characters. Longer, PostgreSQL would refuse the write.
MAX_ACTOR_CHARS = 48


def clean_actor(actor: str | None, *, option: str = "--by") -> str:
    """The actor with outer spaces removed, or an InputError naming `option` in one line."""
    actor = (actor or "").strip()
    if not actor:
        raise InputError(f"{option}: give the name of the person acting (it cannot be empty)")
    # str.isprintable() is False for every control (C0, C1, DEL), format (bidi overrides,
    # zero-width) and line or paragraph separator character: the set a name must not hold.
    if not actor.isprintable() or len(actor) > MAX_ACTOR_CHARS:
        raise InputError(f"{option}: one line of at most {MAX_ACTOR_CHARS} printable characters")
    return actor
