"""The console backend: what `CLINIC_SMS_BACKEND=console` prints instead of sending."""

from __future__ import annotations

import io
import multiprocessing

from worker.sms.base import OutboundSms
from worker.sms.console import ConsoleSender

SMS = OutboundSms(to="+12025550143", body="See you tomorrow at 10:00")


def _sid_in_a_child(queue: multiprocessing.Queue[str]) -> None:
    queue.put(ConsoleSender(io.StringIO()).send(SMS))


def test_console_sids_differ_across_worker_processes() -> None:
    # Prefork children (and a restarted worker) each send from a fresh copy of the module:
    # a per-process counter gave two children the same SID, and the second send failed on
    # the unique twilio_sid column.
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = context.Queue()
    children = [context.Process(target=_sid_in_a_child, args=(queue,)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(10)
    sids = {queue.get(timeout=5), queue.get(timeout=5), ConsoleSender(io.StringIO()).send(SMS)}
    assert len(sids) == 3


def test_console_masks_the_number_and_prints_the_body() -> None:
    stream = io.StringIO()
    sid = ConsoleSender(stream).send(SMS)
    assert stream.getvalue() == f"[sms {sid} to +1******0143] See you tomorrow at 10:00\n"
