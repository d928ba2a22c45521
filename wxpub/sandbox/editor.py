"""What WeChat keeps of an article's content when draft/add or draft/update stores it.

The sandbox stands in for WeChat's side, so it parses the HTML itself (wxpub's own sanitiser is
the client it is testing) and builds the content again from what it keeps:
- `<script>` and `<style>` go with their content, as do the embeds draft/add deletes (iframe,
  video, audio ...); so do `class`, `id` and every `on…` handler ("JS is removed"), and any URL
  whose scheme the profile does not allow (javascript:, data: ...);
- an `<img>` whose src is not one of the sandbox's own uploads is filtered out ("外部图片url将被过滤");
- a link to anything but mp.weixin.qq.com loses its `<a>` and keeps its text;
- runs of U+0020 in text collapse to one, and newlines inside `<pre>`/`<code>` are dropped;
- tags, attributes and CSS declarations are kept as the WeChat profile (`wxpub.profile`) allows:
  a tag outside it is unwrapped (its text stays), a declaration outside it is dropped, and in
  strict mode the whole `style` of an element holding one goes, as WeChat is believed to do.

Everything kept is written out escaped, so what the sandbox stores and shows is well-formed.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Callable
from urllib.parse import urlsplit

from .. import profile

_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_ATTRIBUTE_NAME = re.compile(r"^[a-z_][-a-z0-9_.:]*$")
_LINK_HOST = "mp.weixin.qq.com"


@dataclass(frozen=True)
class Kept:
    """What an article's content became in WeChat, and what was taken out of it."""

    content: str
    filtered_images: tuple[str, ...] = ()  # src of each <img> removed
    removed_links: tuple[str, ...] = ()  # href of each <a> unwrapped
    dropped_styles: tuple[tuple[str, str], ...] = ()  # (tag, declaration) taken out of a style


def keep(content: str, *, own_image: Callable[[str], bool], strict: bool = False, image_src: Callable[[str], str] | None = None) -> Kept:
    """The content as WeChat stores it; `own_image(src)` says whether src is one of this account's uploads.

    `image_src` rewrites the address of each image kept (the pages serve them from where they are)."""
    editor = _Editor(own_image, strict, image_src)
    editor.feed(content)
    editor.close()
    return editor.result()


def mp_link(href: str) -> bool:
    """Whether a link may stay: http(s) to mp.weixin.qq.com, the articles of official accounts."""
    return profile.url_scheme(href) in ("http", "https") and (urlsplit(href.strip()).hostname or "") == _LINK_HOST


class _Editor(HTMLParser):
    """Rebuilds a fragment from what WeChat keeps of it (see the module's docstring)."""

    def __init__(self, own_image: Callable[[str], bool], strict: bool, image_src: Callable[[str], str] | None) -> None:
        super().__init__(convert_charrefs=True)
        self.own_image = own_image
        self.strict = strict
        self.image_src = image_src
        self.out: list[str] = []
        # Every open element: (tag, whether its tags were written). Unwrapped ones are kept too, so
        # that their end tag is recognised and a `pre` unwrapped still holds code.
        self.open: list[tuple[str, bool]] = []
        self.opened: Counter[str] = Counter()  # how many of each tag are open: a deep nest stays linear
        self.swallowing: list[str] = []
        self.filtered: list[str] = []
        self.links: list[str] = []
        self.styles: list[tuple[str, str]] = []

    def result(self) -> Kept:
        while self.open:
            self._close_top()
        return Kept("".join(self.out), tuple(self.filtered), tuple(self.links), tuple(self.styles))

    # -- tags ----------------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], *, closed: bool) -> None:
        if self.swallowing:
            if tag == self.swallowing[-1] and not closed:
                self.swallowing.append(tag)
            return
        if tag in profile.REMOVED_WITH_CONTENT:
            if not closed and tag not in _VOID:
                self.swallowing.append(tag)
            return
        values = {name: value or "" for name, value in attrs}
        written = True
        if tag == "img":
            src = values.get("src", "")
            if not src or profile.url_scheme(src) not in ("http", "https") or not self.own_image(src):
                self.filtered.append(src)
                return
        if tag == "a":
            href = values.get("href") or values.get("xlink:href") or ""
            if not (href and mp_link(href)):
                written = False
                if href:
                    self.links.append(href)
        if not profile.allowed_tag(tag):
            written = False
        if written:
            self.out.append(f"<{tag}{self._attributes(tag, attrs)}>")
        if tag in _VOID:
            return
        if closed:
            if written:
                self.out.append(f"</{tag}>")
            return
        self.open.append((tag, written))
        self.opened[tag] += 1

    def handle_endtag(self, tag: str) -> None:
        if self.swallowing:
            if tag == self.swallowing[-1]:
                self.swallowing.pop()
            return
        if not self.opened[tag]:
            return  # an end tag with no start: nothing to close
        while self.open:
            name = self.open[-1][0]
            self._close_top()
            if name == tag:
                return

    def _close_top(self) -> None:
        tag, written = self.open.pop()
        self.opened[tag] -= 1
        if written:
            self.out.append(f"</{tag}>")

    def _attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> str:
        kept: list[str] = []
        for name, raw in attrs:
            value = raw or ""
            if name in ("class", "id") or name.startswith("on") or not _ATTRIBUTE_NAME.match(name):
                continue
            if name == "style":
                value = self._style(tag, value)
                if value:
                    kept.append(f' style="{html.escape(value, quote=True)}"')
                continue
            if not profile.allowed_attribute(tag, name, value):
                continue
            if tag == "img" and name == "src" and self.image_src is not None:
                value = self.image_src(value)
            kept.append(f' {name}="{html.escape(value, quote=True)}"')
        return "".join(kept)

    def _style(self, tag: str, style: str) -> str:
        if self.strict:
            violations = profile.style_violations(tag, style)
            if violations:
                self.styles.extend((tag, v) for v in violations)
                return ""
        cleaned, dropped = profile.clean_style(tag, style)
        self.styles.extend((tag, d) for d in dropped)
        return cleaned.strip()

    # -- text ----------------------------------------------------------------------------------
    def handle_data(self, data: str) -> None:
        if self.swallowing:
            return
        if self.opened["pre"] or self.opened["code"]:
            data = data.replace("\r", "").replace("\n", "")
        data = re.sub(" {2,}", " ", data)
        self.out.append(html.escape(data, quote=False))

    # Comments, declarations and processing instructions are not content: dropped (the default).
