"""Catching up with what the webhooks missed, from Twilio's own records."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from worker.db.engine import transaction
from worker.inbound.screening import store_and_screen
from worker.metrics.record import record_delivery_status
from worker.outbound.statuses import apply_status, our_status
from worker.runtime import Runtime
from worker.sms.base import ProviderMessage

log = logging.getLogger(__name__)


@dataclass
class Reconciled:
    seen: int = 0
    inbound_added: int = 0
    statuses_updated: int = 0
    urgent: list[int] = field(default_factory=list)  # safety texts raised by missed texts


def reconcile(rt: Runtime, now: datetime) -> Reconciled:
    """Store inbound texts we never received and final statuses whose callback never came.

    Both steps are idempotent (MessageSid is unique; statuses only move forward), so a run
    that overlaps the previous one, or the webhook, changes nothing twice.
    """
    result = Reconciled()
    account = rt.settings.twilio_account_sid
    for item in rt.sender.recent(now - rt.settings.reconcile_lookback):
        result.seen += 1
        if account and item.account_sid and item.account_sid != account:
            continue
        moved = False
        with transaction(rt.sessions) as session:
            if item.inbound:
                stored = store_and_screen(session, rt.settings, rt.screener, _form(item), "reconcile", now)
                result.inbound_added += stored.new
                result.urgent += stored.urgent
            elif item.status:
                moved = apply_status(session, item.sid, item.status, item.error_code, now)
                result.statuses_updated += moved
        if moved:  # committed
            record_delivery_status(str(our_status(item.status, item.error_code)))
    log.info(
        "reconciled",
        extra={
            "seen": result.seen,
            "inbound_added": result.inbound_added,
            "statuses_updated": result.statuses_updated,
        },
    )
    return result


def _form(item: ProviderMessage) -> dict[str, list[str]]:
    """The provider's record in the shape of a webhook form, so one code path stores both."""
    return {
        "MessageSid": [item.sid],
        "SmsSid": [item.sid],
        "AccountSid": [item.account_sid],
        "From": [item.from_number],
        "To": [item.to_number],
        "Body": [item.body],
        "NumMedia": [str(item.num_media)],
    }
