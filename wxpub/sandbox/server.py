"""The sandbox on HTTP: 127.0.0.1 only, faults on request, its control endpoints and its proof of owner.

`/cgi-bin/…` is the API (`api.Api`), `/sandbox/…` the sandbox's own controls (faults, config, info,
calls), everything else the pages (`pages.py`) and the uploaded images.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from . import pages
from .api import Api, ApiError

FAULT_KINDS = ("errcode", "http", "drop-before", "drop-after", "delay", "latency", "expire-token", "supersede-token")
_CHALLENGE = re.compile(r"^[0-9a-f]{32,128}$")


@dataclass
class Fault:
    """A fault to inject: on calls to `endpoint` ("*" for any), skip `after` of them, then hit `times`.

    kinds: errcode (answer `errcode`), http (answer HTTP `status`), drop-before (wait `seconds`, then
    close the connection without acting), drop-after (act, wait `seconds`, then close without
    answering: the call took effect but its answer is lost), delay (wait `seconds`, then act: the
    call lands late), latency (act, then wait `seconds` before answering: it took effect at once, the
    answer is late), expire-token / supersede-token (kill the current tokens, as time or a force
    refresh elsewhere would).
    """

    kind: str
    endpoint: str = "*"
    times: int = 1
    after: int = 0
    errcode: int | None = None
    status: int = 500
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if self.kind == "errcode" and self.errcode is None:
            raise ValueError("an errcode fault needs errcode=")


@dataclass(frozen=True)
class Call:
    """One call the sandbox answered, for tests and benchmarks to count."""

    endpoint: str
    errcode: int
    at: float


class _Drop(Exception):
    """Close the connection without an answer."""


def proof(key: bytes, challenge: str, api_base: str, state_dir: str) -> str:
    """What a sandbox holding `key` answers to `challenge`: an HMAC that also binds its address and
    state folder, so that a server elsewhere cannot pass on a real sandbox's answer as its own."""
    message = "\n".join(("wxpub-sandbox-1", challenge, api_base, state_dir)).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class Sandbox(Api):
    """The sandbox server. As a context manager it runs in a thread on 127.0.0.1 (port 0: any free one).

    With `key` (the owner's secret, see `join.owner_key`), it answers `/sandbox/info?challenge=…` with
    a proof that `wxpub publish --sandbox` checks before sending it anything. It holds its state
    folder from its making until `stop()` (`folder.py`): a second one there raises StateHeld.
    """

    def __init__(self, state_dir: str | Path | None = None, *, latency: float = 0.0, key: bytes | None = None, **options: Any) -> None:
        super().__init__(state_dir, **options)
        self.latency = latency
        self._key = key
        self.faults: list[Fault] = []
        self.calls: list[Call] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life ----------------------------------------------------------------------------------
    def bind(self) -> Sandbox:
        """Listen on 127.0.0.1:port (OSError when it is taken); `url` is known from here on."""
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
            self._server.daemon_threads = True
            self.port = self._server.server_address[1]
            self._hold.announce(self.url)
        return self

    def start(self) -> Sandbox:
        """Serve in a background thread."""
        server = self.bind()._server
        assert server is not None
        # a short poll interval: stop() (and so every test's teardown) waits for one poll
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="wxpub-sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (the `wxpub sandbox` command)."""
        server = self.bind()._server
        assert server is not None
        try:
            server.serve_forever()
        finally:
            server.server_close()
            self._server = None
            self.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults and inspection -----------------------------------------------------------------
    def inject(self, kind: str, endpoint: str = "*", **options: Any) -> Fault:
        """Queue a fault, e.g. `inject("errcode", "draft/add", errcode=45009)` or `inject("drop-after", "draft/add")`."""
        fault = Fault(kind, endpoint, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def count(self, endpoint: str | None = None) -> int:
        """Calls answered so far (for one endpoint, or all), faults included."""
        with self._lock:
            return sum(1 for call in self.calls if endpoint is None or call.endpoint == endpoint)

    def info(self, challenge: str | None = None) -> dict[str, Any]:
        """GET /sandbox/info: where it listens and keeps its state; with a challenge, the owner's proof."""
        answer: dict[str, Any] = {"api_base": self.url, "state_dir": str(self.state_dir.resolve())}
        if challenge is not None and self._key is not None and _CHALLENGE.match(challenge):
            answer["proof"] = proof(self._key, challenge, answer["api_base"], answer["state_dir"])
        return answer

    # -- one call ------------------------------------------------------------------------------
    def _take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.endpoint not in ("*", endpoint):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def handle(self, method: str, endpoint: str, query: Mapping[str, str], body: bytes, content_type: str, client_ip: str) -> tuple[int, dict[str, Any]]:
        """Answer one API call: (HTTP status, JSON). Raises _Drop to close the connection unanswered."""
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(endpoint)
        after: Callable[[], None] | None = None
        if fault is not None:
            if fault.kind == "delay":
                time.sleep(fault.seconds)
            elif fault.kind == "expire-token":
                self.expire_tokens()
            elif fault.kind == "supersede-token":
                self.supersede_tokens()
            elif fault.kind == "drop-before":
                time.sleep(fault.seconds)  # a hang first, if asked: the client is left waiting
                self._record(endpoint, -2)
                raise _Drop()
            elif fault.kind in ("drop-after", "latency"):
                after = _after(fault)
            elif fault.kind == "http":
                self._record(endpoint, -fault.status)
                return fault.status, {"error": "injected"}
            elif fault.kind == "errcode":
                self._record(endpoint, int(fault.errcode or 0))
                return 200, {"errcode": fault.errcode, "errmsg": f"injected fault hint: [sandbox] rid: {secrets.token_hex(4)}"}
        try:
            result = self._dispatch(method, endpoint, query, body, content_type, client_ip)
            errcode = 0
        except ApiError as error:
            errcode = error.errcode
            result = {"errcode": error.errcode, "errmsg": f"{error.errmsg} hint: [sandbox] rid: {secrets.token_hex(4)}"}
        self._record(endpoint, errcode)
        if after is not None:
            after()
        return 200, result

    def _record(self, endpoint: str, errcode: int) -> None:
        with self._lock:
            self.calls.append(Call(endpoint, errcode, time.time()))


def _after(fault: Fault) -> Callable[[], None]:
    """What happens once a faulty call has acted: a wait, then (drop-after) no answer at all."""

    def run() -> None:
        time.sleep(fault.seconds)
        if fault.kind == "drop-after":
            raise _Drop()

    return run


def _handler_for(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real API
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
        server_version = "wxpub-sandbox"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the URLs carry tokens
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            if split.path.startswith("/cgi-bin/"):
                try:
                    status, answer = sandbox.handle(method, split.path[len("/cgi-bin/") :], query, body, self.headers.get("Content-Type", ""), self.client_address[0])
                except _Drop:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                if isinstance(answer.get("_bytes"), bytes):  # material/get_material: the file itself
                    self._send(status, str(answer["_type"]), answer["_bytes"])
                else:
                    self._send(status, "application/json; encoding=utf-8", json.dumps(answer, ensure_ascii=False).encode("utf-8"))
            elif split.path.startswith("/sandbox/"):
                status, answer = _control(sandbox, method, split.path, query, body)
                self._send(status, "application/json; charset=utf-8", json.dumps(answer, ensure_ascii=False).encode("utf-8"))
            else:
                status, ctype, data = pages.page(sandbox, split.path)
                self._send(status, ctype, data, pages.HEADERS if ctype.startswith("text/html") else {})

        def _send(self, status: int, ctype: str, data: bytes, headers: Mapping[str, str] = {}) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Content-Type-Options", "nosniff")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting (a timeout): nothing to do

    return Handler


def _control(sandbox: Sandbox, method: str, path: str, query: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    """The sandbox's own API: GET/POST/DELETE /sandbox/faults, POST /sandbox/config, GET /sandbox/info, GET /sandbox/calls."""
    try:
        data = json.loads(body.decode("utf-8")) if body else {}
        if path == "/sandbox/faults" and method == "POST":
            kind = data.pop("kind", None)
            if kind == "latency" and "endpoint" not in data:  # without an endpoint: every call, from now on
                sandbox.latency = float(data.get("seconds", 0))
                return 200, {"latency": sandbox.latency}
            fault = sandbox.inject(kind, **data)
            return 200, {"queued": asdict(fault)}
        if path == "/sandbox/faults" and method == "DELETE":
            sandbox.clear_faults()
            sandbox.latency = 0.0
            return 200, {"faults": []}
        if path == "/sandbox/faults":
            return 200, {"faults": [asdict(f) for f in sandbox.faults], "latency": sandbox.latency}
        if path == "/sandbox/config" and method == "POST":
            if "quotas" in data:
                sandbox.quotas.update({str(k): int(v) for k, v in data["quotas"].items()})
            if "publish_sequence" in data:
                sandbox.publish_sequence = tuple(int(s) for s in data["publish_sequence"])
            if "strict" in data:
                sandbox.strict = bool(data["strict"])
            return 200, {"quotas": sandbox.quotas, "publish_sequence": list(sandbox.publish_sequence), "strict": sandbox.strict}
        if path == "/sandbox/info":
            return 200, sandbox.info(query.get("challenge"))
        if path == "/sandbox/calls":
            return 200, {"calls": [asdict(c) for c in sandbox.calls]}
    except (ValueError, TypeError, AttributeError) as error:
        return 400, {"error": str(error)}
    return 404, {"error": "unknown sandbox path"}
