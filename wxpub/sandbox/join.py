"""`wxpub publish --sandbox`: join this user's running sandbox, or start one, and publish into it.

A sandbox is joined only when it proves it is this user's: it holds the secret in the user's
sandbox folder (created there, readable by the owner only) and answers a fresh challenge with an
HMAC that also binds its address and state folder. Another user's process on the port, even one
that copies a real sandbox's `/sandbox/info`, cannot answer; the post and its images then go to a
sandbox started here instead, and the ledger is never written where a stranger says.

A sandbox running over the user's sandbox folder is joined on whatever port it listens (it says so
in the folder, `folder.py`), since a second sandbox over that folder would be refused; if it does
not prove it is this user's, publishing stops there.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .api import SANDBOX_APPID, SANDBOX_SECRET
from .folder import StateHeld, holder_port
from .server import Sandbox, proof

if TYPE_CHECKING:
    from ..post import Paths
    from ..publish import PublishOptions, PublishResult

DEFAULT_SANDBOX_PORT = 8765
KEY_FILE = "owner.key"


def sandbox_state_dir() -> Path:
    """The sandbox's default state folder, in the user cache; the owner's secret lives here too."""
    from ..config import user_cache_dir

    return user_cache_dir() / "sandbox"


def owner_key(*, create: bool = True) -> bytes | None:
    """The owner's secret (made on first use), or None when there is none or others could read it."""
    path = sandbox_state_dir() / KEY_FILE
    key = _read_key(path)
    if key is not None or not create:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        key = _read_key(path)  # made meanwhile by another process starting a sandbox
        if key is not None:
            return key
        path.unlink()  # readable by others, or not a plain file: no longer a secret
    # Written beside it, then linked into place: two processes starting at once agree on one key.
    temporary = path.with_name(f".{KEY_FILE}.{secrets.token_hex(8)}")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(handle, "w", encoding="ascii") as stream:
            stream.write(secrets.token_hex(32))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: last writer wins
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes | None:
    try:
        # Not through a link, and without waiting on a FIFO put in its place.
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(handle, "rb") as stream:
        info = os.fstat(stream.fileno())
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077 or not stat.S_ISREG(info.st_mode)):
            return None
        key = stream.read(200).strip()
    return key if len(key) >= 32 else None


def running_sandbox(port: int = DEFAULT_SANDBOX_PORT) -> tuple[str, Path] | None:
    """(API base, state folder) of this user's sandbox answering on 127.0.0.1:port, if there is one.

    It must answer a fresh challenge with the owner's proof for its own address and state folder,
    and that folder must be this user's.
    """
    import urllib.error
    import urllib.request

    key = owner_key(create=False)
    if key is None:
        return None  # no sandbox of ours was ever started: whatever listens there is not ours
    base = f"http://127.0.0.1:{port}/"
    challenge = secrets.token_hex(32)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 itself, never a proxy
    try:
        with opener.open(f"{base}sandbox/info?challenge={challenge}", timeout=0.5) as answer:
            info = json.loads(answer.read(65536))
        state_dir, claimed = info["state_dir"], info["proof"]
        if info["api_base"] != base or not isinstance(state_dir, str) or not isinstance(claimed, str):
            return None
        if not hmac.compare_digest(claimed, proof(key, challenge, base, state_dir)):
            return None
        state = Path(state_dir)
        owner = state.stat().st_uid  # a folder that does not exist raises: OSError
        if not state.is_dir() or (hasattr(os, "getuid") and owner != os.getuid()):
            return None
        return base, state
    except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError):
        return None


