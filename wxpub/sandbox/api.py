"""The official API as the sandbox answers it: accounts, tokens, quotas, uploads, drafts and publishing.

`Api` holds the state (state.json and the uploaded files in a folder) and answers one call at a
time; `server.Sandbox` puts it on HTTP and adds faults. Where the official documentation leaves a
question open, the answer is the one the evidence supports, and otherwise the pessimistic one:
- title, author and digest are counted in characters, refused over 64, 16 and 128 (45003, 45110,
  45004): the older documented title bound, and the documented author and digest ones;
- a body with `\\uXXXX` escapes is stored escaped, as if the server did not decode them;
- a draft takes at most 8 articles (45008);
- what an article keeps of its content is decided in `editor.py`, as WeChat's editor would.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import hashlib
import json
import re
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from ..cachefiles import write_atomic
from ..limits import (
    ARTICLES_MAX,
    AUTHOR_MAX,
    CONTENT_MAX_BYTES,
    DIGEST_MAX,
    MATERIAL_IMAGE_MAX_BYTES,
    SOURCE_URL_MAX_BYTES,
    TITLE_MAX,
    UPLOADIMG_MAX_BYTES,
    content_over,
    wechat_length,
)
from .editor import keep
from .folder import hold

SANDBOX_APPID = "wx0000000000sandbox"
SANDBOX_SECRET = "sandbox-secret-not-a-real-one"
# The AppIDs a sandbox made without `accounts` takes, each an account of its own with SANDBOX_SECRET:
# a project's accounts rehearse there under their own AppIDs, apart as on WeChat.
_APPID = re.compile(r"wx[0-9A-Za-z]{6,32}")
TOKEN_LIFE = 7200
TOKEN_OVERLAP = 300  # old and new tokens both work for 5 minutes after a renewal

# Daily quotas of a new account (API_Call_Limits); configurable so that 45009 can be provoked.
DEFAULT_QUOTAS: dict[str, int] = {
    "token": 2000,
    "stable_token": 500_000,
    "media/uploadimg": 100_000,
    "material/add_material": 100_000,
    "material/batchget_material": 100_000,
    "material/get_material": 100_000,
    "material/get_materialcount": 100_000,
    "material/del_material": 100_000,
    "draft/add": 1000,
    "draft/update": 1000,
    "draft/delete": 1000,
    "draft/count": 1000,
    "draft/batchget": 1000,
    "draft/get": 500,
    "freepublish/submit": 100,
    "freepublish/get": 100,
    "freepublish/batchget": 100,
    "freepublish/getarticle": 100,
    "message/mass/preview": 100,
}
# What the sandbox notes of an article's edits for its pages; draft/get does not return them.
_EDITS = ("filtered_images", "removed_links", "dropped_styles")
GET_ONLY = {"token", "draft/count", "material/get_materialcount"}

_MAGIC = {
    b"\xff\xd8\xff": "jpg",
    b"\x89PNG\r\n\x1a\n": "png",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
    b"BM": "bmp",
}
MIME = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "bmp": "image/bmp"}
UPLOAD_PATH = re.compile(r"^/mmbiz_(jpg|png|gif|bmp)/([A-Za-z0-9]+)/0$")


class ApiError(Exception):
    """An error answer: HTTP 200 with {"errcode", "errmsg"}, as WeChat sends them."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode, self.errmsg = errcode, errmsg


