"""A local stand-in for Twilio's Messages API that the real `twilio` client talks to.

Point CLINIC_TWILIO_API_URL at it. It checks Basic auth, validates every request against
Twilio's own OpenAPI description when one is given, records what it accepted, and can be
told to fail: a fixed error for a number, a queue of scripted answers, random 500/429
answers, or stalls longer than the client's timeout.

Run it by hand for a manual trial:
    python -m tests.twilio_standin --port 8999 --account-sid ACtest --auth-token secret
and read what it accepted at http://127.0.0.1:8999/_standin/messages
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import random
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Messages\.json$")
_ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(AC\w+)\.json$")
SPEC = Path(__file__).with_name("data") / "twilio_api_v2010.json"  # Twilio's own, MIT (twilio/twilio-oai)


def load_openapi(path: Path = SPEC) -> Any | None:
    """Twilio's OpenAPI description, or None when the file is not beside the project."""
    if not path.exists():
        return None
    from openapi_core import OpenAPI

    return OpenAPI.from_dict(json.loads(path.read_text()))


@dataclass
class Accepted:
    sid: str
    to: str
    body: str
    sender: str
    params: dict[str, str]
    at: float
    status: str = "sent"
    error_code: int | None = None
    direction: str = "outbound-api"
    received: float = 0.0  # when the request arrived, before any simulated latency


@dataclass
class Behaviour:
    latency: float = 0.0
    fail_numbers: dict[str, int] = field(default_factory=dict)  # To -> Twilio error code
    scripted: deque[tuple[int, int | None]] = field(default_factory=deque)  # (HTTP status, code)
    error_rate_500: float = 0.0
    error_rate_429: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 0.0
    seed: int = 1


class StandIn:
    def __init__(self, account_sid: str, auth_token: str, openapi: Any | None = None) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.openapi = openapi
        self.behaviour = Behaviour()
        self.accepted: list[Accepted] = []
        self.inbound: list[Accepted] = []
        self.requests = 0
        self.generation = 0  # bumped by reset(): a request begun before it is not recorded after it
        self.invalid: list[str] = []
        self._lock = threading.Lock()
        self._rng = random.Random(self.behaviour.seed)
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, port: int = 0) -> str:
        handler = type("Handler", (_Handler,), {"standin": self})
        server_class = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 512})
        self._server = server_class(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- inspection ------------------------------------------------------------------------
    def accepted_to(self, number: str) -> list[Accepted]:
        with self._lock:
            return [a for a in self.accepted if a.to == number]

    def add_inbound(self, from_number: str, to_number: str, body: str) -> str:
        """A text Twilio received for us (for reconciliation: as if the webhook was missed)."""
        sid = "SM" + uuid.uuid4().hex
        record = Accepted(sid, to_number, body, from_number, {}, time.time(), "received", None, "inbound")
        with self._lock:
            self.inbound.append(record)
        return sid

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        with self._lock:
            for record in self.accepted:
                if record.sid == sid:
                    record.status, record.error_code = status, error_code

    def reset(self) -> None:
        with self._lock:
            self.inbound.clear()
            self.accepted.clear()
            self.invalid.clear()
            self.requests = 0
            self.generation += 1
            self.behaviour = Behaviour()

    # -- request handling ------------------------------------------------------------------
    def decide(self, to: str) -> tuple[int, int | None, float]:
        """(HTTP status, Twilio code, seconds to stall) for one create request."""
        with self._lock:
            self.requests += 1
            b = self.behaviour
            if b.scripted:
                status, code = b.scripted.popleft()
                return status, code, b.latency
            if to in b.fail_numbers:
                return 400, b.fail_numbers[to], b.latency
            roll = self._rng.random()
            if roll < b.stall_rate:
                return 201, None, b.stall_seconds
            roll = self._rng.random()
            if roll < b.error_rate_500:
                return 500, 20500, b.latency
            if roll < b.error_rate_500 + b.error_rate_429:
                return 429, 20429, b.latency
            return 201, None, b.latency

    def accept(
        self, params: dict[str, str], received: float = 0.0, generation: int | None = None
    ) -> Accepted:
        sid = "SM" + uuid.uuid4().hex
        sender = params.get("From") or params.get("MessagingServiceSid", "")
        now = time.time()
        record = Accepted(sid, params.get("To", ""), params.get("Body", ""), sender, params, now)
        record.received = received or now
        with self._lock:
            # A stalled request from an earlier test must not land in the next one's record.
            if generation is None or generation == self.generation:
                self.accepted.append(record)
        return record

    def resource(self, record: Accepted, status: str = "queued") -> dict[str, Any]:
        return {
            "sid": record.sid,
            "account_sid": self.account_sid,
            "to": record.to,
            "from": record.sender if record.direction == "inbound" else record.params.get("From"),
            "messaging_service_sid": record.params.get("MessagingServiceSid"),
            "body": record.body,
            "status": status,
            "error_code": record.error_code,
            "num_media": "0",
            "num_segments": "1",
            "direction": record.direction,
            "date_sent": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(record.at)),
            "api_version": "2010-04-01",
            "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(record.at)),
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{record.sid}.json",
        }


