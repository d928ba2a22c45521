"""Rules over posts -> list[Problem]; a Report that counts outcomes and owns the exit code; --fix.

`wxpub check` runs in a pre-commit hook on every commit, so this module imports only the post
reader, YAML and autocorrect at the top. The converter (Markdown, premailer) is imported when a
post is checked for its content, and the publishing stack (wechatpy, requests) never.

Layers, from pure string to files: `check_text()` / `fix_text()` work on a string and do no I/O,
`check_file()` reads and (for --fix) writes one file, `check_paths()` walks folders and fans the
files out over the CPU cores, and `Report` collects what happened.
"""

from __future__ import annotations

import difflib
import enum
import os
import re
import traceback
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .errors import Notice, PostError, UsageError
from .limits import (
    AUTHOR_MAX,
    CONTENT_MAX_BYTES,
    CONTENT_MAX_CHARS,
    DIGEST_MAX,
    DROPPED_TAGS,
    IMAGE_URL_CHARS,
    SOURCE_URL_MAX_BYTES,
    TITLE_MAX,
    url_size,
    wechat_length,
)
from .post import KNOWN_KEYS, parse_post

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd"})


class Severity(enum.Enum):
    """How bad a problem is: errors and warnings fail the check, notes only inform."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Rule:
    """One check: a stable code, its severity, what it looks for, and whether --fix can repair it."""

    code: str
    severity: Severity
    summary: str
    fixable: bool = False


_E, _W, _N = Severity.ERROR, Severity.WARNING, Severity.NOTE

# The codes are a public interface (configs, inline comments and scripts name them): never reuse
# or renumber one. WX0xx the file, WX1xx front matter, WX2xx images, WX3xx content, WX4xx typography.
RULES: Mapping[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("WX001", _E, "the file is not UTF-8 text"),
        Rule("WX002", _E, "the file cannot be read"),
        Rule("WX101", _E, "the front matter is not valid YAML"),
        Rule("WX102", _E, "the post has no title"),
        Rule("WX103", _W, "an unknown front matter key"),
        Rule("WX104", _E, "the title is longer than WeChat accepts"),
        Rule("WX105", _E, "the author is longer than WeChat accepts"),
        Rule("WX106", _E, "the digest is longer than WeChat accepts"),
        Rule("WX107", _E, "source_url is longer than WeChat accepts"),
        Rule("WX108", _W, "a front matter value is not text"),
        Rule("WX110", _W, "a front matter key is not followed by ': '", fixable=True),
        Rule("WX111", _W, "trailing whitespace in the front matter", fixable=True),
        Rule("WX112", _W, "a front matter fence is not exactly '---'", fixable=True),
        Rule("WX201", _E, "an image file is missing"),
        Rule("WX202", _E, "an image file cannot be read or is not an image"),
        Rule("WX203", _E, "an image format that cannot be published"),
        Rule("WX204", _E, "an image outside the project root"),
        Rule("WX205", _N, "a remote image, downloaded when publishing"),
        Rule("WX206", _E, "no cover: no 'cover' key and no image in the post"),
        Rule("WX301", _E, "the converted content is over 20,000 characters"),
        Rule("WX302", _E, "the converted content is over 1 MB"),
        Rule("WX303", _W, "raw HTML that WeChat removes"),
        Rule("WX304", _N, "an external link that becomes a numbered reference"),
        Rule("WX305", _W, "the converter changed or dropped something"),
        Rule("WX306", _E, "the post cannot be converted (unknown theme, bad option)"),
        Rule("WX307", _W, "text contrast below 4.5:1 in light or dark mode (WCAG 2.1)"),
        Rule("WX401", _W, "a missing space between CJK and Latin letters or digits", fixable=True),
        Rule("WX402", _W, "half-width punctuation in CJK text", fixable=True),
        Rule("WX403", _W, "a space that CJK typography does not want", fixable=True),
        Rule("WX404", _W, "full-width letters or digits", fixable=True),
        Rule("WX409", _W, "another CJK typography rule of autocorrect", fixable=True),
    )
}



# --- problems and selections ---------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """A safe replacement inside one line: `old` at 1-based (line, col), counted in characters."""

    line: int
    col: int
    old: str
    new: str


@dataclass(frozen=True)
class Problem:
    """One finding at a place in a post; `edit` is set when --fix can repair it."""

    path: str
    line: int
    col: int
    code: str
    message: str
    edit: Edit | None = None

    @property
    def rule(self) -> Rule:
        return RULES[self.code]

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    def one_line(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "fixable": self.edit is not None,
        }


def _parse_codes(value: str | Iterable[str] | None, origin: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = value.replace(",", " ").split() if isinstance(value, str) else [str(v) for v in value]
    codes = tuple(item.strip().upper() for item in items if item.strip())
    for code in codes:
        if code != "ALL" and not any(known.startswith(code) for known in RULES):
            raise UsageError(
                f"{origin}: unknown code '{code}'",
                hint="codes are WX001..WX409 or a prefix such as WX4; `wxpub check --help` lists them",
            )
    return codes


@dataclass(frozen=True)
class Selection:
    """Which codes run: `select` (None means all) minus `ignore`; prefixes such as 'WX4' match groups."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()

    @classmethod
    def from_options(
        cls,
        select: str | Iterable[str] | None = None,
        ignore: str | Iterable[str] | None = None,
        origin: str = "option",
    ) -> Selection:
        return cls(_parse_codes(select, f"{origin} select"), _parse_codes(ignore, f"{origin} ignore") or ())

    def over(self, base: Selection) -> Selection:
        """This selection given on the command line over `base` from a config file."""
        select = self.select if self.select is not None else base.select
        return Selection(select, base.ignore + self.ignore)

    def allows(self, code: str) -> bool:
        if self.select is not None and not any(code.startswith(s) or s == "ALL" for s in self.select):
            return False
        return not any(code.startswith(s) or s == "ALL" for s in self.ignore)


