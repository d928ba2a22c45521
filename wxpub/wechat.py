"""A typed client for the WeChat Official Account API, built on wechatpy's `WeChatClient`.

What this module adds to wechatpy (see the notes in the README):
- tokens from `cgi-bin/stable_token` in normal mode, cached in memory, in a per-account file in the
  user's cache folder, or in Redis, so separate runs and machines share one token;
- a configurable API base (`WXPUB_API_BASE`), for relays with a fixed IP and for the sandbox;
- one request path (`WeChat.call`) with retries as a policy object, one token refresh on
  40001/40014/42001, no retry on quotas (45009/45011), uploads retried with their bytes;
- no blind repeat of a call that is not idempotent: a lost answer is settled by looking on the
  account (`settle`), for as long as the call could still land;
- one translator from errcodes to `WeChatError` sentences with hints;
- redaction: the access token and the AppSecret never reach a message, a log or an exception,
  and no error raised here keeps a chain back to wechatpy or requests (whose URLs hold the token).

This is the only module that imports wechatpy and requests.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar
from urllib.parse import urlsplit

import requests
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage
from wechatpy.session.memorystorage import MemoryStorage

from .cachefiles import write_atomic
from .config import user_cache_dir
from .errors import ConfigError, WeChatError
from .limits import ARTICLES_MAX, AUTHOR_MAX, CONTENT_MAX_CHARS, DIGEST_MAX, TITLE_DOCUMENTED, lengths

DEFAULT_API_BASE = "https://api.weixin.qq.com/"
_T = TypeVar("_T")

# --- status words and error families ------------------------------------------------------------
PUBLISH_STATUS = {  # freepublish/get publish_status, in words
    0: "published",
    1: "publishing",
    2: "failed: the originality check did not pass",
    3: "failed",
    4: "failed: rejected by the platform's review",
    5: "published, then every article was deleted by the account",
    6: "published, then every article was banned by the platform",
}
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
QUOTA_ERRCODES = frozenset({45009, 45011})


# --- redaction --------------------------------------------------------------------------------
_TOKEN_IN_TEXT = re.compile(r"(access_token[\"']?\s*[=:]\s*[\"']?)[^&\s\"',)}]+")
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Add a value (a secret, a token) to those `redact` removes from any text."""
    if value and len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """`text` without access tokens (in URLs or JSON) and without any remembered secret."""
    text = _TOKEN_IN_TEXT.sub(r"\1***", text)
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        text = text.replace(value, "***")
    return text


class _RedactingFilter(logging.Filter):
    """Rewrites log records of urllib3/requests/wechatpy, whose debug lines carry the token in URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = _RedactingFilter()
# A logger's filter sees only records logged on that very logger, not its children's: name every
# logger of these libraries that may write a URL (they carry the token in the query string).
for _name in (
    "requests",
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "wechatpy",
    "wechatpy.client.base",
):
    logging.getLogger(_name).addFilter(_FILTER)


# --- retries ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures (-1, HTTP 5xx, timeouts, dropped connections)."""

    tries: int = 4  # attempts in all, the first included
    first_delay: float = 0.5  # seconds before the second attempt
    factor: float = 2.0
    max_delay: float = 8.0
    jitter: float = 0.1  # +-10 %, so that concurrent uploads do not retry in lockstep
    # A call whose answer was lost may still land: WeChat can act after the client gave up waiting
    # (30 s). Within `settle` seconds of sending it, it has landed or never will.
    settle: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        base = min(self.max_delay, self.first_delay * self.factor ** (attempt - 1))
        return max(0.0, base * (1 + random.uniform(-self.jitter, self.jitter)))

    def wait(self, attempt: int) -> None:
        self.sleep(self.delay(attempt))

    def looks(self, since: float, now: float | None = None) -> Iterator[None]:
        """Yield once now, then after each pause of a doubling schedule until `settle` seconds after `since`.

        The schedule is computed once from the clock, so an injected sleep that does not wait still
        makes a bounded number of looks."""
        remaining = since + self.settle - (time.time() if now is None else now)
        yield None
        pause = self.first_delay
        while remaining > 0:
            step = min(pause, remaining)
            self.sleep(step)
            remaining -= step
            pause = min(pause * self.factor, self.max_delay)
            yield None


