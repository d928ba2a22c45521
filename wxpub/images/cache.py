"""Prepared images kept in the user cache by the sha256 of their source and the options, reused across runs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from ..cachefiles import DiskCache
from .model import ImageOptions, PreparedImage, Role

# Bump when the processing changes, so cached results made by older code are not reused.
_ALGORITHM = "3"
# Prepared images are up to 1 MB each (a cover up to 5): a few hundred is plenty for the posts in hand.
CACHED_IMAGES = 400


def default_cache() -> DiskCache:
    """`images/` in the user cache, one folder per version of this code and of Pillow."""
    from PIL import __version__ as pillow_version

    return DiskCache.named("images", _ALGORITHM, pillow_version, keep=CACHED_IMAGES)


def cache_at(folder: Path) -> DiskCache:
    """A cache in a folder of the caller's choosing (tests, benchmarks)."""
    return DiskCache(folder, keep=CACHED_IMAGES)


def cache_key(raw: bytes, role: Role, options: ImageOptions) -> str:
    digest = hashlib.sha256()
    # Pillow's encoders may change between versions (the folder says which), and the promise is
    # "same bytes every run".
    digest.update(f"{role}|{options.output_key()}|".encode())
    digest.update(hashlib.sha256(raw).digest())
    return digest.hexdigest()


def cache_get(cache: DiskCache | None, key: str) -> PreparedImage | None:
    entry = cache.get(key) if cache is not None else None
    if entry is None:
        return None
    header, _, data = entry.partition(b"\n")
    try:
        meta = json.loads(header)
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return None  # a damaged entry: recompute it
        meta["warnings"] = tuple(meta["warnings"])
        return PreparedImage(source="", data=data, cached=True, **meta)
    except (ValueError, TypeError, KeyError):
        return None


def cache_put(cache: DiskCache, key: str, prepared: PreparedImage) -> None:
    meta = {
        f.name: getattr(prepared, f.name)
        for f in dataclasses.fields(prepared)
        if f.name not in ("source", "data", "line", "pic_crop_235_1", "pic_crop_1_1", "cached")
    }
    meta["warnings"] = list(prepared.warnings)
    # One file, the description on its first line: written whole or not at all.
    cache.put(key, json.dumps(meta, sort_keys=True).encode() + b"\n" + prepared.data)
