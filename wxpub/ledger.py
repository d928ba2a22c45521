"""The ledger: what was uploaded to an account (by sha256) and which draft each post became.

A small JSON file in the project (`wxpub-ledger.json` by default), safe to commit: it holds AppIDs,
image URLs and media_ids, never a secret or a token. Every change is written at once, atomically
(a temporary file renamed over the old one), after re-reading the file, so a run killed at any point
leaves a ledger that a rerun can trust, and two runs do not erase each other's records.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from .cachefiles import write_atomic
from .errors import WxpubError

VERSION = 1


class LedgerError(WxpubError):
    """The ledger file cannot be read or written."""


@dataclass(frozen=True)
class UploadRecord:
    """An image already on the account: its URL (uploadimg) or media_id and URL (material)."""

    sha256: str
    route: str  # "uploadimg" or "material"
    url: str | None
    media_id: str | None = None


@dataclass(frozen=True)
class DraftRecord:
    """A draft made from posts, in order, with the fingerprint of each article as last sent."""

    media_id: str
    posts: tuple[str, ...]
    fingerprints: tuple[str, ...]
    at: float
    publish_id: str | None = None


IDENTITY_KEYS = ("title", "author", "digest", "thumb_media_id")


@dataclass(frozen=True)
class Pending:
    """A draft/add that was started but whose outcome was never recorded (the run was killed)."""

    posts: tuple[str, ...]
    since: float
    fingerprints: tuple[str, ...] = ()  # of the articles that draft/add was sending
    # Their title, author, digest and cover: what finds that draft again, whatever was edited since.
    articles: tuple[Mapping[str, str], ...] = ()


class Ledger:
    """One account's records in the ledger file; thread-safe, each change written at once."""

    def __init__(self, path: str | Path, account: str) -> None:
        self.path = Path(path)
        self.account = account
        self._lock = threading.Lock()
        self._data = self._read()

    def key(self, post: str | Path) -> str:
        """How a post is named in the ledger: its path relative to the ledger's folder, with '/'."""
        post = Path(post).resolve()
        try:
            return post.relative_to(self.path.resolve().parent).as_posix()
        except ValueError:
            return post.as_posix()

    # -- uploads -------------------------------------------------------------------------------
    def upload(self, sha256: str, route: str) -> UploadRecord | None:
        entry = self._account().get("uploads", {}).get(route, {}).get(sha256)
        if not entry:
            return None
        return UploadRecord(sha256, route, entry.get("url"), entry.get("media_id"))

    def record_upload(self, sha256: str, route: str, url: str | None, media_id: str | None = None) -> UploadRecord:
        entry = {"url": url, "at": _now()}
        if media_id:
            entry["media_id"] = media_id
        self._change(lambda acc: acc.setdefault("uploads", {}).setdefault(route, {}).__setitem__(sha256, entry))
        return UploadRecord(sha256, route, url, media_id)

    # -- drafts --------------------------------------------------------------------------------
    def drafts(self) -> list[DraftRecord]:
        records = [
            DraftRecord(
                media_id,
                tuple(entry.get("posts", ())),
                tuple(entry.get("fingerprints", ())),
                float(entry.get("at", 0)),
                entry.get("publish_id"),
            )
            for media_id, entry in self._account().get("drafts", {}).items()
        ]
        return sorted(records, key=lambda r: r.at, reverse=True)

    def draft_of(self, posts: Sequence[str]) -> DraftRecord | None:
        """The newest draft made of exactly these posts, in this order."""
        for record in self.drafts():
            if record.posts == tuple(posts):
                return record
        return None

    def record_draft(self, media_id: str, posts: Sequence[str], fingerprints: Sequence[str]) -> DraftRecord:
        at = time.time()
        entry: dict[str, Any] = {"posts": list(posts), "fingerprints": list(fingerprints), "at": at}

        def change(acc: dict[str, Any]) -> None:
            old = acc.setdefault("drafts", {}).get(media_id, {})
            if old.get("publish_id"):
                entry["publish_id"] = old["publish_id"]
            acc["drafts"][media_id] = entry
            acc.get("pending", {}).pop(_pending_key(posts), None)

        self._change(change)
        return DraftRecord(media_id, tuple(posts), tuple(fingerprints), at)

    def forget_draft(self, media_id: str) -> None:
        """The draft is gone from the account (deleted, or published and so moved out of the box)."""
        self._change(lambda acc: acc.get("drafts", {}).pop(media_id, None))

    def record_publish(self, media_id: str, publish_id: str) -> None:
        self._change(lambda acc: acc.get("drafts", {}).get(media_id, {}).__setitem__("publish_id", publish_id))

    # -- a draft/add in flight -----------------------------------------------------------------
    def begin_add(self, posts: Sequence[str], fingerprints: Sequence[str] = (), articles: Sequence[Mapping[str, Any]] = ()) -> float:
        """Note that draft/add is about to be sent, so a killed run can look for its draft next time."""
        since = time.time()
        identities = [{key: str(a.get(key) or "") for key in IDENTITY_KEYS} for a in articles]
        entry = {"posts": list(posts), "since": since, "fingerprints": list(fingerprints), "articles": identities}
        self._change(lambda acc: acc.setdefault("pending", {}).__setitem__(_pending_key(posts), entry))
        return since

    def pending(self, posts: Sequence[str]) -> Pending | None:
        entry = self._account().get("pending", {}).get(_pending_key(posts))
        if not entry:
            return None
        return Pending(
            tuple(entry["posts"]), float(entry["since"]), tuple(entry.get("fingerprints", ())), tuple(entry.get("articles", ()))
        )

    def clear_pending(self, posts: Sequence[str]) -> None:
        self._change(lambda acc: acc.get("pending", {}).pop(_pending_key(posts), None))

    # -- storage -------------------------------------------------------------------------------
    def _account(self) -> dict[str, Any]:
        with self._lock:
            return self._data.setdefault("accounts", {}).setdefault(self.account, {})

    def _read(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {"version": VERSION, "accounts": {}}
        except OSError as exc:
            raise LedgerError(f"cannot read the ledger: {exc.strerror}", path=self.path) from None
        restore = "restore it from git; deleting it makes the next run upload everything again"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise LedgerError(f"the ledger is not UTF-8 text (byte 0x{raw[exc.start]:02x})", path=self.path, line=line, hint=restore) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LedgerError(
                f"the ledger is not valid JSON ({exc.msg}, line {exc.lineno})", path=self.path, line=exc.lineno, hint=restore
            ) from None
        where = _misshapen(data)
        if where:
            raise LedgerError(f"the ledger does not have the expected shape: {where}", path=self.path, hint=restore)
        return data

    def _change(self, change: Callable[[dict[str, Any]], Any]) -> None:
        # Threads of this run take the lock; other runs (a second terminal, a CI job) the lock file.
        with self._lock, _file_lock(self.path):
            # Re-read first: another run may have written since we loaded.
            self._data = self._read()
            self._data["version"] = VERSION
            change(self._data.setdefault("accounts", {}).setdefault(self.account, {}))
            self._write()

    def _write(self) -> None:
        text = json.dumps(self._data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        try:
            write_atomic(self.path, text.encode("utf-8"), durable=True, shared=True)  # no half-written ledger, ever
        except OSError as exc:
            raise LedgerError(f"cannot write the ledger: {exc.strerror}", path=self.path) from None


@contextlib.contextmanager
def _file_lock(ledger: Path) -> Iterator[None]:
    """An exclusive lock between processes for one ledger, kept in the user cache, not the project."""
    try:
        import fcntl
    except ImportError:  # Windows: runs of one machine at a time are the user's to arrange
        yield
        return
    from .config import user_cache_dir

    folder = user_cache_dir() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(str(ledger.resolve()).encode("utf-8")).hexdigest()[:32]
    with open(folder / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _misshapen(data: Any) -> str | None:
    """Where the ledger's JSON is not what wxpub writes, in words; None when it is."""
    if not isinstance(data, dict) or not isinstance(data.get("accounts", {}), dict):
        return "the top level must be an object with an 'accounts' object"
    for appid, account in data.get("accounts", {}).items():
        if not isinstance(account, dict):
            return f"accounts.{appid} must be an object"
        uploads = account.get("uploads", {})
        if not isinstance(uploads, dict) or not all(
            isinstance(entries, dict) and all(isinstance(entry, dict) for entry in entries.values())
            for entries in uploads.values()
        ):
            return f"accounts.{appid}.uploads must map routes to objects of uploads"
        for name in ("drafts", "pending"):
            table = account.get(name, {})
            if not isinstance(table, dict) or not all(
                isinstance(entry, dict) and isinstance(entry.get("posts", []), list) for entry in table.values()
            ):
                return f"accounts.{appid}.{name} must map ids to objects"
    return None


def _pending_key(posts: Sequence[str]) -> str:
    return "|".join(posts)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