class Mode(enum.Enum):
    """What to do with fixable problems; the CLI turns its flags into one of these, once."""

    CHECK = "check"  # report only
    FIX = "fix"  # rewrite files in place, report what is left
    DIFF = "diff"  # show the fixes as a diff, write nothing

    @classmethod
    def from_flags(cls, *, fix: bool = False, diff: bool = False) -> Mode:
        if fix and diff:
            raise UsageError("--fix and --diff cannot be used together", hint="--diff shows what --fix would write")
        return cls.FIX if fix else cls.DIFF if diff else cls.CHECK


# --- inline silencing ----------------------------------------------------------------------------

# `<!-- wxpub: ignore WX401 WX402 -->` in the body, `# wxpub: ignore WX104` in the front matter.
# At the end of a line it silences that line; alone on its line it silences the next line.
# Without codes it silences every rule.
_SILENCE = re.compile(r"(?:<!--|#)\s*wxpub:\s*ignore\b(?P<codes>[\sA-Za-z0-9,]*?)\s*(?:-->|$)")


def _silenced_lines(lines: Sequence[str]) -> dict[int, tuple[str, ...]]:
    silenced: dict[int, tuple[str, ...]] = {}
    for number, text in enumerate(lines, start=1):
        if "wxpub:" not in text:
            continue
        for match in _SILENCE.finditer(text):
            codes = tuple(match.group("codes").replace(",", " ").upper().split()) or ("ALL",)
            alone = not text[: match.start()].strip()
            target = number + 1 if alone else number
            silenced[target] = silenced.get(target, ()) + codes
    return silenced


def _is_silenced(problem: Problem, silenced: Mapping[int, tuple[str, ...]]) -> bool:
    codes = silenced.get(problem.line, ())
    return any(c == "ALL" or problem.code.startswith(c) for c in codes)


# --- the post's layout ---------------------------------------------------------------------------

_FENCE_LINE = re.compile(r"^-{3,}\s*$")


@dataclass(frozen=True)
class _Layout:
    """Where the front matter and the body are, found without parsing YAML (so broken YAML still has a body)."""

    lines: tuple[str, ...]
    front: tuple[int, int] | None  # 1-based lines of the opening and closing fence (closing 0: never closed)
    body_line: int

    @classmethod
    def of(cls, text: str) -> _Layout:
        lines = tuple(text.split("\n"))
        if not lines or not _FENCE_LINE.match(lines[0]):
            return cls(lines, None, 1)
        for index in range(1, len(lines)):
            if _FENCE_LINE.match(lines[index]):
                return cls(lines, (1, index + 1), index + 2)
        return cls(lines, (1, 0), len(lines) + 1)

    @property
    def closed(self) -> bool:
        return self.front is None or self.front[1] > 0

    def front_lines(self) -> range:
        """1-based numbers of the YAML lines between the fences."""
        if self.front is None:
            return range(0)
        end = self.front[1] if self.front[1] else len(self.lines) + 1
        return range(2, end)

    def key_line(self, key: str) -> int | None:
        for number in self.front_lines():
            text = self.lines[number - 1]
            if re.match(rf"{re.escape(key)}\s*[:：]", text):
                return number
        return None


# --- front matter --------------------------------------------------------------------------------

_KEY_COLON = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)(?P<sep>[ \t]*：[ \t]*|:(?=[^\s:/]))")


def _front_format(layout: _Layout, path: str) -> list[Problem]:
    """Front matter formatting that --fix can repair without touching what the values mean."""
    problems: list[Problem] = []
    if layout.front is None:
        return problems
    fences = [layout.front[0]] + ([layout.front[1]] if layout.front[1] else [])
    for number in fences:
        text = layout.lines[number - 1]
        if text != "---":
            problems.append(
                Problem(path, number, 1, "WX112", f"write the fence as '---', not {text!r}", Edit(number, 1, text, "---"))
            )
    for number in layout.front_lines():
        text = layout.lines[number - 1]
        match = _KEY_COLON.match(text)
        if match and (match.group("key") in KNOWN_KEYS or "：" in match.group("sep")):
            sep = match.group("sep")
            col = match.end("key") + 1
            problems.append(
                Problem(
                    path,
                    number,
                    col,
                    "WX110",
                    f"write '{match.group('key')}: value' with an ASCII colon and a space, not {sep.strip()!r}",
                    Edit(number, col, sep, ": "),
                )
            )
        stripped = text.rstrip(" \t")
        if stripped != text:
            col = len(stripped) + 1
            problems.append(
                Problem(path, number, col, "WX111", "trailing whitespace", Edit(number, col, text[len(stripped) :], ""))
            )
    return problems


