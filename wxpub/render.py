"""Post -> Rendered: Markdown to plain (not yet inlined) HTML, collecting images and links on the way."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

from .errors import Notice
from .post import Post


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


@dataclass(frozen=True)
class RenderOptions:
    """What changes the Markdown -> HTML step (the theme is applied later, in inline.py)."""

    code_style: str = "wxpub-light"
    line_numbers: bool = False
    caption: str = "title-alt"
    font_size: float = 16.0  # px, for sizing math
    code_colours: str = "all"  # "all" the code style's colours, "fewer" (keywords, comments), "none"
    math_as_text: bool = False  # simple inline formulas as text, not drawings (a --fit step)


@dataclass(frozen=True)
class Rendered:
    """Plain HTML (classes still on, no styles yet) and the facts collected while rendering it."""

    html: str
    title: str | None
    images: tuple[ImageRef, ...]
    links: tuple[LinkRef, ...]
    notices: tuple[Notice, ...]


def render(post: Post, options: RenderOptions = RenderOptions()) -> Rendered:
    """Markdown body -> HTML fragment, with images, links and the H1 title collected on the way."""
    from .bounds import check_bounds

    check_bounds(post)  # before the parser, which a hostile source can keep busy for minutes
    md, parts = _markdown(options)
    with _IN_USE:  # one Markdown instance per set of options, so one document at a time
        md.reset()
        given = post.meta.get("title")
        parts.title.given = str(given) if given else None
        parts.raw.set_source(post.body, post.body_line - 1)
        html = md.convert(post.body)
        figures, refs, math_warnings = list(parts.figures.images), list(parts.links.links), list(parts.math.warnings)
        title = parts.title.title
    offset = post.body_line - 1
    images = _with_lines(post.body, [src for src, _, _ in figures], offset)
    links = _with_lines(post.body, [url for _, url, _ in refs], offset)
    notices = [
        # As written first: the same formula inline and on a line of its own is two places.
        Notice("math", why, *(_place_of(post.body, source, offset) if source in post.body else _place_of(post.body, tex, offset)))
        for why, tex, source in math_warnings
    ]
    return Rendered(
        html=html,
        title=title,
        images=tuple(
            ImageRef(src=src, line=line, alt=alt, title=caption)
            for (src, alt, caption), line in zip(figures, images)
        ),
        links=tuple(
            LinkRef(number=number, url=url, text=text, line=line) for (number, url, text), line in zip(refs, links)
        ),
        notices=tuple(notices),
    )


_IN_USE = threading.Lock()


@dataclass
class _Parts:
    """The extensions of one Markdown instance whose collected facts `render` reads back."""

    title: Any
    figures: Any
    links: Any
    math: Any
    raw: Any


@functools.lru_cache(maxsize=8)
def _markdown(options: RenderOptions) -> tuple[Any, _Parts]:
    # Building a Markdown instance with its extensions costs more than converting a short post,
    # so one instance is kept per set of options and reset before each document.
    import markdown
    import mdx_truly_sane_lists
    import pymdownx.tilde

    from .mdext import (
        callouts, cjk, codeblocks, figures, footer, footnotes, headings, links, listindent, lists, math, rawhtml, tables, title,
    )

    parts = _Parts(
        title=title.TitleExtension(),
        figures=figures.FiguresExtension(caption=options.caption),
        links=links.LinksExtension(),
        math=math.MathExtension(font_size=options.font_size, simple_as_text=options.math_as_text),
        raw=rawhtml.RawHtmlExtension(),
    )
    # Extensions are given as objects, not names: a name makes Markdown scan every installed
    # package's entry points, which costs more than converting a post.
    md = markdown.Markdown(
        extensions=[
            mdx_truly_sane_lists.makeExtension(nested_indent=2),  # nesting in steps of two spaces ...
            listindent.ListIndentExtension(),  # ... to which any CommonMark indent is brought
            pymdownx.tilde.makeExtension(subscript=False),
            codeblocks.CodeBlocksExtension(
                style=options.code_style, line_numbers=options.line_numbers, colours=options.code_colours, cache=_code_cache()
            ),
            callouts.CalloutsExtension(),
            tables.TablesExtension(),
            footnotes.FootnotesExtension(),
            parts.raw,
            parts.math,
            headings.HeadingsExtension(),
            parts.title,
            parts.links,
            parts.figures,
            footer.FooterExtension(),
            lists.ListsExtension(),
            cjk.CjkExtension(),
        ],
        output_format="html",
    )
    # Pretty-printing adds a newline after every block; WeChat counts each one against its limit.
    md.treeprocessors.deregister("prettify")
    md.parser.blockprocessors["olist"].LAZY_OL = False  # keep the start number of an ordered list
    return md, parts


# Highlighted blocks are a few kilobytes each.
CACHED_BLOCKS = 4000


def _code_cache() -> Any:
    """Highlighted code blocks in the user cache, one folder per version of wxpub, the highlighter and Pygments."""
    from .cachefiles import DiskCache
    from .mdext.codeblocks import cache_stamp
    from .version import __version__

    return DiskCache.named("code", __version__, *cache_stamp(), keep=CACHED_BLOCKS)


def _place_of(body: str, needle: str, offset: int) -> tuple[int | None, int | None]:
    """The file line and column of the first `needle` in the body."""
    found = body.find(needle)
    if found < 0:
        return None, None
    return body.count("\n", 0, found) + 1 + offset, found - (body.rfind("\n", 0, found) + 1) + 1


def _with_lines(body: str, needles: list[str], offset: int) -> list[int | None]:
    """The file line of each needle, searched in document order so repeats get their own line."""
    lines: list[int | None] = []
    position = 0
    for needle in needles:
        found = body.find(needle, position) if needle else -1
        if found < 0:
            found = body.find(needle) if needle else -1  # written as a reference definition, say
            lines.append(None if found < 0 else body.count("\n", 0, found) + 1 + offset)
            continue
        lines.append(body.count("\n", 0, found) + 1 + offset)
        position = found + len(needle)
    return lines
