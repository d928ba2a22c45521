"""Heading attributes `{#id}`, `{.class}`, `{#id .class}` (VitePress, Hugo, Pandoc) leave the heading.

WeChat strips ids and classes, and in-page anchors cannot be followed there, so the attributes are
not applied: they are only taken out of the text the reader sees, and out of the title.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# `{#id}`, `{.class}`, `{: #id .class key=value}`: only the attribute-list forms, so that a heading
# which ends in braces of its own ("集合 {1, 2}") keeps them.
_ATTRS = re.compile(
    r"""[ \t]*\{:?[ \t]*(?:[#.][\w:-]+|[\w-]+=(?:"[^"]*"|'[^']*'|[^\s}]+))"""
    r"""(?:[ \t]+(?:[#.][\w:-]+|[\w-]+=(?:"[^"]*"|'[^']*'|[^\s}]+)))*[ \t]*\}[ \t]*$"""
)


def strip_attributes(text: str) -> str:
    """`text` without a trailing attribute list."""
    return _ATTRS.sub("", text)


class HeadingsTreeprocessor(Treeprocessor):
    """Removes a trailing attribute list from the last text of each heading."""

    def run(self, root: etree.Element) -> None:
        for heading in root.iter():
            if heading.tag not in HEADINGS:
                continue
            last = heading[-1] if len(heading) else None
            text = (last.tail if last is not None else heading.text) or ""
            if "{" not in text:
                continue
            stripped = type(text)(strip_attributes(text))
            if last is not None:
                last.tail = stripped
            else:
                heading.text = stripped


class HeadingsExtension(Extension):
    """Registers the attribute removal."""

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802
        # 15: after 'inline' (20), so the heading's last text node is final, and before the title
        # is taken from the first H1 (14).
        md.treeprocessors.register(HeadingsTreeprocessor(md), "wxpub-headings", 15)


def makeExtension(**kwargs: Any) -> HeadingsExtension:  # noqa: N802
    return HeadingsExtension(**kwargs)
