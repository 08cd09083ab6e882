"""Log lines about a transaction's rows are written once it commits, and never if it rolls back."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from worker.db.aftercommit import log_on_commit
from worker.db.engine import transaction

log = logging.getLogger("tests.aftercommit")


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, object]]:
    return [(r.getMessage(), getattr(r, "row", None)) for r in caplog.records if r.name == log.name]


def test_a_line_is_written_when_its_transaction_commits_and_not_before(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=log.name)
    with transaction(sessions) as session:
        log_on_commit(session, log, logging.INFO, "row stored", row=7)
        with session.begin_nested():  # a savepoint released is not the commit
            session.execute(select(1))
        assert lines(caplog) == []
    assert lines(caplog) == [("row stored", 7)]


def test_a_line_from_a_rolled_back_transaction_is_never_written(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=log.name)
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        log_on_commit(session, log, logging.INFO, "row stored", row=1)
        raise RuntimeError("the batch failed")
    with transaction(sessions) as session:  # the retry: its own line only
        log_on_commit(session, log, logging.INFO, "row stored", row=2)
    assert lines(caplog) == [("row stored", 2)]