def _front_rules(layout: _Layout, meta: Mapping[str, Any], notices: Sequence[Notice], path: str) -> list[Problem]:
    problems: list[Problem] = []
    for notice in notices:
        if notice.code == "unknown-key":
            problems.append(Problem(path, notice.line or 1, 1, "WX103", notice.message.removeprefix("front matter: ")))
    limits = (("title", "WX104", TITLE_MAX), ("author", "WX105", AUTHOR_MAX), ("digest", "WX106", DIGEST_MAX))
    for key in ("title", "author", "digest", "source_url"):
        value = meta.get(key)
        if value is None:
            continue
        line = layout.key_line(key) or 1
        if not isinstance(value, str):
            problems.append(
                Problem(path, line, 1, "WX108", f"{key} should be text, but YAML reads it as {type(value).__name__}; quote it")
            )
            value = str(value)
        col = _value_col(layout.lines[line - 1], key)
        for name, code, limit in limits:
            if key == name and (units := wechat_length(value)) > limit:
                problems.append(
                    Problem(
                        path,
                        line,
                        col,
                        code,
                        f"{key} is {units} units long; WeChat may refuse more than {limit} "
                        f"(counting ASCII as 1 and any other character as 2)",
                    )
                )
        if key == "source_url" and (size := url_size(value)) > SOURCE_URL_MAX_BYTES:
            problems.append(
                Problem(
                    path,
                    line,
                    col,
                    "WX107",
                    f"source_url is {size} bytes percent-encoded; WeChat accepts at most {SOURCE_URL_MAX_BYTES}",
                )
            )
    return problems


def _value_col(text: str, key: str) -> int:
    match = re.match(rf"{re.escape(key)}\s*[:：]\s*", text)
    return match.end() + 1 if match else 1


# --- typography (autocorrect) --------------------------------------------------------------------

