"""Fenced and indented code: Pygments colours written inline, whitespace made to survive WeChat.

The WeChat editor collapses runs of U+0020 and ignores `white-space: pre`, and it drops text nodes
that hold only whitespace. So every space becomes U+00A0, every newline a `<br>`, and whitespace
between two highlighted tokens is folded into the token after it. Only token types that the code
style colours get a `<span>`; neighbours of one colour are merged, which keeps the HTML short
(WeChat counts every character of it against its 20,000-character limit).
"""

from __future__ import annotations

import functools
import html
import xml.etree.ElementTree as etree
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from pygments.style import Style
from pygments.token import Comment, Keyword, Name, Operator, String, Token, _TokenType

from ..cachefiles import DiskCache, digest, file_stamp  # types and keys only: the caller gives the cache
from ..errors import UsageError

NBSP = "\u00a0"


class WxpubLight(Style):
    """The default code style: colours what a reader scans for, and leaves the rest in the text colour.

    Each colour is dark enough to read at 4.5:1 on a pale grey block and for WeChat's dark mode to
    flip it to a light one (`wxpub check` WX308 measures both).
    """

    styles = {
        Comment: "#555",
        Keyword: "#612",
        Operator.Word: "#612",
        Name.Decorator: "#940",
        String: "#16a",
    }
    line_number_color = "#555"


class WxpubDark(Style):
    """The same few colours for dark code blocks."""

    styles = {
        Comment: "#9aa",
        Keyword: "#f77",
        Operator.Word: "#f77",
        Name.Decorator: "#fa5",
        String: "#adf",
    }
    line_number_color = "#999"


CODE_STYLES: dict[str, type[Style]] = {"wxpub-light": WxpubLight, "wxpub-dark": WxpubDark}


@functools.lru_cache(maxsize=16)
def _style_class(name: str) -> type[Style]:
    if name in CODE_STYLES:
        return CODE_STYLES[name]
    from pygments.styles import get_style_by_name
    from pygments.util import ClassNotFound

    try:
        return get_style_by_name(name)
    except ClassNotFound:
        raise ValueError(f"unknown code style '{name}'") from None


def code_styles() -> list[str]:
    """Every code style a post may name: wxpub's own, then the Pygments styles installed."""
    from pygments.styles import get_all_styles

    return [*CODE_STYLES, *sorted(set(get_all_styles()) - set(CODE_STYLES))]


def check_style(name: str) -> None:
    """An unknown style is a UsageError listing the known ones. (Raised while highlighting, the
    error would make the fence extension give up on every code block, leaving them as text.)"""
    try:
        _style_class(name)
    except ValueError:
        raise UsageError(f"code_style '{name}' is not a code style", hint=f"use one of: {', '.join(code_styles())}") from None


def short_color(value: str) -> str:
    """`#aabbcc` -> `#abc`, lower case; other colours are returned as they are."""
    value = value.lower()
    if len(value) == 7 and value[0] == "#" and value[1] == value[2] and value[3] == value[4] and value[5] == value[6]:
        return "#" + value[1] + value[3] + value[5]
    return value


@functools.lru_cache(maxsize=4096)
def _token_css(style_name: str, ttype: _TokenType) -> str | None:
    """The inline style of one token type, or None when the style leaves it in the text colour."""
    style = _style_class(style_name)
    # Walk up to the nearest token type the style names itself: Pygments' style_for_token also
    # reports inherited background colours, which we never want inline.
    declared = style.styles
    while ttype is not Token and ttype not in declared:
        ttype = ttype.parent
    if ttype is Token:
        return None
    info = style.style_for_token(ttype)
    parts = []
    if info["color"]:
        parts.append(f"color:{short_color('#' + info['color'])}")
    if info["italic"]:
        parts.append("font-style:italic")
    if info["bold"]:
        parts.append("font-weight:700")
    return ";".join(parts) or None


@functools.lru_cache(maxsize=64)
def _lexer(lang: str | None) -> Any:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    options = {"stripnl": False, "ensurenl": False}
    if lang:
        try:
            return get_lexer_by_name(lang, **options)
        except ClassNotFound:
            pass
    return get_lexer_by_name("text", **options)


def highlight(
    code: str,
    lang: str | None = None,
    *,
    style: str = "wxpub-light",
    line_numbers: bool = False,
    colours: str = "all",
    cache: DiskCache | None = None,
) -> str:
    """Code -> `<pre>` HTML with inline colours, U+00A0 for spaces and `<br>` between lines.

    `colours`: "all" of the style's, "fewer" (keywords and comments only) or "none", cheaper
    renderings for a post that must fit. Kept in memory, and in `cache` when one is given: a post
    being edited, checked and published converts the same code blocks again and again, and the
    first lexing with a language costs more (Pygments compiles the lexer's patterns) than
    converting the rest of the post.
    """
    return _remembered(code, lang, style, line_numbers, colours, cache)


@functools.lru_cache(maxsize=512)
def _remembered(code: str, lang: str | None, style: str, line_numbers: bool, colours: str, cache: DiskCache | None) -> str:
    if cache is None:
        return _highlight(code, lang, style, line_numbers, colours)
    key = digest(code, lang, style, line_numbers, colours)
    cached = cache.get(key)
    if cached is not None:
        return cached.decode("utf-8")
    html = _highlight(code, lang, style, line_numbers, colours)
    cache.put(key, html.encode("utf-8"))
    return html


