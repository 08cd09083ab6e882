"""Deadlines for slow clients, so the web server drops one within 10 s even with no proxy.

uvicorn bounds only the idle time between two requests (`timeout_keep_alive`). A client that
sends its headers a byte at a time, or its body a byte every 2 s, holds a connection and a
task for as long as it likes (issue 20 held 300 such connections at once). Two deadlines
close that, the same two Caddy enforces in front (deploy/caddy/Caddyfile):

- `HeaderDeadlineProtocol` (uvicorn's httptools protocol, passed as `http=`): the request
  line and headers must be complete within HEADER_READ_TIMEOUT_SECONDS of the connection
  opening or of the previous response; otherwise the connection is closed (there is no
  request yet to answer).
- `BodyDeadline` (ASGI middleware): the whole request must have arrived within
  BODY_READ_TIMEOUT_SECONDS of its first byte; otherwise 408 and the connection is closed.
  The 408 is raised inside the app (an HTTPException it answers), so the app's own
  middleware, the webhook metrics among them, counts a 408 rather than an error.

Twilio posts a webhook of a few kilobytes in one go from its data centres and gives up on
an answer after 15 s, so a request still arriving after a few seconds is broken or hostile.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

# Headers are a few hundred bytes: anything not done after 5 s is a slowloris (or dead).
# Also how long a kept-alive connection may sit idle, since the clock restarts at each answer.
HEADER_READ_TIMEOUT_SECONDS = 5.0
# The whole request, headers included, from its first byte. Twilio's few kilobytes take
# milliseconds. Behind the proxy this must run out before the proxy's own body deadline
# (read_header 3 s + this < read_body 9 s in deploy/caddy/Caddyfile): Caddy 2.6 answers an
# empty 200 to a client whose body it timed out itself, but passes on this 408.
BODY_READ_TIMEOUT_SECONDS = 5.0
# uvicorn's own idle timer between requests; the header deadline above is the same length.
# The proxy keeps its idle upstream connections for less (3 s, Caddyfile), so it never
# sends a request down a connection this end is just closing.
KEEP_ALIVE_TIMEOUT_SECONDS = 5
# On SIGTERM: requests in flight get this long, then are cancelled (Twilio retries what got
# no 200). Shorter than compose's 10 s stop grace period, so the lifespan's shutdown
# (flushing the inbox and the reply batcher) still runs before SIGKILL.
GRACEFUL_SHUTDOWN_SECONDS = 5
# Connections plus tasks per server process before uvicorn answers 503: far above what a
# clinic's webhooks need (the benchmark drives 64 connections) and enough to bound memory
# and file descriptors when someone opens connections faster than the deadlines close them.
CONCURRENCY_LIMIT_CONNECTIONS = 512
# Connections the kernel queues before accept(): a deeper queue would only hold requests
# longer than Twilio waits for them.
LISTEN_BACKLOG_CONNECTIONS = 1024

# Where HeaderDeadlineProtocol puts the event-loop time of a request's first byte.
REQUEST_STARTED_EXTENSION = "clinic.request_started"


def server_options() -> dict[str, Any]:
    """uvicorn.run()'s keyword arguments for the deadlines and limits above."""
    return {
        "http": HeaderDeadlineProtocol,
        "timeout_keep_alive": KEEP_ALIVE_TIMEOUT_SECONDS,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "limit_concurrency": CONCURRENCY_LIMIT_CONNECTIONS,
        "backlog": LISTEN_BACKLOG_CONNECTIONS,
    }


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request headers are late."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # The body deadline counts from here, as the proxy's does, not from when the app
        # is called: headers sent slowly use up the same allowance.
        extensions = self.scope.setdefault("extensions", {})
        extensions[REQUEST_STARTED_EXTENSION] = {"at": self.loop.time()}

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A pipelined request waiting here already has its headers; only an empty queue
        # means the next request's headers are still to come.
        next_headers_pending = not self.pipeline
        super().on_response_complete()
        if next_headers_pending and not self.transport.is_closing():
            self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_timer = self.loop.call_later(HEADER_READ_TIMEOUT_SECONDS, self._headers_late)

    def _disarm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            # Debug only: under a slowloris attack this would fire hundreds of times a second.
            log.debug("connection closed: request headers not complete in time")
            self.transport.close()


class BodyTimeout(HTTPException):
    """Raised from `receive` when the body is late. An HTTPException, so the app's own
    exception handling answers it and its middleware (metrics) sees a 408, not a 500;
    `Connection: close` makes uvicorn close the connection after that answer."""

    def __init__(self) -> None:
        super().__init__(408, "request timeout", headers={"Connection": "close"})


class BodyDeadline:
    """ASGI middleware: a request body still arriving BODY_READ_TIMEOUT_SECONDS after the
    request's first byte is answered 408 and its connection closed."""

    def __init__(self, app: ASGIApp, timeout_seconds: float = BODY_READ_TIMEOUT_SECONDS) -> None:
        self.app = app
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        now = asyncio.get_running_loop().time()
        call = _DeadlineCall(receive, send, _request_started(scope, now) + self.timeout_seconds)
        try:
            await self.app(scope, call.receive, call.send)
        except BodyTimeout as exc:  # an app that does not answer HTTPExceptions itself
            if call.response_started:
                raise
            await PlainTextResponse(exc.detail, exc.status_code, exc.headers)(scope, receive, send)
        except ClientDisconnect:
            if not call.timed_out:
                raise
            # Late after the answer had begun: the app was told of a disconnect instead.


class _DeadlineCall:
    """One request's receive and send, with the body read under a deadline."""

    def __init__(self, receive: Receive, send: Send, deadline: float) -> None:
        self._receive, self._send, self.deadline = receive, send, deadline
        self.body_done = False
        self.response_started = False
        self.timed_out = False

    async def receive(self) -> Message:
        if self.body_done:  # waiting for a disconnect after the body is not reading it
            return await self._receive()
        if self.timed_out:
            return {"type": "http.disconnect"}
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            self.timed_out = True
            log.info("request body not complete in time: cut off")
            if self.response_started:  # too late for a 408: end the exchange instead
                return {"type": "http.disconnect"}
            raise BodyTimeout() from None
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.body_done = True
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)


def _request_started(scope: Scope, default: float) -> float:
    """When the request's first byte arrived (by HeaderDeadlineProtocol), else `default`."""
    started = scope.get("extensions", {}).get(REQUEST_STARTED_EXTENSION, {}).get("at")
    return float(started) if isinstance(started, int | float) else default
