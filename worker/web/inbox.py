"""Inbound texts are stored by group commit (see worker.lib.groupcommit): every text must be
committed before Twilio gets its 200, and a transaction per request cost more CPU than
everything else the webhook does. Under load one commit now covers many texts; a lone text
waits only for its own commit."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import TypeVar

from worker.db.engine import transaction, unavailable
from worker.db.models import utcnow
from worker.inbound.screening import Stored, store_and_screen_many
from worker.lib.groupcommit import GroupCommit
from worker.runtime import Runtime

Form = Mapping[str, Sequence[str]]
R = TypeVar("R")

# Twilio waits 15 s for an answer. A writer stuck on a dead connection must not hold the
# requests for ever: after this long the request is answered 503 instead (TimeoutError). A
# write that lands later is kept, and a retry of the same MessageSid finds it stored.
STORE_WAIT = 10.0


async def committed(future: Future[R]) -> R:
    """The result of a group-commit write, once committed; TimeoutError after STORE_WAIT."""
    return await asyncio.wait_for(asyncio.wrap_future(future), STORE_WAIT)


class Inbox:
    """Stores inbound texts for the webhook; `await store(form)` returns once it is committed."""

    def __init__(self, rt: Runtime, source: str = "webhook") -> None:
        self._rt = rt
        self._source = source
        self._writer: GroupCommit[Form, Stored] = GroupCommit(
            "inbox-writer", self._commit, outage=unavailable
        )

    async def store(self, form: Form) -> Stored:
        return await committed(self._writer.submit(form))

    def close(self) -> None:
        """Store what is waiting, then stop the writer."""
        self._writer.close()

    def _commit(self, forms: Sequence[Form]) -> list[Stored]:
        rt = self._rt
        with transaction(rt.sessions) as session:
            return store_and_screen_many(session, rt.settings, rt.screener, forms, self._source, utcnow())
