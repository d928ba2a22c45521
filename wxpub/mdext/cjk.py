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

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef\u2018-\u201d\u2026\u2014]")
_BREAK = re.compile(r"[ \t]*\n[ \t]*")
_VERBATIM = frozenset({"pre", "code", "script", "style"})


def join_lines(text: str, after_break: bool = False) -> str:
    """Replace each soft line break in `text` by '' between CJK characters and ' ' elsewhere."""

    def replace(match: re.Match[str]) -> str:
        before = text[match.start() - 1] if match.start() else ""
        after = text[match.end()] if match.end() < len(text) else ""
        if not before and after_break:
            return ""
        if before and after and _CJK.match(before) and _CJK.match(after):
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
