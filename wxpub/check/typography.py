"""CJK typography with autocorrect, on prose only.

--fix edits nothing that is not prose: alert markers (`> [!NOTE]`, `> [!提示]`), link and image
syntax, footnote labels, code, math, HTML, URLs and front matter values are never changed (a
title's typography is reported, to be fixed by hand).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Iterator, Sequence

from ..urls import TEXT_URL
from .frontmatter import Layout
from .problems import Edit, Problem

# Block constructs whose text is not prose: blanked before autocorrect sees the post, because it
# formats strings and comments inside fenced code of known languages and the text of ~~~ fences.
_CODE_FENCE = re.compile(r"^(?P<prefix>(?:[ \t]*>)*[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


_MATH_FENCE = re.compile(r"^(?:[ \t]*>)*[ \t]*(\$\$|\\\[)")


_RAW_BLOCK = re.compile(r"^[ \t]*<(script|style|pre|textarea|code|svg|math)\b", re.IGNORECASE)


# Inline spans --fix must never change: code, math, alert markers, footnote labels, whole links
# and images (text and target: what the reader clicks and what the converter collects), HTML
# tags, reference definitions and URLs. An edit may touch a span's edge (a space before a link),
# never its inside.
_PROTECTED = re.compile(
    # A code span opens with a whole run of backticks and closes with a run of the same length: a
    # run never matched in part, so a line of backticks costs one scan, not one per backtick.
    r"(?P<code>(?<!`)(`+)(?!`).+?(?<!`)\2(?!`))"
    r"|(?P<math>\$\$.+?\$\$|(?<![\\$\w])\$(?=\S)[^$\n]*?(?<=\S)\$(?![\w$])|\\\(.+?\\\)|\\\[.+?\\\])"
    r"|(?P<alert>\[![^\]\n]*\])"
    r"|(?P<footnote>\[\^[^\]\n]*\])"
    r"|(?P<link>!?\[(?:[^\[\]\n]|\[[^\]\n]*\])*\](?:\([^)\n]*\)|\[[^\]\n]*\]))"
    r"|(?P<tag><[A-Za-z/!][^>\n]*>)"
    r"|(?P<target>\]\([^)\n]*\)|\]\[[^\]\n]*\]|^[ \t]*\[[^\]\n]+\]:.*$)"
    rf"|(?P<url>{TEXT_URL})"
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
_HALFWIDTH_PUNCT = set(",.;:!?")


def _unwidened(char: str) -> str:
    """The character with its width forgotten ('？' -> '?', 'Ａ' -> 'A'), to line a change up with what it changes."""
    if char == "。":
        return "."
    plain = unicodedata.normalize("NFKC", char)
    return plain if len(plain) == 1 else char


def _classify(old: str, new: str) -> tuple[str, str]:
    """The code and the sentence for one change autocorrect proposes."""
    if not old.strip() and not new.strip():
        return ("WX401", "add a space") if len(new) > len(old) else ("WX403", "remove the space")
    core_old, core_new = old.strip(), new.strip()
    if not core_old:
        return "WX409", f"add '{core_new}'"
    if not core_new:
        return "WX409", f"remove '{core_old}'"
    if all(c in _FULLWIDTH_PUNCT for c in core_new) and all(c.isascii() for c in core_old):
        return "WX402", f"use full-width '{core_new}' instead of '{core_old}' in CJK text"
    if any(unicodedata.east_asian_width(c) == "F" and c.isalnum() for c in old):
        return "WX404", f"write '{new}' instead of full-width '{old}'"
    return "WX409", f"write '{new}' instead of '{old}'"


def _pieces(old: str, new: str) -> Iterator[tuple[int, int, int, int]]:
    """Where `new` differs from `old`, as (i1, i2, j1, j2) slices, a change of width lined up with its character.

    Compared as they are, '???' -> '？??' would be read as '？' added before and '?' taken from
    the end; compared with widths forgotten, it is the first '?' made full-width."""
    plain_old, plain_new = "".join(map(_unwidened, old)), "".join(map(_unwidened, new))
    matcher = difflib.SequenceMatcher(None, plain_old, plain_new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            yield i1, i2, j1, j2
            continue
        k = 0
        while k < i2 - i1:
            if old[i1 + k] == new[j1 + k]:
                k += 1
                continue
            start = k
            while k < i2 - i1 and old[i1 + k] != new[j1 + k]:
                k += 1
            yield i1 + start, i1 + k, j1 + start, j1 + k


def _changes(line: int, col: int, old: str, new: str, source: str) -> Iterator[tuple[str, str, Edit]]:
    """Split one autocorrect suggestion into small edits, each with its own code and column."""
    result = source[: col - 1] + new + source[col - 1 + len(old) :]
    for i1, i2, j1, j2 in _pieces(old, new):
        a, b = old[i1:i2], new[j1:j2]
        code, message = _classify(a, b)
        if code == "WX402":
            # autocorrect widens only the first mark of a run ('真的吗???' -> '真的吗？??') and
            # leaves '!!!' alone: a run of marks is left as written, never half full-width.
            at = col - 1 + j1
            neighbours = result[at - 1 : at] + result[at + len(b) : at + len(b) + 1]
            if any(c in _HALFWIDTH_PUNCT for c in neighbours):
                continue
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


def typography_problems(layout: Layout, path: str) -> list[Problem]:
    import autocorrect_py

    masked, protected = _typography_source(layout.lines, layout.body_line)
    problems: list[Problem] = []
    try:
        result = autocorrect_py.lint_for("\n".join(masked), "md")
    except ValueError:  # its parser gives up on pathological input (a 100,000-character line)
        return _front_typography(layout, path)
    for item in result.lines:
        line, col, old, new = item.line, item.col, item.old, _settled(item.new)
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


def _settled(new: str) -> str:
    """What autocorrect makes of its own suggestion once it looks again, so that check lists every
    change --fix will make: 'ＡＢＣ' between CJK becomes 'ABC', and only then ' ABC '."""
    import autocorrect_py

    for _ in range(3):
        again = autocorrect_py.format_for(new, "md")
        if again == new:
            break
        new = again
    return new


def _front_typography(layout: Layout, path: str) -> list[Problem]:
    """Typography of the front matter values a reader sees (title, digest), written on one line.

    Reported, never fixed: a YAML value is not prose to --fix (quoting, escapes, what it means)."""
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
        fixed = value
        for _ in range(3):  # settled, as for the body
            fixed, before = autocorrect_py.format(fixed), fixed
            if fixed == before:
                break
        if fixed == value:
            continue
        col = match.start("value") + 1
        for code, message, edit in _changes(line, col, value, fixed, text):
            if match.group("q") == "'" and "'" in edit.new or match.group("q") == '"' and '"' in edit.new:
                continue
            if not match.group("q") and ": " in fixed or " #" in fixed:
                continue  # unquoted, the fixed value would read differently as YAML
            problems.append(Problem(path, line, edit.col, code, f"{key}: {message} (by hand: --fix leaves front matter values alone)"))
    return problems
