"""The webhook server (an ASGI app built from Settings)."""

from worker.web.app import create_app

__all__ = ["create_app"]
