"""Footnotes as numbered notes at the end, without the in-page anchors WeChat strips.

Python-Markdown's footnotes extension does the parsing; this rewrites what it builds: the
`<sup><a href="#fn:1">` marks become plain superscript numbers and the note list loses its ids and
back-links.
"""

from __future__ import annotations

import xml.etree.ElementTree as etree
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.extensions.footnotes import NBSP_PLACEHOLDER
from markdown.treeprocessors import Treeprocessor

from ._tree import parent_map


class FootnotesTreeprocessor(Treeprocessor):
    """Rewrites the footnote marks and the footnote list."""

    def __init__(self, md: Markdown, title: str) -> None:
        super().__init__(md)
        self.title = title

    def run(self, root: etree.Element) -> None:
        for sup in root.iter("sup"):
            if (sup.get("id") or "").startswith("fnref"):
                number, tail = "".join(sup.itertext()), sup.tail
                sup.clear()  # drops the id and the <a href="#fn:…">
                sup.set("class", "fn-mark")
                sup.text, sup.tail = number, tail
        parents = parent_map(root)
        for div in list(root.iter("div")):
            if "footnote" in (div.get("class") or "").split():
                parent = parents[div]
                index = list(parent).index(div)
                parent.remove(div)
                parent.insert(index, self._notes(div))

    def _notes(self, div: etree.Element) -> etree.Element:
        section = etree.Element("section", {"class": "footnotes"})
        title = etree.SubElement(section, "p", {"class": "footnotes-title"})
        title.text = self.title
        items = div.find("ol")
        for number, item in enumerate(items if items is not None else [], start=1):
            for backref in [a for a in item.iter("a") if "footnote-backref" in (a.get("class") or "")]:
                holder = next(p for p in item.iter() if backref in list(p))
                holder.remove(backref)
            for node in item.iter():
                if node.text:
                    node.text = node.text.replace(NBSP_PLACEHOLDER, "").rstrip() or None
                if node.tail:
                    node.tail = node.tail.replace(NBSP_PLACEHOLDER, "").rstrip() or None
            blocks = list(item)
            first = blocks[0] if blocks and blocks[0].tag == "p" else None
            note = etree.SubElement(section, "p", {"class": "footnote"})
            mark = etree.SubElement(note, "span", {"class": "footnote-number"})
            mark.text = f"{number}. "
            if first is not None:
                mark.tail = first.text
                for child in first:
                    note.append(child)
                blocks = blocks[1:]
            else:
                mark.tail = item.text
            section.extend(blocks)
        return section


class FootnotesExtension(Extension):
    """Adds Python-Markdown's footnotes and rewrites their output for WeChat."""

    def __init__(self, **kwargs: Any) -> None:
        self.config = {"title": ["注释", "Heading of the notes"]}
        super().__init__(**kwargs)

    def extendMarkdown(self, md: Markdown) -> None:
        from markdown.extensions.footnotes import FootnoteExtension

        FootnoteExtension(BACKLINK_TEXT="", SUPERSCRIPT_TEXT="{}").extendMarkdown(md)
        # 13: after 'inline' (20) and 'footnote-duplicate' (15), which make the marks; before links (12).
        md.treeprocessors.register(FootnotesTreeprocessor(md, self.getConfig("title")), "wxpub-footnotes", 13)


def makeExtension(**kwargs: Any) -> FootnotesExtension:
    return FootnotesExtension(**kwargs)
