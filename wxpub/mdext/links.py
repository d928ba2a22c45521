"""Links: WeChat article links stay links; every other link becomes a numbered reference `[n]`.

WeChat lets an article link only to mp.weixin.qq.com. Rather than lose the address, the link text
stays in place with a superscript number and the URL is written out, as text, in a reference list
at the end. A link whose text is its own URL is just text; in-page anchors are dropped. A linked
image (a README's badges) stays an image, with the mark after it and its alt text in the list.

A URL shown as text (a bare one, or a link whose text is its URL) goes in a `<span class="url">`,
which the themes let break at any character: otherwise a browser carries the whole URL to a new
line, and justified text spreads the line it left into wide gaps.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as etree
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import AMP_SUBSTITUTE, AtomicString

from ..urls import TEXT_URL, is_wechat_link
from ._tree import parent_map, text_of, unwrap

# What ends a sentence rather than the URL, as in GFM's autolinks.
_TRAILING = ".,:;!?'*"


def _plain(value: str) -> str:
    return html.unescape(value.replace(AMP_SUBSTITUTE, "&")) if AMP_SUBSTITUTE in value else value


def _same_as_text(url: str, text: str) -> bool:
    bare = url.split("://", 1)[-1].removeprefix("mailto:").rstrip("/")
    return text.rstrip("/") in (url.rstrip("/"), bare)


def _linked_image_text(link: etree.Element, href: str) -> str:
    """What a reference to a linked image (a badge, a screenshot) is called: its alt text, else "图片".

    An image linked to its own file ("click to enlarge") is no reference: "" unwraps it.
    """
    images = list(link.iter("img"))
    if not images or any(_plain(img.get("src", "")) == href for img in images):
        return ""
    return " ".join(alt for img in images if (alt := img.get("alt", "").strip())) or "图片"


class LinksTreeprocessor(Treeprocessor):
    """Turns external links into references and appends the reference list."""

    def __init__(self, md: Markdown, ext: "LinksExtension") -> None:
        super().__init__(md)
        self.ext = ext

    def run(self, root: etree.Element) -> None:
        parents = parent_map(root)
        numbers: dict[str, int] = {}
        for link in list(root.iter("a")):
            href = _plain((link.get("href") or "").strip())
            if link.text and AMP_SUBSTITUTE in link.text:
                link.text = _plain(link.text)  # an <address@example.com> autolink, entity-encoded
            parent = parents[link]
            if href and is_wechat_link(href):
                link.attrib.pop("title", None)
                continue
            text = text_of(link) or _linked_image_text(link, href)
            if href and text and _same_as_text(href, text):
                tail = link.tail
                link.clear()  # its text may hold a bare-URL span already
                link.tag, link.text, link.tail = "span", text, tail
                link.set("class", "url")
                continue
            if not href or href.startswith("#") or not text:
                unwrap(link, parent)
                continue
            if href not in numbers:
                numbers[href] = len(numbers) + 1
                self.ext.links.append((numbers[href], href, text))
            mark = etree.Element("sup", {"class": "ref-mark"})
            mark.text = f"[{numbers[href]}]"
            mark.tail = link.tail
            link.tail = None
            parent.insert(list(parent).index(link) + 1, mark)
            unwrap(link, parent)
        if self.ext.links:
            root.append(self._reference_list())

    def _reference_list(self) -> etree.Element:
        section = etree.Element("section", {"class": "refs"})
        title = etree.SubElement(section, "p", {"class": "refs-title"})
        title.text = self.ext.getConfig("title")
        # One block, an entry per line: a paragraph each would cost its style 60 times in a newsletter.
        item = etree.SubElement(section, "p", {"class": "ref"})
        for number, url, text in self.ext.links:
            if len(item):
                etree.SubElement(item, "br").tail = f"[{number}] {text}: "
            else:
                item.text = f"[{number}] {text}: "
            address = etree.SubElement(item, "span", {"class": "ref-url"})
            address.text = url
        return section


class BareUrlInlineProcessor(InlineProcessor):
    """A URL written as plain text becomes `<span class="url">` (never a link: WeChat refuses them)."""

    def handleMatch(self, m: Any, data: str) -> tuple[etree.Element | None, int | None, int | None]:
        url = m.group(0).rstrip(_TRAILING)
        while url.endswith(")") and url.count(")") > url.count("("):
            url = url[:-1].rstrip(_TRAILING)  # "(see https://a.b/c)." : the bracket is the sentence's
        span = etree.Element("span", {"class": "url"})
        span.text = AtomicString(url)  # not matched again, by this or any other pattern
        return span, m.start(0), m.start(0) + len(url)


class LinksExtension(Extension):
    """Collects `(number, url, text)` of every reference in `links`, cleared per document."""

    def __init__(self, **kwargs: Any) -> None:
        self.config = {"title": ["参考链接", "Heading of the reference list"]}
        super().__init__(**kwargs)
        self.links: list[tuple[int, str, str]] = []

    def reset(self) -> None:
        self.links = []

    def extendMarkdown(self, md: Markdown) -> None:
        md.registerExtension(self)
        # 12: after 'inline' (20) made the <a> elements and after the footnotes rewrite (13), so
        # links inside footnotes are numbered too and the references come after the notes.
        md.treeprocessors.register(LinksTreeprocessor(md, self), "wxpub-links", 12)
        # 85: after code spans, links, autolinks and raw HTML tags (90), which keep their own URLs.
        md.inlinePatterns.register(BareUrlInlineProcessor(TEXT_URL, md), "wxpub-bare-url", 85)


def makeExtension(**kwargs: Any) -> LinksExtension:
    return LinksExtension(**kwargs)
