"""Raw HTML as GitHub renders it: Markdown after a blank line inside a block element is Markdown.

Writers centre a README's badges with `<div align="center">`, a blank line, Markdown, a blank line
and `</div>`. CommonMark ends an HTML block at a blank line, so GitHub renders that Markdown;
Python-Markdown keeps the whole element raw unless it says `markdown="1"`. This extension builds
on `md_in_html` and gives the attribute to every block element whose content holds a blank line
before its end tag; an element without one stays raw, as on GitHub.

Every start tag of raw HTML also gets `data-wxpub-at="LINE:COL"`, its place in the post file, so
the sanitiser (inline.py, which removes the attribute) can say where a tag it drops was written.
Markdown shows some raw text as written (code spans, indented code); the mark is taken out there.
"""

from __future__ import annotations

import bisect
import difflib
import re
import xml.etree.ElementTree as etree
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.extensions.md_in_html import HTMLExtractorExtra, MarkdownInHtmlExtension
from markdown.htmlparser import inner_blank_line_re, void_tags
from markdown.inlinepatterns import BACKTICK_RE, BacktickInlineProcessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

POSITION = "data-wxpub-at"
_POSITION_RE = re.compile(rf' {POSITION}="\d+:\d+"')
# A tag's name as HTML has it: `<https://…>` and `<a@b.c>` look like tags to the parser, but
# Markdown makes them links, and a mark inside them would break them.
_TAG_NAME = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)(?=[\s/>])")


def strip_positions(text: str) -> str:
    """`text` without the position marks put into raw start tags (for text shown as written)."""
    return _POSITION_RE.sub("", text) if POSITION in text else text


def parse_position(value: str | None) -> tuple[int | None, int | None]:
    """(line, col) from the value of a `data-wxpub-at` mark; (None, None) for an element without one."""
    if value is None:
        return None, None
    line, _, col = value.partition(":")
    return (int(line), int(col)) if line.isdigit() and col.isdigit() else (None, None)


def has_blank_line_inside(rawdata: str, start: int, tag: str) -> bool:
    """Whether a blank line comes before the end tag that closes the `tag` opened just before `start`.

    Only the text up to the first blank line is searched, so each element costs the length of its
    first run of lines, not of the rest of the post. (The caller knows the element is closed.)
    """
    blank = inner_blank_line_re.search(rawdata, start)
    if blank is None:
        return False
    depth = 1
    for match in re.finditer(rf"<(/?){re.escape(tag)}\b[^>]*>", rawdata[start : blank.start()], re.IGNORECASE):
        if match.group(0).endswith("/>") and not match.group(1):
            continue
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return False
    return True


_END_TAG = re.compile(r"</([a-zA-Z][a-zA-Z0-9-]*)\s*>")


class _Extractor(HTMLExtractorExtra):
    """md_in_html's extractor with GitHub's blank-line rule and a source position on every start tag."""

    def __init__(self, md: Markdown, ext: "RawHtmlExtension", *args: Any, **kwargs: Any) -> None:
        self.ext = ext
        super().__init__(md, *args, **kwargs)

    def _here(self) -> str:
        line, col = self.getpos()
        return self.ext.position(line, col, super().get_starttag_text() or "")

    def get_starttag_text(self) -> str:
        text = super().get_starttag_text()
        name = _TAG_NAME.match(text or "")
        if not text or not name:
            return text
        return f'{text[: name.end()]} {POSITION}="{self._here()}"{text[name.end():]}'

    _last_end: dict[str, int] | None = None  # where each end tag last appears, found once per post

    def _closed_after(self, tag: str, position: int) -> bool:
        """Whether an end tag for `tag` comes after `position` (the end tags are listed once per post)."""
        if self._last_end is None:
            self._last_end = {m.group(1).lower(): m.start() for m in _END_TAG.finditer(self.rawdata)}
        return self._last_end.get(tag, -1) >= position

    def reset(self) -> None:
        self._last_end = None
        super().reset()

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        attrs = list(attrs)
        names = {key for key, _ in attrs}
        if (
            tag in self.block_level_tags
            and tag not in self.raw_tags
            and tag not in self.empty_tags
            and tag not in void_tags
            and "markdown" not in names
            and not self.inraw
            and (self.at_line_start() or self.intail or (self.mdstarted and self.mdstarted[-1]))
        ):
            end_of_tag = self.line_offset + self.offset + len(super().get_starttag_text() or "")
            if not self._closed_after(tag, end_of_tag):
                if not self.mdstack and not self.intail and self.at_line_start():
                    # Never closed: Python-Markdown would keep the rest of the post raw. GitHub ends
                    # the HTML at a blank line; here the start tag alone is the raw block.
                    self.handle_empty_tag(self.get_starttag_text(), is_block=True)
                    return
            elif has_blank_line_inside(self.rawdata, end_of_tag, tag):
                attrs.append(("markdown", "1"))
                names.add("markdown")
        if POSITION not in names:
            # Used when the tag becomes an element (Markdown inside); kept as text, it has the mark already.
            attrs.append((POSITION, self._here()))
        super().handle_starttag(tag, attrs)


