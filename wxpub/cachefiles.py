"""Files that wxpub writes for itself: written whole or not at all, so a killed run leaves no half file."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, durable: bool = False, shared: bool = False) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.

    The file is readable by its owner only (mkstemp's mode), which the token store relies on;
    `shared` gives it the mode the user's umask gives new files instead, for files meant to be
    committed and read by others (the ledger). `durable` also flushes it to disk first, for files
    that record what was done rather than what can be computed again (caches).
    """
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if shared:
            os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: put it straight back
    os.umask(mask)
    return mask


def digest(*parts: object) -> str:
    """A cache key for `parts`: the sha256 of their repr, as a file name."""
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def file_stamp(path: str | Path) -> str:
    """A file's size and modification time, which change when it is edited or reinstalled ("" if unknown).

    Caches key on the stamps of the code that shapes what they hold, so an edited or upgraded
    module never meets entries its older self wrote.
    """
    try:
        info = os.stat(path)
    except OSError:  # inside a zip, or a frozen application
        return ""
    return f"{info.st_size}:{info.st_mtime_ns}"


@dataclass(frozen=True)
class DiskCache:
    """A folder of cache entries, each one file named by its key, written whole, pruned past `keep`.

    Only what can be computed again goes here: an entry that is missing, damaged or pruned by
    another process costs time, never correctness, so no error of the disk is ever raised.
    """

    folder: Path
    keep: int

    @classmethod
    def named(cls, name: str, *stamp: object, keep: int) -> DiskCache:
        """`name/` in the user cache, one folder per `stamp` (the versions of the code that fills it)."""
        from .config import user_cache_dir

        return cls(user_cache_dir() / name / digest(*stamp)[:16], keep)

    def get(self, key: str) -> bytes | None:
        return read_or_none(self.folder / key)

    def put(self, key: str, data: bytes) -> None:
        try:
            write_atomic(self.folder / key, data)
        except OSError:
            return
        prune(self.folder, keep=self.keep)


def read_or_none(path: Path) -> bytes | None:
    """The file's bytes, or None when it cannot be read: a cache entry that is missing is recomputed."""
    try:
        return path.read_bytes()
    except OSError:
        return None


_PRUNED: set[Path] = set()


def prune(folder: Path, *, keep: int) -> None:
    """Keep a cache folder small: past `keep` files, drop the least recently written quarter and more.

    Folders beside it (the cache of an older wxpub or library version) go once unused for a month.
    Once per folder and process: a look at every file is no cost to pay on every write.
    """
    import shutil
    import time

    if folder in _PRUNED:
        return
    _PRUNED.add(folder)
    try:
        with os.scandir(folder) as scan:
            entries = [(entry.stat().st_mtime, entry.path) for entry in scan if entry.is_file()]
        if len(entries) > keep:
            for _, path in sorted(entries)[: len(entries) - keep * 3 // 4]:
                os.unlink(path)
        month_ago = time.time() - 30 * 24 * 3600
        with os.scandir(folder.parent) as scan:
            for entry in scan:
                if entry.is_dir() and entry.path != str(folder) and entry.stat().st_mtime < month_ago:
                    shutil.rmtree(entry.path, ignore_errors=True)
    except OSError:
        pass  # another process pruned it first, or it cannot be pruned: only disk space is at stake
