"""The real proxy config, deploy/caddy/Caddyfile, run by the real Caddy with its internal CA
in front of a real `clinic-worker web` whose CLINIC_PUBLIC_URL is the proxy's https:// URL:
signed webhooks through it are stored, signatures are checked against that URL, plain HTTP
is redirected, and slow or oversized requests are cut off at the proxy."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from tests.conftest import AUTH_TOKEN, TEST_CIPHER, Proc, RedisServer, free_port, make_settings, settings_env
from tests.helpers import eventually
from tests.twilio_standin import StandIn
from tests.web.test_slow_clients import (
    CADDYFILE,
    body_head,
    caddy_timeout_seconds,
    slow_client,
    stored_body,
)
from tests.webhooks import MultiDict, inbound_form
from worker.db.engine import make_engine, session_factory
from worker.db.migrate import upgrade
from worker.web.timeouts import BODY_READ_TIMEOUT_SECONDS

if shutil.which("caddy") is None:
    pytest.skip(
        "caddy is not on PATH (Debian: apt-get install caddy); these tests run the real proxy",
        allow_module_level=True,
    )

pytestmark = pytest.mark.slow

PHONE = "+12025550188"
# A body the proxy must refuse: over its 100 kB limit, and over the app's own 32 KB.
OVERSIZED_BODY_BYTES = 150_000


@dataclass
class Stack:
    https_port: int
    http_port: int
    root_ca: Path  # Caddy's internal CA, which signed the site's certificate
    sessions: sessionmaker[Session]

    @property
    def public_url(self) -> str:
        return f"https://localhost:{self.https_port}"

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.root_ca))

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.public_url, verify=self.tls(), timeout=15)

    def connect(self) -> socket.socket:
        raw = socket.create_connection(("localhost", self.https_port), timeout=10)
        return self.tls().wrap_socket(raw, server_hostname="localhost")


def signed_for(url: str, form: list[tuple[str, str]]) -> dict[str, Any]:
    """post() arguments for `form`, signed as Twilio signs a request to `url`."""
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, MultiDict(form))
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return {"content": urlencode(form).encode(), "headers": headers}


def distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, _standin_session: StandIn
) -> Iterator[Stack]:
    """Caddy on free ports, its CA and certificates under this module's temporary folder,
    in front of `clinic-worker web` (one process: the create_app path) on SQLite."""
    folder = tmp_path_factory.mktemp("proxy")
    url = f"sqlite:///{folder / 'web.sqlite3'}"
    upgrade(url)
    https_port, http_port, web_port = distinct_free_ports(3)
    settings = make_settings(
        url, redis_server.url, _standin_session.url, public_url=f"https://localhost:{https_port}"
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "CLINIC_DOMAIN": "localhost",
        "CLINIC_TLS": "internal",
        "CLINIC_UPSTREAM": f"127.0.0.1:{web_port}",
        "CLINIC_HTTPS_PORT": str(https_port),
        "CLINIC_HTTP_PORT": str(http_port),
    }
    engine = make_engine(url, cipher=TEST_CIPHER)
    web = Proc(["web", "--port", str(web_port)], settings_env(settings), folder / "web.log")
    with (folder / "caddy.log").open("wb") as caddy_log:
        caddy = subprocess.Popen(
            ["caddy", "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env=env,
            stdout=caddy_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            web.wait_for("Uvicorn running")
            root_ca = folder / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
            ready = Stack(https_port, http_port, root_ca, session_factory(engine))
            eventually(lambda: _answering(ready, caddy, folder / "caddy.log"), timeout=30)
            yield ready
        finally:
            _stop(caddy)
            web.stop()
            engine.dispose()


def _answering(stack: Stack, caddy: subprocess.Popen[bytes], log: Path) -> bool:
    if caddy.poll() is not None:
        raise AssertionError(f"caddy exited {caddy.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
    if not stack.root_ca.exists():
        return False
    try:
        with stack.client() as client:
            client.get("/healthz")
    except httpx.TransportError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_given_a_signed_inbound_text_over_https_expect_200_and_the_text_stored(stack: Stack) -> None:
    sid = "SM" + uuid.uuid4().hex
    form = inbound_form("Yes see you then", PHONE, sid=sid)
    with stack.client() as client:
        response = client.post("/twilio/sms", **signed_for(f"{stack.public_url}/twilio/sms", form))
    assert response.status_code == 200
    assert stored_body(stack.sessions, sid) == "Yes see you then"


@pytest.mark.parametrize(
    "signed_url",
    [
        pytest.param("http://localhost:{http_port}/twilio/sms", id="the-plain-http-url"),
        pytest.param("https://clinic.example.org/twilio/sms", id="another-host"),
    ],
)
def test_given_a_text_signed_for_another_url_expect_403_and_nothing_stored(
    stack: Stack, signed_url: str
) -> None:
    sid = "SM" + uuid.uuid4().hex
    form = inbound_form("Yes", PHONE, sid=sid)
    with stack.client() as client:
        post = signed_for(signed_url.format(http_port=stack.http_port), form)
        response = client.post("/twilio/sms", **post)
    assert response.status_code == 403
    assert stored_body(stack.sessions, sid) is None


def test_given_plain_http_expect_a_redirect_to_https_and_nothing_stored(stack: Stack) -> None:
    sid = "SM" + uuid.uuid4().hex
    form = inbound_form("Yes", PHONE, sid=sid)
    response = httpx.post(
        f"http://localhost:{stack.http_port}/twilio/sms",
        **signed_for(f"{stack.public_url}/twilio/sms", form),
        follow_redirects=False,
    )
    assert response.status_code == 308
    # No port: Caddy expects clients to reach its HTTPS port as 443 (see the Caddyfile).
    assert response.headers["location"] == "https://localhost/twilio/sms"
    assert stored_body(stack.sessions, sid) is None


def test_given_a_body_sent_a_byte_every_2_s_through_the_proxy_expect_408_within_10_s(stack: Stack) -> None:
    with stack.connect() as sock:
        cut = slow_client(sock, body_head("localhost", 1000), b"Body=" + b"a" * 995)
    # By the web server's deadline and passed on at once, not held until Caddy's own (9 s).
    cut.assert_by(BODY_READ_TIMEOUT_SECONDS)
    # The web server's 408, passed on; never the empty 200 Caddy 2.6 gives when it times a
    # body out itself (a client told 200 would not send it again).
    assert cut.answer.startswith(b"HTTP/1.1 408 "), cut.answer


def test_given_headers_trickled_through_the_proxy_expect_the_connection_dropped_within_10_s(
    stack: Stack,
) -> None:
    with stack.connect() as sock:
        cut = slow_client(sock, b"POST /twilio/sms HTTP/1.1\r\nHost: localhost\r\n", b"X-Slow: " + b"a" * 64)
    cut.assert_by(caddy_timeout_seconds("read_header"))
    # Go's server closes, or says 400 for the half-read request: either way no request is made.
    assert cut.answer == b"" or cut.answer.startswith(b"HTTP/1.1 400 "), cut.answer


def test_given_an_oversized_declared_body_expect_413_from_the_proxy_itself(stack: Stack) -> None:
    with stack.client() as client:
        response = client.post(
            "/twilio/sms",
            content=b"Body=" + b"a" * (OVERSIZED_BODY_BYTES - 5),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 413
    # Caddy's words, not the app's ("body too large"): the body never reached the app.
    assert response.text == "request body too large"
    assert "uvicorn" not in response.headers.get_list("server")


def test_given_an_oversized_chunked_body_expect_413(stack: Stack) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"Body="
        for _ in range(OVERSIZED_BODY_BYTES // 10_000):
            yield b"a" * 10_000

    with stack.client() as client:
        response = client.post(
            "/twilio/sms", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    assert response.status_code == 413
