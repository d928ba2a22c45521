"""Tables sit in a section that scrolls sideways, so a wide table never squeezes the column."""

from __future__ import annotations

import xml.etree.ElementTree as etree
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from ._tree import parent_map


class TablesTreeprocessor(Treeprocessor):
    """Wraps every `<table>` in `<section class="table-wrap">`."""

    def run(self, root: etree.Element) -> None:
        parents = parent_map(root)
        for table in list(root.iter("table")):
            parent = parents[table]
            wrap = etree.Element("section", {"class": "table-wrap"})
            wrap.tail, table.tail = table.tail, None
            parent.insert(list(parent).index(table), wrap)
            parent.remove(table)
            wrap.append(table)


class TablesExtension(Extension):
    """Python-Markdown tables (alignment as inline text-align) plus the scrolling wrapper."""

    def extendMarkdown(self, md: Markdown) -> None:
        from markdown.extensions.tables import TableExtension

        TableExtension().extendMarkdown(md)
        md.treeprocessors.register(TablesTreeprocessor(md), "wxpub-tables", 10.7)


def makeExtension(**kwargs: Any) -> TablesExtension:
    return TablesExtension(**kwargs)
