"""Lists as sections with their markers written as text.

The WeChat editor restyles `<ul>`/`<ol>` (its own bullets, indents, and extra markers on nested
lists), so lists are rebuilt from `<section>`s: each item is a row holding its marker (`•`, `3.`,
`☐`) and then its content. Ordered lists keep their start number; `[ ]`/`[x]` items are task items.

The hanging indent needs no flex layout, which WeChat may not keep: the theme pads the list and
floats each marker into that padding (`.list-ul { padding-left }`, `.marker { float: left;
margin-left: -… }`). One element per row besides the marker, and no style on the row: the
cheapest markup a row can have.
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
            # `li-body` too: themes written for the rows' former inner section still apply.
            row = etree.SubElement(lst, "section", {"class": "li li-body"})
            marker = etree.SubElement(row, "span", {"class": f"marker marker-{kind}"})
            marker.text = marker_text
            marker.tail = li.text
            row.extend(list(li))
            if not (li.text or "").strip() and not len(li):
                etree.SubElement(row, "br")  # an empty item keeps a line, so the next marker floats below it

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
