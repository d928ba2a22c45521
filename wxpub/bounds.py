"""What the converter refuses before parsing: sources no WeChat article could hold, nesting no reader
can follow, and markup whose parsing would cost more than a post is worth.

Python-Markdown's block and inline parsers recurse and rescan: a source built to exploit that (a
hundred thousand nested brackets, ten thousand nested list items) takes minutes or overflows the
C stack. Every limit here is far beyond what a publishable article holds, since WeChat takes
under 20,000 characters of HTML, so no real post comes near them. One pass over the lines, no
regular expression that can backtrack: the scan costs milliseconds even on the largest input.
"""

from __future__ import annotations

import re

from .errors import PostError
from .limits import CONTENT_MAX_CHARS
from .post import Post

# Characters of Markdown, data: URIs not counted (each becomes one image URL of about 140): five
# times what WeChat takes as HTML, and HTML is never shorter than the text it shows.
SOURCE_MAX_CHARS = 5 * CONTENT_MAX_CHARS
# Raw HTML elements inside each other: the HTML parser and the sanitiser walk every level, and
# their cost grows with the square of the depth.
HTML_NESTING_MAX = 100
# Emphasis markers (* and _) in one paragraph: the inline parser's cost grows faster than their number.
EMPHASIS_MAX = 2000
# Links, images and footnotes: each costs a reference line or an image URL in the HTML, so a few
# hundred already fill an article.
REFERENCES_MAX = 2000
# Lists inside lists, quotes inside quotes: deeper than this no reader follows on a phone.
NESTING_MAX = 10
# Square brackets, each times the length of the paragraph it is in: the inline parser looks for
# the end of every bracket through the rest of its paragraph. A paragraph of 2,000 characters
# with 100 links costs 200,000; the limit is 25 such paragraphs over.
BRACKET_WORK_MAX = 5_000_000

_DATA_URI = re.compile(r"data:[\w/+.-]*(?:;[\w=.+-]*)*,[A-Za-z0-9+/=%_.~-]*", re.IGNORECASE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^([ \t]*)(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
_QUOTES = re.compile(r"^[ \t]{0,3}((?:>[ \t]?)+)")
_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)\b[^<>]*?(/?)>")
_CODE_SPAN = re.compile(r"(`+)[^`]*?\1")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_REFERENCE = re.compile(r"\]\(|\]\[|\[\^|<https?://", re.IGNORECASE)


def check_bounds(post: Post) -> None:
    """Raise PostError (at the line at fault) if `post` is beyond what the converter takes."""
    check_size(post)
    body = post.body
    references = len(_REFERENCE.findall(body))
    if references > REFERENCES_MAX:
        raise PostError(
            f"the post has {references:,} links, images and footnotes, more than the {REFERENCES_MAX:,} "
            f"any WeChat article could hold (WeChat takes under {CONTENT_MAX_CHARS:,} characters of HTML)",
            path=post.path, line=post.body_line, hint="split it into several posts",
        )
    _check_structure(body.split("\n"), post.body_line - 1, post)


def check_size(post: Post) -> None:
    """Raise PostError if `post` is longer than any article could come from. Cheap, and asked first,
    before anything splits a body that may be megabytes long into lines."""
    body = post.body
    counted = len(body)
    if counted > SOURCE_MAX_CHARS:
        counted -= sum(len(m.group(0)) for m in _DATA_URI.finditer(body))
    if counted > SOURCE_MAX_CHARS:
        raise PostError(
            f"the post is {counted:,} characters of Markdown, more than the {SOURCE_MAX_CHARS:,} any WeChat article "
            f"could come from (WeChat takes under {CONTENT_MAX_CHARS:,} characters of HTML)",
            path=post.path, line=post.body_line, hint="split it into several posts",
        )


def _check_structure(lines: list[str], offset: int, post: Post) -> None:
    """Nesting of lists and quotes, and the work brackets cost, paragraph by paragraph; code skipped."""
    fence: str | None = None
    indents: list[int] = []  # the indents of the open list items, outermost first
    block_start, block_chars, block_brackets, block_emphasis, work = 0, 0, 0, 0, 0
    html_depth = 0
    for number, line in enumerate(lines, start=1):
        if fence is not None:
            if line.lstrip().startswith(fence):
                fence = None
            continue
        opened = _FENCE.match(line)
        if opened:
            fence = opened.group(1)
            continue
        if "<" in line:
            html_depth = _html_depth(line, html_depth)
            if html_depth > HTML_NESTING_MAX:
                raise PostError(
                    f"raw HTML is nested {html_depth} deep here, more than the {HTML_NESTING_MAX} any article needs",
                    path=post.path, line=number + offset, hint="close the HTML elements, or write Markdown instead",
                )
        if not line.strip():
            work += block_brackets * block_chars
            block_chars, block_brackets, block_emphasis = 0, 0, 0
            continue
        quoted = _QUOTES.match(line)
        depth = quoted.group(1).count(">") if quoted else 0
        rest = line[quoted.end():] if quoted else line
        item = _LIST_ITEM.match(rest)
        if item:
            indent = len(item.group(1).expandtabs(4))
            while indents and indents[-1] >= indent:
                indents.pop()
            indents.append(indent)
            depth += len(indents)
        elif not rest.startswith((" ", "\t")) and not block_chars:
            indents.clear()  # a paragraph at the margin after a blank line ends every list
        if depth > NESTING_MAX:
            raise PostError(
                f"lists and quotes are nested {depth} deep here, more than the {NESTING_MAX} a reader can follow",
                path=post.path, line=number + offset, hint="flatten the list or quote",
            )
        if line.lstrip().startswith("|"):
            # A table row: its cells are parsed one by one, so each row is a paragraph of its own.
            work += _brackets(line) * len(line)
            continue
        if item or rest.lstrip().startswith("#"):
            # A list item or a heading: its text is parsed apart from the lines before it.
            work += block_brackets * block_chars
            block_chars, block_brackets, block_emphasis = 0, 0, 0
        if not block_chars:
            block_start = number
        block_chars += len(line) + 1
        block_brackets += _brackets(line)
        block_emphasis += _emphasis(line)
        if block_emphasis > EMPHASIS_MAX:
            raise PostError(
                f"over {EMPHASIS_MAX:,} emphasis markers (* and _) in one paragraph, more than any real post needs",
                path=post.path, line=block_start + offset,
                hint="write literal ones as \\* and \\_, or split the paragraph",
            )
        if work + block_brackets * block_chars > BRACKET_WORK_MAX:
            raise PostError(
                "too many square brackets: parsing them would take longer than any real post needs "
                f"(brackets times the length of their paragraph add up to over {BRACKET_WORK_MAX:,})",
                path=post.path, line=block_start + offset,
                hint="write literal brackets as \\[ and \\], or split long paragraphs",
            )


def _brackets(line: str) -> int:
    """Opening brackets the inline parser will try to match (an escaped one it never looks at)."""
    return line.count("[") - line.count("\\[")


def _emphasis(line: str) -> int:
    """Emphasis markers the inline parser will try to pair (not the escaped ones)."""
    return line.count("*") + line.count("_") - line.count("\\*") - line.count("\\_")


def _html_depth(line: str, depth: int) -> int:
    """How many raw HTML elements are open after `line` (inline code set aside, void elements not counted);
    the deepest point on the line is checked as it is passed."""
    for tag in _TAG.finditer(_CODE_SPAN.sub("", line)):
        if tag.group(1):
            depth = max(0, depth - 1)
        elif not tag.group(3) and tag.group(2).lower() not in _VOID:
            depth += 1
            if depth > HTML_NESTING_MAX:
                return depth
    return depth
