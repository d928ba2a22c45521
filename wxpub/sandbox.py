"""A local stand-in for the WeChat API on 127.0.0.1, for tests and for a first try without an account.

It speaks the endpoints wxpub uses (token, stable_token, media/uploadimg, material/add_material,
draft/*, freepublish/*, message/mass/preview) with the documented limits and error codes, keeps its
state in a folder (state.json and the uploaded files), serves the uploaded images back, shows the
drafts as pages (`/`), and injects faults on request (`Sandbox.inject`, or `POST /sandbox/faults`).

Where the official documentation leaves a question open, the sandbox takes the pessimistic answer:
- title, author and digest are measured in units where a non-ASCII character counts 2;
- a body with `\\uXXXX` escapes is stored escaped, as if the server did not decode them;
- an `<img>` whose src is not one of its own upload URLs is removed whole from the content;
- a draft takes at most 8 articles (45008).

Only the standard library is used, besides wxpub's own table of limits.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import hashlib
import html
import json
import re
import secrets
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from .cachefiles import write_atomic
from .limits import (
    ARTICLES_MAX,
    AUTHOR_MAX,
    CONTENT_MAX_BYTES,
    CONTENT_MAX_CHARS,
    DIGEST_MAX,
    MATERIAL_IMAGE_MAX_BYTES,
    SOURCE_URL_MAX_BYTES,
    TITLE_MAX,
    UPLOADIMG_MAX_BYTES,
    wechat_length,
)

SANDBOX_APPID = "wx0000000000sandbox"
SANDBOX_SECRET = "sandbox-secret-not-a-real-one"
TOKEN_LIFE = 7200
TOKEN_OVERLAP = 300  # old and new tokens both work for 5 minutes after a renewal

# Daily quotas of a new account (API_Call_Limits); configurable so that 45009 can be provoked.
DEFAULT_QUOTAS: dict[str, int] = {
    "token": 2000,
    "stable_token": 500_000,
    "media/uploadimg": 100_000,
    "material/add_material": 100_000,
    "draft/add": 1000,
    "draft/update": 1000,
    "draft/delete": 1000,
    "draft/count": 1000,
    "draft/batchget": 1000,
    "draft/get": 500,
    "freepublish/submit": 100,
    "freepublish/get": 100,
    "message/mass/preview": 100,
}
GET_ONLY = {"token", "draft/count"}
FAULT_KINDS = ("errcode", "http", "drop-before", "drop-after", "delay", "expire-token", "supersede-token")

_MAGIC = {
    b"\xff\xd8\xff": "jpg",
    b"\x89PNG\r\n\x1a\n": "png",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
    b"BM": "bmp",
}
_MIME = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "bmp": "image/bmp"}
_UPLOAD_PATH = re.compile(r"^/mmbiz_(jpg|png|gif|bmp)/([A-Za-z0-9]+)/0$")


@dataclass
class Fault:
    """A fault to inject: on calls to `endpoint` ("*" for any), skip `after` of them, then hit `times`.

    kinds: errcode (answer `errcode`), http (answer HTTP `status`), drop-before (wait `seconds`, then
    close the connection without acting), drop-after (act, then close without answering), delay (sleep `seconds` first),
    expire-token / supersede-token (kill the current tokens, as time or a force refresh elsewhere would).
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


class _ApiError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode, self.errmsg = errcode, errmsg


class _Drop(Exception):
    """Close the connection without an answer."""


