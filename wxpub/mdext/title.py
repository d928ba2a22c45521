"""With no `title` in the front matter, the first `# H1` becomes the title and leaves the body.

WeChat shows the title above the article itself; leaving the H1 in would print it twice, so an H1
that repeats the front-matter title leaves the body too.
"""

from __future__ import annotations

import xml.etree.ElementTree as etree
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from ._tree import text_of


class TitleTreeprocessor(Treeprocessor):
    """Takes the first top-level `<h1>` out of the tree and keeps its text."""

    def __init__(self, md: Markdown, ext: "TitleExtension") -> None:
        super().__init__(md)
        self.ext = ext

    def run(self, root: etree.Element) -> None:
        heading = root.find("h1")
        if heading is None:
            return
        text = text_of(heading)
        if self.ext.given is None:
            self.ext.title = text
            root.remove(heading)
        elif text == self.ext.given.strip():
            root.remove(heading)


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
