"""Running the ASGI app under uvicorn: one process, or N that each build the app themselves.
Either way with the deadlines and limits of worker.web.timeouts, so a slow client is dropped
even when nothing stands in front of this server."""

from __future__ import annotations

from typing import Any

import uvicorn

from worker.settings import Settings
from worker.web.app import create_app, from_environment, require_webhook_settings
from worker.web.timeouts import BodyDeadline, server_options


def serve(settings: Settings, host: str, port: int, workers: int, forwarded_allow_ips: str) -> None:
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "forwarded_allow_ips": forwarded_allow_ips,
        **server_options(),
    }
    if workers == 1:
        web_app = create_app(settings)  # settings problems stop here, as one line each
        uvicorn.run(BodyDeadline(web_app), **options)
        return
    require_webhook_settings(settings)
    # Each server process builds its own app from the same environment (an entry point of
    # its own: settings are read there, not inherited).
    uvicorn.run("worker.web.serve:app_from_environment", factory=True, workers=workers, **options)


def app_from_environment() -> BodyDeadline:
    """The app for `web --workers N`, in each server process, with its body deadline."""
    return BodyDeadline(from_environment())
