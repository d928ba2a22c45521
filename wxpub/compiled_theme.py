"""Themes as premailer compiled them, kept on disk so that later processes inline without premailer.

Importing premailer (and cssutils under it) and parsing a theme's CSS take longer than the whole
rest of a conversion. What premailer makes of a theme never changes: its rules in the order it
applies them, each selector translated to XPath and each declaration block parsed into pairs. So
the first conversion with a theme runs premailer itself (inline.py) and stores that here; later
ones apply the stored rules the way premailer's `transform` does, and give byte-identical output
(tests/test_compiled_theme.py holds the two paths to that on every golden case and random input).

An element's own style attribute is merged by premailer after parsing it with cssutils, so those
parses are stored too. A style never seen before sends the whole document back to premailer,
which then teaches the store; the tree is not touched until the stored rules are known to cover it.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from lxml import etree

from .cachefiles import DiskCache, digest, file_stamp

Pairs = tuple[tuple[str, str], ...]

# The store of parsed style attributes stays small: an article repeats a few dozen of them.
MAX_STYLES = 4096
MAX_THEMES = 200  # each --color or --font-size makes a theme of its own
_STYLES_LOCK = threading.Lock()


@dataclass(frozen=True)
class CompiledTheme:
    """Premailer's rules for one theme, in the order it applies them: (XPath, declarations)."""

    rules: tuple[tuple[Any, Pairs], ...]


def apply(root: Any, css: str) -> bool:
    """Inline `css` into the tree at `root` as premailer would; False, tree untouched, when that needs premailer."""
    cache = _cache()
    compiled = _load_theme(cache, css)
    if compiled is None:
        return False
    tree = root.getroottree()
    matched: dict[Any, list[Pairs]] = {}
    for select, pairs in compiled.rules:
        for element in select(tree):
            matched.setdefault(element, []).append(pairs)
    known = _styles(cache)
    own_styles: dict[Any, Pairs] = {}
    for element in matched:
        own = element.get("style")
        if own:
            parsed = known.get(own)
            if parsed is None:
                return False
            own_styles[element] = parsed
    for element, blocks in matched.items():
        merged: dict[str, str] = {}
        for pairs in blocks:
            merged.update(pairs)
        merged.update(own_styles.get(element, ()))  # the element's own style wins, as in premailer
        final = "; ".join(f"{prop}:{value}" for prop, value in merged.items() if value.lower() != "unset").strip()
        if final:
            element.set("style", final)
    for element in root.iter():
        if "class" in element.attrib:
            del element.attrib["class"]
    return True


def store(css: str, rules: list[tuple[str, Pairs]] | None, styles: dict[str, Pairs]) -> None:
    """Keep what premailer made of `css` (None: a theme it cannot be compiled from) and of `styles`."""
    cache = _cache()
    if rules is not None and _load_theme(cache, css) is None:
        _write(cache, f"theme-{digest(css)}.json", {"rules": rules})
        _load_theme.cache_clear()
    known = _styles(cache)
    new = {style: pairs for style, pairs in styles.items() if style not in known}
    if new:
        with _STYLES_LOCK:
            known.update(new)
            while len(known) > MAX_STYLES:
                del known[next(iter(known))]
            _write(cache, "styles.json", known)


@functools.lru_cache(maxsize=16)
def _load_theme(cache: DiskCache, css: str) -> CompiledTheme | None:
    data = _read(cache, f"theme-{digest(css)}.json")
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        return None
    try:
        return CompiledTheme(
            rules=tuple((etree.XPath(path), tuple((str(k), str(v)) for k, v in pairs)) for path, pairs in data["rules"])
        )
    except (etree.XPathError, TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=4)
def _styles(cache: DiskCache) -> dict[str, Pairs]:
    data = _read(cache, "styles.json")
    if not isinstance(data, dict):
        return {}
    try:
        return {str(style): tuple((str(k), str(v)) for k, v in pairs) for style, pairs in data.items()}
    except (TypeError, ValueError):
        return {}


def _cache() -> DiskCache:
    return DiskCache.named("themes", _code_stamp(), keep=MAX_THEMES)


@functools.lru_cache(maxsize=1)
def _code_stamp() -> str:
    """One folder per set of installed code that decides the output, so an upgrade starts afresh.

    premailer, cssutils and cssselect are told apart by their files' sizes and times, read
    without importing them.
    """
    from .version import __version__

    stamp = [__version__, etree.__version__]
    for package in ("premailer", "cssutils", "cssselect"):
        spec = find_spec(package)  # a top-level name: found, not imported
        for folder in (spec.submodule_search_locations or []) if spec else []:
            try:
                names = sorted(name for name in os.listdir(folder) if name.endswith(".py"))
            except OSError:
                names = []
            stamp += [f"{package}/{name}:{file_stamp(os.path.join(folder, name))}" for name in names]
    stamp += [f"{own}:{file_stamp(Path(__file__).with_name(own))}" for own in ("inline.py", "compiled_theme.py")]
    return digest(*stamp)[:16]


def _read(cache: DiskCache, name: str) -> Any:
    data = cache.get(name)
    try:
        return None if data is None else json.loads(data)
    except ValueError:
        return None  # damaged: premailer will redo it


def _write(cache: DiskCache, name: str, data: Any) -> None:
    cache.put(name, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
