"""Blocks: Markdown kept once in the project and placed in every post (a header, a footer, includes).

A step before rendering: `expand()` turns a Post into the same Post whose body holds its header,
its own text with every `<!-- wxpub: include PATH -->` line replaced by that block, and its
footer, and keeps a line map, so conversion, check and the preview all see one expanded post and
whatever is found inside a block is reported at the line that names it. Variables
(`{{ author }}`, `{{ account.name }}`, `{{ date }}`) are filled in blocks only: a post's own text
is never rewritten. Nothing here converts; what goes wrong becomes a notice that validate.py turns
into a finding (missing block, unknown variable, include loop).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .errors import Notice
from .post import with_known_keys

if TYPE_CHECKING:
    from .config import Account
    from .post import Post

INCLUDE = re.compile(r"^[ \t]*<!--\s*wxpub:\s*include\s+(\S+?)\s*-->[ \t]*$")
VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^[ \t]{0,3}(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)")
# A Markdown image's source in a block: written relative to the block, rewritten relative to the post.
_IMAGE = re.compile(r"(!\[[^\]\n]*\]\()(<[^>\n]+>|[^)\s]+)")
_NOT_RELATIVE = re.compile(r"(?i)^([a-z][a-z0-9+.-]*:|/|#)")
NONE = ("none", "false", "")
# The paragraph between a post and its footer, which mdext/footer.py turns into the place of the
# notes and references; private-use characters around it, so no writer's paragraph is this.
FOOTER_STARTS = "\ue000wxpub-footer\ue000"


@dataclass(frozen=True)
class _Lines:
    """Expanded text as lines, each with the file line of the post it is reported at."""

    lines: tuple[str, ...]
    where: tuple[int, ...]


def expand(post: Post, account: Account | None, root: Path) -> Post:
    """The post with its header, includes and footer in its body, and a line map back to the file.

    `root` is the project root: block paths are relative to it. A post already expanded, or one
    that is not a file, is returned as it is.
    """
    if post.line_map is not None or post.path is None:
        return post
    notices: list[Notice] = []
    variables = _variables(post.meta, account)
    body = _Expander(root, post, variables, notices)
    own = body.text(post.body, start=post.body_line, block=None, chain=())
    parts: list[_Lines] = []
    for role in ("header", "footer"):
        chosen = post.meta.get(role)
        named_in_post = role in post.meta
        path = _text(chosen) if named_in_post else (getattr(account, role) if account else None)
        if path is None or path.strip().lower() in NONE:
            parts.append(_Lines((), ()))
            continue
        line = post.line_of(role) or 1 if named_in_post else 1
        where = f"front matter '{role}'" if named_in_post else f"[accounts.{account.key if account else '?'}] {role}"
        parts.append(body.block(path, line, chain=(), named_by=where))
    header, footer = parts
    # The post's keys that its blocks use are known keys: the block asks for them.
    post = with_known_keys(post, body.used)
    if not header.lines and not footer.lines and own.lines == tuple(post.body.split("\n")) and not notices:
        return post
    # A blank line between the parts, so a block never runs into a paragraph of the post; before
    # the footer, the paragraph that keeps it after the notes and references (mdext/footer.py).
    between = ["", FOOTER_STARTS, ""] if footer.lines else []
    lines = list(header.lines) + ([""] if header.lines else []) + list(own.lines) + between + list(footer.lines)
    where_list = list(header.where) + ([post.body_line] if header.lines else []) + list(own.where)
    where_list += [own.where[-1] if own.where else post.body_line] * len(between) + list(footer.where)
    # The header's lines are reported where the body starts when the front matter does not name it.
    return replace(
        post,
        body="\n".join(lines),
        line_map=tuple(where_list),
        file_body=post.body,
        notices=post.notices + tuple(notices),
    )


class _Expander:
    """Reads blocks (each file once per post), follows includes, fills variables, notes problems."""

    def __init__(self, root: Path, post: Post, variables: Mapping[str, str], notices: list[Notice]) -> None:
        self.root, self.post, self.variables, self.notices = root, post, variables, notices
        self.used: set[str] = set()  # the variables filled in, for the keys they make known
        assert post.path is not None
        self.post_folder = post.path.resolve().parent

    def text(self, text: str, *, start: int | None, block: Path | None, chain: tuple[Path, ...], at: int = 1) -> _Lines:
        """Lines of `text` with includes expanded; `start` is the file line of its first line (the
        post's own body), else every line is reported `at` the line that named the block."""
        lines: list[str] = []
        where: list[int] = []
        fence: str | None = None
        code = _IndentedCode()
        for index, line in enumerate(text.split("\n")):
            here = start + index if start is not None else at
            opened = _FENCE.match(line)
            if opened and (fence is None or opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence)):
                fence = opened.group(1) if fence is None else None
            in_code = code.holds(line) if fence is None else False
            found = INCLUDE.match(line) if fence is None and not in_code else None
            if found is None:
                if block is not None:
                    line = self._fill(self._images(line, block), here, block)
                lines.append(line)
                where.append(here)
                continue
            included = self.block(found.group(1), here, chain=chain, named_by="include")
            lines.extend(included.lines)
            where.extend(included.where)
        return _Lines(tuple(lines), tuple(where))

    def block(self, name: str, line: int, *, chain: tuple[Path, ...], named_by: str) -> _Lines:
        """The block at `name` (relative to the project root), expanded, every line reported at `line`."""
        path = (self.root / name).resolve()
        if path in chain:
            loop = " → ".join(self._shown(p) for p in (*chain, path))
            self.notices.append(Notice("block-loop", f"block '{name}' includes itself: {loop}", line, 1))
            return _Lines((), ())
        if not path.is_relative_to(self.root.resolve()):
            self.notices.append(Notice("block-missing", f"block '{name}' ({named_by}) is outside the project", line, 1))
            return _Lines((), ())
        try:
            text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            # A header or footer can be turned off with 'none'; an include is turned off by removing it.
            hint = "create the file (paths are relative to the project root), or remove the include line" if named_by == "include" else None
            self.notices.append(Notice("block-missing", f"block '{name}' ({named_by}) does not exist", line, 1, hint))
            return _Lines((), ())
        except (OSError, UnicodeDecodeError) as exc:
            self.notices.append(Notice("block-missing", f"block '{name}' ({named_by}) cannot be read: {exc}", line, 1))
            return _Lines((), ())
        return self.text(text.strip("\n"), start=None, block=path, chain=(*chain, path), at=line)

    def _fill(self, line: str, at: int, block: Path) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.variables:
                self.used.add(name)
                return self.variables[name]
            # Most often a key this post does not set (`{{ date }}` without `date:`): say so.
            missing = f"the account has no '{name.removeprefix('account.')}'" if name.startswith("account.") else f"this post has no '{name}:' in its front matter"
            self.notices.append(Notice(
                "block-variable",
                f"block '{self._shown(block)}' uses {{{{ {name} }}}}, but {missing} (known here: {', '.join(sorted(self.variables)) or 'none'})",
                at,
                1,
            ))
            return match.group(0)

        return VARIABLE.sub(value, line)

    def _images(self, line: str, block: Path) -> str:
        """Image sources written relative to the block, made relative to the post (one file, one upload)."""
        def moved(match: re.Match[str]) -> str:
            src = match.group(2).strip("<>")
            if _NOT_RELATIVE.match(src):
                return match.group(0)
            target = (block.parent / src).resolve()
            return match.group(1) + Path(os.path.relpath(target, self.post_folder)).as_posix()

        return _IMAGE.sub(moved, line)

    def _shown(self, path: Path) -> str:
        try:
            return path.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)


