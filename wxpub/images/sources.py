"""Where images come from: files inside the project, http(s) URLs and data: URIs, checked and read."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

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
        raise probe.fail("no such file", hint=f"paths are relative to {display_path(base)}", kind="missing")
    real = path.resolve()
    if not real.is_relative_to(root_dir):
        raise probe.fail(
            f"is outside the project folder {display_path(root_dir)}",
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
    import urllib.error
    import urllib.request

    class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
            if urlsplit(newurl).scheme.lower() not in ("http", "https"):
                raise source.fail(f"the server redirected to a non-web address: {short(newurl)}")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    from ..version import __version__

    opener = urllib.request.build_opener(_HttpOnlyRedirects())
    request = urllib.request.Request(
        source.location, headers={"User-Agent": f"wxpub/{__version__}", "Accept": "image/*"}
    )
    deadline = time.monotonic() + options.timeout
    cap = options.max_source_bytes
    try:
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
                if time.monotonic() > deadline:
                    raise source.fail(f"download took longer than {options.timeout:g} s")
                chunks.append(chunk)
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise source.fail(f"download failed: HTTP {exc.code} {exc.reason}", hint="check the URL") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise source.fail(f"download timed out after {options.timeout:g} s") from None
        raise source.fail(f"cannot download: {reason}", hint="check the URL and the network") from None
    except (socket.timeout, TimeoutError):
        raise source.fail(f"download timed out after {options.timeout:g} s") from None
    except (OSError, ValueError) as exc:
        raise source.fail(f"cannot download: {exc}") from None


def short(text: str) -> str:
    return text if len(text) <= 80 else text[:60] + "…" + text[-12:]


def display_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def human_size(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1000:
        return f"{size / 1000:.0f} KB"
    return f"{size} B"
