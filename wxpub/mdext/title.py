"""With no `title` in the front matter, a `# H1` opening the post is the title and leaves the body.

WeChat shows the title above the article itself; leaving the H1 in would print it twice, so a
leading H1 that repeats the front-matter title leaves the body too. An H1 after any body text is
a heading of the article (an editor's sample post shows `# 一级标题` in its third section) and
stays where it is.
"""

from __future__ import annotations

import xml.etree.ElementTree as etree
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from markdown.util import HTML_PLACEHOLDER_RE

from ._tree import text_of


class TitleTreeprocessor(Treeprocessor):
    """Takes a leading `<h1>` out of the tree and keeps its text."""

    def __init__(self, md: Markdown, ext: "TitleExtension") -> None:
        super().__init__(md)
        self.ext = ext

    def run(self, root: etree.Element) -> None:
        heading = next((child for child in root if not self._invisible(child)), None)
        if heading is None or heading.tag != "h1":
            return
        text = text_of(heading)
        if self.ext.given is None:
            self.ext.title = text
            root.remove(heading)
        elif text == self.ext.given.strip():
            root.remove(heading)

    def _invisible(self, element: etree.Element) -> bool:
        """A rule (a post that opens with `---`) or a paragraph holding only stashed HTML comments
        (`<!-- more -->`) is not body text."""
        if element.tag == "hr":
            return True
        if element.tag != "p" or len(element) or element.tail and element.tail.strip():
            return False
        stash = self.md.htmlStash.rawHtmlBlocks
        rest = HTML_PLACEHOLDER_RE.sub(
            lambda m: "" if str(stash[int(m.group(1))]).lstrip().startswith("<!--") else m.group(0),
            element.text or "",
        )
        return not rest.strip()


class TitleExtension(Extension):
    """`title` holds the extracted heading text (None when there was none).

    Set `given` to the front-matter title before converting; both are cleared per document.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title: str | None = None
        self.given: str | None = None

    def reset(self) -> None:
        self.title = None
        self.given = None

    def extendMarkdown(self, md: Markdown) -> None:
        md.registerExtension(self)
        # 14: after 'inline' (20), so the heading's text has its emphasis resolved.
        md.treeprocessors.register(TitleTreeprocessor(md, self), "wxpub-title", 14)


def makeExtension(**kwargs: Any) -> TitleExtension:
    return TitleExtension(**kwargs)