@dataclass(frozen=True)
class Joined:
    """A sandbox to publish into: its API base, its state folder, and the server if this process started it."""

    url: str
    state_dir: Path
    server: Sandbox | None

    def target(self) -> dict[str, Any]:
        """How publish_paths, verify_paths and doctor reach it: its base, a ledger in its own folder, and
        its secret for every account, each keeping its own AppID (drafts, uploads and quotas stay apart
        as on WeChat; SANDBOX_APPID serves a project without accounts). No account's own secret is read."""
        from ..config import StandIn

        return {
            "api_base": self.url,
            "credentials": StandIn(SANDBOX_APPID, SANDBOX_SECRET),
            "ledger_path": self.state_dir / "wxpub-ledger.json",
            "token_store": "memory",
        }

    def draft(self, media_id: str) -> DraftAddress:
        """Where to see a draft: in the sandbox joined, at once; in one started here, once `wxpub sandbox` serves its state again."""
        serve = None
        if self.server is not None:  # it stops with this process; its state stays in the user's sandbox folder
            port = self.server.port
            serve = "wxpub sandbox" if port == DEFAULT_SANDBOX_PORT else f"wxpub sandbox --port {port}"
        return DraftAddress(f"{self.url}drafts/{media_id}", self.url, serve)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@dataclass(frozen=True)
class DraftAddress:
    """A draft's page in the sandbox, its list of drafts, and the command that serves them (None: served now)."""

    url: str
    drafts: str
    serve: str | None

    def to_json(self) -> dict[str, Any]:
        return {"draft_url": self.url, "drafts_url": self.drafts, "serve": self.serve}


def sandbox_port() -> int:
    """The port where `publish --sandbox` looks for this user's sandbox, and `wxpub sandbox` listens:
    WXPUB_SANDBOX_PORT, else 8765."""
    return int(os.environ.get("WXPUB_SANDBOX_PORT") or DEFAULT_SANDBOX_PORT)


def join_sandbox(port: int | None = None, *, strict: bool = False) -> Joined:
    """This user's sandbox on 127.0.0.1:port (WXPUB_SANDBOX_PORT, default 8765), or the one running
    over the user's sandbox folder on any port; one is started when neither runs.

    When the port is taken by anything else, a sandbox is started on a free port instead. A folder
    held by a sandbox that does not prove it is this user's is refused (StateHeld), never shared."""
    if port is None:
        port = sandbox_port()
    found = running_sandbox(port) if port else None
    if found is not None:
        return Joined(found[0], found[1], None)
    key = owner_key()
    try:
        server = Sandbox(sandbox_state_dir(), port=port, key=key, strict=strict)
    except StateHeld as held:
        found = _holder(held)
        return Joined(found[0], found[1], None)
    try:
        try:
            server.start()
        except OSError:  # the port is taken by something else
            server.port = 0
            server.start()
    except BaseException:
        server.stop()
        raise
    return Joined(server.url, server.state_dir, server)


def _holder(held: StateHeld, wait: float = 2.0) -> tuple[str, Path]:
    """(API base, state folder) of the sandbox holding the user's sandbox folder, once it proves it is ours.

    One that holds the folder but does not say yet where it listens is starting: it is given `wait`
    seconds to say so."""
    deadline = time.monotonic() + wait
    port = held.port
    while port is None and time.monotonic() < deadline:
        time.sleep(0.05)
        port = holder_port(held.folder)
    found = running_sandbox(port) if port is not None else None
    if found is None or not _same_folder(found[1], held.folder):
        raise StateHeld(held.folder, port, held.pid, unproven=True)
    return found


def _same_folder(one: Path, other: Path) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def publish_to_sandbox(
    paths: Paths,
    options: PublishOptions | None = None,
    *,
    port: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[PublishResult, str, Sandbox | None]:
    """Publish into the sandbox on 127.0.0.1:port (WXPUB_SANDBOX_PORT, default 8765), starting one if none runs there.

    Returns (result, API base, the Sandbox started here or None); the caller stops it. The sandbox's
    own ledger lives in its state folder, so the project's ledger never sees sandbox uploads."""
    from ..publish import PublishOptions, publish_paths

    joined = join_sandbox(port)
    try:
        result = publish_paths(paths, options or PublishOptions(), progress=progress, **joined.target())
    except BaseException:
        joined.stop()
        raise
    return result, joined.url, joined.server