# --- token storage ----------------------------------------------------------------------------
class FileStorage(SessionStorage):
    """wechatpy session storage in one JSON file per account (token and expiry only, never the secret)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str, default: Any = None) -> Any:
        entry = self._load().get(key)
        if not isinstance(entry, dict):
            return default
        expires = entry.get("expires")
        if expires is not None and expires < time.time():
            return default
        return entry.get("value", default)

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if value is None:
            return
        with self._lock:
            data = self._load()
            data[key] = {"value": value, "expires": time.time() + ttl if ttl else None}
            self._write(data)

    def delete(self, key: str) -> None:
        with self._lock:
            data = self._load()
            if data.pop(key, None) is not None:
                self._write(data)

    def _write(self, data: Mapping[str, Any]) -> None:
        write_atomic(self.path, json.dumps(data).encode("utf-8"))  # owner-only: a token is a credential for two hours


def token_storage(spec: str | None, appid: str, *, redis_from_url: Callable[[str], Any] | None = None) -> SessionStorage:
    """The token cache named by WXPUB_TOKEN_STORE: `memory` (default), `file`, `file:DIR`, or `redis://…`."""
    spec = (spec or "memory").strip()
    if spec == "memory":
        return MemoryStorage()
    if spec == "file" or spec.startswith("file:"):
        folder = Path(spec[5:]).expanduser() if spec.startswith("file:") and spec[5:] else user_cache_dir() / "tokens"
        return FileStorage(folder / f"{appid}.json")
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from wechatpy.session.redisstorage import RedisStorage

        if redis_from_url is None:
            try:
                import redis
            except ImportError:
                raise ConfigError(
                    "WXPUB_TOKEN_STORE names Redis but the redis package is not installed",
                    hint="pip install 'wxpub[redis]'",
                ) from None
            redis_from_url = redis.Redis.from_url
        return RedisStorage(redis_from_url(spec), prefix="wxpub")
    raise ConfigError(
        f"WXPUB_TOKEN_STORE={redact(spec)!r} is not a token store",
        hint="use memory, file, file:/some/folder or redis://host:6379/0",
    )


# --- errcode -> sentence ----------------------------------------------------------------------
_WHITELIST = "设置与开发 → 基本配置 → IP白名单"
_MEANINGS: dict[int, tuple[str, str | None]] = {
    -1: ("WeChat is busy (system error)", "try again in a minute"),
    40001: ("the access token was refused or the credentials are wrong", "check {appid} and {secret}"),
    40002: ("an argument is invalid", None),
    40003: ("the recipient is not a follower of this account", "the WeChat ID must follow the account"),
    40004: ("the media type is invalid", None),
    40005: ("the file type is not accepted", "content images must be JPG or PNG; the cover BMP, PNG, JPEG or GIF"),
    40006: ("the file size is invalid", None),
    40007: ("the media_id is not valid for this account", "the draft or material no longer exists or belongs to another account"),
    40008: ("the message type is invalid", None),
    40009: ("the image is too large", "content images must be under 1 MB, covers at most 10 MB"),
    40013: ("the AppID is not valid", "check {appid}: it starts with 'wx' (设置与开发 → 基本配置)"),
    40014: ("the access token is not valid", None),
    40097: ("the arguments are invalid", None),
    40114: ("the article index is invalid", "the draft has fewer articles than the ledger says"),
    40125: ("the AppSecret is wrong", "check {secret}; reset it under 设置与开发 → 基本配置 → 开发者密码 if unsure"),
    40243: ("the AppSecret is frozen", "unfreeze or reset it under 设置与开发 → 基本配置"),
    41001: ("the access token is missing", None),
    41002: ("the AppID is missing", "set {appid}"),
    41004: ("the AppSecret is missing", "set {secret}"),
    41005: ("the upload carried no file", None),
    41039: ("the source URL (content_source_url) is not valid", "use a full http(s) URL in source_url"),
    42001: ("the access token expired", None),
    43001: ("WeChat wants GET for this call", None),
    43002: ("WeChat wants POST for this call", None),
    44001: ("the uploaded file was empty", None),
    44002: ("the request body was empty", None),
    44003: ("the draft has no articles", None),
    44004: ("the article content is empty", "write something in the post"),
    45001: ("the file is too large", None),
    45002: ("the content is too long for WeChat (20,000 characters of HTML, inline styles included)", "split the post or use a lighter theme"),
    45003: ("the title is too long for WeChat", "shorten the title"),
    45004: ("the digest is too long for WeChat", "shorten digest:"),
    45005: ("the source URL is too long (at most 1 KB)", "shorten source_url"),
    45008: (f"a draft takes at most {ARTICLES_MAX} articles", f"publish at most {ARTICLES_MAX} posts at once"),
    45009: ("the daily quota of this call is used up", "wait until tomorrow, or reset it with cgi-bin/clear_quota, 10 times a month"),
    45011: ("the per-minute quota of this call is used up", "wait a minute and run again"),
    45110: ("the author is too long for WeChat", "shorten author:"),
    45166: ("WeChat refused the content as invalid", "look for unusual HTML or links in the post"),
    47001: ("WeChat could not parse the request", None),
    48001: ("this account may not use this call", "publishing (freepublish) needs a verified account; a test account cannot preview news"),
    50004: ("the token call is forbidden for this account", None),
    50007: ("the account is frozen", None),
    53503: ("the draft failed WeChat's publish check", "open the draft on mp.weixin.qq.com to see why"),
    53504: ("this draft must be published on the website", "open it on mp.weixin.qq.com"),
    53505: ("the draft must be saved by hand on the website before publishing", "open it on mp.weixin.qq.com and save it"),
    53600: ("WeChat knows no published article by this article_id (deleted, or of another account)", None),
    88000: ("the account has no comment privilege", "set comments: closed in the front matter"),
    89503: ("this IP needs an administrator's confirmation", "the administrator received a message in WeChat; confirm it and run again"),
    89506: ("this IP was refused by the administrator (blocked for 24 hours)", f"add it under {_WHITELIST}"),
    89507: ("this IP was refused by the administrator (blocked for 1 hour)", f"add it under {_WHITELIST}"),
}
_IP = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]{3,}:[0-9a-fA-F:]+)\b")
_LENGTH_FIELDS = {45003: ("title", TITLE_DOCUMENTED), 45110: ("author", AUTHOR_MAX), 45004: ("digest", DIGEST_MAX)}
# A refused draft keeps nothing of the post, but every image it uploaded is in the ledger.
_KEPT = "the uploads are kept, so the rerun after the fix uploads nothing again"


def translate(
    errcode: int,
    errmsg: str | None,
    endpoint: str,
    articles: Sequence[Mapping[str, Any]] = (),
    secret_from: str = "WXPUB_SECRET",
    appid_from: str = "WXPUB_APPID",
) -> WeChatError:
    """The one translator: an errcode (and the call it answered) -> a WeChatError that says what to do.

    `secret_from` and `appid_from`: where the AppSecret and the AppID were read (an account's own
    variable, a secret_file, an account's table in wxpub.toml), named by the hints that tell to check them."""
    errmsg = redact(str(errmsg or ""))
    meaning, hint = _MEANINGS.get(errcode, (f"WeChat refused the call: {errmsg.split(' hint:')[0] or 'no message'}", None))
    hint = hint.replace("{secret}", secret_from).replace("{appid}", appid_from) if hint else hint
    if errcode == 40164:
        found = _IP.search(errmsg)
        ip = found.group(1) if found else "this machine's IP"
        meaning = f"{ip} is not on the account's IP whitelist"
        hint = f"add {ip} under {_WHITELIST} on mp.weixin.qq.com, or call through a relay with a fixed IP (WXPUB_API_BASE)"
    elif errcode in _LENGTH_FIELDS and articles:
        name, limit = _LENGTH_FIELDS[errcode]
        text = max((str(a.get(name) or "") for a in articles), key=lambda value: len(value.encode("utf-8")))
        meaning = f"WeChat refused the {name} {text!r} as too long ({lengths(text)}; its documented limit is {limit} characters)"
        hint = f"shorten {name}: in the front matter and run again; {_KEPT}"
    elif errcode == 45002 and articles:
        longest = max((str(a.get("content") or "") for a in articles), key=len)
        meaning = (
            f"{meaning}: the content is {lengths(longest)}; WeChat takes fewer than {CONTENT_MAX_CHARS:,} characters and 1 MB"
        )
        hint = f"split the post, use a lighter theme, or publish with --fit; {_KEPT}"
    elif errcode == 45008 and articles:
        meaning = f"{meaning}; this one has {len(articles)}"
    return WeChatError(f"{endpoint}: {meaning} (errcode {errcode})", errcode=errcode, endpoint=endpoint, errmsg=errmsg, hint=hint)


# --- the client -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Failure:
    """What went wrong with one attempt, as plain data: the exception itself (its request URL holds
    the token, its client the secret) is never kept."""

    errcode: int | None = None  # WeChat's, for an error answer
    errmsg: str = ""  # redacted
    status: int | None = None  # the HTTP status, for an HTTP error
    what: str = ""  # in words, for a network failure
    host: str = ""
    sent: bool = True  # the request may have reached the server

    @classmethod
    def of_answer(cls, exc: WeChatClientException) -> _Failure:
        if exc.errcode is None:  # an HTTP error status
            return cls(status=getattr(exc.response, "status_code", None) or 500)
        return cls(errcode=int(exc.errcode), errmsg=redact(str(exc.errmsg or "")))

    @classmethod
    def of_network(cls, exc: requests.RequestException) -> _Failure:
        sent = _maybe_sent(exc)
        if isinstance(exc, requests.Timeout):
            what = "timed out"
        elif isinstance(exc, requests.ConnectionError) and not sent:
            what = "could not connect"
        elif isinstance(exc, requests.ConnectionError):
            what = "lost the connection before the answer came"
        else:
            what = f"failed ({type(exc).__name__})"
        host = re.sub(r"^https?://([^/]+).*$", r"\1", str(getattr(exc.request, "url", "") or "")) or "the API"
        return cls(what=what, host=redact(host), sent=sent)

    def error(self, endpoint: str, *, maybe_done: bool) -> WeChatError:
        if self.status is not None:
            return WeChatError(
                f"{endpoint}: the server answered HTTP {self.status}",
                endpoint=endpoint,
                maybe_done=maybe_done,
                hint="WeChat or the relay in WXPUB_API_BASE is failing; try again later",
            )
        return WeChatError(
            f"{endpoint}: the request to {self.host} {self.what}",
            endpoint=endpoint,
            maybe_done=maybe_done,
            hint="check the network or WXPUB_API_BASE, then run again: nothing is done twice",
        )


class StableTokenClient(WeChatClient):
    """wechatpy's client with tokens from cgi-bin/stable_token, a configurable base and a shared token cache."""

    def __init__(self, appid: str, secret: str, *, api_base: str, session: SessionStorage, timeout: Any) -> None:
        super().__init__(appid, secret, session=session, timeout=timeout, auto_retry=False)
        # wechatpy joins API_BASE_URL and the endpoint; the instance attribute overrides the class's.
        self.API_BASE_URL = api_base + "cgi-bin/"
        self._token_lock = threading.Lock()
        self._fetch: Callable[[], dict[str, Any]] | None = None  # set by WeChat: goes through its retries

    @property
    def expires_at_key(self) -> str:
        return f"{self.appid}_access_token_expires_at"

    @property
    def access_token(self) -> str:
        """The cached token while more than 60 s remain, else a fresh one (shared through the storage)."""
        token, expires_at = self.session.get(self.access_token_key), self.session.get(self.expires_at_key)
        if token and expires_at and float(expires_at) - time.time() > 60:
            remember_secret(token)
            return token
        with self._token_lock:
            token, expires_at = self.session.get(self.access_token_key), self.session.get(self.expires_at_key)
            if token and expires_at and float(expires_at) - time.time() > 60:
                return token
            self.fetch_access_token()
            return self.session.get(self.access_token_key)

    def refresh_after_refusal(self, refused: str) -> None:
        """Drop a refused token and fetch another, unless another thread already did."""
        with self._token_lock:
            if self.session.get(self.access_token_key) == refused:
                self.session.delete(self.access_token_key)
                self.session.delete(self.expires_at_key)
                self.fetch_access_token()

    def fetch_access_token(self) -> dict[str, Any]:
        """POST cgi-bin/stable_token in normal mode (never force_refresh: it would kill every other
        machine's token). https://developers.weixin.qq.com/doc/service/api/base/api_getstableaccesstoken"""
        result = self._fetch() if self._fetch else self.stable_token_request()
        token = result["access_token"]
        remember_secret(token)
        expires_in = int(result.get("expires_in") or 7200)
        self.session.set(self.access_token_key, token, expires_in)
        self.session.set(self.expires_at_key, int(time.time()) + expires_in, expires_in)
        self.expires_at = int(time.time()) + expires_in
        return {"expires_in": expires_in}

    def stable_token_request(self) -> dict[str, Any]:
        body = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret, "force_refresh": False}
        # params as a list: wechatpy adds ?access_token= only when params is a dict.
        return self._request(
            "post",
            "stable_token",
            params=[],
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )


