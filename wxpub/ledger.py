"""The ledger: what was uploaded to an account (by sha256) and which draft each post became.

A small JSON file in the project (`wxpub-ledger.json` by default), safe to commit: it holds AppIDs,
image URLs and media_ids, never a secret or a token. Every change is written at once, atomically
(a temporary file renamed over the old one), after re-reading the file, so a run killed at any point
leaves a ledger that a rerun can trust, and two runs do not erase each other's records.

Each upload and each draft/add is noted as pending before it is sent, so that an answer lost with
a killed run is settled from the account by the next one. `FilePublishLock` serialises whole
publishes to one account from one ledger.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping, Protocol, Sequence

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
    article_id: str | None = None  # from freepublish/get once published, or found by a later run when the submit's answer was lost
    submitting: float | None = None  # when a freepublish/submit was sent whose answer was never recorded

    @property
    def published(self) -> bool:
        return bool(self.publish_id or self.article_id)


IDENTITY_KEYS = ("title", "author", "digest", "thumb_media_id")


@dataclass(frozen=True)
class PendingUpload:
    """An upload that was sent (or about to be) but whose answer was never recorded."""

    sha256: str
    route: str
    since: float
    name: str = ""  # the file name a material was sent with, by which the account lists it


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

    def publish_lock(self, on_wait: Callable[[str], None] | None = None) -> PublishLock:
        """The lock that serialises publishes to this account from this ledger (a file lock on this machine)."""
        return FilePublishLock(self.account, self.path, on_wait=on_wait)

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

        def change(acc: dict[str, Any]) -> None:
            acc.setdefault("uploads", {}).setdefault(route, {})[sha256] = entry
            _drop(acc, "pending_uploads", route, sha256)

        self._change(change)
        return UploadRecord(sha256, route, url, media_id)

    def forget_upload(self, sha256: str, route: str) -> None:
        """The account no longer has this upload (a material deleted on the website, another account's ledger)."""
        self._change(lambda acc: _drop(acc, "uploads", route, sha256))

    # -- an upload in flight -------------------------------------------------------------------
    def begin_upload(self, sha256: str, route: str, name: str = "") -> float:
        """Note that an upload is about to be sent, so that a lost answer is settled, not repeated blindly."""
        since = time.time()
        entry = {"since": since, "name": name}
        self._change(lambda acc: acc.setdefault("pending_uploads", {}).setdefault(route, {}).__setitem__(sha256, entry))
        return since

    def pending_upload(self, sha256: str, route: str) -> PendingUpload | None:
        entry = self._account().get("pending_uploads", {}).get(route, {}).get(sha256)
        if not entry:
            return None
        return PendingUpload(sha256, route, float(entry.get("since", 0)), str(entry.get("name") or ""))

    def clear_pending_upload(self, sha256: str, route: str) -> None:
        """The upload was refused outright: there is nothing to look for."""
        self._change(lambda acc: _drop(acc, "pending_uploads", route, sha256))

    # -- drafts --------------------------------------------------------------------------------
    def drafts(self) -> list[DraftRecord]:
        records = [
            DraftRecord(
                media_id,
                tuple(entry.get("posts", ())),
                tuple(entry.get("fingerprints", ())),
                float(entry.get("at", 0)),
                entry.get("publish_id"),
                entry.get("article_id"),
                entry.get("submitting"),
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

    def draft_holding(self, posts: Sequence[str]) -> DraftRecord | None:
        """The draft these posts are saved in: the newest made of exactly them, in this order, else the
        newest that holds every one of them (posts published together, named now on their own).

        Publishing, its dry run, `--changed` and verify all ask this, so they agree on where a post is."""
        exact = self.draft_of(posts)
        if exact is not None:
            return exact
        return next((record for record in self.drafts() if posts and all(post in record.posts for post in posts)), None)

    def path_of(self, key: str) -> Path:
        """The file a ledger key names (the inverse of `key`)."""
        return self.path.resolve().parent / key

    def record_draft(self, media_id: str, posts: Sequence[str], fingerprints: Sequence[str]) -> DraftRecord:
        at = time.time()
        entry: dict[str, Any] = {"posts": list(posts), "fingerprints": list(fingerprints), "at": at}

        def change(acc: dict[str, Any]) -> None:
            old = acc.setdefault("drafts", {}).get(media_id, {})
            for kept in ("publish_id", "article_id", "submitting"):
                if old.get(kept):
                    entry[kept] = old[kept]
            acc["drafts"][media_id] = entry
            acc.get("pending", {}).pop(_pending_key(posts), None)

        self._change(change)
        return DraftRecord(media_id, tuple(posts), tuple(fingerprints), at)

    def forget_draft(self, media_id: str) -> None:
        """The draft is gone from the account (deleted, or published and so moved out of the box)."""
        self._change(lambda acc: acc.get("drafts", {}).pop(media_id, None))

    def begin_submit(self, media_id: str) -> float:
        """Note that freepublish/submit is about to be sent, so a run that loses its answer can look for it."""
        since = time.time()
        self._change(lambda acc: acc.get("drafts", {}).get(media_id, {}).__setitem__("submitting", since))
        return since

    def clear_submit(self, media_id: str) -> None:
        """The submit surely did not happen (refused, or never sent)."""
        self._change(lambda acc: acc.get("drafts", {}).get(media_id, {}).pop("submitting", None))

    def record_publish(self, media_id: str, publish_id: str) -> None:
        self._submitted(media_id, "publish_id", publish_id)

    def record_published(self, media_id: str, article_id: str) -> None:
        """The draft was published as `article_id` (freepublish/get said so, or a submit whose answer was lost was found)."""
        self._submitted(media_id, "article_id", article_id)

    def _submitted(self, media_id: str, key: str, value: str) -> None:
        def change(acc: dict[str, Any]) -> None:
            entry = acc.get("drafts", {}).get(media_id, {})
            entry[key] = value
            entry.pop("submitting", None)

        self._change(change)

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
    def reload(self) -> None:
        """Read the file again: another run may have written it (after waiting for the publish lock)."""
        with self._lock:
            self._data = self._read()

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


# --- the publish lock ------------------------------------------------------------------------------
class PublishLock(Protocol):
    """Serialises publishes to one account from one ledger: held from the first upload to the last record.

    A second run waits, then reads the ledger again and finds done what the first did. The file
    lock below serves one machine; a store shared between machines (Redis) can give its own."""

    def __enter__(self) -> PublishLock: ...

    def __exit__(self, *exc: object) -> None: ...


class FilePublishLock:
    """A PublishLock as an flock on a file in the user cache, named after the AppID and the ledger's path.

    The kernel releases it when the process ends, killed or not, so a lock is never left stale."""

    def __init__(
        self,
        appid: str,
        ledger: str | Path,
        *,
        on_wait: Callable[[str], None] | None = None,
        timeout: float = 1800.0,
        poll: float = 0.1,
    ) -> None:
        from .config import user_cache_dir

        key = hashlib.sha256(f"{appid}\0{Path(ledger).resolve()}".encode("utf-8")).hexdigest()[:32]
        self.path = user_cache_dir() / "locks" / f"publish-{key}.lock"
        self.on_wait, self.timeout, self.poll = on_wait, timeout, poll
        self._handle: IO[str] | None = None

    def __enter__(self) -> FilePublishLock:
        try:
            import fcntl
        except ImportError:  # Windows: runs of one machine at a time are the user's to arrange
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        waited = 0.0
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            if waited == 0.0 and self.on_wait is not None:
                handle.seek(0)
                holder = handle.read().strip()
                self.on_wait(f"another wxpub publish to this account from this ledger is running{f' (process {holder})' if holder.isdigit() else ''}; waiting for it to finish")
            if waited >= self.timeout:
                handle.close()
                raise LedgerError(
                    f"another wxpub publish to this account has been running for {self.timeout / 60:.0f} minutes",
                    hint="let it finish or stop it, then run again",
                )
            time.sleep(self.poll)
            waited += self.poll
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.seek(0)
            handle.truncate()
            handle.close()  # closing the file releases the flock


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
        for table in ("uploads", "pending_uploads"):
            uploads = account.get(table, {})
            if not isinstance(uploads, dict) or not all(
                isinstance(entries, dict) and all(isinstance(entry, dict) for entry in entries.values())
                for entries in uploads.values()
            ):
                return f"accounts.{appid}.{table} must map routes to objects of uploads"
        for name in ("drafts", "pending"):
            table = account.get(name, {})
            if not isinstance(table, dict) or not all(
                isinstance(entry, dict) and isinstance(entry.get("posts", []), list) for entry in table.values()
            ):
                return f"accounts.{appid}.{name} must map ids to objects"
    return None


def _drop(account: dict[str, Any], table: str, route: str, sha256: str) -> None:
    entries = account.get(table, {}).get(route)
    if isinstance(entries, dict):
        entries.pop(sha256, None)


def _pending_key(posts: Sequence[str]) -> str:
    return "|".join(posts)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