# Block constructs whose text is not prose: blanked before autocorrect sees the post, because it
# formats strings and comments inside fenced code of known languages and the text of ~~~ fences.
_CODE_FENCE = re.compile(r"^(?P<prefix>(?:[ \t]*>)*[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_MATH_FENCE = re.compile(r"^(?:[ \t]*>)*[ \t]*(\$\$|\\\[)")
_RAW_BLOCK = re.compile(r"^[ \t]*<(script|style|pre|textarea|code|svg|math)\b", re.IGNORECASE)

# Inline spans --fix must never change: code, math, URLs, autolinks, HTML tags and link targets.
_PROTECTED = re.compile(
    r"(?P<code>(`+).+?\2)"
    r"|(?P<math>\$\$.+?\$\$|(?<![\\$\w])\$(?=\S)[^$\n]*?(?<=\S)\$(?![\w$]))"
    r"|(?P<tag><[A-Za-z/!][^>\n]*>)"
    r"|(?P<target>\]\([^)\n]*\)|\]\[[^\]\n]*\]|^[ \t]*\[[^\]\n]+\]:.*$)"
    r"|(?P<url>(?:https?|ftp|mailto):[^\s<>()\[\]]+|www\.[^\s<>()\[\]]+)"
)


def _typography_source(lines: Sequence[str], body_line: int) -> tuple[list[str], dict[int, list[tuple[int, int]]]]:
    """The body as autocorrect should see it (non-prose blanked, same lines) and the protected spans per line."""
    masked: list[str] = [""] * (body_line - 1)
    protected: dict[int, list[tuple[int, int]]] = {}
    closing: re.Pattern[str] | None = None
    for number in range(body_line, len(lines) + 1):
        text = lines[number - 1]
        if closing is not None:
            masked.append("")
            if closing.search(text):
                closing = None
            continue
        fence = _CODE_FENCE.match(text)
        if fence and not (fence.group("fence")[0] == "`" and "`" in fence.group("info")):
            mark = fence.group("fence")
            closing = re.compile(rf"^(?:[ \t]*>)*[ \t]*{re.escape(mark[0])}{{{len(mark)},}}\s*$")
            masked.append("")
            continue
        math = _MATH_FENCE.match(text)
        if math:
            end = "$$" if math.group(1) == "$$" else "\\]"
            if text.count(end) < (2 if end == "$$" else 1) or end == "\\]" and not text.rstrip().endswith(end):
                closing = re.compile(re.escape(end))
            masked.append("")
            continue
        raw = _RAW_BLOCK.match(text)
        if raw:
            tag = raw.group(1)
            if not re.search(rf"</{tag}\s*>", text, re.IGNORECASE):
                closing = re.compile(rf"</{tag}\s*>", re.IGNORECASE)
            masked.append("")
            continue
        spans = [(m.start(), m.end()) for m in _PROTECTED.finditer(text)]
        if spans:
            protected[number] = spans
            chars = list(text)
            for m in _PROTECTED.finditer(text):
                if m.group("math"):
                    # autocorrect would format the TeX; inline code of the same length it leaves alone
                    chars[m.start() : m.end()] = ["`"] + ["x"] * (m.end() - m.start() - 2) + ["`"]
            text = "".join(chars)
        masked.append(text)
    return masked, protected


_FULLWIDTH_PUNCT = set("，。！？：；、“”‘’（）《》【】「」『』…—～")


def _classify(old: str, new: str) -> tuple[str, str]:
    """The code and the sentence for one change autocorrect proposes."""
    if not old.strip() and not new.strip():
        return ("WX401", "add a space") if len(new) > len(old) else ("WX403", "remove the space")
    core_old, core_new = old.strip(), new.strip()
    if core_new and all(c in _FULLWIDTH_PUNCT for c in core_new) and all(c.isascii() for c in core_old):
        return "WX402", f"use full-width '{core_new}' instead of '{core_old}' in CJK text"
    if any(unicodedata.east_asian_width(c) == "F" and c.isalnum() for c in old):
        return "WX404", f"write '{new}' instead of full-width '{old}'"
    return "WX409", f"write '{new}' instead of '{old}'"


def _changes(line: int, col: int, old: str, new: str, source: str) -> Iterator[tuple[str, str, Edit]]:
    """Split one autocorrect suggestion into small edits, each with its own code and column."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        a, b = old[i1:i2], new[j1:j2]
        code, message = _classify(a, b)
        if code in ("WX401", "WX403"):
            before_index, after_index = col - 2 + i1, col - 1 + i2
            before = source[before_index] if 0 <= before_index < len(source) else ""
            after = source[after_index] if 0 <= after_index < len(source) else ""
            if before.strip() and after.strip():
                message += f" between '{before}' and '{after}'"
        yield code, message, Edit(line, col + i1, a, b)


def _overlaps(edit: Edit, spans: Sequence[tuple[int, int]]) -> bool:
    start = edit.col - 1
    end = start + len(edit.old)
    for s, e in spans:
        if end == start:  # an insertion: only inside a span counts, its edges are fine
            if s < start < e:
                return True
        elif start < e and s < end:
            return True
    return False


def _typography(layout: _Layout, path: str) -> list[Problem]:
    import autocorrect_py

    masked, protected = _typography_source(layout.lines, layout.body_line)
    problems: list[Problem] = []
    try:
        result = autocorrect_py.lint_for("\n".join(masked), "md")
    except ValueError:  # its parser gives up on pathological input (a 100,000-character line)
        return _front_typography(layout, path)
    for item in result.lines:
        line, col, old, new = item.line, item.col, item.old, item.new
        if not 1 <= line <= len(layout.lines):
            continue
        original = layout.lines[line - 1]
        view = masked[line - 1]
        if view[col - 1 : col - 1 + len(old)] != old:
            found = view.find(old)
            if found < 0:
                continue
            col = found + 1
        spans = protected.get(line, ())
        for code, message, edit in _changes(line, col, old, new, original):
            safe = not _overlaps(edit, spans) and original[edit.col - 1 : edit.col - 1 + len(edit.old)] == edit.old
            if not safe:
                continue
            problems.append(Problem(path, line, edit.col, code, message, edit))
    problems.extend(_front_typography(layout, path))
    return problems


def _front_typography(layout: _Layout, path: str) -> list[Problem]:
    """Typography of the front matter values a reader sees (title, digest), written on one line."""
    import autocorrect_py

    problems: list[Problem] = []
    for key in ("title", "digest"):
        line = layout.key_line(key)
        if line is None:
            continue
        text = layout.lines[line - 1]
        match = re.match(rf"{key}\s*[:：]\s*(?P<q>['\"]?)(?P<value>.*?)(?P=q)\s*(?:\s#.*)?$", text)
        if not match or not match.group("value") or (not match.group("q") and match.group("value")[0] in "|>&*!{[%@`"):
            continue
        value = match.group("value")
        fixed = autocorrect_py.format(value)
        if fixed == value:
            continue
        col = match.start("value") + 1
        for code, message, edit in _changes(line, col, value, fixed, text):
            if match.group("q") == "'" and "'" in edit.new or match.group("q") == '"' and '"' in edit.new:
                continue
            if not match.group("q") and ": " in fixed or " #" in fixed:
                continue  # unquoted, the fixed value would read differently as YAML
            problems.append(Problem(path, line, edit.col, code, f"{key}: {message}", edit))
    return problems


# --- content, images, links (through the converter) ----------------------------------------------

_NOTICE_CODES = {"raw-html": "WX303", "unknown-key": None}


@dataclass(frozen=True)
class _Content:
    """What the converter found in a post, and its content length: exact, or a bound above it."""

    chars: int
    size: int
    exact: bool
    title: str
    images: tuple[Any, ...]
    links: tuple[Any, ...]
    warnings: tuple[Notice, ...]


def _content(text: str, layout: _Layout, meta: Mapping[str, Any] | None, path: Path | None, name: str) -> tuple[list[Problem], str | None]:
    """Problems only the converter can see (final size, removed HTML, links, images, cover), and the title."""
    from .errors import WxpubError
    from .post import Post

    if layout.front is not None and not layout.closed:
        return [], None
    # Broken YAML must not hide the body's problems: convert the body alone, with its real lines.
    body = "\n".join(layout.lines[layout.body_line - 1 :])
    post = Post(meta=dict(meta or {}), body=body, path=path, body_line=layout.body_line)
    try:
        content = _measure(post)
    except WxpubError as error:
        return [Problem(name, error.line or 1, 1, "WX306", _sentence(error))], None
    return list(_content_problems(content, layout, meta, path, name)), content.title


def _measure(post: Any) -> _Content:
    """Render the post and bound its final size; run the full converter only when the bound nears a limit.

    Inlining the theme (premailer) costs far more than rendering, and it cannot change which images,
    links or raw HTML a post has: only the length. Each element gets at most the declarations of
    every theme rule whose last selector part could match it, so that sum bounds the inlined
    length from above, and only a post whose bound reaches WeChat's limits is inlined for real.
    """
    from . import convert
    from .render import render

    post = convert.with_project_defaults(post)
    resolved, options = convert.plan(post)
    meta = post.meta
    rendered = render(post, options)
    removed, bound_chars, bound_bytes = _bound(rendered.html, resolved.css)
    extra = _image_url_growth(rendered.images)
    if bound_chars + extra >= CONTENT_MAX_CHARS or bound_bytes + extra >= CONTENT_MAX_BYTES:
        return _exact(convert.convert_post(post))
    title = str(meta.get("title") or rendered.title or "")
    warnings = post.notices + resolved.notices + rendered.notices + removed
    return _Content(bound_chars + extra, bound_bytes + extra, False, title, rendered.images, rendered.links, warnings)


def _exact(converted: Any) -> _Content:
    extra = _image_url_growth(converted.images)
    return _Content(
        len(converted.html) + extra,
        len(converted.html.encode("utf-8")) + extra,
        True,
        converted.title,
        converted.images,
        converted.links,
        converted.warnings,
    )


def _image_url_growth(images: Sequence[Any]) -> int:
    return sum(max(0, IMAGE_URL_CHARS - len(image.src)) for image in images)


def _bound(html: str, css: str) -> tuple[tuple[Notice, ...], int, int]:
    """The raw HTML the converter will remove, and a bound on the inlined length (chars, bytes)."""
    import lxml.html

    root = lxml.html.fragment_fromstring(f'<section class="wxpub">{html}</section>')
    removed: list[Notice] = []
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            element.drop_tree()
            continue
        tag = element.tag.lower()
        if tag in DROPPED_TAGS:
            removed.append(Notice("raw-html", f"removed <{tag}>: WeChat does not allow it in articles"))
            element.drop_tree()
            continue
        for name in [n for n in element.attrib if n.lower().startswith("on")]:
            removed.append(Notice("raw-html", f"removed {name.lower()}= from <{tag}>: scripts do not run in WeChat"))
            del element.attrib[name]
    serialised = lxml.html.tostring(root, encoding="unicode")
    chars, size = len(serialised), len(serialised.encode("utf-8"))
    rules = _theme_rules(css)
    cache: dict[tuple[str, frozenset[str]], int] = {}
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        key = (element.tag.lower(), frozenset((element.get("class") or "").split()))
        if key not in cache:
            cache[key] = rules.bound(*key)
        chars += cache[key]
        size += cache[key]
    return tuple(removed), chars, size


@dataclass(frozen=True)
class _ThemeRules:
    """The theme's rules by the last part of their selector, each with the most its declarations can add."""

    rules: tuple[tuple[str, frozenset[str], bool, int], ...]  # (tag or "*", classes, has an id, length)

    def bound(self, tag: str, classes: frozenset[str]) -> int:
        total = sum(
            length
            for rule_tag, rule_classes, has_id, length in self.rules
            if rule_tag in ("*", tag) and rule_classes <= classes and not has_id
        )
        return total + len(' style=""') if total else 0


_CSS_BLOCK = re.compile(r"([^{}]+)\{([^{}]*)\}")
_COMPOUND = re.compile(r"(?:^|[\s>+~])([^\s>+~]+)$")


@lru_cache(maxsize=16)
def _theme_rules(css: str) -> _ThemeRules:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules = []
    for match in _CSS_BLOCK.finditer(css):
        declarations = [d for d in match.group(2).split(";") if ":" in d]
        # Each declaration as `prop:value;` once attribute-escaped (a quote becomes &quot;), plus
        # room for the few characters cssutils may add when it normalises a value.
        length = sum(
            len(" ".join(d.split())) + 1 + 5 * (d.count('"') + d.count("'") + d.count("&") + d.count("<")) + 4
            for d in declarations
        )
        for selector in match.group(1).split(","):
            selector = re.sub(r"\[[^\]]*\]|::?[\w-]+(\([^)]*\))?", "", selector.strip())
            found = _COMPOUND.search(selector)
            if not found:
                continue
            compound = found.group(1)
            tag = re.match(r"[A-Za-z][\w-]*|\*", compound)
            classes = frozenset(re.findall(r"\.([\w-]+)", compound))
            rules.append(((tag.group(0).lower() if tag else "*"), classes, "#" in compound, length))
    return _ThemeRules(tuple(rules))


def _content_problems(
    content: _Content, layout: _Layout, meta: Mapping[str, Any] | None, path: Path | None, name: str
) -> Iterator[Problem]:
    measured = "" if content.exact else "at most "
    if content.chars >= CONTENT_MAX_CHARS:
        yield Problem(
            name,
            1,
            1,
            "WX301",
            f"the converted content is {measured}{content.chars:,} characters with inline styles and "
            f"WeChat image URLs; WeChat takes fewer than {CONTENT_MAX_CHARS:,} (split the post or use a lighter theme)",
        )
    if content.size >= CONTENT_MAX_BYTES:
        yield Problem(name, 1, 1, "WX302", f"the converted content is {content.size:,} bytes; WeChat takes less than 1 MB")
    located: dict[str, int] = {}
    for notice in content.warnings:
        code = _NOTICE_CODES.get(notice.code, "WX305")
        if code is None:
            continue  # reported from the front matter already
        line, col = notice.line or 1, 1
        if code == "WX303" and notice.line is None:
            line, col = _locate_html(layout, notice.message, located)
        message = notice.message if code == "WX303" else f"{notice.message} [{notice.code}]"
        yield Problem(name, line, col, code, message)
    for link in content.links:
        line = link.line or 1
        col = _find_col(layout, line, link.url)
        yield Problem(name, line, col, "WX304", f"the link to {link.url} becomes reference [{link.number}] (WeChat allows no outbound links)")
    yield from _image_problems(content.images, layout, meta, path, name)


def _locate_html(layout: _Layout, message: str, located: dict[str, int]) -> tuple[int, int]:
    """The line and column of the raw HTML a converter notice speaks of (it knows only the tag)."""
    found = re.search(r"<(\w+)>|(\bon\w+)=|link to (\S+):", message)
    if not found:
        return 1, 1
    needle = f"<{found.group(1)}" if found.group(1) else found.group(2) or f'{found.group(3)}'
    start = located.get(needle, layout.body_line - 1)
    for index in range(start, len(layout.lines)):
        col = layout.lines[index].lower().find(needle.lower())
        if col >= 0:
            located[needle] = index + 1
            return index + 1, col + 1
    return 1, 1


def _find_col(layout: _Layout, line: int, needle: str) -> int:
    if 1 <= line <= len(layout.lines):
        found = layout.lines[line - 1].find(needle)
        if found >= 0:
            return found + 1
    return 1


def _image_problems(
    images: Sequence[Any], layout: _Layout, meta: Mapping[str, Any] | None, path: Path | None, name: str
) -> Iterator[Problem]:
    cover = meta.get("cover") if meta is not None else None
    if cover:
        line = layout.key_line("cover") or 1
        yield from _one_image(str(cover), line, _value_col(layout.lines[line - 1], "cover"), path, name, "cover")
    elif not images and meta is not None:  # with broken YAML the cover may well be there
        yield Problem(name, 1, 1, "WX206", "no cover: add 'cover: path/to/image.jpg' to the front matter or an image to the post")
    for image in images:
        line = image.line or 1
        yield from _one_image(image.src, line, _find_col(layout, line, image.src), path, name, "image")


def _one_image(src: str, line: int, col: int, path: Path | None, name: str, what: str) -> Iterator[Problem]:
    if re.match(r"(?i)^(https?:)?//", src):
        yield Problem(name, line, col, "WX205", f"remote {what} {src} is downloaded and uploaded when publishing")
        return
    if src.startswith("data:") or path is None:
        return
    from . import images as images_module

    outcome = _probe(images_module, src, path)
    if outcome is not None:
        code, message = outcome
        yield Problem(name, line, col, code, f"{what} '{src}': {message}")


def _probe(images_module: Any, src: str, post_path: Path) -> tuple[str, str] | None:
    """Ask the image module about one local file: None when it can be published, else (code, why).

    Only the file's first bytes are read and only its header is parsed (no pixels are decoded),
    which keeps the hook fast on posts full of photos.
    """
    from .errors import ImageError

    root = _project_root(images_module, post_path.resolve().parent)
    try:
        source = images_module.resolve_source(src, post_path, root)
    except ImageError as error:
        text = error.message.split("': ", 1)[-1]
        code = {"outside": "WX204", "missing": "WX201"}.get(error.kind, "WX202")
        return code, f"{text} ({error.hint})" if error.hint else text
    try:
        images_module.probe(source)
    except ImageError as error:
        text = error.message.split("': ", 1)[-1]
        code = "WX203" if error.kind == "unsupported" else "WX202"
        return code, f"{text} ({error.hint})" if error.hint and code == "WX203" else text
    return None


@lru_cache(maxsize=256)
def _project_root(images_module: Any, folder: Path) -> Path:
    return Path(images_module.find_project_root(folder / "post.md"))


def _contrast(layout: _Layout, meta: Mapping[str, Any], path: Path | None, name: str) -> Iterator[Problem]:
    """WX307: text that is hard to read in light or in dark mode, measured on the converted fragment."""
    from . import convert
    from .darkmode import contrast_problems
    from .errors import WxpubError
    from .post import Post

    body = "\n".join(layout.lines[layout.body_line - 1 :])
    try:
        converted = convert.convert_post(convert.with_project_defaults(Post(meta=dict(meta), body=body, path=path, body_line=layout.body_line)))
    except WxpubError:
        return  # WX306 reports it
    for found in contrast_problems(converted.html):
        line, col = _locate_text(layout, found.sample)
        yield Problem(name, line, col, "WX307", f"{found.message()}; theme '{converted.theme}'")


def _locate_text(layout: _Layout, sample: str) -> tuple[int, int]:
    """The first body line holding the start of a rendered text (its first word if the whole is not found)."""
    for needle in (sample[:12], sample.split(" ")[0][:12]):
        for index in range(layout.body_line - 1, len(layout.lines)):
            col = layout.lines[index].find(needle) if needle else -1
            if col >= 0:
                return index + 1, col + 1
    return layout.body_line, 1


# --- one text, one file --------------------------------------------------------------------------


def check_text(
    text: str,
    path: str | Path | None = None,
    *,
    selection: Selection = Selection(),
    content: bool = True,
) -> list[Problem]:
    """Every problem in a post's text that the selection allows and no inline comment silences, in order."""
    name = str(path) if path is not None else "<text>"
    layout = _Layout.of(text.removeprefix("\ufeff"))
    problems = _front_format(layout, name)
    # Parse what --fix would write, so one formatting slip does not hide every other rule.
    parsed_text = _apply("\n".join(layout.lines), [p.edit for p in problems if p.edit])
    meta: dict[str, Any] | None = {}
    try:
        post = parse_post(parsed_text, Path(path) if path is not None else None)
    except PostError as error:
        meta = None
        problems.append(Problem(name, error.line or 1, 1, "WX101", _sentence(error)))
    else:
        meta = dict(post.meta)
        problems.extend(_front_rules(layout, meta, post.notices, name))
    problems.extend(_typography(layout, name))
    title: str | None = None
    if content and any(selection.allows(code) for code in RULES if code.startswith(("WX1", "WX2", "WX3"))):
        found, title = _content(parsed_text, layout, meta, Path(path) if path is not None else None, name)
        problems.extend(found)
        if selection.allows("WX307") and meta is not None and not any(p.code == "WX306" for p in found):
            problems.extend(_contrast(layout, meta, Path(path) if path is not None else None, name))
    if meta is not None and not (title if title is not None else _title_of(meta, layout)):
        problems.append(Problem(name, 1, 1, "WX102", "the post has no title: add 'title: ...' to the front matter"))
    silenced = _silenced_lines(layout.lines)
    kept = [p for p in problems if selection.allows(p.code) and not _is_silenced(p, silenced)]
    return sorted(set(kept), key=lambda p: (p.line, p.col, p.code, p.message))


def _title_of(meta: Mapping[str, Any], layout: _Layout) -> str:
    title = meta.get("title")
    if title not in (None, ""):
        return str(title)
    # The converter takes the first '# ' heading when the front matter has no title.
    in_code = False
    for text in layout.lines[layout.body_line - 1 :]:
        if _CODE_FENCE.match(text):
            in_code = not in_code
        elif not in_code and text.startswith("# ") and text[2:].strip():
            return text[2:].strip()
    return ""


def _sentence(error: PostError) -> str:
    return f"{error.message}; {error.hint}" if error.hint else error.message


def _apply(text: str, edits: Iterable[Edit]) -> str:
    """Apply edits that still match; overlapping or stale ones are skipped (the next pass sees them)."""
    lines = text.split("\n")
    by_line: dict[int, list[Edit]] = {}
    for edit in edits:
        by_line.setdefault(edit.line, []).append(edit)
    for number, line_edits in by_line.items():
        current = lines[number - 1]
        floor = len(current) + 1
        for edit in sorted(line_edits, key=lambda e: (e.col, len(e.old)), reverse=True):
            start, end = edit.col - 1, edit.col - 1 + len(edit.old)
            if end > floor or current[start:end] != edit.old:
                continue
            current = current[:start] + edit.new + current[end:]
            floor = start
        lines[number - 1] = current
    return "\n".join(lines)


def fix_text(
    text: str,
    path: str | Path | None = None,
    *,
    selection: Selection = Selection(),
) -> tuple[str, list[Problem]]:
    """The text with every safe fix applied, and the problems that were fixed. Idempotent."""
    fixed: list[Problem] = []
    for _ in range(4):  # a fix can reveal another (a space added next to new punctuation)
        problems = check_text(text, path, selection=selection, content=False)
        edits = [p.edit for p in problems if p.edit is not None]
        if not edits:
            break
        new = _apply(text, edits)
        if new == text:
            break
        fixed.extend(p for p in problems if p.edit is not None)
        text = new
    return text, fixed


@dataclass(frozen=True)
class FileResult:
    """What checking one file found: the problems left, how many were fixed, the diff, or a crash."""

    path: str
    problems: tuple[Problem, ...] = ()
    fixed: int = 0
    diff: str = ""
    crash: str | None = None


def _decode(data: bytes, path: Path, name: str) -> tuple[str | None, Problem | None]:
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"not UTF-8 (byte 0x{data[exc.start]:02x})"
        try:
            from .post import read_post

            read_post(path)
        except PostError as error:
            message = _sentence(error)
        return None, Problem(name, line, col, "WX001", message)


def check_file(path: str | Path, mode: Mode = Mode.CHECK, selection: Selection | None = None) -> FileResult:
    """Check one file; for FIX rewrite it in place (keeping its BOM and line endings), for DIFF describe the fixes."""
    path = Path(path)
    name = str(path)
    try:
        if selection is None:
            selection = selection_for(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            return FileResult(name, (Problem(name, 1, 1, "WX002", f"cannot read: {exc.strerror}"),))
        text, problem = _decode(data, path, name)
        if text is None:
            return FileResult(name, (problem,) if problem and selection.allows(problem.code) else ())
        bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
        crlf = "\r\n" in text
        text = text.replace("\r\n", "\n")
        fixed_count, diff = 0, ""
        if mode is not Mode.CHECK:
            new, fixed = fix_text(text, name, selection=selection)
            fixed_count = len(fixed)
            if new != text:
                if mode is Mode.FIX:
                    out = bom + (new.replace("\n", "\r\n") if crlf else new)
                    path.write_bytes(out.encode("utf-8"))
                else:
                    diff = "".join(
                        difflib.unified_diff(
                            text.splitlines(keepends=True),
                            new.splitlines(keepends=True),
                            fromfile=f"{name}\t(original)",
                            tofile=f"{name}\t(fixed)",
                        )
                    )
                    if not diff.endswith("\n"):
                        diff += "\n"
                text = new
        problems = check_text(text, name, selection=selection)
        return FileResult(name, tuple(problems), fixed_count, diff)
    except Exception as exc:  # one bad file must not stop the others: it is reported as a crash
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return FileResult(name, crash=detail)


# --- configuration -------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _selection_in(folder: Path) -> Selection:
    from .config import check_options

    options = check_options(folder)
    return Selection.from_options(options.select, options.ignore, origin=str(options.source or folder))


def selection_for(path: Path) -> Selection:
    """The selection from the nearest wxpub.toml [check] or pyproject.toml [tool.wxpub.check] above `path`."""
    return _selection_in(path.resolve().parent)


# --- many files ----------------------------------------------------------------------------------


def iter_posts(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Markdown files among `paths`, folders walked in sorted order (hidden folders skipped); others ignored."""
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in MARKDOWN_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") or part == "node_modules" for part in p.relative_to(path).parts[:-1])
            )
        elif path.exists():
            found = [path] if path.suffix.lower() in MARKDOWN_SUFFIXES else []
        else:
            raise UsageError("no such file or folder", path=path)
        for post in found:
            if post not in seen:
                seen.add(post)
                yield post


@dataclass
class Report:
    """Counts what checking found and owns the exit code: 0 clean (notes allowed), 1 problems, 123 a crash."""

    mode: Mode = Mode.CHECK
    results: list[FileResult] = field(default_factory=list)

    def add(self, result: FileResult) -> None:
        self.results.append(result)

    @property
    def problems(self) -> list[Problem]:
        return [p for r in self.results for p in r.problems]

    def count(self, severity: Severity) -> int:
        return sum(1 for p in self.problems if p.severity is severity)

    @property
    def crashed(self) -> list[FileResult]:
        return [r for r in self.results if r.crash is not None]

    @property
    def changed(self) -> int:
        return sum(1 for r in self.results if r.diff or (self.mode is Mode.FIX and r.fixed))

    @property
    def exit_code(self) -> int:
        if self.crashed:
            return 123
        if self.count(Severity.ERROR) or self.count(Severity.WARNING):
            return 1
        if self.mode is Mode.DIFF and self.changed:
            return 1
        return 0

    def lines(self) -> Iterator[str]:
        """What goes to stdout: the diff (for DIFF) and one line per problem."""
        for result in self.results:
            if result.diff:
                yield result.diff.rstrip("\n")
        for problem in self.problems:
            yield problem.one_line()

    def crash_lines(self) -> Iterator[str]:
        for result in self.crashed:
            yield f"error: cannot check {result.path}: {result.crash}"

    def summary(self) -> str:
        files = len(self.results)
        counts = [(self.count(s), s.value) for s in Severity]
        found = ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in counts if n)
        with_problems = sum(1 for r in self.results if r.problems)
        parts = []
        fixed = sum(r.fixed for r in self.results)
        if self.mode is Mode.FIX and fixed:
            parts.append(f"fixed {fixed} problem{'s' if fixed != 1 else ''} in {self.changed} file{'s' if self.changed != 1 else ''}")
        if self.mode is Mode.DIFF and fixed:
            parts.append(f"{fixed} problem{'s' if fixed != 1 else ''} in {self.changed} file{'s' if self.changed != 1 else ''} would be fixed")
        if found:
            fixable = sum(1 for p in self.problems if p.edit is not None)
            hint = f" ({fixable} fixable with --fix)" if fixable and self.mode is Mode.CHECK else ""
            parts.append(f"{found} in {with_problems} of {files} file{'s' if files != 1 else ''}{hint}")
        else:
            parts.append(f"{files} file{'s' if files != 1 else ''} checked, no problems")
        if self.crashed:
            parts.append(f"{len(self.crashed)} file{'s' if len(self.crashed) != 1 else ''} could not be checked")
        return "wxpub check: " + "; ".join(parts)


def _check_one(job: tuple[Path, Mode, Selection | None]) -> FileResult:
    path, mode, override = job
    selection = selection_for(path)  # a broken config is a usage error (exit 2) for the whole run
    if override is not None:
        selection = override.over(selection)
    return check_file(path, mode, selection)


def check_paths(
    paths: Iterable[str | Path],
    mode: Mode = Mode.CHECK,
    selection: Selection | None = None,
    jobs: int | None = None,
) -> Report:
    """Check every Markdown post under `paths` and return the report; `selection` overrides the config's."""
    posts = list(iter_posts(paths))
    report = Report(mode)
    work = [(post, mode, selection) for post in posts]
    workers = min(jobs or _usable_cores(), len(work))
    if workers > 1 and len(work) >= 8:
        # The first post is checked here, before the workers fork: they inherit every module and
        # cache it warmed up (Markdown, the theme, autocorrect) instead of building their own.
        report.add(_check_one(work[0]))
        results: Iterable[FileResult] = _in_parallel(work[1:], workers)
    else:
        results = map(_check_one, work)
    for result in results:
        report.add(result)
    return report


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _in_parallel(work: list[tuple[Path, Mode, Selection | None]], workers: int) -> list[FileResult]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork shares the warm modules with the workers; where there is no fork (macOS, Windows
    # default to spawn) they import them again, which is slower but still right.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    chunk = max(1, len(work) // (workers * 4))
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(_check_one, work, chunksize=chunk))


__all__ = [
    "RULES",
    "Edit",
    "FileResult",
    "Mode",
    "Problem",
    "Report",
    "Rule",
    "Selection",
    "Severity",
    "check_file",
    "check_paths",
    "check_text",
    "fix_text",
    "iter_posts",
    "selection_for",
    "wechat_length",
]