class _HtmlBlockPreprocessor(Preprocessor):
    """Takes raw HTML blocks out of the text, as md_in_html's does, with `_Extractor`."""

    def __init__(self, md: Markdown, ext: "RawHtmlExtension") -> None:
        super().__init__(md)
        self.ext = ext

    def run(self, lines: list[str]) -> list[str]:
        source = "\n".join(lines)
        if "<" not in source:
            return lines
        self.ext.parsed_lines = lines
        parser = _Extractor(self.md, self.ext)
        parser.feed(source)
        parser.close()
        return "".join(parser.cleandoc).split("\n")


class _CodeSpanProcessor(BacktickInlineProcessor):
    """Code spans as Markdown makes them, without the position marks of tags written inside them."""

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[Any, int | None, int | None]:  # noqa: N802
        element, start, end = super().handleMatch(m, data)
        if isinstance(element, etree.Element) and element.text:
            element.text = type(element.text)(strip_positions(element.text))
        return element, start, end


class _RawHtmlTreeprocessor(Treeprocessor):
    """Takes the position marks out of indented code, and gives list items written bare a list."""

    def run(self, root: etree.Element) -> None:
        for pre in root.iter("pre"):
            for code in pre.iter("code"):
                if code.text and POSITION in code.text:
                    code.text = type(code.text)(strip_positions(code.text))
        for parent in list(root.iter()):
            if parent.tag in _SPAN_TAGS:
                _trim(parent)
            if parent.tag in ("ul", "ol"):
                continue
            _wrap_bare_items(parent)


# Elements whose content md_in_html parses as a line of text: the blank lines that made it Markdown
# would become spaces (and characters WeChat counts) at its edges.
_SPAN_TAGS = frozenset("p li td th dt dd h1 h2 h3 h4 h5 h6 summary legend address".split())


def _trim(element: etree.Element) -> None:
    if element.text and element.text[:1] in "\n ":
        element.text = type(element.text)(element.text.lstrip("\n "))
    last = element[-1] if len(element) else None
    text = (last.tail if last is not None else element.text) or ""
    if text[-1:] in ("\n", " "):
        if last is not None:
            last.tail = type(text)(text.rstrip("\n "))
        else:
            element.text = type(text)(text.rstrip("\n "))


def _wrap_bare_items(parent: etree.Element) -> None:
    """Each run of `<li>` outside any list becomes a `<ul>`, so the list rewrite gives it the theme's rows."""
    children = list(parent)
    index = 0
    while index < len(children):
        if children[index].tag != "li":
            index += 1
            continue
        run = [children[index]]
        while index + len(run) < len(children) and children[index + len(run)].tag == "li":
            run.append(children[index + len(run)])
        position = list(parent).index(run[0])
        holder = etree.Element("ul")
        holder.tail = run[-1].tail
        for item in run:
            parent.remove(item)
            item.tail = None
            holder.append(item)
        parent.insert(position, holder)
        index += len(run)


