"""`wxpub preview`: a small local server that shows a post as its readers will see it, live.

Standard library HTTP on 127.0.0.1, one page (page.html, no external resources), and a
watcher (watchfiles) over the project. When a post, an image, a theme or wxpub.toml changes, every
open page is told over Server-Sent Events and fetches the article again, which it swaps in place so
the scroll position stays. Whatever goes wrong in a post is sent to the page as its error line;
the server keeps running.

Routes: `/` (the post, or a folder's index), `/post/<relative path>` (one post of the folder),
`/api/article`, `/api/problems`, `/api/index` (JSON), `/img/<sha256>` (prepared image bytes),
`/events` (the change stream). A query the page would never send (a font size that is no number, a
post outside the folder) is answered 400 with its one-line error.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import UsageError, WxpubError

if TYPE_CHECKING:
    from .article import Choices

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")
WATCHED_SUFFIXES = MARKDOWN_SUFFIXES + (".css", ".toml", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp", ".tif", ".tiff", ".heic", ".avif")
IGNORED_DIRS = (".wxpub-cache", ".git", ".venv", "node_modules", "__pycache__")


@dataclass(frozen=True)
class Target:
    """What `wxpub preview` was pointed at: one post, or a folder of posts."""

    path: Path  # resolved
    folder: bool

    @classmethod
    def of(cls, path: str | Path) -> Target:
        found = Path(path).resolve()
        if found.is_dir():
            return cls(found, True)
        if not found.is_file():
            raise UsageError(f"{path}: no such file or folder", hint="give a Markdown post or a folder of posts")
        return cls(found, False)

    @property
    def root(self) -> Path:
        """The folder to watch: the project the post belongs to."""
        from ..config import find_project_root

        return find_project_root(self.path / "post.md" if self.folder else self.path)

    def post(self, relative: str | None) -> Path:
        """The post a request names (within the folder), or the one post."""
        if not self.folder:
            return self.path
        if not relative:
            raise UsageError("no post given", hint="open a post from the index")
        named = unquote(relative)
        found = self._inside(self.path / named)
        if found is None:
            raise UsageError(f"{named if named.isprintable() else repr(named)}: not a post of {self.path}", hint="open a post from the index")
        return found

    def posts(self) -> list[Path]:
        """The folder's posts, by the same rule as post(): a link to a file elsewhere is none of them."""
        found = (
            p for p in self.path.rglob("*")
            if p.suffix.lower() in MARKDOWN_SUFFIXES and not set(p.relative_to(self.path).parts) & set(IGNORED_DIRS)
        )
        return sorted(p for p in found if self._inside(p) is not None)

    def _inside(self, candidate: Path) -> Path | None:
        """The post file `candidate` is (links followed), if it is a Markdown file inside the folder:
        the one rule for what the preview may read as a post."""
        try:
            real = candidate.resolve()
            inside = real.is_relative_to(self.path) and real.suffix.lower() in MARKDOWN_SUFFIXES and real.is_file()
        except (OSError, ValueError):  # a name with a NUL byte, a loop of links
            return None
        return real if inside else None


@dataclass(frozen=True)
class Asked:
    """What a page asked for: a post and the choices of its controls, from the query, checked."""

    post: Path
    choices: Choices


class Changes:
    """A version number that goes up on every change under the project, and a way to wait for it."""

    def __init__(self) -> None:
        self.version = 0
        self.closed = False
        self._condition = threading.Condition()

    def bump(self) -> None:
        with self._condition:
            self.version += 1
            self._condition.notify_all()

    def close(self) -> None:
        with self._condition:
            self.closed = True
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """The version once it differs from `seen` (or after `timeout` seconds)."""
        with self._condition:
            self._condition.wait_for(lambda: self.version != seen or self.closed, timeout)
            return self.version


