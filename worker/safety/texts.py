"""What the texts about an alert say: filled in at send time, from the alert as it is then.

A repeat sent at 03:15 says how many more texts joined the alert by 03:15, not by 03:00;
its minutes are counted to when it was due (when beat decided to send it).
"""

from __future__ import annotations

from datetime import datetime

from worker.db.models import SafetyAlert
from worker.lib.privacy import mask_phone
from worker.safety.notices import NOTICES

ALERT_ACKNOWLEDGED = "alert acknowledged before this notice went out"


def alert_values(alert: SafetyAlert | None, due_at: datetime) -> dict[str, str]:
    """The {alert_...} placeholders of templates.yaml."""
    if alert is None:
        return {"alert_summary": "", "alert_more": "", "alert_minutes": "", "alert_acked_by": ""}
    more = f", {alert.more_texts} more text{'s' if alert.more_texts != 1 else ''}" if alert.more_texts else ""
    by = alert.acknowledged_by or ""
    return {
        "alert_summary": alert.summary or alert.source,
        "alert_more": more,
        "alert_minutes": str(max(0, int((due_at - alert.created_at).total_seconds() // 60))),
        "alert_acked_by": mask_phone(by) if by.startswith("+") else by,
    }


def notice_is_moot(alert: SafetyAlert, template: str) -> bool:
    """A page or repeat still queued when someone acknowledged the alert is not sent."""
    return alert.acknowledged_at is not None and template in NOTICES