class _Handler(BaseHTTPRequestHandler):
    standin: StandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: Any) -> None:  # quiet: the test output is the record
        pass

    def _send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # A client that gave up (a stall test) is gone: the message still counts as accepted.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def _error(self, status: int, code: int | None, message: str) -> None:
        self._send_json(
            status,
            {
                "code": code,
                "message": message,
                "status": status,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
            },
        )

    def _authorised(self, account: str) -> bool:
        expected = base64.b64encode(f"{self.standin.account_sid}:{self.standin.auth_token}".encode())
        header = self.headers.get("Authorization", "")
        return account == self.standin.account_sid and header == f"Basic {expected.decode()}"

    def do_GET(self) -> None:
        if self.path == "/_standin/messages":
            self._send_json(200, [vars(a) for a in self.standin.accepted])
            return
        if self.path == "/_standin/count":
            self._send_json(200, {"accepted": len(self.standin.accepted), "requests": self.standin.requests})
            return
        listing = _MESSAGES.match(self.path.split("?", 1)[0])
        if listing is not None:
            if not self._authorised(listing.group(1)):
                self._error(401, 20003, "Authenticate")
                return
            records = sorted(self.standin.accepted + self.standin.inbound, key=lambda r: -r.at)
            page = [self.standin.resource(r, r.status) for r in records]
            uri = self.path.split("?", 1)[0]
            self._send_json(
                200,
                {
                    "messages": page,
                    "next_page_uri": None,
                    "previous_page_uri": None,
                    "first_page_uri": uri,
                    "uri": uri,
                    "page": 0,
                    "page_size": len(page),
                    "start": 0,
                    "end": max(0, len(page) - 1),
                },
            )
            return
        match = _ACCOUNT.match(self.path)
        if match is None:
            self._error(404, 20404, "not found")
            return
        if not self._authorised(match.group(1)):
            self._error(401, 20003, "Authenticate")
            return
        self._send_json(
            200,
            {
                "sid": self.standin.account_sid,
                "status": "active",
                "friendly_name": "stand-in",
                "type": "Full",
            },
        )

    def do_POST(self) -> None:
        received = time.time()
        generation = self.standin.generation
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        match = _MESSAGES.match(self.path)
        if match is None:
            self._error(404, 20404, "not found")
            return
        if not self._authorised(match.group(1)):
            self._error(401, 20003, "Authenticate")
            return
        problem = self._validate(raw)
        if problem:
            self.standin.invalid.append(problem)
            self._error(400, 21604, problem)
            return
        params = {k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        status, code, stall = self.standin.decide(params.get("To", ""))
        if stall:
            time.sleep(stall)
        if status != 201:
            self._error(status, code, "stand-in failure")
            return
        self._send_json(201, self.standin.resource(self.standin.accept(params, received, generation)))

    def _validate(self, raw: bytes) -> str | None:
        if self.standin.openapi is None:
            return None
        from openapi_core.testing import MockRequest

        request = MockRequest(
            "https://api.twilio.com",
            "post",
            self.path,
            headers=dict(self.headers.items()),
            data=raw,
            content_type="application/x-www-form-urlencoded",
        )
        try:
            self.standin.openapi.validate_request(request)
        except Exception as exc:
            return f"request does not match Twilio's API description: {exc}"
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--auth-token", default="standin-token")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--no-validate", action="store_true", help="skip the OpenAPI check (benchmarks)")
    parser.add_argument("--quiet", action="store_true", help="do not print accepted messages")
    args = parser.parse_args()
    standin = StandIn(args.account_sid, args.auth_token, None if args.no_validate else load_openapi())
    standin.behaviour.latency = args.latency
    print(f"Twilio stand-in on {standin.start(args.port)}", flush=True)
    seen = 0
    while True:
        time.sleep(0.5)
        if args.quiet:
            continue
        for record in standin.accepted[seen:]:
            print(
                f"{time.strftime('%H:%M:%S')} accepted {record.sid} to {record.to}: {record.body}", flush=True
            )
        seen = len(standin.accepted)


if __name__ == "__main__":
    main()
