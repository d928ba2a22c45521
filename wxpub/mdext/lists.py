"""Lists as sections with their markers written as text.

The WeChat editor restyles `<ul>`/`<ol>` (its own bullets, indents, and extra markers on nested
lists), so lists are rebuilt from `<section>`s: each item is a flex row of a marker (`•`, `3.`,
`☐`) and a body. Ordered lists keep their start number; `[ ]`/`[x]` items are task items.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

BULLETS = ("•", "◦", "▪")
TASK = re.compile(r"^\[([ xX])\][ \t]+")


class ListsTreeprocessor(Treeprocessor):
    """Rewrites every `<ul>`/`<ol>`, inner lists first."""

    def run(self, root: etree.Element) -> None:
        self._walk(root, depth=0)

    def _walk(self, element: etree.Element, depth: int) -> None:
        for child in element:
            if child.tag in ("ul", "ol"):
                self._walk(child, depth + 1)
                self._rewrite(child, depth)
            else:
                self._walk(child, depth)

    def _rewrite(self, lst: etree.Element, depth: int) -> None:
        ordered = lst.tag == "ol"
        start = int(lst.get("start", "1")) if ordered else 1
        items = list(lst)
        tail = lst.tail
        lst.clear()
        lst.tail = tail
        lst.tag = "section"
        lst.set("class", "list list-ol" if ordered else "list list-ul")
        for number, li in enumerate(items, start=start):
            marker_text, kind = self._marker(li, ordered, number, depth)
            row = etree.SubElement(lst, "section", {"class": "li"})
            marker = etree.SubElement(row, "span", {"class": f"marker marker-{kind}"})
            marker.text = marker_text
            body = etree.SubElement(row, "section", {"class": "li-body"})
            body.text = li.text
            body.extend(list(li))

    def _marker(self, li: etree.Element, ordered: bool, number: int, depth: int) -> tuple[str, str]:
        holder = li
        if not (li.text or "").strip() and len(li) and li[0].tag == "p":
            holder = li[0]  # a loose list item keeps its text in a <p>
        match = TASK.match(holder.text or "")
        if match:
            holder.text = holder.text[match.end() :]  # type: ignore[index]
            done = match.group(1) != " "
            return ("☑" if done else "☐"), ("done" if done else "todo")
        if ordered:
            return f"{number}.", "ol"
        return BULLETS[min(depth, len(BULLETS) - 1)], "ul"


class ListsExtension(Extension):
    """Registers the list rewrite."""

    def extendMarkdown(self, md: Markdown) -> None:
        # 10.8: after the inline pass (20) so item text is final, and after figures (11).
        md.treeprocessors.register(ListsTreeprocessor(md), "wxpub-lists", 10.8)


def makeExtension(**kwargs: Any) -> ListsExtension:
    return ListsExtension(**kwargs)
