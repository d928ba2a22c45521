"""Settings from wxpub.toml or pyproject.toml's [tool.wxpub], found by walking up from a post.

Imports nothing of ours but the errors, so the CLI and `wxpub check` can read it cheaply.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_FILE = "wxpub.toml"


def user_cache_dir() -> Path:
    """The per-user cache folder (never inside a project): WXPUB_CACHE_DIR, else the platform's."""
    override = os.environ.get("WXPUB_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "wxpub" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "wxpub"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wxpub"


@dataclass(frozen=True)
class CheckOptions:
    """`[check]` in wxpub.toml or `[tool.wxpub.check]` in pyproject.toml: which codes `wxpub check` runs."""

    select: tuple[str, ...] | None = None  # None: every rule
    ignore: tuple[str, ...] = ()
    source: Path | None = None  # the file these came from, for messages


def find_settings(start: str | Path) -> tuple[Mapping[str, Any], Path | None]:
    """The wxpub table of the nearest wxpub.toml, or pyproject.toml holding [tool.wxpub], at or above `start`.

    A wxpub.toml wins over a pyproject.toml in the same folder. Nothing found: ({}, None).
    """
    folder = Path(start).resolve()
    if folder.is_file():
        folder = folder.parent
    for candidate in (folder, *folder.parents):
        found = _settings_in(candidate)
        if found is not None:
            return found
    return {}, None


@lru_cache(maxsize=128)
def _settings_in(folder: Path) -> tuple[Mapping[str, Any], Path] | None:
    own = folder / CONFIG_FILE
    if own.is_file():
        return _load(own), own
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        table = _load(pyproject).get("tool", {}).get("wxpub")
        if isinstance(table, dict):
            return table, pyproject
    return None


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from None


def check_options(start: str | Path) -> CheckOptions:
    """The check settings that apply to posts in `start` (a folder or a post)."""
    settings, source = find_settings(start)
    table = settings.get("check", {})
    if not isinstance(table, dict):
        raise ConfigError("'check' must be a table", path=source, hint="write [check] (or [tool.wxpub.check])")
    unknown = sorted(set(table) - {"select", "ignore"})
    if unknown:
        raise ConfigError(f"[check] has unknown keys: {', '.join(unknown)}", path=source, hint="use select and ignore")
    select = table.get("select")
    return CheckOptions(
        select=None if select is None else _codes(select, "select", source),
        ignore=_codes(table.get("ignore", ()), "ignore", source),
        source=source,
    )


def _codes(value: Any, key: str, source: Path | None) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[check] {key} must be a list of codes", path=source, hint=f'write {key} = ["WX401"]')
    return tuple(v.strip().upper() for v in value if v.strip())


CONVERT_KEYS = ("theme", "color", "font_size", "line_numbers", "caption", "code_style")


def convert_defaults(start: str | Path) -> dict[str, Any]:
    """`[convert]` defaults for posts in `start`: front matter and command-line options win over them.

    A relative `theme` path is made relative to the config file, so it works from any post.
    """
    settings, source = find_settings(start)
    table = settings.get("convert", {})
    if not isinstance(table, dict):
        raise ConfigError("'convert' must be a table", path=source, hint="write [convert] (or [tool.wxpub.convert])")
    unknown = sorted(set(table) - set(CONVERT_KEYS))
    if unknown:
        raise ConfigError(f"[convert] has unknown keys: {', '.join(unknown)}", path=source, hint=f"known: {', '.join(CONVERT_KEYS)}")
    defaults = dict(table)
    theme = defaults.get("theme")
    if isinstance(theme, str) and theme.endswith(".css") and source is not None and not Path(theme).is_absolute():
        defaults["theme"] = str(source.parent / theme)
    return defaults


@dataclass(frozen=True)
class PreviewOptions:
    """`[preview]` in wxpub.toml or `[tool.wxpub.preview]`: what the preview shows around the article."""

    account_name: str = ""  # the Official Account's name, shown under the title as WeChat does


def preview_options(start: str | Path) -> PreviewOptions:
    """The preview settings for posts in `start` (a folder or a post)."""
    settings, source = find_settings(start)
    table = settings.get("preview", {})
    if not isinstance(table, dict):
        raise ConfigError("'preview' must be a table", path=source, hint="write [preview] (or [tool.wxpub.preview])")
    unknown = sorted(set(table) - {"account_name"})
    if unknown:
        raise ConfigError(f"[preview] has unknown keys: {', '.join(unknown)}", path=source, hint="known: account_name")
    name = table.get("account_name", "")
    if not isinstance(name, str):
        raise ConfigError("[preview] account_name must be text", path=source, hint='write account_name = "My Account"')
    return PreviewOptions(account_name=name)


def forget_settings() -> None:
    """Read the config files again next time: a long-running process (the preview) saw one change."""
    _settings_in.cache_clear()
