"""Waiting out a short database outage where a result exists nowhere else (a Twilio SID)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from worker.db.engine import retry_while_unavailable, unavailable


class Flaky:
    """Fails `failures` times with `error`, then answers."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "recorded"


DOWN = OperationalError("UPDATE messages", {}, Exception("server closed the connection unexpectedly"))


def test_a_short_outage_is_waited_out_with_growing_pauses() -> None:
    pauses: list[float] = []
    work = Flaky(3, DOWN)
    assert retry_while_unavailable(work, within=10, sleep=pauses.append) == "recorded"
    assert work.calls == 4
    assert pauses == [0.25, 0.5, 1.0]


def test_an_outage_longer_than_the_window_raises_for_the_sweep_to_explain() -> None:
    slept: list[float] = []
    with pytest.raises(OperationalError):
        retry_while_unavailable(Flaky(100, DOWN), within=0.0, sleep=slept.append)
    assert slept == []


def test_a_bad_query_is_not_retried() -> None:
    bad = ProgrammingError("SELECT nonsense", {}, Exception("syntax error"))
    work = Flaky(1, bad)
    with pytest.raises(ProgrammingError):
        retry_while_unavailable(work, within=10, sleep=lambda _s: None)
    assert work.calls == 1
    assert unavailable(DOWN) and not unavailable(bad)