class PreviewServer:
    """The server, its watcher and what it has prepared: start(), url, stop()."""

    def __init__(self, target: Target, port: int = 0, on_change: Callable[[list[str]], None] | None = None) -> None:
        self.target = target
        self.port = port
        self.changes = Changes()
        self.on_change = on_change
        self._images: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()
        # Articles built at a change version, by what pages asked for: the watcher builds them
        # again as soon as a file changes, so the page's request finds them ready.
        self._built: dict[Asked, tuple[int, dict[str, Any]]] = {}
        self._building = threading.Lock()
        self._entries: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}  # the index, by file stamp
        self.watch_error: str | None = None  # why live reload stopped, if it did
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    def bind(self) -> None:
        """Listen on 127.0.0.1 (raises OSError when the port is taken)."""
        server = self

        class Handler(_Handler):
            preview = server

        self._httpd = _HTTPServer(("127.0.0.1", self.port), Handler)

    def start(self) -> str:
        """Bind if needed, serve and watch in background threads; the address."""
        if self._httpd is None:
            self.bind()
        assert self._httpd is not None
        ready = threading.Event()
        for run in (self._httpd.serve_forever, lambda: self._watch(ready)):
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            self._threads.append(thread)
        ready.wait(5)
        return self.url

    def stop(self) -> None:
        self._stop.set()
        self.changes.close()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for thread in self._threads:
            thread.join(5)

    def _watch(self, ready: threading.Event) -> None:
        from watchfiles import DefaultFilter, watch

        class Relevant(DefaultFilter):
            """Posts, images, themes and config; never the image cache wxpub writes itself."""

            def __call__(self, change: Any, path: str) -> bool:
                return super().__call__(change, path) and path.lower().endswith(WATCHED_SUFFIXES) and not any(
                    f"/{name}/" in path.replace("\\", "/") for name in IGNORED_DIRS
                )

        # A save shows on the page within the 300 ms promised: yield 5 ms after the last event (a later event refreshes again).
        watcher = watch(self.target.root, watch_filter=Relevant(), stop_event=self._stop, step=5, debounce=300, yield_on_timeout=True, rust_timeout=200)
        try:
            for changed in watcher:
                ready.set()  # the first answer (a change, or none within 200 ms) means it is watching
                if changed:
                    self._changed(changed)
        except Exception as error:  # noqa: BLE001 - e.g. out of inotify watches: the pages say so
            self.watch_error = f"{type(error).__name__}: {error}"
            ready.set()

    def _changed(self, changed: set[tuple[Any, str]]) -> None:
        from ..config import forget_settings

        if any(path.endswith(".toml") for _, path in changed):
            forget_settings()
        if not all(path.lower().endswith(MARKDOWN_SUFFIXES) for _, path in changed):
            self._entries.clear()  # a theme, an image or the config may change any post's problems
        # Build what the open pages show before telling them, so their requests find it ready.
        upcoming = self.changes.version + 1
        for asked in list(self._built)[-4:]:
            self.article(asked, upcoming)
        self.changes.bump()
        if self.on_change is not None:
            self.on_change(sorted({path for _, path in changed}))

    # --- what the handler asks for ---------------------------------------------------------------

    def asked(self, query: dict[str, str]) -> Asked:
        """The post and choices a page's query names (for the article and its problems alike);
        UsageError, in one line, for a value the page would never send."""
        from .article import Choices

        return Asked(self.target.post(query.get("post")), Choices.from_query(query))

    def article(self, asked: Asked, version: int | None = None) -> dict[str, Any]:
        """The article JSON for what a page asked, built once per change (`version`: the current one)."""
        with self._building:
            version = self.changes.version if version is None else version
            found = self._built.get(asked)
            if found is not None and found[0] == version:
                return found[1]
            built = self._build(asked, version)
            self._built.pop(asked, None)
            self._built[asked] = (version, built)
            while len(self._built) > 16:
                self._built.pop(next(iter(self._built)))
            return built

    def _build(self, asked: Asked, version: int) -> dict[str, Any]:
        from ..config import preview_options
        from .article import build_article

        path = asked.post
        try:
            article = build_article(path, asked.choices, _account_name(path, preview_options(path).account_name))
        except WxpubError as error:
            return {"version": version, "error": error.one_line()}
        except Exception as error:  # noqa: BLE001 - the page shows it; the server keeps serving
            return {"version": version, "error": _internal(error)}
        with self._lock:
            self._images.update(article.images)
        found = article.to_json()
        if self.watch_error:
            found["warnings"].insert(0, f"live reload is off ({self.watch_error}); reload the page after saving")
        return {"version": version, "error": None, **found}

    def problems(self, asked: Asked) -> dict[str, Any]:
        from .article import find_problems

        try:
            found = find_problems(asked.post, asked.choices)
        except WxpubError as error:
            return {"error": error.one_line(), "problems": []}
        return {"error": None, "path": str(asked.post), "problems": [p.to_json() for p in found]}

    def index(self) -> dict[str, Any]:
        from ..images import Downloads
        from .article import index_entry

        entries = []
        downloads = Downloads()
        for path in self.target.posts():
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._entries.get(path)
            if cached is not None and cached[0] == stamp:
                entries.append(cached[1])
                continue
            try:
                entry = index_entry(path, downloads).to_json(self.target.path)
            except WxpubError as error:
                entry = {"path": path.relative_to(self.target.path).as_posix(), "title": path.stem, "error": error.one_line(), "problems": 0}
            self._entries[path] = (stamp, entry)
            entries.append(entry)
        return {"folder": str(self.target.path), "posts": entries}

    def image(self, sha: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._images.get(sha)


def _internal(error: Exception) -> str:
    """A bug in wxpub, in one line as the command line says it (the page and terminal get no traceback)."""
    return f"internal error, {type(error).__name__}: {error} (please report it)"


def _account_name(path: Path, configured: str) -> str:
    """The name shown under the title: `[preview] account_name`, else the name of the post's account."""
    if configured:
        return configured
    from ..convert import post_account
    from ..post import read_post

    account = post_account(read_post(path))
    return account.name if account is not None else ""


def page_html() -> str:
    return files("wxpub.preview").joinpath("page.html").read_text(encoding="utf-8")


class _HTTPServer(ThreadingHTTPServer):
    """http.server's threads, with what escapes a request said in one line (the default prints a traceback)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            return  # a browser dropped a kept-alive connection (a tab closed): nothing went wrong
        print(f"wxpub preview: {_internal(error) if isinstance(error, Exception) else error}", file=sys.stderr)


class _Handler(BaseHTTPRequestHandler):
    """Serves the page, its JSON, the prepared images and the change stream."""

    preview: PreviewServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # the terminal is the writer's; requests are not news

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away
        except Exception as error:  # noqa: BLE001 - a bug: one line for the page and the terminal, never a traceback
            print(f"wxpub preview: {_internal(error)}", file=sys.stderr)
            self._json({"error": _internal(error)}, 500)

    def _answer(self) -> None:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost"):
            # Another name resolving here (DNS rebinding) must not let a web page read the posts.
            self._send(403, b"only for 127.0.0.1", "text/plain")
            return
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        route = url.path
        if route == "/" or route.startswith("/post/"):
            mode = "index" if self.preview.target.folder and route == "/" else "post"
            post = route.removeprefix("/post/") if route.startswith("/post/") else ""
            from ..themes import list_themes

            boot = {"mode": mode, "post": unquote(post), "folder": self.preview.target.folder, "themes": [t.name for t in list_themes()]}
            # "</" cannot end the script element early: JSON escapes it as "<\/".
            page = page_html().replace("__WXPUB_BOOT__", json.dumps(boot).replace("</", "<\\/"))
            self._send(200, page.encode("utf-8"), "text/html; charset=utf-8")
        elif route in ("/api/article", "/api/problems"):
            try:
                asked = self.preview.asked(query)
            except WxpubError as error:
                self._json({"error": error.one_line()}, 400)
                return
            self._json(self.preview.article(asked) if route == "/api/article" else self.preview.problems(asked))
        elif route == "/api/index":
            self._json(self.preview.index())
        elif route.startswith("/img/"):
            found = self.preview.image(route.removeprefix("/img/"))
            if found is None:
                self._send(404, b"not prepared", "text/plain")
            else:
                self._send(200, found[0], found[1], cache=True)
        elif route == "/events":
            self._events()
        else:
            self._send(404, b"not found", "text/plain")

    def _json(self, value: Any, status: int = 200) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _send(self, status: int, body: bytes, mime: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        # Images are named by their hash, so they never change; nothing else may be cached.
        self.send_header("Cache-Control", "max-age=31536000, immutable" if cache else "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        changes = self.preview.changes
        version = changes.version
        try:
            self.wfile.write(f"retry: 500\ndata: {version}\n\n".encode())
            self.wfile.flush()
            while not changes.closed:
                latest = changes.wait(version, timeout=15)
                # With no change, a comment line every 15 s finds closed pages, so their threads end.
                self.wfile.write(f"data: {latest}\n\n".encode() if latest != version else b": ping\n\n")
                self.wfile.flush()
                version = latest
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def serve(path: str | Path, port: int = 0, on_change: Callable[[list[str]], None] | None = None) -> PreviewServer:
    """Start previewing `path` (a post or a folder of posts) on 127.0.0.1:`port`; call stop() when done."""
    server = PreviewServer(Target.of(path), port=port, on_change=on_change)
    server.start()
    return server