@dataclass(frozen=True)
class Upload:
    """What an upload returned: a URL (uploadimg) or a permanent material's media_id and URL."""

    url: str | None
    media_id: str | None = None


class WeChat:
    """The API calls wxpub makes, through one request path with retries, token refresh and translation."""

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        api_base: str | None = None,
        storage: SessionStorage | str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        on_call: Callable[[str], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
        secret_from: str = "WXPUB_SECRET",
        appid_from: str = "WXPUB_APPID",
    ) -> None:
        if not appid:
            raise ConfigError("no AppID", hint="set WXPUB_APPID (设置与开发 → 基本配置)")
        if not secret:
            raise ConfigError("no AppSecret", hint="set WXPUB_SECRET, or secret_file in wxpub.toml")
        remember_secret(secret)
        self.appid = appid
        self.secret_from = secret_from
        self.appid_from = appid_from
        self.api_base = normalize_base(api_base or os.environ.get("WXPUB_API_BASE") or DEFAULT_API_BASE)
        if storage is None or isinstance(storage, str):
            storage = token_storage(storage if isinstance(storage, str) else os.environ.get("WXPUB_TOKEN_STORE"), appid)
        self.retry = retry or RetryPolicy()
        self.on_call = on_call
        self.on_wait = on_wait  # told, for the person, when a lost answer is waited for
        self.calls = 0  # requests sent, retries and token fetches included
        self._calls_lock = threading.Lock()
        self._client = StableTokenClient(appid, secret, api_base=self.api_base, session=storage, timeout=timeout)
        self._client._fetch = lambda: self.call("post", "stable_token", _token=False, _raw=self._client.stable_token_request)

    def __repr__(self) -> str:
        return f"WeChat(appid={self.appid!r}, api_base={self.api_base!r})"

    # -- the one request path ------------------------------------------------------------------
    def call(
        self,
        method: str,
        endpoint: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = True,
        recover: Callable[[float], dict[str, Any] | None] | None = None,
        on_resend: Callable[[], None] | None = None,
        articles: Sequence[Mapping[str, Any]] = (),
        binary: bool = False,
        _token: bool = True,
        _raw: Callable[[], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Call `{base}cgi-bin/{endpoint}`; retry what is transient, refresh the token once, translate errors.

        A call that is not idempotent (draft/add, add_material) is never sent again blindly after a
        lost answer: without `recover` the error says it may have been done (`maybe_done`); with it,
        `recover(sent_at)` looks on the account (waiting long enough for a slow call to land) and
        what it finds is the answer; only when it finds nothing is the call sent again. `on_resend`
        is told whenever an idempotent request that may have reached the server is sent again.
        With `binary`, an answer that is not JSON (material/get_material's bytes) is a success.
        """
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            token: str | None = None
            failure: _Failure | None = None
            result: Any = None
            sent_at = time.time()
            try:
                with self._calls_lock:
                    self.calls += 1
                if self.on_call:
                    self.on_call(endpoint)
                if _raw is not None:
                    result = _raw()
                else:
                    query = dict(params or {})
                    if _token:
                        token = self._client.access_token
                        query["access_token"] = token
                    kwargs: dict[str, Any] = {"params": query}
                    if json_body is not None:
                        # raw UTF-8: WeChat wants no \\u escapes (it would count and store them literally)
                        kwargs["data"] = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
                        kwargs["headers"] = {"Content-Type": "application/json; charset=utf-8"}
                    if files is not None:
                        kwargs["files"] = dict(files)  # (name, bytes, type): resent whole on a retry
                    result = self._client._request(method, endpoint, **kwargs)
            except WeChatClientException as exc:
                failure = _Failure.of_answer(exc)
            except requests.RequestException as exc:
                failure = _Failure.of_network(exc)
            # From here on no exception is being handled: an error raised below never keeps the
            # wechatpy or requests exception (whose request URL holds the token) as its __context__.
            if failure is None:
                if binary and isinstance(result, requests.Response):
                    return {"bytes": len(result.content)}
                if not isinstance(result, dict):
                    raise WeChatError(f"{endpoint}: WeChat answered something that is not JSON", endpoint=endpoint)
                return result
            if failure.errcode is not None:
                if failure.errcode in TOKEN_ERRCODES and _token and token and not refreshed:
                    refreshed = True  # once per call: a server that keeps refusing must not loop us
                    self._client.refresh_after_refusal(token)
                    continue
                if failure.errcode == -1 and attempt < self.retry.tries:
                    self.retry.wait(attempt)
                    continue
                raise translate(failure.errcode, failure.errmsg, endpoint, articles, self.secret_from, self.appid_from)
            if failure.status is not None and failure.status < 500:
                raise failure.error(endpoint, maybe_done=False)  # a definite refusal by the server or relay
            if failure.sent and not idempotent:
                if recover is None:
                    raise failure.error(endpoint, maybe_done=True)
                found = _recover(recover, sent_at, endpoint)
                if found is not None:
                    return found
                # Not on the account after waiting long enough for it to land: sending it again repeats nothing.
            elif failure.sent and on_resend is not None and attempt < self.retry.tries:
                on_resend()
            if attempt < self.retry.tries:
                self.retry.wait(attempt)
                continue
            raise failure.error(endpoint, maybe_done=failure.sent and not idempotent)

    def settle(self, look: Callable[[], _T | None], sent_at: float, what: str = "the call") -> _T | None:
        """What `look` finds on the account, looking again on a doubling schedule until the call sent at
        `sent_at` has had `retry.settle` seconds to land; None when it never showed up."""
        for count, _ in enumerate(self.retry.looks(sent_at)):
            if count == 1 and self.on_wait is not None:
                self.on_wait(f"{what} whose answer was lost is not on the account yet; looking again until {self.retry.settle:g} s after it was sent")
            found = look()
            if found is not None:
                return found
        return None

    # -- the endpoints wxpub uses --------------------------------------------------------------
    def ensure_token(self) -> None:
        """Fetch (or read from the cache) a token now, so that concurrent uploads share it."""
        _ = self._client.access_token

    def upload_image(self, data: bytes, filename: str, mime: str, *, on_resend: Callable[[], None] | None = None) -> Upload:
        """POST media/uploadimg: an image for article content (JPG/PNG under 1 MB) -> its URL.

        These uploads cannot be listed, so a lost answer cannot be settled by looking: the image is
        sent again and `on_resend` told (an unused copy may stay on the account; it costs no quota).
        https://developers.weixin.qq.com/doc/service/api/material/permanent/api_uploadimage"""
        result = self.call("post", "media/uploadimg", files={"media": (filename, data, mime)}, on_resend=on_resend)
        return Upload(url=result["url"])

    def add_image_material(self, data: bytes, name: str, mime: str, *, since: float | None = None) -> Upload:
        """POST material/add_material?type=image: a permanent image (the cover, animated GIFs) -> media_id, URL.

        `name` is the file name the material keeps (wxpub derives it from the sha256), by which a lost
        answer is settled with material/batchget_material instead of uploading a second copy.
        https://developers.weixin.qq.com/doc/service/api/material/permanent/api_addmaterial"""
        started = time.time() if since is None else since

        def recover(sent_at: float) -> dict[str, Any] | None:
            found = self.settle(lambda: self.find_material(name, since=started), sent_at, f"the upload of {name}")
            return {"media_id": found.media_id, "url": found.url} if found else None

        result = self.call(
            "post", "material/add_material", params={"type": "image"}, files={"media": (name, data, mime)}, idempotent=False, recover=recover
        )
        return Upload(url=result.get("url"), media_id=result["media_id"])

    def find_material(self, name: str, *, since: float) -> Upload | None:
        """The permanent image named `name` added at or after `since`, if the account has it.

        material/batchget_material lists the newest first, 20 at a time: pages are read until one
        reaches materials older than `since` (ten at most).
        https://developers.weixin.qq.com/doc/service/api/material/permanent/api_batchgetmaterial"""
        offset = 0
        for _ in range(10):
            page = self.call("post", "material/batchget_material", json_body={"type": "image", "offset": offset, "count": 20})
            items = page.get("item") or []
            for item in items:
                if item.get("name") == name and item.get("media_id"):
                    return Upload(url=item.get("url"), media_id=str(item["media_id"]))
            offset += len(items)
            older = any(int(item.get("update_time") or 0) < int(since) - 120 for item in items)
            if not items or older or offset >= int(page.get("total_count") or 0):
                break
        return None

    def material_exists(self, media_id: str) -> bool:
        """Whether the account still has this permanent material (material/get_material; 40007 when gone).
        https://developers.weixin.qq.com/doc/service/api/material/permanent/api_getmaterial"""
        try:
            self.call("post", "material/get_material", json_body={"media_id": media_id}, binary=True)
        except WeChatError as error:
            if error.errcode == 40007:
                return False
            raise
        return True

    def add_draft(self, articles: Sequence[Mapping[str, Any]], *, since: float | None = None, exclude: Iterable[str] = ()) -> str:
        """POST draft/add -> the draft's media_id. A lost answer is settled by looking for the draft,
        long enough for a slow add to land, never by adding blindly again.
        https://developers.weixin.qq.com/doc/service/api/draftbox/draftmanage/api_draft_add"""
        started = time.time() if since is None else since
        excluded = list(exclude)

        def recover(sent_at: float) -> dict[str, Any] | None:
            media_id = self.settle(lambda: self.find_draft(articles, since=started, exclude=excluded), sent_at, "the draft/add")
            return {"media_id": media_id} if media_id else None

        result = self.call("post", "draft/add", json_body={"articles": list(articles)}, idempotent=False, recover=recover, articles=articles)
        return str(result["media_id"])

    def update_draft(self, media_id: str, index: int, article: Mapping[str, Any]) -> None:
        """POST draft/update: replace article `index` (0-based); `articles` is ONE object, not a list.
        https://developers.weixin.qq.com/doc/service/api/draftbox/draftmanage/api_draft_update"""
        self.call("post", "draft/update", json_body={"media_id": media_id, "index": index, "articles": dict(article)}, articles=[article])

    def get_draft(self, media_id: str) -> list[dict[str, Any]] | None:
        """POST draft/get -> its articles, or None when the draft is gone (deleted or published).
        https://developers.weixin.qq.com/doc/service/api/draftbox/draftmanage/api_getdraft"""
        try:
            return self.call("post", "draft/get", json_body={"media_id": media_id}).get("news_item", [])
        except WeChatError as error:
            if error.errcode == 40007:
                return None
            raise

    def batchget_drafts(self, offset: int = 0, count: int = 20, *, no_content: bool = True) -> dict[str, Any]:
        """POST draft/batchget: newest drafts first.
        https://developers.weixin.qq.com/doc/service/en/api/draftbox/draftmanage/api_draft_batchget"""
        return self.call("post", "draft/batchget", json_body={"offset": offset, "count": count, "no_content": 1 if no_content else 0})

    def find_draft(self, articles: Sequence[Mapping[str, Any]], *, since: float, exclude: Iterable[str] = ()) -> str | None:
        """The media_id of a draft holding exactly these articles, updated at or after `since`, if any.

        Titles, authors, covers and digests must match; content is not compared because WeChat may
        normalise HTML. Looks at the newest 20 drafts only (one call)."""
        listing = self.batchget_drafts(0, 20, no_content=True)
        return _holding(listing, "media_id", articles, since, frozenset(exclude))

    def find_published(self, articles: Sequence[Mapping[str, Any]], *, since: float) -> str | None:
        """The article_id of what was published with exactly these articles at or after `since`, if any.

        Matched as find_draft matches drafts; looks at the newest 20 (one call of
        freepublish/batchget, 100 a day).
        https://developers.weixin.qq.com/doc/service/api/public/api_freepublish_batchget"""
        listing = self.call("post", "freepublish/batchget", json_body={"offset": 0, "count": 20, "no_content": 1})
        return _holding(listing, "article_id", articles, since)

    def submit(self, media_id: str) -> str:
        """POST freepublish/submit -> publish_id (as a string; WeChat sends either a string or a number).
        https://developers.weixin.qq.com/doc/service/api/public/api_freepublish_submit"""
        result = self.call("post", "freepublish/submit", json_body={"media_id": media_id}, idempotent=False)
        return str(result["publish_id"])

    def publish_status(self, publish_id: str) -> dict[str, Any]:
        """POST freepublish/get: publish_status 0 success, 1 publishing, 2-6 failures (100 calls a day).
        https://developers.weixin.qq.com/doc/service/api/public/api_freepublish_get"""
        return self.call("post", "freepublish/get", json_body={"publish_id": publish_id})

    def get_article(self, article_id: str) -> list[dict[str, Any]]:
        """POST freepublish/getarticle -> the published articles, as kept (each with `url` and `is_deleted`).

        Errors as WeChatError: 53600 for an unknown article_id, 48001 on an unverified account (100 a day).
        https://developers.weixin.qq.com/doc/service/api/public/api_freepublish_getarticle"""
        return list(self.call("post", "freepublish/getarticle", json_body={"article_id": article_id}).get("news_item", []))

    def quota(self, endpoint: str) -> dict[str, int]:
        """POST openapi/quota/get: today's daily_limit, used and remain of one call (`draft/add`).
        https://developers.weixin.qq.com/doc/service/api/apimange/api_getquota"""
        answer = self.call("post", "openapi/quota/get", json_body={"cgi_path": f"/cgi-bin/{endpoint}"})
        quota = answer.get("quota") or {}
        return {key: int(quota.get(key) or 0) for key in ("daily_limit", "used", "remain")}

    def preview(self, wxname: str, media_id: str) -> str:
        """POST message/mass/preview to a WeChat ID (towxname; 100 a day) -> msg_id.
        https://developers.weixin.qq.com/doc/service/api/notify/message/api_preview"""
        body = {"towxname": wxname, "msgtype": "mpnews", "mpnews": {"media_id": media_id}}
        try:
            return str(self.call("post", "message/mass/preview", json_body=body, idempotent=False).get("msg_id", ""))
        except WeChatError as error:
            if not error.maybe_done:
                raise
            lost = error
        # Previews cannot be listed, so a lost answer cannot be settled: the rerun sends another.
        raise WeChatError(
            f"{lost.message}; the preview to {wxname} may have been sent, and a rerun sends it again",
            endpoint=lost.endpoint,
            maybe_done=True,
            hint=f"look in WeChat as {wxname} first; run again without --preview-to if it arrived",
        )


def _recover(recover: Callable[[float], dict[str, Any] | None], sent_at: float, endpoint: str) -> dict[str, Any] | None:
    """Ask whether a call whose answer was lost took effect; if even that fails, say the state is unknown."""
    problem = ""
    try:
        return recover(sent_at)
    except WeChatError as error:
        problem = error.message
    # Raised here, not in the except clause: the new error keeps no chain.
    raise WeChatError(
        f"{endpoint}: the answer was lost and checking whether it took effect failed too: {problem}",
        endpoint=endpoint,
        maybe_done=True,
        hint="run again later: the ledger makes the next run look for the result before acting",
    )


def normalize_base(base: str) -> str:
    """`https://host/` form: a scheme, and exactly one trailing slash (calls go to {base}cgi-bin/...)."""
    base = base.strip()
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"API base {base!r} is not an http(s) URL", hint="e.g. WXPUB_API_BASE=https://api.weixin.qq.com/")
    parts = urlsplit(base)
    if parts.username or parts.password:
        raise ConfigError("the API base must not hold a user name or password", hint="give the relay's address only")
    # The AppSecret travels in the stable_token body: never in clear text beyond this machine.
    if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(
            f"the API base {base!r} is plain http", hint="use https (plain http is only for a sandbox on 127.0.0.1)"
        )
    base = base.rstrip("/")
    if base.endswith("/cgi-bin"):
        base = base[: -len("/cgi-bin")]
    return base + "/"


def _holding(listing: Mapping[str, Any], key: str, articles: Sequence[Mapping[str, Any]], since: float, exclude: frozenset[str] = frozenset()) -> str | None:
    """`key` of the first item of a draft or publish listing that holds exactly these articles and was
    updated at or after `since` (two minutes' grace for clocks)."""
    single = len(articles) == 1  # WeChat keeps a digest only in single-article drafts
    wanted = [_identity(a, single) for a in articles]
    for item in listing.get("item", []):
        news = item.get("content", {}).get("news_item", [])
        if item.get(key) in exclude or int(item.get("update_time") or 0) < int(since) - 120:
            continue
        if [_identity(a, single) for a in news] == wanted:
            return str(item[key])
    return None


def _identity(article: Mapping[str, Any], with_digest: bool) -> tuple[str, str, str, str]:
    return (
        str(article.get("title") or ""),
        str(article.get("author") or ""),
        str(article.get("thumb_media_id") or ""),
        str(article.get("digest") or "") if with_digest else "",
    )


def _maybe_sent(exc: requests.RequestException) -> bool:
    """False only when the request surely never reached the server (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc.args)
        return not ("NewConnectionError" in text or "Failed to establish" in text or "NameResolutionError" in text)
    return True
