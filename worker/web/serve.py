"""Running the ASGI app under uvicorn: one process, or N that each build the app themselves."""

from __future__ import annotations

import uvicorn

from worker.settings import Settings
from worker.web.app import create_app, require_webhook_settings


def serve(settings: Settings, host: str, port: int, workers: int, forwarded_allow_ips: str) -> None:
    if workers == 1:
        web_app = create_app(settings)  # settings problems stop here, as one line each
        uvicorn.run(
            web_app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            forwarded_allow_ips=forwarded_allow_ips,
        )
        return
    require_webhook_settings(settings)
    # Each server process builds its own app from the same environment (an entry point of
    # its own: settings are read there, not inherited).
    uvicorn.run(
        "worker.web.app:from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        forwarded_allow_ips=forwarded_allow_ips,
    )
