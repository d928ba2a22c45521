"""Nested lists at any indent writers use: two spaces, three (under `1. `, as CommonMark asks) or four.

Python-Markdown nests only by fixed steps; `mdx_truly_sane_lists` makes the step two spaces. So
before parsing, each list line is re-indented to two spaces per level of nesting, and the lines
inside an item (paragraphs, fences) move with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor

STEP = 2  # the indent per level that the list parser is configured for
_MARKER = re.compile(r"^( *)([*+-]|\d{1,9}[.)])( +|$)")
_FENCE = re.compile(r"^ *(`{3,}|~{3,})")


@dataclass
class _Item:
    marker: int  # the column of the item's marker, as written
    written: int  # the column where the item's content starts, as written
    depth: int

    def holds(self, indent: int, is_marker: bool) -> bool:
        """Whether a line at `indent` belongs inside this item.

        CommonMark asks a child list to reach the content column (3 under `1. `); writers who indent
        a sub-list by two spaces under `1. ` mean it as nested too, so two spaces past the marker do.
        """
        return indent >= (min(self.written, self.marker + STEP) if is_marker else self.written)


def normalise(lines: list[str]) -> list[str]:
    """Re-indent list items to STEP spaces per level; everything else keeps its shape."""
    out: list[str] = []
    stack: list[_Item] = []
    fence: str | None = None
    fence_shift = 0
    previous_blank = True
    for line in lines:
        if fence is not None:
            out.append(_shift(line, fence_shift))
            if re.match(rf"^ *{re.escape(fence[0])}{{{len(fence)},}} *$", line):
                fence = None
            continue
        if not line.strip():
            out.append(line)
            previous_blank = True
            continue
        indent = len(line) - len(line.lstrip(" "))
        marker = _MARKER.match(line)
        while stack and not stack[-1].holds(indent, bool(marker)) and (previous_blank or marker):
            stack.pop()
        if marker and (stack or indent < 4) and (not stack or indent < stack[-1].written + 4):
            depth = len(stack)
            spaces = len(marker.group(3)) or 1
            new_indent = depth * STEP
            stack.append(_Item(marker=indent, written=indent + len(marker.group(2)) + spaces, depth=depth))
            out.append(" " * new_indent + line[indent:])
        elif stack and indent >= stack[-1].written:
            shift = (stack[-1].depth + 1) * STEP - stack[-1].written
            out.append(_shift(line, shift))
            opened = _FENCE.match(line)
            if opened:
                fence, fence_shift = opened.group(1), shift
        else:
            out.append(line)  # a lazy continuation line, or text outside any list
            opened = _FENCE.match(line)
            if opened and not stack:
                fence, fence_shift = opened.group(1), 0
        previous_blank = False
    return out


def _shift(line: str, shift: int) -> str:
    if shift >= 0:
        return " " * shift + line
    indent = len(line) - len(line.lstrip(" "))
    return line[min(indent, -shift) :]


class ListIndentPreprocessor(Preprocessor):
    """Runs `normalise` over the document's lines."""

    def run(self, lines: list[str]) -> list[str]:
        # Most lines of most posts are no list at all: skip the walk when no line is indented.
        if not any(line.startswith(" ") for line in lines):
            return lines
        return normalise(lines)


class ListIndentExtension(Extension):
    """Registers the re-indenting step."""

    def extendMarkdown(self, md: Markdown) -> None:
        # 28: after 'normalize_whitespace' (30) has expanded tabs, before fenced code (25) is cut out.
        md.preprocessors.register(ListIndentPreprocessor(md), "wxpub-list-indent", 28)


def makeExtension(**kwargs: Any) -> ListIndentExtension:
    return ListIndentExtension(**kwargs)
