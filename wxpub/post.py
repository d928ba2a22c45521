"""A post file -> Post: front matter (YAML) and the Markdown body, with line numbers kept."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import Notice, PostError

# Keys wxpub understands in front matter; anything else is kept but warned about (a typo such as
# `autor:` would otherwise silently publish without an author).
KNOWN_KEYS = frozenset(
    {
        "title",
        "author",
        "digest",
        "cover",
        "cover_focus",
        "source_url",
        "comments",
        "theme",
        "color",
        "font_size",
        "line_numbers",
        "caption",
        "code_style",
        "tags",
        "date",
    }
)
# What marks a project's root folder: only files inside it may be read for a post.
PROJECT_MARKERS = ("wxpub.toml", "pyproject.toml", ".git")

_FENCE = re.compile(r"^-{3,}\s*$", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_KEY_LINE = re.compile(r"^[A-Za-z_][\w-]*[ \t]*:")


@dataclass(frozen=True)
class Post:
    """A post as written: its metadata, its Markdown body and where the body starts in the file."""

    meta: Mapping[str, Any]
    body: str
    path: Path | None = None
    body_line: int = 1  # the file line on which `body` starts, so body line n is file line n + body_line - 1
    notices: tuple[Notice, ...] = field(default=())

    @property
    def name(self) -> str:
        return str(self.path) if self.path else "<text>"


def parse_post(text: str, path: Path | None = None) -> Post:
    """Split front matter from the body; raise PostError naming the line when the YAML is broken."""
    if text.startswith("\ufeff"):
        text = text[1:]
    # Control characters are invisible, HTML cannot carry them, and Markdown uses two of them.
    text = _CONTROL.sub("", text)
    meta: dict[str, Any] = {}
    body, body_line = text, 1
    notices: list[Notice] = []
    first, _, rest = text.partition("\n")
    # A leading '---' opens front matter only when a 'key:' follows; otherwise it is a rule.
    if _FENCE.match(first) and _KEY_LINE.match(rest.lstrip("\n")):
        closing = _FENCE.search(text, len(first) + 1)
        if closing is None:
            raise PostError(
                "front matter starts with '---' but never ends",
                path=path,
                line=1,
                hint="close it with a line of '---' after the last key",
            )
        yaml_text = text[len(first) + 1 : closing.start()]
        meta = _load_yaml(yaml_text, path)
        end = closing.end()
        if text[end : end + 1] == "\n":
            end += 1
        body, body_line = text[end:], text[:end].count("\n") + 1
        notices.extend(_check_keys(meta, yaml_text))
    return Post(meta=meta, body=body, path=path, body_line=body_line, notices=tuple(notices))


def read_post(path: str | Path) -> Post:
    """Read a post file as UTF-8 (a BOM is fine); any other encoding is an error that says how to fix it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PostError("no such file", path=path, hint="check the path") from None
    except IsADirectoryError:
        raise PostError("is a folder, not a post", path=path) from None
    except OSError as exc:
        raise PostError(f"cannot read: {exc.strerror}", path=path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        guess = _guess_encoding(data)
        raise PostError(
            f"not UTF-8 (byte 0x{data[exc.start]:02x})" + (f"; it looks like {guess}" if guess else ""),
            path=path,
            line=line,
            hint=f"convert it: iconv -f {guess or 'GB18030'} -t UTF-8 {path.name} > {path.stem}.utf8.md",
        ) from None
    return parse_post(text.replace("\r\n", "\n"), path)


def _guess_encoding(data: bytes) -> str | None:
    for name in ("gb18030", "big5", "utf-16"):
        try:
            data.decode(name)
        except UnicodeDecodeError:
            continue
        return name.upper()
    return None


_UNCLOSED = {
    "while scanning a quoted scalar": "a quoted value",
    "while parsing a flow sequence": "a [ list",
    "while parsing a flow mapping": "a { mapping",
}


def _load_yaml(yaml_text: str, path: Path | None) -> dict[str, Any]:
    # python-frontmatter's YAML handler is the same safe loader; we call it directly to keep the
    # error mark, which gives the line of the mistake.
    import yaml
    from frontmatter.default_handlers import YAMLHandler

    try:
        loaded = YAMLHandler().load(yaml_text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        hint = "quote values that contain ':' or start with a special character"
        opened = _UNCLOSED.get(getattr(exc, "context", None) or "")
        if opened and getattr(exc, "context_mark", None) is not None:
            # The parser notices an unclosed quote or bracket lines later, at the next key or at
            # the end; the line to fix is the one where it opened.
            mark, problem, hint = exc.context_mark, f"{opened} is never closed", "close it, or quote the whole value"
        line = mark.line + 2 if mark is not None else 1  # +1 for 0-based, +1 for the opening '---'
        raise PostError(f"front matter is not valid YAML: {problem}", path=path, line=line, hint=hint) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise PostError(
            "front matter must be 'key: value' lines",
            path=path,
            line=2,
            hint="write e.g. 'title: 我的文章'",
        )
    return {str(k): v for k, v in loaded.items()}


def _check_keys(meta: Mapping[str, Any], yaml_text: str) -> list[Notice]:
    notices = []
    for key in meta:
        if key not in KNOWN_KEYS:
            line = _key_line(yaml_text, key)
            close = [k for k in KNOWN_KEYS if _similar(k, key)]
            hint = f"; did you mean '{close[0]}'?" if close else ""
            notices.append(Notice("unknown-key", f"front matter: unknown key '{key}'{hint}", line))
    return notices


def _key_line(yaml_text: str, key: str) -> int | None:
    for number, line in enumerate(yaml_text.split("\n"), start=2):
        if line.startswith(f"{key}:") or line.startswith(f"{key} :"):
            return number
    return None


def _similar(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.75


def front_matter_line(path: str | Path | None, key: str) -> int | None:
    """The file line of `key:` in a post's front matter, for messages about its value (None if absent)."""
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8-sig") as handle:
            lines = handle.read(65536).split("\n")
    except (OSError, UnicodeDecodeError):
        return None
    if not lines or not _FENCE.match(lines[0]):
        return None
    for number, text in enumerate(lines[1:], start=2):
        if _FENCE.match(text):
            return None
        if re.match(rf"{re.escape(key)}\s*:", text):
            return number
    return None


def find_project_root(post_path: str | Path) -> Path:
    """The nearest folder above the post holding wxpub.toml, pyproject.toml or .git, else the post's folder."""
    folder = Path(post_path).resolve().parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return folder
