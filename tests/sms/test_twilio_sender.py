"""The Twilio sender as a process's send threads meet it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import make_settings, settings_env

# Run in a fresh interpreter: this test process has long since imported Twilio's modules.
_PROBE = """
import sys
from worker.settings import load_settings
from worker.sms.twilio import TwilioSender
TwilioSender(load_settings())
print("twilio.rest.api.v2010.account.message" in sys.modules)
"""


def test_sender_loads_the_messages_api_before_the_first_send() -> None:
    # Loaded at the first send instead, the import holds Python's import lock for a few
    # hundred ms while the process's other send threads queue behind it; they then reach
    # Twilio together, and the bench measured 61 in one second at CLINIC_SEND_RATE=50.
    settings = make_settings("sqlite:///unused.db", "redis://127.0.0.1:1/0", "http://127.0.0.1:1")
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE], env=settings_env(settings), capture_output=True, text=True, timeout=60
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "True"
