"""Post -> Rendered: Markdown to plain (not yet inlined) HTML, collecting images and links on the way."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageRef:
    """An image the post uses, as written: `src` is the path or URL from the Markdown, untouched."""

    src: str
    line: int | None  # 1-based line in the post file
    alt: str = ""
    title: str = ""


@dataclass(frozen=True)
class LinkRef:
    """An external link turned into a numbered reference `[number]` (WeChat allows no outbound links)."""

    number: int
    url: str
    text: str
    line: int | None = None