class Api:
    """The account side of the sandbox: its state, and one method per endpoint."""

    def __init__(
        self,
        state_dir: str | Path | None = None,
        *,
        port: int = 0,
        accounts: Mapping[str, str] | None = None,
        quotas: Mapping[str, int] | None = None,
        publish_sequence: tuple[int, ...] = (1, 0),
        ip_whitelist: tuple[str, ...] | None = None,
        strict: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="wxpub-sandbox-")
            state_dir = self._tmp.name
        self.state_dir = Path(state_dir)
        self.media_dir = self.state_dir / "media"
        self.media_dir.mkdir(parents=True, exist_ok=True)
        # Held before the state is read, until close(): a second sandbox here is refused (StateHeld).
        self._hold = hold(self.state_dir)
        self.port = port
        # only hashes of secrets and tokens are kept, in memory and on disk
        self._accounts = {appid: _digest(secret) for appid, secret in (accounts or {SANDBOX_APPID: SANDBOX_SECRET}).items()}
        # Without `accounts`, every well-formed AppID is an account here, whose secret is SANDBOX_SECRET
        # (`publish --sandbox` sends that, never an account's own); with them, only those exist.
        self.open_accounts = accounts is None
        self.quotas = {**DEFAULT_QUOTAS, **(quotas or {})}
        self.publish_sequence = tuple(publish_sequence)
        self.ip_whitelist = ip_whitelist
        self.strict = strict  # an element holding one declaration outside the profile loses its whole style
        self.clock = clock
        self._lock = threading.RLock()
        self._plain: dict[str, str] = {}
        self.state = self._load()

    @property
    def url(self) -> str:
        """The API base to give wxpub (WXPUB_API_BASE)."""
        return f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        """Give the state folder back (another sandbox may hold it now); a temporary one is removed."""
        self._hold.release()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- inspection ----------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Every live token expires now (42001), as two hours passing would do."""
        self._kill_tokens("expired")

    def supersede_tokens(self) -> None:
        """Every live token dies now (40001), as a force refresh on another machine would do."""
        self._kill_tokens("superseded")

    def drafts(self, appid: str = SANDBOX_APPID) -> dict[str, Any]:
        with self._lock:
            return {mid: d for mid, d in self.state["drafts"].items() if d["appid"] == appid}

    def published(self, appid: str = SANDBOX_APPID) -> dict[str, Any]:
        """What the account published, by article_id (publish jobs nobody polls have ended by now)."""
        with self._lock:
            self._finish_unwatched(appid)
            return {aid: p for aid, p in self.state["published"].items() if p["appid"] == appid}

    def uploads(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.state["uploads"])

    def materials(self, appid: str = SANDBOX_APPID) -> dict[str, Any]:
        """The permanent materials of an account, by media_id."""
        with self._lock:
            return {e["media_id"]: e for e in self.state["uploads"].values() if e.get("media_id") and e["appid"] == appid}

    def delete_material(self, media_id: str) -> None:
        """Remove a permanent material, as deleting it on the website would (draft/add then gives 40007)."""
        with self._lock:
            for upload_id, entry in list(self.state["uploads"].items()):
                if entry.get("media_id") == media_id:
                    del self.state["uploads"][upload_id]
            self._save()

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

    # -- one call ------------------------------------------------------------------------------
    def _dispatch(self, method: str, endpoint: str, query: Mapping[str, str], body: bytes, content_type: str, client_ip: str) -> dict[str, Any]:
        """Check the method, the caller (secret or token) and the quota, then answer; raises ApiError."""
        handler = _ENDPOINTS.get(endpoint)
        if handler is None:
            raise ApiError(48001, f"api unauthorized: the sandbox does not know {endpoint}")
        if endpoint in GET_ONLY and method != "GET":
            raise ApiError(43001, "require GET method")
        if endpoint not in GET_ONLY and method != "POST":
            raise ApiError(43002, "require POST method")
        with self._lock:
            if endpoint in ("token", "stable_token"):
                appid = self._check_ip_and_secret(endpoint, query, body, client_ip)
            else:
                appid = self._check_token(query.get("access_token"))
            self._count_quota(appid, endpoint)
            if endpoint in _SEES_PUBLISHING:
                self._finish_unwatched(appid)
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
            raise ApiError(40002, "invalid grant_type")
        if not appid:
            raise ApiError(41002, "appid missing")
        if not secret:
            raise ApiError(41004, "appsecret missing")
        known = self._accounts.get(str(appid))
        if known is None and self.open_accounts and _APPID.fullmatch(str(appid)):
            known = _digest(SANDBOX_SECRET)
        if known is None:
            raise ApiError(40013, "invalid appid")
        if known != _digest(str(secret)):
            raise ApiError(40125, "invalid appsecret, view more at http://t.cn/RAEkdVq")
        if self.ip_whitelist is not None and client_ip not in self.ip_whitelist:
            raise ApiError(40164, f"invalid ip {client_ip} ipv6 ::ffff:{client_ip}, not in whitelist")
        return str(appid)

    def _check_token(self, token: str | None) -> str:
        if not token:
            raise ApiError(41001, "access_token missing")
        entry = self.state["tokens"].get(_digest(token))
        if entry is None:
            raise ApiError(40014, "invalid access_token")
        now = self.clock()
        if entry.get("dead") == "superseded" or (entry.get("replaced_at") and now > entry["replaced_at"] + TOKEN_OVERLAP):
            raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
        if entry.get("dead") == "expired" or now >= entry["expires_at"]:
            raise ApiError(42001, "access_token expired")
        return str(entry["appid"])

    def _count_quota(self, appid: str, endpoint: str) -> None:
        day = time.strftime("%Y-%m-%d", time.localtime(self.clock()))
        usage = self.state["usage"].setdefault(day, {})
        key = f"{appid} {endpoint}"
        if usage.get(key, 0) >= self.quotas.get(endpoint, 10**9):
            raise ApiError(45009, "reach max api daily quota limit")
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

    def _store_upload(self, appid: str, data: bytes, fmt: str, kind: str, name: str = "") -> dict[str, Any]:
        upload_id = secrets.token_hex(12)
        file = f"{upload_id}.{fmt}"
        (self.media_dir / file).write_bytes(data)
        entry = {
            "appid": appid,
            "kind": kind,
            "file": file,
            "format": fmt,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "path": f"/mmbiz_{fmt}/{upload_id}/0",
            "name": name or file,
            "at": self.clock(),
        }
        self.state["uploads"][upload_id] = entry
        return entry

    def _ep_uploadimg(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        data, _ = _media(body, ctype)
        fmt = _sniff(data)
        if fmt not in ("jpg", "png"):
            raise ApiError(40005, "invalid file type")
        if len(data) >= UPLOADIMG_MAX_BYTES:
            raise ApiError(40009, "invalid image size")
        entry = self._store_upload(appid, data, fmt, "uploadimg")
        return {"url": self.url.rstrip("/") + entry["path"] + f"?wx_fmt={'jpeg' if fmt == 'jpg' else fmt}", "errcode": 0, "errmsg": "ok"}

    def _ep_add_material(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        kind = query.get("type")
        if kind not in ("image", "voice", "video", "thumb"):
            raise ApiError(40004, "invalid media type")
        if kind != "image":
            raise ApiError(40004, "invalid media type: the sandbox keeps images only")
        data, filename = _media(body, ctype)
        fmt = _sniff(data)
        if fmt is None:
            raise ApiError(40005, "invalid file type")
        if len(data) > MATERIAL_IMAGE_MAX_BYTES:
            raise ApiError(40009, "invalid image size")
        # The material keeps the upload's file name, as WeChat lists it (material/batchget_material `name`).
        entry = self._store_upload(appid, data, fmt, "material", filename)
        media_id = "M" + secrets.token_urlsafe(30).replace("-", "x").replace("_", "y")
        entry["media_id"] = media_id
        return {"media_id": media_id, "url": self.url.rstrip("/") + entry["path"] + f"?wx_fmt={fmt}", "item": []}

    def _ep_batchget_material(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        data = _json(body)
        kind, offset, count = data.get("type"), data.get("offset", 0), data.get("count", 0)
        if kind not in ("image", "video", "voice", "news"):
            raise ApiError(40004, "invalid media type")
        if not isinstance(offset, int) or not isinstance(count, int) or offset < 0 or not 1 <= count <= 20:
            raise ApiError(40097, "invalid args")
        mine = [] if kind != "image" else sorted(self.materials(appid).values(), key=lambda e: e["at"], reverse=True)
        page = mine[offset : offset + count]
        items = [
            {"media_id": e["media_id"], "name": e.get("name") or e["file"], "update_time": int(e["at"]), "url": self.url.rstrip("/") + e["path"] + f"?wx_fmt={e['format']}"}
            for e in page
        ]
        return {"total_count": len(mine), "item_count": len(items), "item": items}

    def _ep_get_material(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        """An image material answers with its bytes, not JSON (the server sends `_bytes` as they are)."""
        media_id = _json(body).get("media_id")
        entry = self.materials(appid).get(media_id) if isinstance(media_id, str) else None
        if entry is None:
            raise ApiError(40007, "invalid media_id")
        return {"_bytes": (self.media_dir / entry["file"]).read_bytes(), "_type": MIME[entry["format"]]}

    def _ep_materialcount(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        return {"voice_count": 0, "video_count": 0, "image_count": len(self.materials(appid)), "news_count": 0}

    def _ep_del_material(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        media_id = _json(body).get("media_id")
        if not isinstance(media_id, str) or media_id not in self.materials(appid):
            raise ApiError(40007, "invalid media_id")
        self.delete_material(media_id)
        return {"errcode": 0, "errmsg": "ok"}

    def _ep_draft_add(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        data = _json(body, keep_escapes=True)
        articles = data.get("articles")
        if not isinstance(articles, list) or not articles:
            raise ApiError(44003, "empty news data")
        if len(articles) > ARTICLES_MAX:
            raise ApiError(45008, "article size out of limit")
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
            raise ApiError(40114, "invalid index value")
        article = data.get("articles")
        if not isinstance(article, dict):
            raise ApiError(47001, "data format error: articles must be one article object")
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
        return self._listing(body, self.drafts(appid), "media_id")

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
            raise ApiError(40002, "invalid argument: publish_id")
        sequence = job["sequence"] or [0]
        status = job["done"] if "done" in job else sequence[min(job["polls"], len(sequence) - 1)]
        job["polls"] += 1
        answer: dict[str, Any] = {"publish_id": publish_id, "publish_status": status, "article_id": "", "fail_idx": []}
        if status != 1:
            self._finish(job, status)
        if status == 0:
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

    def _finish(self, job: dict[str, Any], status: int) -> None:
        """A publish job ends: on success its draft leaves the box and becomes a published article."""
        if "done" in job:
            return
        job["done"] = status
        if status == 0:
            draft = self.state["drafts"].pop(job["media_id"], None)
            article_id = "A" + secrets.token_hex(10)
            job["article_id"] = article_id
            self.state["published"][article_id] = {
                "appid": job["appid"], "articles": draft["articles"] if draft else [], "update_time": int(self.clock()),
            }

    def _finish_unwatched(self, appid: str) -> None:
        """Publishing runs on its own, as WeChat's does: a job nobody polls has ended (as its sequence
        ends) by the time the account is next looked at. Polled jobs walk the sequence step by step."""
        for job in self.state["publishes"].values():
            if job["appid"] == appid and job["polls"] == 0 and "done" not in job:
                self._finish(job, (job["sequence"] or [0])[-1])

    def _ep_published_batchget(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        """freepublish/batchget: what was published (not mass-sent), newest first."""
        mine = {aid: p for aid, p in self.state["published"].items() if p["appid"] == appid}
        return self._listing(body, mine, "article_id", lambda article_id, index: f"{self.url}s/{article_id}?idx={index + 1}")

    def _ep_getarticle(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        """freepublish/getarticle: the articles of one publish, as kept, each with its link (53600 when unknown)."""
        article_id = _json(body).get("article_id")
        published = self.state["published"].get(article_id) if isinstance(article_id, str) else None
        if not isinstance(article_id, str) or published is None or published["appid"] != appid:
            raise ApiError(53600, "Article ID 无效")
        news = []
        for index, article in enumerate(published["articles"]):
            readable = self._readable(article, article_id)
            readable.update(url=f"{self.url}s/{article_id}?idx={index + 1}", is_deleted=False)
            news.append(readable)
        return {"news_item": news}

    def _listing(
        self, body: bytes, entries: Mapping[str, Any], key: str, url: Callable[[str, int], str] | None = None
    ) -> dict[str, Any]:
        """A page of drafts or published articles, newest first, as draft/batchget and freepublish/batchget
        answer: each entry under `key`, its articles readable (`url`: each article's link, when not the draft's)."""
        data = _json(body)
        offset, count, no_content = data.get("offset", 0), data.get("count", 0), data.get("no_content", 0)
        if not isinstance(offset, int) or not isinstance(count, int) or offset < 0 or not 1 <= count <= 20:
            raise ApiError(40097, "invalid args")
        mine = sorted(entries.items(), key=lambda kv: kv[1].get("update_time", 0), reverse=True)
        items = []
        for entry_id, entry in mine[offset : offset + count]:
            news = []
            for index, article in enumerate(entry["articles"]):
                readable = self._readable(article, entry_id)
                if url is not None:
                    readable["url"] = url(entry_id, index)
                if no_content:
                    readable.pop("content", None)
                news.append(readable)
            items.append({key: entry_id, "content": {"news_item": news}, "update_time": entry.get("update_time", 0)})
        return {"total_count": len(mine), "item_count": len(items), "item": items}

    def _ep_preview(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        data = _json(body)
        if data.get("msgtype") != "mpnews":
            raise ApiError(40008, "invalid message type")
        if not (data.get("towxname") or data.get("touser")):
            raise ApiError(40003, "invalid openid")
        self._draft(appid, (data.get("mpnews") or {}).get("media_id"))
        msg_id = len(self.state["previews"]) + 34182
        self.state["previews"].append({"appid": appid, "to": data.get("towxname") or data.get("touser"), "media_id": data["mpnews"]["media_id"]})
        return {"errcode": 0, "errmsg": "preview success", "msg_id": msg_id}

    def _ep_quota_get(self, appid: str, query: Mapping[str, str], body: bytes, ctype: str) -> dict[str, Any]:
        """Today's use of one call by this account, as openapi/quota/get reports it."""
        path = str(_json(body).get("cgi_path") or "")
        if not path:
            raise ApiError(47001, "data format error: cgi_path missing")
        endpoint = path.removeprefix("/cgi-bin/") if path.startswith("/cgi-bin/") else None
        if endpoint is None or endpoint not in _ENDPOINTS or endpoint == "openapi/quota/get":
            raise ApiError(76021, "cgi_path not found, please check")
        day = time.strftime("%Y-%m-%d", time.localtime(self.clock()))
        used = self.state["usage"].get(day, {}).get(f"{appid} {endpoint}", 0)
        limit = self.quotas.get(endpoint, 10**7)
        return {"errcode": 0, "errmsg": "ok", "quota": {"daily_limit": limit, "used": used, "remain": max(limit - used, 0)}}

    # -- articles ------------------------------------------------------------------------------
    def _draft(self, appid: str, media_id: Any) -> dict[str, Any]:
        draft = self.state["drafts"].get(media_id) if isinstance(media_id, str) else None
        if draft is None or draft["appid"] != appid:
            raise ApiError(40007, "invalid media_id")
        return draft

    def _article(self, appid: str, article: Any, *, single: bool) -> dict[str, Any]:
        if not isinstance(article, dict):
            raise ApiError(47001, "data format error")
        title, author, digest = str(article.get("title") or ""), str(article.get("author") or ""), str(article.get("digest") or "")
        content, source = str(article.get("content") or ""), str(article.get("content_source_url") or "")
        if not title:
            raise ApiError(44003, "empty news data: title missing")
        if wechat_length(title) > TITLE_MAX:
            raise ApiError(45003, "title size out of limit")
        if wechat_length(author) > AUTHOR_MAX:
            raise ApiError(45110, "author size out of limit")
        if wechat_length(digest) > DIGEST_MAX:
            raise ApiError(45004, "description size out of limit")
        if not content:
            raise ApiError(44004, "empty content")
        if content_over(len(content)) or len(content.encode("utf-8")) >= CONTENT_MAX_BYTES:
            raise ApiError(45002, "content size out of limit")
        if len(source.encode("utf-8")) > SOURCE_URL_MAX_BYTES:
            raise ApiError(45005, "url size out of limit")
        if source and not re.match(r"^https?://[^\s/]+", source):
            raise ApiError(41039, "invalid content_source_url")
        thumb = article.get("thumb_media_id")
        cover = self._material(appid, thumb)
        if cover is None:
            raise ApiError(40007, "invalid media_id: thumb_media_id")
        for key in ("pic_crop_235_1", "pic_crop_1_1"):
            value = article.get(key)
            if value and not _valid_crop(str(value)):
                raise ApiError(40097, f"invalid args: {key}")
        kept = keep(content, own_image=self._own_upload, strict=self.strict)
        return {
            "title": title,
            "author": author,
            "digest": digest if single else "",
            "content": kept.content,
            "content_source_url": source,
            "thumb_media_id": thumb,
            "need_open_comment": int(article.get("need_open_comment") or 0),
            "only_fans_can_comment": int(article.get("only_fans_can_comment") or 0),
            "pic_crop_235_1": str(article.get("pic_crop_235_1") or ""),
            "pic_crop_1_1": str(article.get("pic_crop_1_1") or ""),
            "filtered_images": list(kept.filtered_images),
            "removed_links": list(kept.removed_links),
            "dropped_styles": [f"{tag}: {declaration}" for tag, declaration in kept.dropped_styles],
        }

    def _material(self, appid: str, media_id: Any) -> dict[str, Any] | None:
        for entry in self.state["uploads"].values():
            if entry.get("media_id") == media_id and entry["appid"] == appid and media_id:
                return entry
        return None

    def _own_upload(self, src: str) -> bool:
        """Whether src is one of this sandbox's upload URLs (on any port: the state outlives a run)."""
        parts = urlsplit(src.strip())
        match = UPLOAD_PATH.match(parts.path or "")
        return bool(match and match.group(2) in self.state["uploads"] and parts.scheme in ("http", "https") and parts.hostname == "127.0.0.1")

    def _readable(self, article: Mapping[str, Any], media_id: str) -> dict[str, Any]:
        cover = self._material_any(article["thumb_media_id"])
        out = {k: v for k, v in article.items() if k not in _EDITS}
        out["thumb_url"] = self.url.rstrip("/") + cover["path"] if cover else ""
        out["url"] = f"{self.url}drafts/{media_id}"  # the temporary link to the draft
        return out

    def _material_any(self, media_id: str) -> dict[str, Any] | None:
        for entry in self.state["uploads"].values():
            if entry.get("media_id") == media_id:
                return entry
        return None