@functools.lru_cache(maxsize=1)
def cache_stamp() -> tuple[str, ...]:
    """The versions of this code and of Pygments, for a disk cache of highlighted blocks to key its folder on."""
    import pygments

    return (pygments.__version__, file_stamp(__file__))


def _highlight(code: str, lang: str | None, style: str, line_numbers: bool, colours: str = "all") -> str:
    code = code.expandtabs(4).strip("\n")
    lines: list[list[tuple[str | None, str]]] = [[]]
    for ttype, value in _lexer(lang).get_tokens(code):
        css = _token_css(style, ttype) if _coloured(ttype, colours) else None
        first = True
        for part in value.split("\n"):
            if not first:
                lines.append([])
            first = False
            if part:
                lines[-1].append((css, part))
    if lines and not lines[-1]:
        lines.pop()
    rendered = [_render_line(runs) for runs in lines]
    if line_numbers:
        width = len(str(len(rendered)))
        color = short_color(_style_class(style).line_number_color or "#999")
        rendered = [
            f'<span style="color:{color}">{str(n).rjust(width, NBSP)}{NBSP}{NBSP}</span>{text}'
            for n, text in enumerate(rendered, start=1)
        ]
    body = "<br>".join(rendered)
    # No <code> inside: its own font rules would have to be repeated on every block.
    return f'<pre class="code">{body}</pre>'


def _coloured(ttype: _TokenType, colours: str) -> bool:
    if colours == "all":
        return True
    return colours == "fewer" and (ttype in Keyword or ttype in Operator.Word or ttype in Comment)


def _render_line(runs: list[tuple[str | None, str]]) -> str:
    merged: list[tuple[str | None, str]] = []
    pending_space = ""
    for css, text in runs:
        if not text.strip(" "):
            pending_space += text  # a whitespace-only token joins the token after it
            continue
        text = pending_space + text
        pending_space = ""
        if merged and merged[-1][0] == css:
            merged[-1] = (css, merged[-1][1] + text)
        else:
            merged.append((css, text))
    # Trailing whitespace on a line is invisible; dropping it keeps the HTML short.
    out = []
    for css, text in merged:
        text = html.escape(text, quote=False).replace(" ", NBSP)
        out.append(f'<span style="{css}">{text}</span>' if css else text)
    return "".join(out)


class CodeBlockTreeprocessor(Treeprocessor):
    """Indented code blocks (`<pre><code>` left in the tree) go through `highlight` too."""

    def __init__(self, md: Markdown, ext: "CodeBlocksExtension") -> None:
        super().__init__(md)
        self.ext = ext

    def run(self, root: etree.Element) -> None:
        for pre in list(root.iter("pre")):
            if len(pre) == 1 and pre[0].tag == "code" and pre[0].text is not None:
                code = html.unescape(pre[0].text)
                placeholder = self.md.htmlStash.store(self.ext.render(code, None))
                pre.clear()
                pre.tag = "p"  # the raw-HTML postprocessor swaps a `<p>` holding only a placeholder
                pre.text = placeholder


class CodeBlocksExtension(Extension):
    """Fenced code (through pymdownx.superfences, so fences nest in lists and quotes) and indented code."""

    def __init__(self, **kwargs: Any) -> None:
        self.config = {
            "style": ["wxpub-light", "Pygments style name, or wxpub-light / wxpub-dark"],
            "line_numbers": [False, "Number the lines of every code block"],
            "colours": ["all", "all of the style's colours, 'fewer' (keywords and comments) or 'none'"],
            # Not None: Markdown would read a None default as a yes/no option and make the cache a bool.
            "cache": ["", "A DiskCache for highlighted blocks (empty: memory only)"],
        }
        super().__init__(**kwargs)

    def render(self, code: str, lang: str | None) -> str:
        return highlight(
            code,
            lang,
            style=self.getConfig("style"),
            line_numbers=self.getConfig("line_numbers"),
            colours=self.getConfig("colours"),
            cache=self.getConfig("cache") or None,
        )

    def _format_fence(self, source: str, language: str, class_name: str, options: Any, md: Any, **kwargs: Any) -> str:
        return self.render(source, language or None)

    def extendMarkdown(self, md: Markdown) -> None:
        from pymdownx.superfences import SuperFencesCodeExtension

        # A catch-all custom fence ('*') routes every fenced block, whatever its language, to us.
        fences = SuperFencesCodeExtension(custom_fences=[{"name": "*", "class": "code", "format": self._format_fence}])
        _without_entry_point_scan(md, fences)
        # Priority 29: after the block parser has made `<pre><code>` (tree built before any
        # treeprocessor) and before 'inline' (20), which must not touch code text.
        md.treeprocessors.register(CodeBlockTreeprocessor(md, self), "wxpub-code", 29)


def _without_entry_point_scan(md: Markdown, fences: Any) -> None:
    """Let superfences register pymdownx.highlight as an object rather than by name.

    Markdown resolves an extension name by reading the entry points of every installed package,
    which costs a tenth of what the whole `wxpub convert` process may take.
    """
    from pymdownx.highlight import HighlightExtension

    def register(extensions: list[Any], configs: dict[str, Any]) -> Markdown:
        extensions = [HighlightExtension(**configs.get(e, {})) if e == "pymdownx.highlight" else e for e in extensions]
        return Markdown.registerExtensions(md, extensions, configs)

    md.registerExtensions = register
    try:
        fences.extendMarkdown(md)
    finally:
        del md.registerExtensions


def makeExtension(**kwargs: Any) -> CodeBlocksExtension:
    return CodeBlocksExtension(**kwargs)
