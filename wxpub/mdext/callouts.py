"""GitHub alerts (`> [!NOTE]`, TIP, IMPORTANT, WARNING, CAUTION) as titled, coloured boxes.

Chinese type names work too (`> [!提示]`), and text after the marker is a custom title
(`> [!TIP] 小技巧`). Titles default to Chinese labels, since the readers are Chinese.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from typing import Any

from markdown import Markdown
from markdown.blockprocessors import BlockQuoteProcessor
from markdown.extensions import Extension

KINDS = {
    "note": "说明",
    "tip": "提示",
    "important": "重要",
    "warning": "警告",
    "caution": "注意",
}
ALIASES = {
    "说明": "note",
    "备注": "note",
    "注": "note",
    "提示": "tip",
    "技巧": "tip",
    "重要": "important",
    "警告": "warning",
    "注意": "caution",
    "危险": "caution",
}


class CalloutProcessor(BlockQuoteProcessor):
    """A block quote whose first line is `[!KIND]` becomes `<section class="callout callout-KIND">`."""

    MARKER = re.compile(r"^ {0,3}> ?\[!(?P<kind>[A-Za-z]+|[\u4e00-\u9fff]{1,2})\][ \t]*(?P<title>[^\n]*)(?:\n|$)")

    def __init__(self, parser: Any, labels: dict[str, str]) -> None:
        super().__init__(parser)
        self.labels = labels

    def _kind(self, block: str) -> tuple[str, str, re.Match[str]] | None:
        match = self.MARKER.match(block)
        if not match:
            return None
        word = match["kind"]
        kind = word.lower() if word.lower() in KINDS else ALIASES.get(word)
        if kind is None:
            return None
        return kind, match["title"].strip(), match

    def test(self, parent: etree.Element, block: str) -> bool:
        return self._kind(block) is not None and not self.parser.state.isstate("blockquote")

    def run(self, parent: etree.Element, blocks: list[str]) -> None:
        block = blocks.pop(0)
        found = self._kind(block)
        assert found is not None
        kind, title, match = found
        rest = block[match.end() :]
        body = "\n".join(self.clean(line) for line in rest.split("\n"))
        box = etree.SubElement(parent, "section", {"class": f"callout callout-{kind}"})
        heading = etree.SubElement(box, "p", {"class": "callout-title"})
        heading.text = title or self.labels.get(kind, KINDS[kind])
        self.parser.state.set("blockquote")
        self.parser.parseChunk(box, body)
        self.parser.state.reset()


class CalloutsExtension(Extension):
    """Registers the callout processor just before the plain block quote."""

    def __init__(self, **kwargs: Any) -> None:
        self.config = {"labels": [dict(KINDS), "Title shown for each kind"]}
        super().__init__(**kwargs)

    def extendMarkdown(self, md: Markdown) -> None:
        # 21: just before 'quote' (20), so a quote that is a callout never becomes a plain quote.
        md.parser.blockprocessors.register(CalloutProcessor(md.parser, self.getConfig("labels")), "wxpub-callout", 21)


def makeExtension(**kwargs: Any) -> CalloutsExtension:
    return CalloutsExtension(**kwargs)
