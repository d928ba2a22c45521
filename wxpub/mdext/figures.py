"""Images: a picture alone in its paragraph becomes a figure with a caption; every image is recorded.

`src` is left exactly as written: the image step resolves it and the publisher swaps in the URL
WeChat gives back. The caption is the title, else the alt text (configurable).
"""

from __future__ import annotations

import xml.etree.ElementTree as etree
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from ._tree import parent_map

CAPTION_MODES = ("title-alt", "title", "alt", "none")


def caption_for(alt: str, title: str, mode: str) -> str:
    if mode == "title-alt":
        return title or alt
    if mode == "title":
        return title
    if mode == "alt":
        return alt
    return ""


class FiguresTreeprocessor(Treeprocessor):
    """Records each `<img>` in document order and wraps lone images in `<figure>`."""

    def __init__(self, md: Markdown, ext: "FiguresExtension") -> None:
        super().__init__(md)
        self.ext = ext

    def run(self, root: etree.Element) -> None:
        parents = parent_map(root)
        for img in list(root.iter("img")):
            alt, title = img.get("alt", ""), img.get("title", "")
            self.ext.images.append((img.get("src", ""), alt, title))
            img.attrib.pop("title", None)
            parent = parents.get(img)
            # A linked image is followed by its reference mark (links run first): it goes in the caption.
            mark = parent[1] if parent is not None and len(parent) == 2 and parent[0] is img else None
            alone = (
                parent is not None
                and parent.tag == "p"
                and (len(parent) == 1 or (mark is not None and mark.get("class") == "ref-mark"))
                and not (parent.text or "").strip()
                and not (img.tail or "").strip()
                and not (mark is not None and (mark.tail or "").strip())
            )
            if not alone:
                continue
            assert parent is not None
            parent.tag = "figure"
            parent.attrib.clear()
            parent.text = None
            img.tail = None
            caption = caption_for(alt, title, self.ext.getConfig("caption"))
            if caption and caption == alt:
                del img.attrib["alt"]  # the caption below says it; an image in a captioned figure needs no alt
            if mark is not None:
                parent.remove(mark)
                mark.tail = None
            if caption or mark is not None:
                figcaption = etree.SubElement(parent, "figcaption")
                figcaption.text = caption
                if mark is not None:
                    figcaption.append(mark)


class FiguresExtension(Extension):
    """Collects `(src, alt, title)` of every image in `images`, cleared per document."""

    def __init__(self, **kwargs: Any) -> None:
        self.config = {"caption": ["title-alt", "Caption from: title-alt, title, alt or none"]}
        super().__init__(**kwargs)
        self.images: list[tuple[str, str, str]] = []

    def reset(self) -> None:
        self.images = []

    def extendMarkdown(self, md: Markdown) -> None:
        md.registerExtension(self)
        # 11: after links (12), so a linked image is already unwrapped from its <a>.
        md.treeprocessors.register(FiguresTreeprocessor(md, self), "wxpub-figures", 11)


def makeExtension(**kwargs: Any) -> FiguresExtension:
    return FiguresExtension(**kwargs)