_ENDPOINTS: dict[str, Callable[..., dict[str, Any]]] = {
    "token": Api._ep_token,
    "stable_token": Api._ep_stable_token,
    "media/uploadimg": Api._ep_uploadimg,
    "material/add_material": Api._ep_add_material,
    "material/batchget_material": Api._ep_batchget_material,
    "material/get_materialcount": Api._ep_materialcount,
    "material/get_material": Api._ep_get_material,
    "material/del_material": Api._ep_del_material,
    "draft/add": Api._ep_draft_add,
    "draft/update": Api._ep_draft_update,
    "draft/get": Api._ep_draft_get,
    "draft/delete": Api._ep_draft_delete,
    "draft/batchget": Api._ep_draft_batchget,
    "draft/count": Api._ep_draft_count,
    "freepublish/submit": Api._ep_submit,
    "freepublish/get": Api._ep_publish_get,
    "freepublish/batchget": Api._ep_published_batchget,
    "freepublish/getarticle": Api._ep_getarticle,
    "message/mass/preview": Api._ep_preview,
    "openapi/quota/get": Api._ep_quota_get,
}


# Calls that see the draft box or what was published: unpolled publish jobs have ended by then.
_SEES_PUBLISHING = frozenset(
    {"draft/get", "draft/batchget", "draft/count", "draft/update", "draft/delete", "freepublish/submit", "freepublish/batchget", "freepublish/getarticle", "message/mass/preview"}
)


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
        raise ApiError(44002, "empty post data")
    try:
        text = body.decode("utf-8")
        if keep_escapes:
            text = re.sub(r"(?<!\\)\\u(?=[0-9a-fA-F]{4})", r"\\\\u", text)
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(47001, "data format error") from None
    if not isinstance(data, dict):
        raise ApiError(47001, "data format error")
    return data


def _media(body: bytes, content_type: str) -> tuple[bytes, str]:
    """The `media` file of a multipart/form-data body, and the file name it was sent with.

    The body is cut at its boundary by hand: the email parser reads a binary body line by line,
    which made the sandbox slower than the 100 ms of latency it is asked to add.
    """
    if "multipart/form-data" not in content_type:
        raise ApiError(41005, "media data missing")
    header = email.message.Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ApiError(41005, "media data missing")
    for part in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        head, found, payload = part.partition(b"\r\n\r\n")
        if not found:
            continue  # the closing "--" after the last boundary
        headers = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(head.lstrip(b"\r\n") + b"\r\n\r\n")
        if headers.get_param("name", header="content-disposition") == "media":
            data = payload[:-2] if payload.endswith(b"\r\n") else payload
            if not data:
                raise ApiError(44001, "empty media data")
            filename = headers.get_param("filename", header="content-disposition")
            return data, filename if isinstance(filename, str) else ""
    raise ApiError(41005, "media data missing")
