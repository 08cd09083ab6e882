"""Slow clients against a real `clinic-worker web --workers 2` with nothing in front: each is
dropped within 10 s by the server's own deadlines (worker/web/timeouts.py), while a normal
webhook, a merely unhurried one and a kept-alive connection are served as before."""

from __future__ import annotations

import asyncio
import re
import select
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select as select_rows
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.conftest import TEST_CIPHER, Proc, RedisServer, free_port, make_settings, settings_env
from tests.helpers import answering, eventually
from tests.twilio_standin import StandIn
from tests.webhooks import inbound_form, signed
from worker.db.engine import make_engine, session_factory
from worker.db.migrate import upgrade
from worker.db.models import InboundMessage
from worker.web.timeouts import BODY_READ_TIMEOUT_SECONDS, HEADER_READ_TIMEOUT_SECONDS, BodyDeadline

pytestmark = pytest.mark.slow

# The bound: a slow client is gone within this long of its first byte.
CUT_OFF_BOUND_SECONDS = 10.0
# Between two bytes of a slow client: longer than any per-read idle timer would need to
# catch it, so only a deadline on the whole request can.
TRICKLE_INTERVAL_SECONDS = 2.0
# How long a test waits for a cut-off before calling the client never cut off.
GIVE_UP_SECONDS = 20.0
# Scheduling slack on the early side: a deadline never fires before it is due, but the
# clocks of the two processes start a few milliseconds apart.
EARLY_SLACK_SECONDS = 0.5
# And on the late side: a timer in a busy event loop on a shared 2-core machine. Small
# enough that no other, longer deadline could be the one that fired.
LATE_SLACK_SECONDS = 2.0
PHONE = "+12025550187"
CADDYFILE = Path(__file__).resolve().parents[2] / "deploy" / "caddy" / "Caddyfile"


def caddy_timeout_seconds(name: str) -> float:
    """A server timeout of the proxy's config (`read_header 3s`), in seconds."""
    found = re.search(rf"^\s*{name} (\d+)s$", CADDYFILE.read_text(), re.MULTILINE)
    assert found, f"no {name} in {CADDYFILE}"
    return float(found.group(1))


@dataclass
class CutOff:
    seconds: float  # from the client's first byte to the server's answer or close
    answer: bytes  # what the server sent before closing (b"" when it just closed)

    def assert_by(self, deadline_seconds: float) -> None:
        """Cut off by that deadline (not before it, not by a later one), within the issue's bound."""
        assert deadline_seconds - EARLY_SLACK_SECONDS <= self.seconds, self
        assert self.seconds < min(deadline_seconds + LATE_SLACK_SECONDS, CUT_OFF_BOUND_SECONDS), self


def slow_client(sock: socket.socket, head: bytes, trickle: bytes) -> CutOff:
    """Send `head` at once, then `trickle` one byte every TRICKLE_INTERVAL_SECONDS (or
    nothing more, when empty), until the server answers or closes the connection."""
    started = time.monotonic()
    sock.sendall(head)
    pending = iter(trickle)
    next_byte_at = started + TRICKLE_INTERVAL_SECONDS
    while (now := time.monotonic()) - started < GIVE_UP_SECONDS:
        readable, _, _ = select.select([sock], [], [], max(0.0, next_byte_at - now))
        if readable:
            received = _received_now(sock)
            if received is not None:
                return CutOff(time.monotonic() - started, received + _drain(sock))
            continue  # only TLS housekeeping (a session ticket): not an answer
        next_byte_at += TRICKLE_INTERVAL_SECONDS
        byte = next(pending, None)
        if byte is not None:
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # closed under us (reset): that is a cut-off too
                return CutOff(time.monotonic() - started, b"")
    raise AssertionError(f"still connected after {GIVE_UP_SECONDS} s")


