"""The footer block stays last: the notes and the reference list, which the post's extensions add
at its end, go before it.

blocks.expand puts a paragraph of FOOTER_STARTS between the post and its footer; this finds it,
moves the sections added after it (notes, references) to its place, and removes it.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as etree

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from ..blocks import FOOTER_STARTS

_ADDED_AT_END = frozenset({"footnotes", "refs"})


class FooterTreeprocessor(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        children = list(root)
        marks = [child for child in children if child.tag == "p" and child.text == FOOTER_STARTS and not len(child)]
        if not marks:
            return
        mark = marks[-1]
        at = children.index(mark)
        added = [child for child in children[at + 1 :] if child.get("class") in _ADDED_AT_END]
        for section in added:
            root.remove(section)
        root.remove(mark)
        for offset, section in enumerate(added):
            root.insert(at + offset, section)


class FooterExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:
        # 10.9: after the notes (13), the references (12) and the figures (11) are made; before the
        # lists, tables and CJK spacing, which do not move blocks.
        md.treeprocessors.register(FooterTreeprocessor(md), "wxpub-footer", 10.9)


def makeExtension(**kwargs: Any) -> FooterExtension:
    return FooterExtension(**kwargs)