class RawHtmlExtension(Extension):
    """md_in_html with GitHub's blank-line rule, and the file position of every raw start tag.

    Call `set_source(body, line_offset)` before converting, so positions are given in the file.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tab_length = 4  # Markdown's, as set in extendMarkdown
        self.reset()

    def reset(self) -> None:
        self.line_offset = 0
        self.source_lines: list[str] = []
        self.parsed_lines: list[str] = []
        self._line_map: dict[int, int] | None = None
        self._mapped: list[int] = []  # the keys of _line_map, sorted
        self._places_cache: dict[tuple[int, str], list[int]] = {}

    def set_source(self, body: str, line_offset: int) -> None:
        """The body as written, and the file line before its first (the front matter's last)."""
        self.source_lines = body.split("\n")
        self.line_offset = line_offset

    def position(self, line: int, col: int, tag_text: str) -> str:
        """`LINE:COL` in the post file of a tag the extractor met at (line, col) of the text it parsed."""
        index = self._source_index(line - 1)
        written = self.source_lines[index] if 0 <= index < len(self.source_lines) else ""
        parsed = self.parsed_lines[line - 1] if 0 < line <= len(self.parsed_lines) else ""
        # The parsed line has its tabs expanded and may be re-indented (nested lists): the tag is
        # the same occurrence of its text in the written line as in the parsed one.
        needle = tag_text.split("\n", 1)[0]
        nth = parsed.count(needle, 0, col) if needle else 0
        places = self._places(index, written, needle)
        found = places[nth] if nth < len(places) else -1
        return f"{index + 1 + self.line_offset}:{(found if found >= 0 else col) + 1}"

    def _places(self, index: int, written: str, needle: str) -> list[int]:
        """Where `needle` starts in written line `index`, each occurrence (found once per line and tag
        text: a line of thousands of tags would otherwise be searched again for each of them)."""
        key = (index, needle)
        places = self._places_cache.get(key)
        if places is None:
            places, found = [], written.find(needle) if needle else -1
            while found >= 0:
                places.append(found)
                found = written.find(needle, found + 1)
            self._places_cache[key] = places
        return places

    def _source_index(self, parsed_index: int) -> int:
        if self._line_map is None:
            # Fenced code was cut out before raw HTML is parsed, each block leaving one line; list
            # lines may have been re-indented. Matching the stripped lines gives back the rest.
            written = [line.expandtabs(self.tab_length).strip() for line in self.source_lines]
            parsed = [line.strip() for line in self.parsed_lines]
            # Lines the same at the start and at the end map one to one; only the middle needs the
            # matcher, whose cost grows with the square of the lines (and of the repeated ones most).
            head = 0
            while head < min(len(parsed), len(written)) and parsed[head] == written[head]:
                head += 1
            tail = 0
            while tail < min(len(parsed), len(written)) - head and parsed[-1 - tail] == written[-1 - tail]:
                tail += 1
            self._line_map = {k: k for k in range(head)}
            self._line_map.update({len(parsed) - 1 - k: len(written) - 1 - k for k in range(tail)})
            middle = difflib.SequenceMatcher(
                None, parsed[head : len(parsed) - tail], written[head : len(written) - tail], autojunk=False
            )
            for block in middle.get_matching_blocks():
                for k in range(block.size):
                    self._line_map[head + block.a + k] = head + block.b + k
            self._mapped = sorted(self._line_map)
        if parsed_index in self._line_map:
            return self._line_map[parsed_index]
        at = bisect.bisect_left(self._mapped, parsed_index)
        before = self._mapped[at - 1] if at > 0 else None
        return parsed_index if before is None else self._line_map[before] + parsed_index - before

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802
        md.registerExtension(self)
        MarkdownInHtmlExtension().extendMarkdown(md)
        # 20: md_in_html's own place, after fenced code (25) is stashed, so tags in code stay code.
        md.preprocessors.register(_HtmlBlockPreprocessor(md, self), "html_block", 20)
        self.tab_length = md.tab_length
        md.inlinePatterns.register(_CodeSpanProcessor(BACKTICK_RE), "backtick", 190)
        # 29.5: before indented code is highlighted ('wxpub-code', 29) and lists are rewritten (10.8).
        md.treeprocessors.register(_RawHtmlTreeprocessor(md), "wxpub-raw-html", 29.5)


def makeExtension(**kwargs: Any) -> RawHtmlExtension:  # noqa: N802
    return RawHtmlExtension(**kwargs)
