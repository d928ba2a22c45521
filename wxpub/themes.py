"""Themes: CSS files in `styles/` (or a user's CSS file) -> ResolvedTheme, CSS that can be inlined.

Only what premailer can write into `style=""` reaches the article: custom properties are resolved
here (`--primary` and `--font-size` can be overridden per post), and rules WeChat cannot keep
(`@media`, `:hover`, `::before`, …) are dropped with a notice that names them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Notice, ThemeError, UsageError

DEFAULT_THEME = "default"

_CUSTOM_PROPERTY = re.compile(r"(--[\w-]+)\s*:\s*([^;{}]+?)\s*(?:;|(?=}))")
_VAR = re.compile(r"var\(\s*(--[\w-]+)\s*(?:,\s*([^()]*(?:\([^()]*\)[^()]*)*))?\)")
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
# Pseudo-classes and -elements that describe states or generated boxes: nothing in a static
# article can carry them inline.
_UNINLINABLE = re.compile(
    r"::?(?:before|after|first-line|first-letter|marker|selection|placeholder|hover|focus"
    r"|focus-within|focus-visible|active|visited|link|target|checked|disabled)\b"
)


@dataclass(frozen=True)
class Theme:
    """A theme as written: its name and CSS text."""

    name: str
    css: str
    path: Path | None = None


@dataclass(frozen=True)
class ResolvedTheme:
    """Inlinable CSS with variables resolved, plus what the rest of the pipeline needs from it."""

    name: str
    css: str
    code_style: str
    background: str
    font_size: float
    notices: tuple[Notice, ...]
    # A built-in theme in its own colours: its contrast in light and dark mode is held to WCAG by
    # the test suite on every golden case, so it need not be measured again for each post.
    stock_colours: bool = False
    primary: str = ""  # --primary as resolved: the colour chosen for the post, else the theme's own


def _styles_dir() -> Path:
    # The themes live in the project's top-level styles/; wxpub/styles is a link to it in a
    # checkout and the folder itself in the wheel, so both find them the same way.
    return Path(__file__).resolve().parent / "styles"


def list_themes() -> list[Theme]:
    """The built-in themes, default first."""
    themes = [Theme(p.stem, p.read_text(encoding="utf-8"), p) for p in sorted(_styles_dir().glob("*.css"))]
    return sorted(themes, key=lambda t: (t.name != DEFAULT_THEME, t.name))


def is_builtin(theme: Theme) -> bool:
    """Whether `theme` is one of the themes shipped with wxpub."""
    return theme.path is not None and theme.path.resolve().parent == _styles_dir().resolve()


def load_theme(name_or_path: str | Path | None = None, *, base: Path | None = None) -> Theme:
    """A built-in theme by name, or a user theme by path to a CSS file (relative to `base`)."""
    name = str(name_or_path or DEFAULT_THEME)
    if name.endswith(".css") or "/" in name or "\\" in name:
        path = Path(name)
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            return Theme(path.stem, path.read_text(encoding="utf-8"), path)
        except UnicodeDecodeError:
            raise ThemeError(f"cannot read theme '{name}': it is not UTF-8 text", path=path, hint="save it as UTF-8") from None
        except OSError as exc:
            # In words, without "[Errno 2]" and the path again.
            reason = "no such file" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc)).lower()
            raise ThemeError(f"cannot read theme '{name}': {reason}", path=path, hint="give a path to a UTF-8 CSS file") from None
    path = _styles_dir() / f"{name}.css"
    if not path.is_file():
        known = ", ".join(t.name for t in list_themes())
        raise UsageError(f"unknown theme '{name}'", hint=f"built-in themes: {known}; or give a path to a .css file")
    return Theme(name, path.read_text(encoding="utf-8"), path)


def resolve(theme: Theme, *, color: str | None = None, font_size: float | None = None) -> ResolvedTheme:
    """Resolve `theme` with the per-post primary colour and base font size."""
    check_color(color)
    check_font_size(font_size)
    return _resolve(theme, color, float(font_size) if font_size is not None else None)


def check_color(color: str | None) -> None:
    """A primary colour must be a hex colour (#0f7b6c or #c33); None is the theme's own."""
    if color is not None and not _HEX.match(str(color)):
        raise UsageError(f"colour '{color}' is not a hex colour", hint="write it like #0f7b6c or #c33")


def check_font_size(font_size: Any) -> None:
    """A base font size must be a number of px from 10 to 28; None is the theme's own."""
    try:
        good = font_size is None or (not isinstance(font_size, bool) and 10 <= float(font_size) <= 28)
    except (TypeError, ValueError):
        good = False
    if not good:
        raise UsageError(f"font size {font_size!r} is not a size from 10 to 28 px", hint="give a size in px between 10 and 28")


@functools.lru_cache(maxsize=32)
def _resolve(theme: Theme, color: str | None, font_size: float | None) -> ResolvedTheme:
    css = _COMMENT.sub("", theme.css)
    variables = dict(_CUSTOM_PROPERTY.findall(css))
    if color:
        variables["--primary"] = color
    if font_size:
        variables["--font-size"] = f"{font_size:g}px"
    css = _CUSTOM_PROPERTY.sub("", css)
    css = _substitute(css, variables)
    css, notices = _inlinable(css, theme.name)
    size = _substitute(variables.get("--font-size", "16px"), variables)
    return ResolvedTheme(
        name=theme.name,
        css=css,
        code_style=variables.get("--code-style", "wxpub-light").strip("\"'"),
        background=_substitute(variables.get("--background", "#fff"), variables),
        font_size=float(size.removesuffix("px")) if size.endswith("px") else 16.0,
        notices=tuple(notices),
        stock_colours=is_builtin(theme) and color is None,
        primary=_substitute(variables.get("--primary", ""), variables).strip(),
    )


def _substitute(text: str, variables: dict[str, str]) -> str:
    for _ in range(10):  # variables may refer to variables; ten levels is more than any theme needs
        new = _VAR.sub(lambda m: variables.get(m.group(1)) or (m.group(2) or "").strip() or "initial", text)
        if new == text:
            break
        text = new
    return text


def _inlinable(css: str, theme_name: str) -> tuple[str, list[Notice]]:
    """Keep the style rules premailer can inline, and in them what the WeChat profile allows; name each thing dropped."""
    notices: list[Notice] = []
    kept: list[str] = []
    for block in _blocks(css):
        head, _, body = block.partition("{")
        head = head.strip()
        if head.startswith("@"):
            notices.append(Notice("theme-rule", f"theme {theme_name}: dropped '{head}' (WeChat keeps only inline styles)"))
            continue
        selectors = [s.strip() for s in head.split(",") if s.strip()]
        good = [s for s in selectors if not _UNINLINABLE.search(s)]
        for bad in dict.fromkeys(selector for selector in selectors if selector not in good):  # in order, every run
            notices.append(Notice("theme-rule", f"theme {theme_name}: dropped '{bad}' (pseudo-classes and ::before/::after cannot be inlined)"))
        # Selectors whose declarations the profile treats alike stay together, in their order.
        groups: dict[str, list[str]] = {}
        for selector in good:
            declarations = _in_profile(selector, body.strip(" \n\t}"), theme_name, notices)
            if declarations:
                groups.setdefault(declarations, []).append(selector)
        for declarations, group in groups.items():
            kept.append(f"{','.join(group)}{{{declarations}}}")
    return "\n".join(kept), notices


_LAST_TAG = re.compile(r"(?:^|[\s>+~])([a-zA-Z][\w-]*)[^\s>+~]*$")


def _in_profile(selector: str, body: str, theme_name: str, notices: list[Notice]) -> str:
    """The declarations of `body` that the WeChat profile allows on what `selector` selects."""
    from . import profile

    match = _LAST_TAG.search(selector.strip())
    tag = match.group(1).lower() if match else ""
    kept = []
    for prop, value in profile.declarations(body):
        # premailer strips !important when it inlines (WeChat's dark mode would be defeated by it).
        plain = re.sub(r"\s*!\s*important\s*$", "", value, flags=re.IGNORECASE)
        cleaned, removed = profile.clean_style(tag, f"{prop}:{plain}")
        if removed:
            reason = removed[0].rsplit(" (", 1)[1].rstrip(")")
            notices.append(Notice("theme-css", f"theme {theme_name}: dropped '{prop}: {value}' from '{selector}' ({reason})"))
            continue
        if cleaned != f"{prop}:{plain}":
            notices.append(
                Notice("theme-css", f"theme {theme_name}: '{prop}: {value}' in '{selector}' is now {profile.NEAR_BLACK} (the WeChat editor swallows pure black)")
            )
            value = cleaned.partition(":")[2] + value[len(plain) :]
        kept.append(f"{prop}: {value}")
    return "; ".join(kept)


def _blocks(css: str) -> list[str]:
    """Top-level `selector { … }` and `@rule { … { … } }` blocks, braces balanced."""
    blocks, depth, start = [], 0, 0
    for index, char in enumerate(css):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                blocks.append(css[start : index + 1].strip())
                start = index + 1
        elif char == ";" and depth == 0:  # @import …; and similar one-line at-rules
            blocks.append(css[start : index + 1].strip())
            start = index + 1
    return [b for b in blocks if b]
