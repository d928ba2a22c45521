"""Soft line breaks inside a paragraph: nothing between two CJK characters, a space elsewhere.

Markdown keeps a paragraph's newlines and browsers show each as a space, which puts stray gaps
into Chinese text that was wrapped in the editor ("中文 中文").
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor


def _cjk(char: str) -> bool:
    """CJK ideographs and punctuation, full-width forms, Chinese quotes, … and —.

    Compared as code points: compiling these ranges as a regular expression cost 3 ms at every
    start of the command line.
    """
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF  # radicals, CJK punctuation (U+3000…), kana, ideographs
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF
        or 0x2018 <= code <= 0x201D
        or code in (0x2014, 0x2026)
    )

_BREAK = re.compile(r"[ \t]*\n[ \t]*")
_VERBATIM = frozenset({"pre", "code", "script", "style"})


def join_lines(text: str, after_break: bool = False) -> str:
    """Replace each soft line break in `text` by '' between CJK characters and ' ' elsewhere."""

    def replace(match: re.Match[str]) -> str:
        before = text[match.start() - 1] if match.start() else ""
        after = text[match.end()] if match.end() < len(text) else ""
        if not before and after_break:
            return ""
        if before and after and _cjk(before) and _cjk(after):
            return ""
        return " "

    return _BREAK.sub(replace, text) if "\n" in text else text


class CjkTreeprocessor(Treeprocessor):
    """Applies `join_lines` to all text outside code."""

    def run(self, root: etree.Element) -> None:
        self._walk(root)

    def _walk(self, element: etree.Element) -> None:
        if element.text and element.tag not in _VERBATIM:
            element.text = join_lines(element.text)
        for child in element:
            if child.tag not in _VERBATIM:
                self._walk(child)
            if child.tail:
                child.tail = join_lines(child.tail, after_break=child.tag == "br")


class CjkExtension(Extension):
    """Registers the soft-break treatment."""

    def extendMarkdown(self, md: Markdown) -> None:
        # 10.5: last of ours, once every other rewrite has settled the text.
        md.treeprocessors.register(CjkTreeprocessor(md), "wxpub-cjk", 10.5)


def makeExtension(**kwargs: Any) -> CjkExtension:
    return CjkExtension(**kwargs)
