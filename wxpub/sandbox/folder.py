"""A state folder belongs to one running sandbox at a time, and says where that sandbox listens.

Each sandbox keeps the whole state in memory and writes it back whole, so two over one folder would
erase each other's drafts. A sandbox therefore holds an flock on `sandbox.lock` in its folder from
before it reads the state until it stops; the kernel lets go when the process ends, killed or not,
so a folder is never left held by a dead sandbox. Once it listens, it writes its address to
`sandbox.json` there. That file is read only while the folder is held, and all it can give is a
port on 127.0.0.1 whose server must still prove it is the owner's (`join.running_sandbox`): a file
left by a dead sandbox is never trusted and never in the way.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import IO

from ..cachefiles import write_atomic
from ..errors import UsageError

LOCK_FILE = "sandbox.lock"
ADDRESS_FILE = "sandbox.json"
_ADDRESS = re.compile(r"^http://127\.0\.0\.1:([0-9]{1,5})/$")


class StateHeld(UsageError):
    """The state folder is held by another running sandbox; `port` is where that one says it listens (None: not yet known)."""

    def __init__(self, folder: Path, port: int | None, pid: int | None, *, unproven: bool = False) -> None:
        self.folder, self.port, self.pid = folder, port, pid
        holder = f"the sandbox at {self.api_base}" if self.api_base else "another sandbox"
        if pid is not None:
            holder += f" (process {pid})"
        if unproven:
            super().__init__(
                f"this state folder is in use by {holder}, which does not prove it is yours",
                path=folder, hint="stop that sandbox, then run again; two sandboxes never share a state folder",
            )
        else:
            super().__init__(
                f"this state folder is in use by {holder}",
                path=folder, hint="use that one, or stop it first, or give this one another state folder (--state)",
            )

    @property
    def api_base(self) -> str | None:
        return f"http://127.0.0.1:{self.port}/" if self.port else None


class Hold:
    """This process's hold on a state folder: taken by `hold()`, given back by `release()`."""

    def __init__(self, folder: Path, handle: IO[str] | None) -> None:
        self.folder, self._handle = folder, handle

    def announce(self, api_base: str) -> None:
        """Say where the sandbox holding the folder listens, for `publish --sandbox` to find it."""
        if self._handle is not None:
            write_atomic(self.folder / ADDRESS_FILE, json.dumps({"api_base": api_base, "pid": os.getpid()}).encode("utf-8"))

    def release(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            (self.folder / ADDRESS_FILE).unlink(missing_ok=True)
            handle.close()  # closing the file releases the flock


def hold(folder: Path) -> Hold:
    """Hold `folder` for this sandbox; StateHeld when another running sandbox holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: one sandbox per folder is the user's to arrange
        return Hold(folder, None)
    handle = open(folder / LOCK_FILE, "a+", encoding="ascii")  # noqa: SIM115 - open while the sandbox runs
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read(20).strip()
        handle.close()
        raise StateHeld(folder, holder_port(folder), int(pid) if pid.isdigit() else None) from None
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    (folder / ADDRESS_FILE).unlink(missing_ok=True)  # what a dead sandbox said is not true any more
    return Hold(folder, handle)


def holder_port(folder: Path) -> int | None:
    """The port on 127.0.0.1 where the sandbox holding `folder` says it listens, if it said so."""
    try:
        said = json.loads((folder / ADDRESS_FILE).read_bytes()[:4096]).get("api_base")
    except (OSError, ValueError, AttributeError):
        return None
    found = _ADDRESS.match(said) if isinstance(said, str) else None
    return int(found.group(1)) if found and 0 < int(found.group(1)) < 65536 else None