class Sandbox:
    """The sandbox server. As a context manager it runs in a thread on 127.0.0.1 (port 0: any free one)."""

    def __init__(
        self,
        state_dir: str | Path | None = None,
        *,
        port: int = 0,
        accounts: Mapping[str, str] | None = None,
        quotas: Mapping[str, int] | None = None,
        latency: float = 0.0,
        publish_sequence: tuple[int, ...] = (1, 0),
        ip_whitelist: tuple[str, ...] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="wxpub-sandbox-")
            state_dir = self._tmp.name
        self.state_dir = Path(state_dir)
        self.media_dir = self.state_dir / "media"
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        # only hashes of secrets and tokens are kept, in memory and on disk
        self._accounts = {appid: _digest(secret) for appid, secret in (accounts or {SANDBOX_APPID: SANDBOX_SECRET}).items()}
        self.quotas = {**DEFAULT_QUOTAS, **(quotas or {})}
        self.latency = latency
        self.publish_sequence = tuple(publish_sequence)
        self.ip_whitelist = ip_whitelist
        self.clock = clock
        self.faults: list[Fault] = []
        self.calls: list[Call] = []
        self._lock = threading.RLock()
        self._plain: dict[str, str] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.state = self._load()

    # -- life ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The API base to give wxpub (WXPUB_API_BASE)."""
        return f"http://127.0.0.1:{self.port}/"

    def bind(self) -> Sandbox:
        """Listen on 127.0.0.1:port (OSError when it is taken); `url` is known from here on."""
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
            self._server.daemon_threads = True
            self.port = self._server.server_address[1]
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

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

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

    def expire_tokens(self) -> None:
        """Every live token expires now (42001), as two hours passing would do."""
        self._kill_tokens("expired")

    def supersede_tokens(self) -> None:
        """Every live token dies now (40001), as a force refresh on another machine would do."""
        self._kill_tokens("superseded")

    def count(self, endpoint: str | None = None) -> int:
        """Calls answered so far (for one endpoint, or all), faults included."""
        with self._lock:
            return sum(1 for call in self.calls if endpoint is None or call.endpoint == endpoint)

    def drafts(self, appid: str = SANDBOX_APPID) -> dict[str, Any]:
        with self._lock:
            return {mid: d for mid, d in self.state["drafts"].items() if d["appid"] == appid}

    def uploads(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.state["uploads"])

    # -- state ---------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        path = self.state_dir / "state.json"
        empty: dict[str, Any] = {
            "tokens": {},
            "current": {},
            "uploads": {},
            "drafts": {},
            "publishes": {},
            "published": {},
            "previews": [],
            "usage": {},
        }
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return empty
        return {**empty, **loaded}

    def _save(self) -> None:
        write_atomic(self.state_dir / "state.json", json.dumps(self.state, ensure_ascii=False, indent=1).encode("utf-8"))

    def _kill_tokens(self, why: str) -> None:
        with self._lock:
            for entry in self.state["tokens"].values():
                if entry.get("dead") is None:
                    entry["dead"] = why
            self.state["current"].clear()
            self._save()

    # -- dispatch ------------------------------------------------------------------------------
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
        drop_after = False
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
            elif fault.kind == "drop-after":
                drop_after = True
            elif fault.kind == "http":
                self._record(endpoint, -fault.status)
                return fault.status, {"error": "injected"}
            elif fault.kind == "errcode":
                self._record(endpoint, int(fault.errcode or 0))
                return 200, {"errcode": fault.errcode, "errmsg": f"injected fault hint: [sandbox] rid: {secrets.token_hex(4)}"}
        try:
            result = self._dispatch(method, endpoint, query, body, content_type, client_ip)
            errcode = 0
        except _ApiError as error:
            errcode = error.errcode
            result = {"errcode": error.errcode, "errmsg": f"{error.errmsg} hint: [sandbox] rid: {secrets.token_hex(4)}"}
        self._record(endpoint, errcode)
        if drop_after:
            raise _Drop()
        return 200, result

    def _record(self, endpoint: str, errcode: int) -> None:
        with self._lock:
            self.calls.append(Call(endpoint, errcode, time.time()))

    def _dispatch(self, method: str, endpoint: str, query: Mapping[str, str], body: bytes, content_type: str, client_ip: str) -> dict[str, Any]:
        handler = _ENDPOINTS.get(endpoint)
        if handler is None:
            raise _ApiError(48001, f"api unauthorized: the sandbox does not know {endpoint}")
        if endpoint in GET_ONLY and method != "GET":
            raise _ApiError(43001, "require GET method")
        if endpoint not in GET_ONLY and method != "POST":
            raise _ApiError(43002, "require POST method")
        with self._lock:
            if endpoint in ("token", "stable_token"):
                appid = self._check_ip_and_secret(endpoint, query, body, client_ip)
            else:
                appid = self._check_token(query.get("access_token"))
            self._count_quota(appid, endpoint)
            result = handler(self, appid, query, body, content_type)
            self._save()
            return result

    def _check_ip_and_secret(self, endpoint: str, query: Mapping[str, str], body: bytes, client_ip: str) -> str:
        if endpoint == "stable_token":
            data = _json(body)
            appid, secret, grant = data.get("appid"), data.get("secret"), data.get("grant_type")
        else:
            appid, secret, grant = query.get("appid"), query.get("secret"), query.get("grant_type")
        if grant != "client_credential":
            raise _ApiError(40002, "invalid grant_type")
        if not appid:
            raise _ApiError(41002, "appid missing")
        if not secret:
            raise _ApiError(41004, "appsecret missing")
        if appid not in self._accounts:
            raise _ApiError(40013, "invalid appid")
        if self._accounts[appid] != _digest(str(secret)):
            raise _ApiError(40125, "invalid appsecret, view more at http://t.cn/RAEkdVq")
        if self.ip_whitelist is not None and client_ip not in self.ip_whitelist:
            raise _ApiError(40164, f"invalid ip {client_ip} ipv6 ::ffff:{client_ip}, not in whitelist")
        return str(appid)

    def _check_token(self, token: str | None) -> str:
        if not token:
            raise _ApiError(41001, "access_token missing")
        entry = self.state["tokens"].get(_digest(token))
        if entry is None:
            raise _ApiError(40014, "invalid access_token")
        now = self.clock()
        if entry.get("dead") == "superseded" or (entry.get("replaced_at") and now > entry["replaced_at"] + TOKEN_OVERLAP):
            raise _ApiError(40001, "invalid credential, access_token is invalid or not latest")
        if entry.get("dead") == "expired" or now >= entry["expires_at"]:
            raise _ApiError(42001, "access_token expired")
        return str(entry["appid"])

    def _count_quota(self, appid: str, endpoint: str) -> None:
        day = time.strftime("%Y-%m-%d", time.localtime(self.clock()))
        usage = self.state["usage"].setdefault(day, {})
        key = f"{appid} {endpoint}"
        if usage.get(key, 0) >= self.quotas.get(endpoint, 10**9):
            raise _ApiError(45009, "reach max api daily quota limit")
        usage[key] = usage.get(key, 0) + 1

    # -- endpoints -----------------------------------------------------------------------------
    def _issue(self, appid: str, kind: str) -> tuple[str, int]:
        now = self.clock()
        slot = f"{kind}:{appid}"
        current = self.state["current"].get(slot)
        entry = self.state["tokens"].get(current) if current else None
        if kind == "stable" and entry and entry.get("dead") is None and entry["expires_at"] - now > TOKEN_OVERLAP and current in self._plain:
            # normal mode: the same token, with what remains of its life
            return self._plain[current], int(entry["expires_at"] - now)
        if entry is not None:
            entry["replaced_at"] = now  # still valid for the overlap
        token = f"{'97' if kind == 'stable' else '96'}_{secrets.token_urlsafe(96)}"
        digest = _digest(token)
        self.state["tokens"][digest] = {"appid": appid, "kind": kind, "expires_at": now + TOKEN_LIFE, "dead": None}
        self.state["current"][slot] = digest
        # The token itself is kept in memory only (state.json holds its hash): normal mode must be
        # able to return it again.
        self._plain[digest] = token
        return token, TOKEN_LIFE

    def _ep_token(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        token, life = self._issue(appid, "basic")
        return {"access_token": token, "expires_in": life}

    def _ep_stable_token(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        if _json(body).get("force_refresh"):
            for entry in self.state["tokens"].values():
                if entry["appid"] == appid and entry["kind"] == "stable" and entry.get("dead") is None:
                    entry["dead"] = "superseded"
            self.state["current"].pop(f"stable:{appid}", None)
        token, life = self._issue(appid, "stable")
        return {"access_token": token, "expires_in": life}

    def _store_upload(self, appid: str, data: bytes, fmt: str, kind: str) -> dict[str, Any]:
        upload_id = secrets.token_hex(12)
        name = f"{upload_id}.{fmt}"
        (self.media_dir / name).write_bytes(data)
        entry = {
            "appid": appid,
            "kind": kind,
            "file": name,
            "format": fmt,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "path": f"/mmbiz_{fmt}/{upload_id}/0",
            "at": self.clock(),
        }
        self.state["uploads"][upload_id] = entry
        return entry

    def _ep_uploadimg(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        data = _media(body, ctype)
        fmt = _sniff(data)
        if fmt not in ("jpg", "png"):
            raise _ApiError(40005, "invalid file type")
        if len(data) >= UPLOADIMG_MAX_BYTES:
            raise _ApiError(40009, "invalid image size")
        entry = self._store_upload(appid, data, fmt, "uploadimg")
        return {"url": self.url.rstrip("/") + entry["path"] + f"?wx_fmt={'jpeg' if fmt == 'jpg' else fmt}", "errcode": 0, "errmsg": "ok"}

    def _ep_add_material(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        kind = query.get("type")
        if kind not in ("image", "voice", "video", "thumb"):
            raise _ApiError(40004, "invalid media type")
        if kind != "image":
            raise _ApiError(40004, "invalid media type: the sandbox keeps images only")
        data = _media(body, ctype)
        fmt = _sniff(data)
        if fmt is None:
            raise _ApiError(40005, "invalid file type")
        if len(data) > MATERIAL_IMAGE_MAX_BYTES:
            raise _ApiError(40009, "invalid image size")
        entry = self._store_upload(appid, data, fmt, "material")
        media_id = "M" + secrets.token_urlsafe(30).replace("-", "x").replace("_", "y")
        entry["media_id"] = media_id
        return {"media_id": media_id, "url": self.url.rstrip("/") + entry["path"] + f"?wx_fmt={fmt}", "item": []}

    def _ep_draft_add(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        data = _json(body, keep_escapes=True)
        articles = data.get("articles")
        if not isinstance(articles, list) or not articles:
            raise _ApiError(44003, "empty news data")
        if len(articles) > ARTICLES_MAX:
            raise _ApiError(45008, "article size out of limit")
        stored = [self._article(appid, a, single=len(articles) == 1) for a in articles]
        media_id = "D" + secrets.token_urlsafe(30).replace("-", "x").replace("_", "y")
        now = int(self.clock())
        self.state["drafts"][media_id] = {"appid": appid, "articles": stored, "create_time": now, "update_time": now}
        return {"media_id": media_id}

    def _ep_draft_update(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        data = _json(body, keep_escapes=True)
        draft = self._draft(appid, data.get("media_id"))
        index = data.get("index")
        if not isinstance(index, int) or not 0 <= index < len(draft["articles"]):
            raise _ApiError(40114, "invalid index value")
        article = data.get("articles")
        if not isinstance(article, dict):
            raise _ApiError(47001, "data format error: articles must be one article object")
        draft["articles"][index] = self._article(appid, article, single=len(draft["articles"]) == 1)
        draft["update_time"] = int(self.clock())
        return {"errcode": 0, "errmsg": "ok"}

    def _ep_draft_get(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        draft = self._draft(appid, _json(body).get("media_id"))
        return {"news_item": [self._readable(a, _json(body)["media_id"]) for a in draft["articles"]]}

    def _ep_draft_delete(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        media_id = _json(body).get("media_id")
        self._draft(appid, media_id)
        del self.state["drafts"][media_id]
        return {"errcode": 0, "errmsg": "ok"}

    def _ep_draft_batchget(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        data = _json(body)
        offset, count, no_content = data.get("offset", 0), data.get("count", 0), data.get("no_content", 0)
        if not isinstance(offset, int) or not isinstance(count, int) or offset < 0 or not 1 <= count <= 20:
            raise _ApiError(40097, "invalid args")
        mine = sorted(self.drafts(appid).items(), key=lambda kv: kv[1]["update_time"], reverse=True)
        page = mine[offset : offset + count]
        items = []
        for media_id, draft in page:
            news = [self._readable(a, media_id) for a in draft["articles"]]
            if no_content:
                news = [{k: v for k, v in a.items() if k != "content"} for a in news]
            items.append({"media_id": media_id, "content": {"news_item": news}, "update_time": draft["update_time"]})
        return {"total_count": len(mine), "item_count": len(items), "item": items}

    def _ep_draft_count(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        return {"total_count": len(self.drafts(appid))}

    def _ep_submit(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        media_id = _json(body).get("media_id")
        self._draft(appid, media_id)
        publish_id = str(2247483000 + len(self.state["publishes"]) + 1)
        self.state["publishes"][publish_id] = {"appid": appid, "media_id": media_id, "sequence": list(self.publish_sequence), "polls": 0}
        return {"errcode": 0, "errmsg": "ok", "publish_id": publish_id, "msg_data_id": publish_id}

    def _ep_publish_get(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        publish_id = str(_json(body).get("publish_id"))
        job = self.state["publishes"].get(publish_id)
        if job is None or job["appid"] != appid:
            raise _ApiError(40002, "invalid argument: publish_id")
        sequence = job["sequence"] or [0]
        status = sequence[min(job["polls"], len(sequence) - 1)]
        job["polls"] += 1
        answer: dict[str, Any] = {"publish_id": publish_id, "publish_status": status, "article_id": "", "fail_idx": []}
        if status == 0:
            if "article_id" not in job:
                draft = self.state["drafts"].pop(job["media_id"], None)  # published drafts leave the box
                article_id = "A" + secrets.token_hex(10)
                job["article_id"] = article_id
                self.state["published"][article_id] = {"appid": appid, "articles": draft["articles"] if draft else []}
            article_id = job["article_id"]
            count = len(self.state["published"][article_id]["articles"])
            answer["article_id"] = article_id
            answer["article_detail"] = {
                "count": count,
                "item": [{"idx": i + 1, "article_url": f"{self.url}s/{article_id}?idx={i + 1}"} for i in range(count)],
            }
        elif status in (2, 4):
            answer["fail_idx"] = [1]
        return answer

    def _ep_preview(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        data = _json(body)
        if data.get("msgtype") != "mpnews":
            raise _ApiError(40008, "invalid message type")
        if not (data.get("towxname") or data.get("touser")):
            raise _ApiError(40003, "invalid openid")
        self._draft(appid, (data.get("mpnews") or {}).get("media_id"))
        msg_id = len(self.state["previews"]) + 34182
        self.state["previews"].append({"appid": appid, "to": data.get("towxname") or data.get("touser"), "media_id": data["mpnews"]["media_id"]})
        return {"errcode": 0, "errmsg": "preview success", "msg_id": msg_id}

    # -- articles ------------------------------------------------------------------------------
    def _draft(self, appid: str, media_id: Any) -> dict[str, Any]:
        draft = self.state["drafts"].get(media_id) if isinstance(media_id, str) else None
        if draft is None or draft["appid"] != appid:
            raise _ApiError(40007, "invalid media_id")
        return draft

    def _article(self, appid: str, article: Any, *, single: bool) -> dict[str, Any]:
        if not isinstance(article, dict):
            raise _ApiError(47001, "data format error")
        title, author, digest = str(article.get("title") or ""), str(article.get("author") or ""), str(article.get("digest") or "")
        content, source = str(article.get("content") or ""), str(article.get("content_source_url") or "")
        if not title:
            raise _ApiError(44003, "empty news data: title missing")
        if wechat_length(title) > TITLE_MAX:
            raise _ApiError(45003, "title size out of limit")
        if wechat_length(author) > AUTHOR_MAX:
            raise _ApiError(45110, "author size out of limit")
        if wechat_length(digest) > DIGEST_MAX:
            raise _ApiError(45004, "description size out of limit")
        if not content:
            raise _ApiError(44004, "empty content")
        if len(content) >= CONTENT_MAX_CHARS or len(content.encode("utf-8")) >= CONTENT_MAX_BYTES:
            raise _ApiError(45002, "content size out of limit")
        if len(source.encode("utf-8")) > SOURCE_URL_MAX_BYTES:
            raise _ApiError(45005, "url size out of limit")
        if source and not re.match(r"^https?://[^\s/]+", source):
            raise _ApiError(41039, "invalid content_source_url")
        thumb = article.get("thumb_media_id")
        cover = self._material(appid, thumb)
        if cover is None:
            raise _ApiError(40007, "invalid media_id: thumb_media_id")
        for key in ("pic_crop_235_1", "pic_crop_1_1"):
            value = article.get(key)
            if value and not _valid_crop(str(value)):
                raise _ApiError(40097, f"invalid args: {key}")
        kept, filtered = self._filter_content(appid, content)
        return {
            "title": title,
            "author": author,
            "digest": digest if single else "",
            "content": kept,
            "content_source_url": source,
            "thumb_media_id": thumb,
            "need_open_comment": int(article.get("need_open_comment") or 0),
            "only_fans_can_comment": int(article.get("only_fans_can_comment") or 0),
            "pic_crop_235_1": str(article.get("pic_crop_235_1") or ""),
            "pic_crop_1_1": str(article.get("pic_crop_1_1") or ""),
            "filtered_images": filtered,
        }

    def _material(self, appid: str, media_id: Any) -> dict[str, Any] | None:
        for entry in self.state["uploads"].values():
            if entry.get("media_id") == media_id and entry["appid"] == appid and media_id:
                return entry
        return None

    def _own_upload(self, src: str) -> bool:
        match = _UPLOAD_PATH.match(urlsplit(src).path or "")
        return bool(match and match.group(2) in self.state["uploads"] and urlsplit(src).scheme in ("http", "https"))

    def _filter_content(self, appid: str, content: str) -> tuple[str, list[str]]:
        """Drop <script> elements and every <img> whose src is not one of our upload URLs, as WeChat filters them."""
        finder = _SpanFinder(content)
        finder.feed(content)
        finder.close()
        keep, filtered, last = [], [], 0
        for start, end, tag, src in sorted(finder.spans):
            if tag == "img" and src is not None and self._own_upload(src):
                continue
            if start < last:
                continue
            keep.append(content[last:start])
            last = end
            if tag == "img":
                filtered.append(src or "")
        keep.append(content[last:])
        return "".join(keep), filtered

    def _readable(self, article: Mapping[str, Any], media_id: str) -> dict[str, Any]:
        cover = self._material_any(article["thumb_media_id"])
        out = {k: v for k, v in article.items() if k != "filtered_images"}
        out["thumb_url"] = self.url.rstrip("/") + cover["path"] if cover else ""
        out["url"] = f"{self.url}drafts/{media_id}"  # the temporary link to the draft
        return out

    # -- pages ---------------------------------------------------------------------------------
    def page(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for the browser: the index, a draft, a published article, an image."""
        match = _UPLOAD_PATH.match(path)
        if match:
            entry = self.state["uploads"].get(match.group(2))
            if entry is None:
                return 404, "text/plain; charset=utf-8", b"no such image"
            return 200, _MIME[entry["format"]], (self.media_dir / entry["file"]).read_bytes()
        with self._lock:
            if path in ("/", "/index.html"):
                return 200, "text/html; charset=utf-8", self._index_page().encode("utf-8")
            if path.startswith("/drafts/"):
                draft = self.state["drafts"].get(path[len("/drafts/") :])
                if draft is not None:
                    return 200, "text/html; charset=utf-8", self._articles_page("Draft", draft["articles"]).encode("utf-8")
            if path.startswith("/s/"):
                published = self.state["published"].get(path[len("/s/") :])
                if published is not None:
                    return 200, "text/html; charset=utf-8", self._articles_page("Published", published["articles"]).encode("utf-8")
        return 404, "text/plain; charset=utf-8", b"not found"

    def _index_page(self) -> str:
        rows = []
        for media_id, draft in sorted(self.state["drafts"].items(), key=lambda kv: kv[1]["update_time"], reverse=True):
            titles = " / ".join(html.escape(a["title"]) for a in draft["articles"])
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(draft["update_time"]))
            rows.append(f'<li><a href="/drafts/{html.escape(media_id)}">{titles}</a> <small>{when} · {html.escape(media_id)}</small></li>')
        pubs = [
            f'<li><a href="/s/{html.escape(aid)}">{" / ".join(html.escape(a["title"]) for a in p["articles"])}</a></li>'
            for aid, p in self.state["published"].items()
        ]
        return _PAGE.format(
            title="wxpub sandbox",
            body=f"<h1>wxpub sandbox</h1><p>API base: <code>{self.url}</code></p>"
            f"<h2>Drafts ({len(rows)})</h2><ul>{''.join(rows) or '<li>none yet</li>'}</ul>"
            f"<h2>Published ({len(pubs)})</h2><ul>{''.join(pubs) or '<li>none yet</li>'}</ul>",
        )

    def _articles_page(self, kind: str, articles: list[dict[str, Any]]) -> str:
        parts = ['<p><a href="/">← all drafts</a></p>']
        for article in articles:
            cover = self._material_any(article["thumb_media_id"])
            parts.append('<article class="wx">')
            if cover:
                parts.append(f'<img class="cover" src="{cover["path"]}" alt="cover">')
            parts.append(f"<h1>{html.escape(article['title'])}</h1>")
            parts.append(f"<p class=meta>{html.escape(article['author'])} {html.escape(article['digest'])}</p>")
            if article.get("filtered_images"):
                parts.append(f"<p class=warn>{len(article['filtered_images'])} image(s) were filtered out: their src was not an upload URL</p>")
            parts.append(f"<div class=content>{article['content']}</div>")
            if article.get("content_source_url"):
                parts.append(f'<p><a href="{html.escape(article["content_source_url"])}">阅读原文</a></p>')
            parts.append("</article>")
        return _PAGE.format(title=f"{kind}: {html.escape(articles[0]['title']) if articles else ''}", body="".join(parts))

    def _material_any(self, media_id: str) -> dict[str, Any] | None:
        for entry in self.state["uploads"].values():
            if entry.get("media_id") == media_id:
                return entry
        return None


_ENDPOINTS: dict[str, Callable[..., dict[str, Any]]] = {
    "token": Sandbox._ep_token,
    "stable_token": Sandbox._ep_stable_token,
    "media/uploadimg": Sandbox._ep_uploadimg,
    "material/add_material": Sandbox._ep_add_material,
    "draft/add": Sandbox._ep_draft_add,
    "draft/update": Sandbox._ep_draft_update,
    "draft/get": Sandbox._ep_draft_get,
    "draft/delete": Sandbox._ep_draft_delete,
    "draft/batchget": Sandbox._ep_draft_batchget,
    "draft/count": Sandbox._ep_draft_count,
    "freepublish/submit": Sandbox._ep_submit,
    "freepublish/get": Sandbox._ep_publish_get,
    "message/mass/preview": Sandbox._ep_preview,
}

_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{max-width:680px;margin:2em auto;padding:0 1em;font-family:-apple-system,"PingFang SC",sans-serif}}
article.wx{{border:1px solid #ddd;border-radius:8px;padding:1em;margin:1em 0}} img{{max-width:100%}}
img.cover{{width:100%;aspect-ratio:2.35/1;object-fit:cover}} .meta{{color:#888}} .warn{{color:#b00}}</style>
</head><body>{body}</body></html>"""


class _SpanFinder(HTMLParser):
    """Finds the character spans of <img> tags and <script> elements in a fragment."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self._text = text
        self._starts = [0]
        for line in text.split("\n"):
            self._starts.append(self._starts[-1] + len(line) + 1)
        self.spans: list[tuple[int, int, str, str | None]] = []
        self._script: int | None = None

    def _offset(self) -> int:
        line, col = self.getpos()
        return self._starts[line - 1] + col

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._offset()
        end = start + len(self.get_starttag_text() or "")
        if tag == "img":
            self.spans.append((start, end, "img", dict(attrs).get("src")))
        elif tag == "script":
            self._script = start

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            end = self._text.find(">", self._offset()) + 1
            self.spans.append((self._script, end, "script", None))
            self._script = None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sniff(data: bytes) -> str | None:
    for magic, fmt in _MAGIC.items():
        if data.startswith(magic):
            return fmt
    return None


def _valid_crop(value: str) -> bool:
    parts = value.split("_")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return False
    return len(numbers) == 4 and all(0 <= n <= 1 for n in numbers) and all(len(p.split(".")[-1]) <= 6 for p in parts if "." in p)


def _json(body: bytes, *, keep_escapes: bool = False) -> dict[str, Any]:
    """The JSON body. With keep_escapes, `\\uXXXX` stays literal text, as a server that does not decode
    escapes would store it: a title sent escaped becomes six times longer (and fails 45003)."""
    if not body:
        raise _ApiError(44002, "empty post data")
    try:
        text = body.decode("utf-8")
        if keep_escapes:
            text = re.sub(r"(?<!\\)\\u(?=[0-9a-fA-F]{4})", r"\\\\u", text)
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise _ApiError(47001, "data format error") from None
    if not isinstance(data, dict):
        raise _ApiError(47001, "data format error")
    return data


def _media(body: bytes, content_type: str) -> bytes:
    """The `media` file of a multipart/form-data body.

    The body is cut at its boundary by hand: the email parser reads a binary body line by line,
    which made the sandbox slower than the 100 ms of latency it is asked to add.
    """
    if "multipart/form-data" not in content_type:
        raise _ApiError(41005, "media data missing")
    header = email.message.Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise _ApiError(41005, "media data missing")
    for part in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        head, found, payload = part.partition(b"\r\n\r\n")
        if not found:
            continue  # the closing "--" after the last boundary
        headers = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(head.lstrip(b"\r\n") + b"\r\n\r\n")
        if headers.get_param("name", header="content-disposition") == "media":
            data = payload[:-2] if payload.endswith(b"\r\n") else payload
            if not data:
                raise _ApiError(44001, "empty media data")
            return data
    raise _ApiError(41005, "media data missing")


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
            if split.path.startswith("/cgi-bin/"):
                query = {k: v[-1] for k, v in parse_qs(split.query).items()}
                try:
                    status, answer = sandbox.handle(method, split.path[len("/cgi-bin/") :], query, body, self.headers.get("Content-Type", ""), self.client_address[0])
                except _Drop:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                self._send(status, "application/json; encoding=utf-8", json.dumps(answer, ensure_ascii=False).encode("utf-8"))
            elif split.path.startswith("/sandbox/"):
                status, answer = _control(sandbox, method, split.path, body)
                self._send(status, "application/json; charset=utf-8", json.dumps(answer, ensure_ascii=False).encode("utf-8"))
            else:
                status, ctype, data = sandbox.page(split.path)
                self._send(status, ctype, data)

        def _send(self, status: int, ctype: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting (a timeout): nothing to do

    return Handler


def _control(sandbox: Sandbox, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """The sandbox's own API: GET/POST/DELETE /sandbox/faults, POST /sandbox/config, GET /sandbox/info, GET /sandbox/calls."""
    try:
        data = json.loads(body.decode("utf-8")) if body else {}
        if path == "/sandbox/faults" and method == "POST":
            kind = data.pop("kind", None)
            if kind == "latency":
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
            return 200, {"quotas": sandbox.quotas, "publish_sequence": list(sandbox.publish_sequence)}
        if path == "/sandbox/info":
            return 200, {"api_base": sandbox.url, "state_dir": str(sandbox.state_dir.resolve())}
        if path == "/sandbox/calls":
            return 200, {"calls": [asdict(c) for c in sandbox.calls]}
    except (ValueError, TypeError) as error:
        return 400, {"error": str(error)}
    return 404, {"error": "unknown sandbox path"}
