"""Where images come from: files inside the project, http(s) URLs and data: URIs, checked and read."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence
from urllib.parse import unquote, urlsplit

from ..config import shown
from ..errors import ImageError
from .model import ImageOptions


@dataclass(frozen=True)
class ImageSource:
    """Where an image comes from, checked: a file inside the project, an http(s) URL or a data: URI."""

    src: str  # as written in the post
    kind: Literal["file", "url", "data"]
    location: str  # the resolved file path, the URL, or the data: URI itself
    post: Path | None = None  # for error messages
    line: int | None = None

    def fail(self, message: str, hint: str | None = None, kind: str = "unusable") -> ImageError:
        return ImageError(
            f"image '{short(self.src)}': {message}", path=self.post, line=self.line, hint=hint, kind=kind, reason=message
        )


def resolve_source(
    src: str, post_path: str | Path | None, root: str | Path, *, line: int | None = None
) -> ImageSource:
    """Check where `src` points without reading it; files must lie inside `root`, symlinks included."""
    post = Path(post_path) if post_path is not None else None
    text = src.strip()
    probe = ImageSource(src, "file", text, post, line)
    if not text:
        raise probe.fail("the image has no source", hint="write ![alt](path/to/image.jpg)")
    lowered = text.lower()
    if lowered.startswith("data:"):
        return ImageSource(src, "data", text, post, line)
    if lowered.startswith("//"):
        text, lowered = "https:" + text, "https:" + lowered
    if lowered.startswith(("http://", "https://")):
        return ImageSource(src, "url", text, post, line)
    if re.match(r"^[a-z][a-z0-9+.-]+:", lowered):
        raise probe.fail(
            f"'{text.split(':', 1)[0]}:' sources are not supported",
            hint="use a path inside the project, an http(s) URL or a data: URI",
        )
    root_dir = Path(root).resolve()
    base = post.resolve().parent if post is not None else root_dir
    path = _find_file(text, base, root_dir)
    if path is None:
        raise probe.fail("no such file", hint=f"paths are relative to {shown(base)}", kind="missing")
    real = path.resolve()
    if not real.is_relative_to(root_dir):
        raise probe.fail(
            f"is outside the project folder {shown(root_dir)}",
            hint="only images inside the project are read; copy the image into it",
            kind="outside",
        )
    if not real.is_file():
        raise probe.fail("is not a file")
    return ImageSource(src, "file", str(real), post, line)


def _find_file(text: str, base: Path, root: Path) -> Path | None:
    candidates = [text]
    without_suffix = text.split("#", 1)[0].split("?", 1)[0]
    for variant in (unquote(text), without_suffix, unquote(without_suffix)):
        if variant not in candidates:
            candidates.append(variant)
    for candidate in candidates:
        path = Path(candidate).expanduser() if candidate.startswith("~") else Path(candidate)
        if path.is_absolute():
            if path.exists():
                return path
            # Site generators write /images/x.png for "from the site root": try the project root.
            rooted = root / candidate.lstrip("/\\")
            if rooted.exists():
                return rooted
        elif (base / path).exists():
            return base / path
    return None


def load_source(source: ImageSource, options: ImageOptions = ImageOptions()) -> bytes:
    """The raw bytes of a source: read, decoded from the data: URI, or downloaded (size cap, timeout)."""
    if source.kind == "file":
        try:
            size = os.stat(source.location).st_size
            if size > options.max_source_bytes:
                raise source.fail(f"is {human_size(size)}, more than the {human_size(options.max_source_bytes)} allowed")
            return Path(source.location).read_bytes()
        except OSError as exc:
            raise source.fail(f"cannot be read: {exc.strerror}") from None
    if source.kind == "data":
        return _decode_data_uri(source, options)
    return _download(source, options)


def _decode_data_uri(source: ImageSource, options: ImageOptions) -> bytes:
    import base64
    import binascii

    header, comma, payload = source.location.partition(",")
    if not comma:
        raise source.fail("the data: URI has no ',' before its data")
    params = header[5:].split(";")
    mediatype = params[0].strip().lower()
    if mediatype and not mediatype.startswith("image/"):
        raise source.fail(f"the data: URI holds {mediatype}, not an image")
    if "base64" in (p.strip().lower() for p in params[1:]):
        try:
            data = base64.b64decode(re.sub(r"\s+", "", payload), validate=True)
        except (binascii.Error, ValueError):
            raise source.fail("the data: URI is not valid base64") from None
    else:
        data = unquote(payload).encode("latin-1", "replace")
    if len(data) > options.max_source_bytes:
        raise source.fail(f"the data: URI holds more than {human_size(options.max_source_bytes)}")
    return data


def _download(source: ImageSource, options: ImageOptions) -> bytes:
    import socket
    import ssl
    import urllib.error
    import urllib.request

    from ..version import __version__

    guard = _Guard(source, options)

    class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
            if urlsplit(newurl).scheme.lower() not in ("http", "https"):
                raise source.fail(f"the server redirected to a non-web address: {short(newurl)}")
            # The next hop's address is checked when its connection opens (_Guard.connect).
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    # No proxy from the environment: through a proxy the address actually reached cannot be checked.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _HttpOnlyRedirects(), guard.http_handler(), guard.https_handler()
    )
    request = urllib.request.Request(
        source.location, headers={"User-Agent": f"wxpub/{__version__}", "Accept": "image/*"}
    )
    cap = options.max_source_bytes
    try:
        with guard.watching():
            with opener.open(request, timeout=options.timeout) as response:
                ctype = response.headers.get_content_type()
                if not (ctype.startswith("image/") or ctype in ("application/octet-stream", "binary/octet-stream")):
                    raise source.fail(
                        f"the server sent {ctype}, not an image",
                        hint="link the image file itself, not the page that shows it",
                    )
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise source.fail(f"is {human_size(int(declared))}, more than the {human_size(cap)} allowed")
                chunks: list[bytes] = []
                total = 0
                while chunk := response.read(64 * 1024):
                    total += len(chunk)
                    if total > cap:
                        raise source.fail(f"is larger than the {human_size(cap)} allowed")
                    chunks.append(chunk)
                guard.in_time()  # a transfer cut by the watchdog ends like a whole one
                return b"".join(chunks)
    except ImageError:
        raise
    except urllib.error.HTTPError as exc:
        raise source.fail(f"download failed: HTTP {exc.code} {exc.reason}", hint="check the URL") from None
    except Exception as exc:
        guard.in_time()
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, ImageError):
            raise reason from None
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise source.fail(f"download timed out after {options.timeout:g} s") from None
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise source.fail(
                f"the server's HTTPS certificate is not valid: {reason.verify_message}",
                hint="download it from an address with a valid certificate, or save it beside the post",
            ) from None
        raise source.fail(f"cannot download: {reason}", hint="check the URL and the network") from None


class _Guard:
    """One download's rules: each connection goes only to a checked address, and all of it ends by the deadline."""

    def __init__(self, source: ImageSource, options: ImageOptions) -> None:
        import threading

        self.source, self.options = source, options
        self.deadline = time.monotonic() + options.timeout
        self.sockets: list[Any] = []
        self.lock = threading.Lock()
        self.expired = False

    def connect(self, address: tuple[str, int], timeout: Any = None, source_address: Any = None) -> Any:
        """socket.create_connection, to an address of `host` that the rules allow, and watched."""
        import socket

        host, port = address
        addresses = resolve_allowed(host, port, self.source, self.options.allow_private_hosts, self.deadline)
        error: OSError | None = None
        for family, kind, proto, ip in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(max(0.001, min(self.options.timeout, self.deadline - time.monotonic())))
                self.watch(sock)
                sock.connect(ip)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        raise error or OSError(f"cannot connect to {host}")

    def watch(self, sock: Any) -> None:
        with self.lock:
            self.sockets.append(sock)
            if self.expired:
                self._cut(sock)

    def http_handler(self) -> Any:
        import http.client
        import urllib.request

        guard = self

        class Connection(http.client.HTTPConnection):
            def connect(self) -> None:
                self._create_connection = guard.connect
                super().connect()

        class Handler(urllib.request.HTTPHandler):
            def http_open(self, req: Any) -> Any:
                return self.do_open(Connection, req)

        return Handler()

    def https_handler(self) -> Any:
        import http.client
        import urllib.request

        guard = self

        class Connection(http.client.HTTPSConnection):
            def connect(self) -> None:
                self._create_connection = guard.connect
                super().connect()
                guard.watch(self.sock)  # the TLS socket wraps the plain one, which no longer reads

        class Handler(urllib.request.HTTPSHandler):
            def https_open(self, req: Any) -> Any:
                return self.do_open(Connection, req)

        return Handler()

    def watching(self) -> Any:
        """While the download runs, a timer that cuts every connection at the deadline: a server that
        sends its headers or its bytes slowly is not waited for beyond it, however often it sends."""
        import contextlib
        import threading

        @contextlib.contextmanager
        def timer() -> Iterator[None]:
            watchdog = threading.Timer(max(0.0, self.deadline - time.monotonic()), self._expire)
            watchdog.daemon = True
            watchdog.start()
            try:
                yield
            finally:
                watchdog.cancel()
                with self.lock:
                    for sock in self.sockets:
                        try:
                            sock.close()
                        except OSError:
                            pass

        return timer()

    def _expire(self) -> None:
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                self._cut(sock)

    @staticmethod
    def _cut(sock: Any) -> None:
        import socket

        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a read that is waiting; close() alone would not
        except OSError:
            pass

    def in_time(self) -> None:
        if self.expired or time.monotonic() > self.deadline:
            raise self.source.fail(f"download took longer than {self.options.timeout:g} s")


