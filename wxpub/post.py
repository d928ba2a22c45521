"""A post file -> Post: front matter (YAML) and the Markdown body, with line numbers kept."""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence, TypeAlias

from .errors import Notice, PostError, UsageError

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
        "account",
        "header",
        "footer",
    }
)
# What every API function taking posts accepts: one path, or several (a list, a tuple, a generator).
Paths: TypeAlias = str | Path | Iterable[str | Path]
# What a yes/no key (line_numbers) may say: a YAML or TOML boolean, or one of these words written
# as text ("false" in quotes), which means what it says but is warned about: bool("false") is True.
YES_NO_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
_FENCE = re.compile(r"^-{3,}\s*$", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_KEY_LINE = re.compile(r"^[A-Za-z_][\w-]*[ \t]*[:：]")  # a full-width colon too: check fixes it
_TOP_KEY = re.compile(r"""^("[^"]*"|'[^']*'|[^\s#:'"][^:]*?)[ \t]*:(?:\s|$)""")


@dataclass(frozen=True)
class Post:
    """A post as written: its metadata, its Markdown body and where the body starts in the file."""

    meta: Mapping[str, Any]
    body: str
    path: Path | None = None
    body_line: int = 1  # the file line on which `body` starts, so body line n is file line n + body_line - 1
    notices: tuple[Notice, ...] = field(default=())
    key_lines: Mapping[str, int] = field(default_factory=dict)  # front matter key -> its file line
    front_text: str = field(default="", repr=False)  # the lines before the body: fences and YAML
    # After blocks.expand: the file line of each line of `body` (the body holds the blocks then),
    # and the body as the file has it, for columns in messages.
    line_map: tuple[int, ...] | None = field(default=None, repr=False)
    file_body: str | None = field(default=None, repr=False)

    def file_line(self, line: int) -> int:
        """The file line of what the renderer calls line `line` (body line + body_line - 1): a line
        that came from a block is the line that named the block."""
        index = line - self.body_line
        if self.line_map is not None and 0 <= index < len(self.line_map):
            return self.line_map[index]
        return line

    def line_of(self, key: str) -> int | None:
        """The file line of a front matter key, for messages about its value (None: not in the front matter)."""
        return self.key_lines.get(key)

    @functools.cached_property
    def _lines(self) -> list[str]:
        body = self.body if self.file_body is None else self.file_body
        return (self.front_text + body).split("\n") if self.front_text else ["" for _ in range(self.body_line - 1)] + body.split("\n")

    def source_line(self, number: int) -> str:
        """The text of file line `number` (1-based; "" past the end), for columns in messages."""
        return self._lines[number - 1] if 1 <= number <= len(self._lines) else ""

    def find_line(self, needle: str) -> int | None:
        """The first file line of the body holding `needle`."""
        found = self.body.find(needle)
        return None if found < 0 else self.file_line(self.body.count("\n", 0, found) + self.body_line)

    @property
    def name(self) -> str:
        return str(self.path) if self.path else "<text>"


def yes_no(value: Any) -> tuple[bool, bool]:
    """A yes/no value and whether it was written as text (`"false"`, `'no'`); anything that is
    neither a boolean nor one of YES_NO_WORDS raises ValueError."""
    if isinstance(value, bool):
        return value, False
    if isinstance(value, str) and value.strip().lower() in YES_NO_WORDS:
        return YES_NO_WORDS[value.strip().lower()], True
    raise ValueError(value)


def front_matter_fences(lines: Iterable[str]) -> tuple[int, int | None] | None:
    """The 1-based lines of the front matter's opening and closing fences (None: never closed),
    or None when the text has no front matter.

    A leading '---' opens front matter only when a 'key:' follows; otherwise it is a thematic
    break (`---` then `# 标题` is a rule and a heading, not YAML with a comment). Check and
    convert both ask this, so they never read one post two ways. One pass, stopping at the
    closing fence: `lines` may be read lazily from a text too large to split.
    """
    numbered = enumerate(lines, start=1)
    first = next(numbered, None)
    if first is None or not _FENCE.match(first[1]):
        return None
    keyed = False
    for number, line in numbered:
        if not keyed:
            if not line.strip():
                continue
            if not _KEY_LINE.match(line):
                return None
            keyed = True
        elif _FENCE.match(line):
            return 1, number
    return (1, None) if keyed else None


def parse_post(text: str, path: Path | None = None) -> Post:
    """Split front matter from the body; raise PostError naming the line when the YAML is broken."""
    if text.startswith("\ufeff"):
        text = text[1:]
    # Control characters are invisible, HTML cannot carry them, and Markdown uses two of them.
    if _CONTROL.search(text):  # a copy only when there is something to take out
        text = _CONTROL.sub("", text)
    front, body, closing = _split(text)
    if closing is None:
        return Post(meta={}, body=text, path=path)
    if not closing:
        raise PostError(
            "front matter starts with '---' but never ends",
            path=path,
            line=1,
            hint="close it with a line of '---' after the last key",
        )
    yaml_lines = front.split("\n")[1 : closing - 1]
    meta = _load_yaml("\n".join(yaml_lines), path)
    key_lines = _key_lines(yaml_lines, meta)
    return Post(
        meta=meta,
        body=body,
        path=path,
        body_line=closing + 1,
        notices=tuple(_check_keys(meta, key_lines)),
        key_lines=key_lines,
        front_text=front if front.endswith("\n") else front + "\n",
    )


def body_of(text: str) -> tuple[str, int]:
    """The body and its first line, as parse_post splits them, without reading the YAML."""
    _, body, closing = _split(text)
    return (body, closing + 1) if closing else (text, 1)


def _split(text: str) -> tuple[str, str, int | None]:
    """(front matter with its fences, body, line of the closing fence): closing None when there is
    no front matter, 0 when it never closes. Lines are read one at a time up to the closing fence:
    the body is never split into lines here, so a post far too large to convert is refused
    (bounds.py) without a copy of each of its lines."""
    fences = front_matter_fences(_lines(text))
    if fences is None:
        return "", text, None
    closing = fences[1] or 0
    if not closing:
        return text, "", 0
    cut = 0
    for _ in range(closing):
        end = text.find("\n", cut)
        cut = len(text) if end < 0 else end + 1
    return text[:cut], text[cut:], closing


def _lines(text: str) -> Iterator[str]:
    """The lines of `text`, one at a time (str.split would make them all at once)."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def path_list(paths: Paths) -> list[Path]:
    """`paths` as a list of paths: one path (a str is one path, never its characters) or several."""
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    if isinstance(paths, bytes) or not isinstance(paths, Iterable):
        raise TypeError(f"paths must be a path or a list of paths, not {type(paths).__name__}")
    listed = list(paths)
    for path in listed:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"paths must be a path or a list of paths, not a list holding {type(path).__name__}")
    return [Path(path) for path in listed]


def named_posts(paths: Paths) -> list[Path]:
    """The posts named on a command line, as paths; the first that is not a file raises what
    read_post says of it (not there, a folder, unreadable), before any other work is done."""
    named = path_list(paths)
    for path in named:
        if not path.is_file():
            read_post(path)
    return named


def read_post(path: str | Path) -> Post:
    """Read a post file as UTF-8 (a BOM is fine); any other encoding is an error that says how to fix it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError("no such file", path=path, hint="check the path") from None
    except IsADirectoryError:
        raise UsageError("is a folder, not a post", path=path, hint="name a Markdown file; check and publish --changed take folders") from None
    except OSError as exc:
        raise PostError(f"cannot read: {exc.strerror}", path=path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        guess = _guess_encoding(data)
        if guess is None:
            # No text encoding reads it: converting it would only turn noise into other noise.
            raise PostError(
                f"not a text file: its bytes are not UTF-8 (byte 0x{data[exc.start]:02x}), GB18030, Big5 or UTF-16 text",
                path=path,
                line=line,
                hint="a post is Markdown saved as UTF-8 text; is this the file you meant?",
            ) from None
        raise PostError(
            f"not UTF-8 (byte 0x{data[exc.start]:02x}); it looks like {guess}",
            path=path,
            line=line,
            hint=f"convert it: iconv -f {guess} -t UTF-8 {path.name} > {path.stem}.utf8.md",
        ) from None
    del data  # a large post is not held twice, as bytes and as text
    return parse_post(text.replace("\r\n", "\n"), path)


def _guess_encoding(data: bytes) -> str | None:
    """The encoding a file that is not UTF-8 is text in, or None when its bytes are no text at all."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 says so; its text is full of NUL bytes
        try:
            data.decode("utf-16")
        except UnicodeDecodeError:
            return None
        return "UTF-16"
    if b"\x00" in data:  # no text in GB18030 or Big5 holds a NUL: a picture, an archive, a program
        return None
    for name in ("gb18030", "big5"):
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


class _DuplicateKey(Exception):
    """A key given twice in one mapping of the front matter (lines counted in the YAML, from 0)."""

    def __init__(self, key: Any, first: int, again: int) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


@functools.lru_cache(maxsize=1)
def _loader() -> Any:
    """The safe loader (no Python objects from a post), its C version where PyYAML has one, made to
    refuse a key given twice: YAML forbids it, and PyYAML would silently keep the last value, so
    `title: A` then `title: B` would publish B without a word."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class UniqueKeyLoader(base):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, Any] = {}
                # Before the base class flattens `<<` merges: a key may override a merged one.
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=deep)
                    try:
                        first = seen.setdefault(key, key_node)
                    except TypeError:  # an unhashable key: the base class says what is wrong
                        continue
                    if first is not key_node:
                        raise _DuplicateKey(key, first.start_mark.line, key_node.start_mark.line)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def _load_yaml(yaml_text: str, path: Path | None) -> dict[str, Any]:
    # The loader's errors carry a mark, which gives the line of the mistake.
    import yaml

    try:
        loaded = yaml.load(yaml_text, Loader=_loader())
    except _DuplicateKey as twice:
        # +1 for 0-based, +1 for the opening '---'
        raise PostError(
            f"front matter: '{twice.key}' is given twice, first on line {twice.first + 2}",
            path=path,
            line=twice.again + 2,
            hint="keep one of them: YAML allows each key once",
        ) from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        hint = "quote values that contain ':' or start with a special character"
        opened = _UNCLOSED.get(getattr(exc, "context", None) or "")
        if opened and getattr(exc, "context_mark", None) is not None:
            # The parser notices an unclosed quote or bracket lines later, at the next key or at
            # the end; the line to fix is the one where it opened.
            mark, problem, hint = getattr(exc, "context_mark"), f"{opened} is never closed", "close it, or quote the whole value"
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


def with_known_keys(post: Post, keys: Iterable[str]) -> Post:
    """The post with `keys` known as well: a key that a block of the post uses as a variable
    (`sponsor: 某某公司` for `{{ sponsor }}`) is what the block asks for, not a typo."""
    also = frozenset(keys) - KNOWN_KEYS
    if not also & set(post.meta):
        return post
    others = tuple(notice for notice in post.notices if notice.code != "unknown-key")
    return replace(post, notices=tuple(_check_keys(post.meta, post.key_lines, KNOWN_KEYS | also)) + others)


def _check_keys(meta: Mapping[str, Any], key_lines: Mapping[str, int], known: frozenset[str] = KNOWN_KEYS) -> list[Notice]:
    notices = []
    for key in meta:
        if key not in known:
            close = sorted(k for k in known if _similar(k, key))
            hint = f"; did you mean '{close[0]}'?" if close else ""
            notices.append(Notice("unknown-key", f"front matter: unknown key '{key}'{hint}", key_lines.get(key)))
    return notices


def _key_lines(yaml_lines: Sequence[str], meta: Mapping[str, Any]) -> dict[str, int]:
    """The file line of each top-level key (the YAML starts on file line 2)."""
    found: dict[str, int] = {}
    for number, line in enumerate(yaml_lines, start=2):
        match = _TOP_KEY.match(line)
        if match:
            key = match.group(1).strip("\"'")
            if key in meta and key not in found:
                found[key] = number
    return found


def _similar(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.75
