"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.hostile import Clinic
from tests.conftest import RedisServer, make_settings
from tests.twilio_standin import StandIn


@pytest.fixture
def clinic(db_url: str, redis_server: RedisServer, standin: StandIn, tmp_path: Path) -> Clinic:
    """The `cli` fixture's process, plus the same database opened directly."""
    settings = make_settings(db_url, redis_server.url, standin.url, reminder_offsets="48h,2h")
    return Clinic(settings, tmp_path)