def resolve_allowed(
    host: str, port: int, source: ImageSource, allowed: Sequence[str], deadline: float | None = None
) -> list[Any]:
    """The addresses of `host` to connect to: every one must be public, or the host or address allowed.

    Checked on what the name resolves to (a public name can point at 127.0.0.1), once per
    connection, so every redirect is checked too; the connection then goes to the address checked.
    Nothing is sent to a refused host, so no answer of one can show in a message.
    """
    import ipaddress

    name = host.strip("[]").rstrip(".").lower()
    try:
        found = _lookup(name, port, deadline)
    except TimeoutError:
        raise source.fail(f"looking up {name} took too long", hint="check the URL and the network") from None
    except (OSError, UnicodeError):
        raise source.fail(f"cannot download: the host {name} is not found", hint="check the URL and the network") from None
    rules = [rule.strip().lower() for rule in allowed]
    for _, _, _, _, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_global and not address.is_multicast:
            continue
        if name in rules or str(address) in rules or any(_in_network(address, rule) for rule in rules):
            continue
        what = "a loopback" if address.is_loopback else "a link-local" if address.is_link_local else (
            "a private" if address.is_private else "a reserved or non-public")
        shown = name if name == str(address) else f"{name} ({address})"
        raise source.fail(
            f"refused: {shown} is {what} address, and images are downloaded only from public ones",
            hint=f'if the project trusts it, add it to wxpub.toml: [images] allow_private_hosts = ["{name}"]',
        )
    return [(family, kind, proto, sockaddr) for family, kind, proto, _, sockaddr in found]


def _lookup(name: str, port: int, deadline: float | None) -> list[Any]:
    """socket.getaddrinfo, given up at the deadline: the resolver has no timeout of its own to set."""
    import socket
    import threading

    if deadline is None:
        return socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    outcome: list[Any] = []

    def look() -> None:
        try:
            outcome.append(socket.getaddrinfo(name, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            outcome.append(exc)

    worker = threading.Thread(target=look, name="wxpub-resolve", daemon=True)  # left to finish on its own
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if not outcome:
        raise TimeoutError
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return list(outcome[0])


def _in_network(address: Any, rule: str) -> bool:
    import ipaddress

    if "/" not in rule:
        return False
    try:
        return bool(address in ipaddress.ip_network(rule, strict=False))
    except ValueError:
        return False


def short(text: str) -> str:
    return text if len(text) <= 80 else text[:60] + "…" + text[-12:]


def human_size(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1000:
        return f"{size / 1000:.0f} KB"
    return f"{size} B"