class _IndentedCode:
    """Whether a line is inside an indented code block, told line by line, for the sure case only.

    Python-Markdown renders a line indented by four spaces (or a tab) after a blank line as code,
    and so does CommonMark, unless a list holds it: there it is the item's text. Which list a line
    belongs to takes the parser to know, so from a list item to the next unindented line after a
    blank line no line is taken for code (an include there is expanded, as before)."""

    def __init__(self) -> None:
        self.code = False
        self.in_list = False
        self.after_blank = True  # the start of the text is a block's start

    def holds(self, line: str) -> bool:
        if not line.strip():
            self.after_blank = True
            return self.code
        indent = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip(" "))
        if indent >= 4 and (self.code or self.after_blank and not self.in_list):
            self.code, self.after_blank = True, False
            return True
        if _LIST_ITEM.match(line):
            self.in_list = True
        elif indent == 0 and self.after_blank:
            self.in_list = False
        self.code, self.after_blank = False, False
        return False


def _variables(meta: Mapping[str, Any], account: Account | None) -> dict[str, str]:
    """What a block may name: the post's front matter (text, numbers and dates) and `account.*`."""
    found = {key: _text(value) for key, value in meta.items() if _text(value) is not None and key not in ("header", "footer")}
    if account is not None:
        for key in ("name", "author", "appid"):
            value = getattr(account, key)
            if value:
                found[f"account.{key}"] = value
        found["account.key"] = account.key
    return {key: value for key, value in found.items() if value is not None}


def _text(value: Any) -> str | None:
    import datetime

    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return None
