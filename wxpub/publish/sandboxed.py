"""`wxpub publish --sandbox`: a sandbox of this user's found on 127.0.0.1, or one started for the run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from ..config import Credentials
from .model import Progress, PublishOptions, PublishResult
from .recipe import publish_paths

DEFAULT_SANDBOX_PORT = 8765


def sandbox_state_dir() -> Path:
    from ..config import user_cache_dir

    return user_cache_dir() / "sandbox"


def running_sandbox(port: int = DEFAULT_SANDBOX_PORT) -> tuple[str, Path] | None:
    """(API base, state folder) of a sandbox already answering on 127.0.0.1:port, if there is one.

    Only one of this user's: whatever answers on the port must name itself as that very address
    and keep its state in a folder this user owns. Another user's process could otherwise receive
    the post, or choose where the ledger is written.
    """
    import urllib.error
    import urllib.request

    base = f"http://127.0.0.1:{port}/"
    try:
        with urllib.request.urlopen(f"{base}sandbox/info", timeout=0.5) as answer:
            info = json.loads(answer.read())
        state = Path(info["state_dir"])
        owner = state.stat().st_uid  # a folder that does not exist raises: OSError
        if info["api_base"] != base or not state.is_dir() or (hasattr(os, "getuid") and owner != os.getuid()):
            return None
        return base, state
    except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError):
        return None


def publish_to_sandbox(
    paths: Sequence[str | Path], options: PublishOptions = PublishOptions(), *, port: int | None = None, progress: Progress | None = None
) -> tuple[PublishResult, str, Any]:
    """Publish into the sandbox on 127.0.0.1:port (WXPUB_SANDBOX_PORT, default 8765), starting one if none runs there.

    Returns (result, API base, the Sandbox started here or None); the caller stops it. The sandbox's
    own ledger lives in its state folder, so the project's ledger never sees sandbox uploads."""
    from ..sandbox import SANDBOX_APPID, SANDBOX_SECRET, Sandbox

    if port is None:
        port = int(os.environ.get("WXPUB_SANDBOX_PORT") or DEFAULT_SANDBOX_PORT)
    server = None
    found = running_sandbox(port) if port else None
    if found is None:
        server = Sandbox(sandbox_state_dir(), port=port)
        try:
            server.start()
        except OSError:  # the port is taken by something else
            server = Sandbox(sandbox_state_dir(), port=0).start()
        found = (server.url, server.state_dir)
    url, state = found
    try:
        result = publish_paths(
            paths,
            options,
            api_base=url,
            credentials=Credentials(SANDBOX_APPID, SANDBOX_SECRET),
            ledger_path=state / "wxpub-ledger.json",
            token_store="memory",
            progress=progress,
        )
    except BaseException:
        if server is not None:
            server.stop()
        raise
    return result, url, server
