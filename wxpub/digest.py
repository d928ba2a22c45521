"""The digest: the line WeChat shows under an article's title in the feed and on a share card.

A post's `digest:` is sent as written. Without one, wxpub sends an excerpt of the post's own
text: its paragraphs, inline code included, not its blocks (header, footer, includes, which are
the same in every post of an account) nor its notes, references, code blocks or captions. It does
not leave the digest empty for WeChat to fill, because WeChat then takes the first 54 characters
of the content as sent, header included: every post of an account with an editor's note would
open its share card with that note. Only a post whose own text has no words at all (pictures or
code alone) is sent with an empty digest, and then WeChat's own is what readers see
(`shown_digest`, for the preview).

Publish (its payload and its dry run) and the preview's share card all call `digest()`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .convert import Converted
    from .post import Post

# WeChat's own digest of an article sent without one is the first 54 characters of its text
# (older pages said 64); an excerpt of that length reads like the ones WeChat makes, and stays well
# within the documented 128.
EXCERPT_CHARS = 54


def digest(converted: Converted) -> str:
    """The digest publish sends: the front matter's `digest`, else an excerpt of the post's own text."""
    given = converted.meta.get("digest")
    text = "" if given is None else str(given).strip()
    return text or excerpt(own_html(converted.post))


def shown_digest(converted: Converted) -> str:
    """The digest readers see: the one sent, else the one WeChat makes, the first 54 characters
    of the content's text (blocks included)."""
    sent = digest(converted)
    if sent:
        return sent
    parser = _Text()
    parser.feed(converted.html)
    parser.close()
    return _squeezed(parser.every)[:EXCERPT_CHARS]


def own_html(post: Post) -> str:
    """The post's own text, without its blocks, rendered on its own (HTML with its classes)."""
    from .blocks import INCLUDE
    from .render import RenderOptions, render

    own = post.file_body if post.file_body is not None else post.body
    own = "\n".join(line for line in own.split("\n") if not INCLUDE.match(line))
    alone = replace(post, body=own, line_map=None, file_body=None)
    # Simple formulas as text, so that they are words in the excerpt; code colours are not read.
    return render(alone, RenderOptions(math_as_text=True, code_colours="none")).html


def excerpt(fragment: str) -> str:
    """An excerpt of rendered HTML (render.py's, classes on): the text of its paragraphs outside
    callouts, lists, tables, notes and references, else (a post without such paragraphs) all its
    text but code blocks, captions and marks; whole characters, at most EXCERPT_CHARS, cut at the
    end of a sentence when one ends past the middle, else with an ellipsis."""
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    text = _squeezed(parser.prose) or _squeezed(parser.every)
    if len(text) <= EXCERPT_CHARS:
        return text
    cut = text[: EXCERPT_CHARS - 1]  # room for the ellipsis
    sentence = max(cut.rfind(mark) for mark in "。！？.!?")
    if sentence >= len(cut) // 2:
        return cut[: sentence + 1]
    return cut.rstrip(" ,，、;；:：") + "…"


def _squeezed(parts: list[str]) -> str:
    return re.sub(r"\s+", " ", "".join(parts)).strip()


_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
# Never part of an excerpt: code blocks, captions, drawn formulas; and, by their class, footnote and
# reference marks, the notes and references themselves, list markers and callout titles.
_SKIPPED_TAGS = frozenset({"pre", "figcaption", "svg", "script", "style", "template"})
_SKIPPED_CLASSES = frozenset({"fn-mark", "ref-mark", "footnotes", "refs", "marker", "callout-title", "footnote-number"})
# A formula written as text has its exponents and indices in <sup> and <sub>: E = mc² reads
# better than E = mc2. Characters with no such form stay as they are.
_RAISED = str.maketrans("0123456789+-=()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ")
_LOWERED = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
_BLOCKS = frozenset({"p", "section", "div", "blockquote", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "tr", "figure", "table"})


class _Text(HTMLParser):
    """The text of a fragment: `prose` from paragraphs outside any section (callouts, lists,
    tables, notes), `every` from everything that is not skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, bool, bool, bool]] = []  # (tag, skipped, inside a section, prose)
        self.prose: list[str] = []
        self.every: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Any]]) -> None:
        if tag in _VOID:
            if tag == "br":
                self._space()
            return
        skipped, in_section, prose = self.open[-1][1:] if self.open else (False, False, False)
        classes = set(str(dict(attrs).get("class") or "").split())
        skipped = skipped or tag in _SKIPPED_TAGS or bool(classes & _SKIPPED_CLASSES)
        prose = prose or (tag == "p" and not in_section)
        self.open.append((tag, skipped, in_section or tag == "section", prose))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, Any]]) -> None:
        if tag == "br":
            self._space()

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                if tag in _BLOCKS:
                    self._space()
                return

    def handle_data(self, data: str) -> None:
        skipped, _, prose = self.open[-1][1:] if self.open else (False, False, False)
        if skipped:
            return
        tags = [tag for tag, *_ in self.open]
        if "sup" in tags or "sub" in tags:
            data = data.translate(_RAISED if "sup" in tags else _LOWERED)
        self.every.append(data)
        if prose:
            self.prose.append(data)

    def _space(self) -> None:
        self.every.append(" ")
        self.prose.append(" ")