def _received_now(sock: socket.socket) -> bytes | None:
    """What the server sent (b"" once it closed), or None when nothing readable came yet."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except (ssl.SSLWantReadError, BlockingIOError):
        return None
    except ConnectionResetError:
        return b""
    finally:
        sock.settimeout(timeout)


def _drain(sock: socket.socket) -> bytes:
    """Whatever else the server sent until it closed; a reset ends it like a close."""
    sock.settimeout(2)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (OSError, TimeoutError):
        pass
    return received


def body_head(host: str, length: int) -> bytes:
    return (
        f"POST /twilio/sms HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """One response with a Content-Length: its status and body."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a whole response: {received!r}")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(
        int(v) for n, _, v in (x.partition(b":") for x in lines[1:]) if n.lower() == b"content-length"
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(lines[0].split()[1]), body


def stored_body(sessions: sessionmaker[Session], sid: str) -> str | None:
    with sessions() as session:
        row = session.scalar(select_rows(InboundMessage).where(InboundMessage.message_sid == sid))
        return row.body if row else None


@dataclass
class Web:
    port: int
    sessions: sessionmaker[Session]

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@pytest.fixture(scope="module")
def web(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, _standin_session: StandIn
) -> Iterator[Web]:
    """`web --workers 2` as compose runs it (the factory path), on SQLite: what is under test
    is the server's handling of the connection, not the database."""
    folder = tmp_path_factory.mktemp("slow-clients")
    url = f"sqlite:///{folder / 'web.sqlite3'}"
    upgrade(url)
    settings = make_settings(url, redis_server.url, _standin_session.url)
    port = free_port()
    proc = Proc(["web", "--port", str(port), "--workers", "2"], settings_env(settings), folder / "web.log")
    engine = make_engine(url, cipher=TEST_CIPHER)
    try:
        proc.wait_for("Uvicorn running")
        eventually(lambda: answering(f"http://127.0.0.1:{port}"), timeout=60)
        yield Web(port, session_factory(engine))
    finally:
        engine.dispose()
        proc.stop()


def test_given_a_body_sent_a_byte_every_2_s_expect_408_and_close_within_10_s(web: Web) -> None:
    with web.connect() as sock:
        cut = slow_client(sock, body_head("127.0.0.1", 1000), b"Body=" + b"a" * 995)
    cut.assert_by(BODY_READ_TIMEOUT_SECONDS)
    assert cut.answer == b"" or cut.answer.startswith(b"HTTP/1.1 408 "), cut.answer


@pytest.mark.parametrize(
    ("sent", "trickled"),
    [
        pytest.param(b"", b"", id="connects-and-sends-nothing"),
        pytest.param(b"POST /twilio/s", b"", id="half-a-request-line-then-stalls"),
        pytest.param(
            b"POST /twilio/sms HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"a" * 64, id="trickled-headers"
        ),
    ],
)
def test_given_headers_that_never_complete_expect_the_connection_closed_within_10_s(
    web: Web, sent: bytes, trickled: bytes
) -> None:
    with web.connect() as sock:
        cut = slow_client(sock, sent, trickled)
    cut.assert_by(HEADER_READ_TIMEOUT_SECONDS)
    assert cut.answer == b""  # no request yet, so nothing to answer


def test_given_a_normal_signed_webhook_expect_200_and_its_text_stored(web: Web) -> None:
    sid = "SM" + uuid.uuid4().hex
    form = inbound_form("Yes see you then", PHONE, sid=sid)
    response = httpx.post(
        f"http://127.0.0.1:{web.port}/twilio/sms", **signed("/twilio/sms", form), timeout=10
    )
    assert response.status_code == 200
    assert stored_body(web.sessions, sid) == "Yes see you then"


def test_given_a_body_sent_in_pieces_over_3_s_expect_it_answered_200(web: Web) -> None:
    """The deadline is on the whole request, not an idle timer and not a hair trigger."""
    sid = "SM" + uuid.uuid4().hex
    request = signed("/twilio/sms", inbound_form("C", PHONE, sid=sid))
    body: bytes = request["content"]
    head = body_head("127.0.0.1", len(body)).replace(
        b"\r\n\r\n", f"\r\nX-Twilio-Signature: {request['headers']['X-Twilio-Signature']}\r\n\r\n".encode()
    )
    third = len(body) // 3
    with web.connect() as sock:
        sock.sendall(head)
        for piece in (body[:third], body[third : 2 * third], body[2 * third :]):
            time.sleep(1.0)
            sock.sendall(piece)
        status, _ = read_response(sock)
    assert status == 200
    assert stored_body(web.sessions, sid) == "C"


def test_given_a_kept_alive_connection_expect_requests_served_until_it_idles_5_s(web: Web) -> None:
    """The header deadline restarts at each answer: a connection that waited 3 s before its
    first request and 3 s between two (6 s in all) is still served; idle after that, it is
    closed at the deadline."""
    get = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with web.connect() as sock:
        for _ in range(2):
            time.sleep(3.0)
            sock.sendall(get)
            status, _ = read_response(sock)
            assert status == 200
        cut = slow_client(sock, b"", b"")
    cut.assert_by(HEADER_READ_TIMEOUT_SECONDS)
    assert cut.answer == b""


def test_given_the_proxy_config_expect_this_server_to_time_a_body_out_before_the_proxy_does() -> None:
    """Behind Caddy the body deadline starts once Caddy has the headers (read_header at most)
    and must run out before Caddy's own (read_body), which 2.6 answers with an empty 200."""
    header, body = caddy_timeout_seconds("read_header"), caddy_timeout_seconds("read_body")
    assert header + BODY_READ_TIMEOUT_SECONDS + EARLY_SLACK_SECONDS < body <= CUT_OFF_BOUND_SECONDS


@pytest.mark.anyio
async def test_given_a_late_body_expect_middleware_inside_the_deadline_to_see_the_408() -> None:
    """The 408 is the app's own answer (an HTTPException it handles), so middleware that
    counts answers by status, as the webhook metrics do, counts a 408, not a 500."""
    seen: list[int] = []

    class Statuses:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async def noting(message: Message) -> None:
                if message["type"] == "http.response.start":
                    seen.append(message["status"])
                await send(message)

            await self.app(scope, receive, noting)

    async def read_all(request: Request) -> Response:
        return Response(str(len(await request.body())))

    app = Starlette(
        routes=[Route("/twilio/sms", read_all, methods=["POST"])], middleware=[Middleware(Statuses)]
    )
    sent: list[Message] = []
    chunks = [{"type": "http.request", "body": b"Body=", "more_body": True}]

    async def receive() -> Message:
        if chunks:
            return chunks.pop()
        await asyncio.sleep(60)  # the rest of the body never comes
        raise AssertionError("the deadline did not fire")

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/twilio/sms", "headers": [], "query_string": b""}
    await BodyDeadline(app, timeout_seconds=0.2)(scope, receive, send)
    assert seen == [408]
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
