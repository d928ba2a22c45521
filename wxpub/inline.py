"""Rendered HTML + theme -> the WeChat-safe fragment: sanitised, styles inlined, then made compact.

The only module that imports premailer, and only when compiled_theme.py has not yet stored what
premailer makes of the theme. Output: one `<section style=…>` with no `<style>`, `<script>`,
class, id or `var()`, every style inline, byte-identical for the same input.
"""

from __future__ import annotations

import functools
import hashlib
import html as html_lib
import re
from typing import Any

from lxml import etree


def _import_premailer() -> Any:
    """premailer, imported without the `requests` package it imports at its top.

    premailer uses requests only to fetch external stylesheets, which wxpub never asks it to do
    (`allow_network=False`); importing requests would add a tenth of a second to every
    `wxpub convert` in a pre-commit hook. premailer gets an empty stand-in for its own global; the
    stand-in is removed at once, so any later `import requests` gets the real package.
    """
    import sys
    import types

    stand_in = "requests" not in sys.modules
    if stand_in:
        sys.modules["requests"] = types.ModuleType("requests", "stand-in: premailer fetches nothing here")
    try:
        from premailer import Premailer
    finally:
        if stand_in:
            del sys.modules["requests"]
    return Premailer


from . import compiled_theme  # noqa: E402
from .errors import Notice  # noqa: E402
from . import profile  # noqa: E402
from .mdext.codeblocks import short_color  # noqa: E402
from .mdext.rawhtml import POSITION, parse_position  # noqa: E402
from .shorthand import shortest  # noqa: E402
from .themes import ResolvedTheme  # noqa: E402

# Properties a child takes from its parent: set once on the root, dropped where they repeat it.
INHERITED = frozenset(
    "color font font-family font-size font-style font-variant font-weight letter-spacing line-height "
    "text-align text-indent text-transform white-space word-break word-spacing overflow-wrap "
    "word-wrap visibility direction".split()
)
# Where the browser's own stylesheet sets an inherited property, the repeat is not redundant.
UA_SETS = {
    **{h: {"font-size", "font-weight", "font"} for h in ("h1", "h2", "h3", "h4", "h5", "h6")},
    "strong": {"font-weight"},
    "b": {"font-weight"},
    "th": {"font-weight", "text-align"},
    "em": {"font-style"},
    "i": {"font-style"},
    "a": {"color"},
    "code": {"font-family", "font-size"},
    "pre": {"font-family", "font-size", "white-space"},
    "kbd": {"font-family", "font-size"},
    "sup": {"font-size"},
    "sub": {"font-size"},
    "small": {"font-size"},
}
# Declarations that say what the element does anyway.
DEFAULTS = {
    "strong": {("font-weight", "bold"), ("font-weight", "700")},
    "b": {("font-weight", "bold"), ("font-weight", "700")},
    "em": {("font-style", "italic")},
    "i": {("font-style", "italic")},
    "del": {("text-decoration", "line-through")},
    "s": {("text-decoration", "line-through")},
}
BLOCK_TAGS = frozenset(
    "section p div h1 h2 h3 h4 h5 h6 pre figure figcaption table thead tbody tr th td blockquote hr ul ol li".split()
)
# Initial values: saying them changes nothing (unless the browser's own sheet says otherwise,
# hence the list of elements where a zero margin or padding is already the default).
INITIAL = frozenset(
    {("background", "none"), ("background", "transparent"), ("border-radius", "0"), ("height", "auto"), ("width", "auto")}
)
_NO_UA_BOX = frozenset("span strong b em i code del s sup sub a img small kbd section div figcaption svg tr thead tbody".split())
_ZERO = re.compile(r"(?<![\w.#-])0(?:px|em|rem|%)")
_LEADING_ZERO = re.compile(r"(?<![\w.#])0\.(\d)")
_SPACES = re.compile(r"\s*([,/])\s*")
_HEX6 = re.compile(r"#[0-9a-fA-F]{6}\b")
_TAG_OR_GT = re.compile(r"<[^<>]*>|&gt;")  # the serialiser escapes both in attribute values
_SVG_VIEWBOX = re.compile(r"(<svg\b[^>]*?) viewbox=")
_RELATIVE = re.compile(r"(?:em|%|rem|ex)$|^(?:smaller|larger|bolder|lighter)$")


def inline(html: str, theme: ResolvedTheme, images: frozenset[str] = frozenset()) -> tuple[str, tuple[Notice, ...]]:
    """Apply `theme` to the rendered `html`; return the fragment and what was removed or left out.

    `images` are the sources of the post's Markdown images, the ones that will be uploaded.
    """
    root = _parse(html)
    notices = _sanitise(root, images)
    _apply_theme(root, theme.css)
    for table in list(root.iter("table")):
        _hoist_alignment(table)
    _compact(root, ())
    for span in list(root.iter("span")):
        if not span.attrib:
            _drop_tag(span)  # a <span> without attributes changes nothing, yet it costs 13 characters
    for section in list(root.iter("section")):
        _rows_as_lines(section)
    for group in list(root.iter("thead", "tbody")):
        if not group.attrib:
            # The parser puts rows in a tbody of its own; the header row is told by its <th>s.
            _drop_tag(group)
    root.tail = None
    # The HTML serialiser percent-encodes src values ("猫 图.png" -> "%E7%8C%AB%20…"); `src` must stay
    # as written, for the publisher swaps it by its exact value. So each goes out as a token first.
    # The token carries a digest of this HTML, so no text of the post can look like it.
    marker = hashlib.sha256(html.encode("utf-8")).hexdigest()[:16]
    sources = []
    for number, img in enumerate(root.iter("img")):
        sources.append(img.get("src", ""))
        img.set("src", f"wxpub-src-{marker}-{number}")
    # ">" needs no escaping in HTML text: 1 character, not 4. In attribute values it stays escaped,
    # for the sake of any tool that finds tags by their first ">".
    fragment = _TAG_OR_GT.sub(lambda m: ">" if m.group(0) == "&gt;" else m.group(0), etree.tostring(root, method="html", encoding="unicode"))
    fragment = re.sub(
        rf'src="wxpub-src-{marker}-(\d+)"', lambda m: f'src="{html_lib.escape(sources[int(m.group(1))])}"', fragment
    )
    # lxml's HTML serialiser lower-cases attribute names; SVG's viewBox is case-sensitive.
    fragment = _SVG_VIEWBOX.sub(r"\1 viewBox=", fragment)
    return fragment, tuple(notices)


def _hoist_alignment(table: Any) -> None:
    """Say the commonest cell alignment once, on the table, where that is shorter than on each cell.

    `text-align` is inherited and a `<td>` has none of its own, so a table whose columns are mostly
    right-aligned may say `text-align:right` once and only its other cells their own alignment.
    A `<th>` the browser centres unless it inherits an alignment that was set, so one without its
    own is given what it showed before wherever the table's new alignment would change it. The
    cells look exactly as before.
    """
    cells = [cell for cell in table.iter("td", "th") if next(cell.iterancestors("table")) is table]
    if not cells or any("!important" in (e.get("style") or "") for e in (table, *cells)):
        return
    base = next(
        (found for e in (table, *table.iterancestors()) if (found := _alignment(e.get("style")))), "start"
    )
    own = [_alignment(cell.get("style")) for cell in cells]
    seen = [
        align or (base if cell.tag == "td" or base != "start" else "center") for cell, align in zip(cells, own)
    ]

    def said(chosen: str) -> list[bool]:
        """Which cells must say their alignment when the table says `chosen`."""
        return [
            (a is not None or (chosen != base and s != chosen)) if c.tag == "th" else s != chosen
            for c, a, s in zip(cells, own, seen)
        ]

    def cost(chosen: str) -> int:
        extra = 0 if chosen == base else len(f";text-align:{chosen}")
        return extra + sum(len(f";text-align:{s}") for s, say in zip(seen, said(chosen)) if say)

    chosen = min(dict.fromkeys(seen), key=lambda a: (cost(a), a != base))
    if chosen == base or cost(chosen) >= cost(base):
        return
    _set_alignment(table, chosen)
    for cell, align, say in zip(cells, seen, said(chosen)):
        _set_alignment(cell, align if say else None)


def _rows_as_lines(section: Any) -> None:
    """A list of one-line-or-more rows written as lines: `row<br>row`, not `<section>row</section>…`.

    Each row of a list is an unstyled block that starts with its floated marker. When no row holds
    a block of its own, the rows may as well be lines of the list's block: each `<br>` starts the
    next row on a new line, where its marker floats into the list's padding exactly as before and
    wrapped lines hang at the same indent. Only a `text-indent` would tell the two apart (it
    indents the first line of each block), so a list that inherits one keeps its rows.
    """
    rows = list(section)
    if len(rows) < 2 or (section.text or "").strip() or not all(_plain_row(row) for row in rows):
        return
    for element in (section, *section.iterancestors()):
        indent = next((v for p, v in profile.declarations(element.get("style") or "") if p == "text-indent"), None)
        if indent is not None:
            if indent.strip() not in ("0", "0px"):
                return
            break
    for number, row in enumerate(rows):
        if number:
            section.insert(section.index(row), etree.Element("br"))
        _drop_tag(row)


def _plain_row(row: Any) -> bool:
    """An unstyled row: its floated marker, then text and inline elements only, some of it visible."""
    if row.tag != "section" or row.attrib or (row.text or "").strip() or (row.tail or "").strip() or not len(row):
        return False
    marker = row[0]
    if not (marker.get("style") or "").startswith("float:left"):
        return False
    if any(isinstance(d.tag, str) and (d.tag in BLOCK_TAGS or _BLOCK_STYLE.search(d.get("style") or "")) for d in row.iterdescendants()):
        return False
    return bool("".join(row.itertext())[len("".join(marker.itertext())):].strip())


_BLOCK_STYLE = re.compile(r"(?:^|;)\s*display\s*:\s*(?:block|table|list-item)")


def _alignment(style: str | None) -> str | None:
    found = [value for prop, value in profile.declarations(style or "") if prop == "text-align"]
    return found[-1].strip() if found else None


def _set_alignment(element: Any, align: str | None) -> None:
    kept = [(p, v) for p, v in profile.declarations(element.get("style") or "") if p != "text-align"]
    kept += [("text-align", align)] if align else []
    if kept:
        element.set("style", ";".join(f"{p}:{v}" for p, v in kept))
    elif "style" in element.attrib:
        del element.attrib["style"]


def _apply_theme(root: Any, css: str) -> None:
    """Inline the theme: from its compiled form when there is one, else with premailer, which then compiles it."""
    if compiled_theme.apply(root, css):
        return
    own_styles = {element.get("style") for element in root.iter() if element.get("style")}
    premailer = _premailer()
    premailer.themed(css).transform(root)
    compiled_theme.store(
        css, _compile(css), {style: tuple(premailer.csstext_to_pairs(style)) for style in own_styles}
    )


def _compile(css: str) -> list[tuple[str, tuple[tuple[str, str], ...]]] | None:
    """The theme's rules in premailer's order, as (XPath, declarations); None if one needs premailer itself."""
    premailer = _premailer()
    compiled = []
    for _, selector, block in sorted(premailer.theme_rules(css, 0), key=lambda rule: rule[0]):
        if ":" in selector:
            pseudo = ":" + selector.split(":", 1)[1]
            if pseudo not in premailer.FILTER_PSEUDOSELECTORS and not pseudo.startswith(":nth-child"):
                return None  # premailer would write it as a pseudo-class block; themes.py keeps none
        path = premailer.CSSSelector(selector).path
        if "__lxml_internal_css" in path:  # needs lxml's own XPath functions
            return None
        compiled.append((path, tuple(premailer.csstext_to_pairs(block, validate=False))))
    return compiled


@functools.lru_cache(maxsize=1)
def _premailer() -> Any:
    """premailer, set up for wxpub: imported without requests, themes parsed once per process."""
    import types

    from lxml.cssselect import CSSSelector

    Premailer = _import_premailer()
    from premailer.merge_style import csstext_to_pairs
    from premailer.premailer import FILTER_PSEUDOSELECTORS

    options: dict[str, Any] = dict(
        allow_network=False,
        disable_validation=True,
        disable_leftover_css=True,
        remove_classes=True,
        strip_important=True,
        keep_style_tags=False,
        cssutils_logging_level="CRITICAL",
        align_floating_images=False,
    )

    @functools.lru_cache(maxsize=16)
    def theme_rules(css: str, ruleset_index: int) -> tuple[Any, ...]:
        rules, _leftover = Premailer(**options)._parse_style_rules(css, ruleset_index)
        return tuple(rules)

    class ThemePremailer(Premailer):  # type: ignore[misc, valid-type]
        """Premailer that parses a theme's rules once per process instead of once per post.

        The themes hold no rules it cannot inline (themes.py removed them), so nothing is left over.
        """

        def _parse_style_rules(self, css_body: str, ruleset_index: int) -> tuple[list[Any], list[Any]]:
            return list(theme_rules(css_body, ruleset_index)), []

        def _style_to_basic_html_attributes(self, element: Any, style_content: str, force: bool = False) -> None:
            """Write no e-mail-era attributes (align=, bgcolor=, width=…): WeChat reads the style."""

    return types.SimpleNamespace(
        themed=lambda css: ThemePremailer(css_text=css, **options),
        theme_rules=theme_rules,
        csstext_to_pairs=csstext_to_pairs,
        CSSSelector=CSSSelector,
        FILTER_PSEUDOSELECTORS=FILTER_PSEUDOSELECTORS,
    )


_PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True)
_DOCUMENT_TAGS = re.compile(r"</?(?:html|head|body)\b[^>]*>", re.IGNORECASE)


def _sanitise(root: Any, images: frozenset[str]) -> list[Notice]:
    """Keep only what the WeChat profile allows: its tags, their attributes, safe URLs and styles.

    A tag outside the profile is removed with its content when that content is code, media or
    plumbing (profile.REMOVED_WITH_CONTENT), and otherwise replaced by its content. The walk does
    not descend into what it removed, so each removal is reported once, at the line and column
    where the post wrote the tag.
    """
    notices: list[Notice] = []
    stack = list(reversed(root))
    while stack:
        element = stack.pop()
        if not isinstance(element.tag, str):  # comments and processing instructions
            _drop_tree(element)
            continue
        tag = element.tag.lower()
        # Where the tag was written in the post, marked by the raw HTML extension (mdext/rawhtml.py).
        line, col = parse_position(element.attrib.pop(POSITION, None))
        if tag == "center" or (tag in _ALIGNABLE and element.get("align") is not None):
            _align(element, tag)
        if tag in ("div", "center"):
            tag = element.tag = "section"  # the WeChat editor rewrites <div>s; a section stays as it is
        if tag in profile.REMOVED_WITH_CONTENT:
            notices.append(Notice("raw-html", f"removed <{tag}>: WeChat does not allow it in articles", line, col))
            _drop_tree(element)
            continue
        if tag == "li" and element.getparent().tag not in ("ul", "ol"):
            # An item written without its list, left raw: a paragraph with the theme's bullet.
            tag = element.tag = "p"
            element.text = f"• {element.text or ''}"
        if not profile.allowed_tag(tag):
            notices.append(Notice("raw-html", f"removed the tag <{tag}> and kept its text: WeChat does not keep it", line, col))
            children = list(element)
            _drop_tag(element)
            stack.extend(reversed(children))
            continue
        _sanitise_attributes(element, tag, notices, line, col)
        if tag == "img" and not element.get("src"):
            _drop_tree(element)  # nothing left to show
            continue
        if tag == "img" and element.get("src") not in images:
            # Only Markdown images are prepared and uploaded; WeChat filters any other source out.
            message = f"image '{element.get('src')}' would be dropped by WeChat: only images wxpub uploads may appear in an article"
            notices.append(Notice("foreign-image", message, line, col))
        if tag == "a" and not (element.get("href") and _wechat(element.get("href"))):
            if element.get("href"):
                # A link in raw HTML skipped the Markdown link rewrite; WeChat would refuse it.
                message = f"removed a raw HTML link to {element.get('href')}: write it as a Markdown link"
                notices.append(Notice("raw-html", message, line, col))
            children = list(element)
            _drop_tag(element)
            stack.extend(reversed(children))
            continue
        stack.extend(reversed(element))
    return notices


def _sanitise_attributes(element: Any, tag: str, notices: list[Notice], line: int | None, col: int | None) -> None:
    for name in list(element.attrib):
        lowered = name.lower()
        value = element.attrib[name]
        if lowered == "class":
            continue  # wxpub's own classes select the theme's rules; removed once it is inlined
        if lowered == "style":
            cleaned, removed = profile.clean_style(tag, value)
            for what in removed:
                notices.append(Notice("raw-html", f"removed {what} from <{tag}>", line, col))
            if cleaned:
                element.set(name, cleaned)
            else:
                del element.attrib[name]
        elif not profile.allowed_attribute(tag, lowered, value):
            del element.attrib[name]
            if lowered.startswith("on"):
                notices.append(Notice("raw-html", f"removed {lowered}= from <{tag}>: scripts do not run in WeChat", line, col))
            elif lowered in profile.URL_ATTRIBUTES or lowered.endswith(":href"):
                scheme = profile.url_scheme(value) or "this kind of"
                message = f"removed {lowered}= from <{tag}>: {scheme} URLs are not allowed in WeChat articles"
                notices.append(Notice("raw-html", message, line, col))
            # Anything else (id, data-*, width=…) is removed quietly: WeChat strips or ignores it.


_ALIGNABLE = frozenset("p div center section h1 h2 h3 h4 h5 h6 td th figure blockquote".split())


def _align(element: Any, tag: str) -> None:
    """`align="center"` (what READMEs centre with) as the style WeChat keeps; `<center>` likewise.

    A centred paragraph must not keep the theme's first-line indent, or its text sits off-centre.
    """
    value = "center" if tag == "center" else (element.attrib.pop("align", "") or "").strip().lower()
    if tag not in _ALIGNABLE or value not in ("left", "center", "right", "justify"):
        return
    element.set("style", f"text-align:{value};" + (element.get("style") or ""))
    if value in ("center", "right"):
        for paragraph in element.iter("p"):
            if paragraph is not element and not paragraph.get("align"):
                paragraph.set("style", "text-indent:0;" + (paragraph.get("style") or ""))
        if tag == "p":
            element.set("style", "text-indent:0;" + element.get("style"))


def _parse(html: str) -> Any:
    """The fragment inside a `<section class="wxpub">` root.

    The root is added after parsing, so a stray `</section>` in the post's raw HTML cannot close
    it early and leave the rest of the article outside. Plain lxml elements rather than
    lxml.html's: the same tree, without a class lookup per node.
    """
    # Document tags can only come from raw HTML in the post; the parser would stop at `</html>`.
    html = _DOCUMENT_TAGS.sub("", html)
    document = etree.fromstring(f"<html><body>{html}</body></html>", _PARSER) if html.strip() else None
    body = document.find("body") if document is not None else None
    root = etree.Element("section", {"class": "wxpub"})
    if body is not None:
        root.text = body.text
        root.extend(list(body))
    return root


def _drop_tree(element: Any) -> None:
    """Remove `element` and its content, keeping the text that follows it."""
    parent, tail = element.getparent(), element.tail
    previous = element.getprevious()
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


def _drop_tag(element: Any) -> None:
    """Replace `element` by its content."""
    parent = element.getparent()
    index = parent.index(element)
    previous = element.getprevious()
    text = element.text or ""
    if previous is not None:
        previous.tail = (previous.tail or "") + text
    else:
        parent.text = (parent.text or "") + text
    children = list(element)
    tail = element.tail or ""
    parent.remove(element)
    for offset, child in enumerate(children):
        parent.insert(index + offset, child)
    if children:
        children[-1].tail = (children[-1].tail or "") + tail
    elif previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail


def _wechat(url: str) -> bool:
    from .urls import is_wechat_link

    return is_wechat_link(url)


_BOLD = re.compile(r"(?:^|(?<=;))font-weight:(?:bold|700)(?=;|$)")
_UA_BOLD = frozenset("b strong h1 h2 h3 h4 h5 h6 th".split())


def _bold_is_bolder(element: Any, inherited: tuple[tuple[str, str], ...]) -> bool:
    """Whether `<b>` (font-weight: bolder) would be plain bold here: nothing around it is bold already."""
    if dict(inherited).get("font-weight", "normal") not in ("normal", "400"):
        return False
    return not any(isinstance(a.tag, str) and (a.tag in _UA_BOLD or _BOLD.search(a.get("style") or "")) for a in element.iterancestors())


def _compact(root: Any, inherited: tuple[tuple[str, str], ...]) -> None:
    """Drop what repeats the parent or the default, and write the rest without spaces.

    A loop over a stack, not recursion: raw HTML can nest deeper than Python's recursion limit."""
    stack = [(root, inherited)]
    while stack:
        element, inherited = stack.pop()
        child_inherited = _compact_one(element, inherited)
        for child in element:
            if isinstance(child.tag, str):
                stack.append((child, child_inherited))
            if child.tail and not child.tail.strip():
                if child.tag in BLOCK_TAGS or child.getnext() is None:
                    child.tail = None  # invisible, yet it counts against WeChat's limit
                else:
                    # A space between two inline elements ("<b>a</b> <i>b</i>"): the WeChat editor
                    # drops text nodes that hold only whitespace, so make it a no-break space.
                    child.tail = "\u00a0"


def _compact_one(element: Any, inherited: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Compact one element's own style; return what its children inherit."""
    style = element.get("style")
    child_inherited = inherited
    if style is not None:
        compact, child_inherited = _compact_style(element.tag, style, inherited)
        if element.tag == "span" and _BOLD.search(compact) and _bold_is_bolder(element, inherited):
            # <b style="…">, not <span style="…;font-weight:bold">: the same look, 23 characters fewer.
            element.tag = "b"
            compact = _BOLD.sub("", compact).strip(";").replace(";;", ";")
        if compact:
            element.set("style", compact)
        else:
            del element.attrib["style"]
    if element.text and not element.text.strip() and len(element) and element[0].tag in BLOCK_TAGS:
        element.text = None
    return child_inherited


@functools.lru_cache(maxsize=8192)
def _compact_style(
    tag: str, style: str, inherited: tuple[tuple[str, str], ...]
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """One element's style, compacted, and the inherited values its children see.

    Cached: an article repeats the same few (tag, style, context) triples hundreds of times.
    """
    parent = dict(inherited)
    kept: list[tuple[str, str]] = []
    for prop, value in profile.declarations(style):
        if prop.startswith("--") or "var(" in value:
            continue
        value = _short(value)
        kept = [(p, v) for p, v in kept if p != prop]  # the later declaration wins
        if (prop, value) in DEFAULTS.get(tag, ()) or (prop, value) in INITIAL:
            continue
        if prop in INHERITED:
            if value == "inherit":  # what an inherited property does anyway
                continue
            if parent.get(prop) == value and prop not in UA_SETS.get(tag, ()) and not _RELATIVE.search(value):
                continue
        elif tag in _NO_UA_BOX and prop in ("margin", "padding") and value == "0":
            continue
        kept.append((prop, value))
    # The last guard of the WeChat profile: sanitiser and themes have already reported what they
    # removed; this holds styles made elsewhere (a Pygments style's black, say) to it too.
    cleaned, _ = profile.clean_style(tag, ";".join(f"{p}:{v}" for p, v in kept))
    kept = list(profile.declarations(cleaned))
    inherited_here = {p: v for p, v in kept if p in INHERITED}
    if inherited_here:
        child = {**parent, **inherited_here}
        for prop, value in inherited_here.items():
            if _RELATIVE.search(value):
                child[prop] = "\0"  # relative sizes compound: never equal to a child's
        inherited = tuple(sorted(child.items()))
    return ";".join(f"{p}:{v}" for p, v in shortest(kept)), inherited


def _short(value: str) -> str:
    value = _HEX6.sub(lambda m: short_color(m.group(0)), value)
    value = _SPACES.sub(r"\1", value)
    value = _ZERO.sub("0", value)
    value = _LEADING_ZERO.sub(r".\1", value)
    return value.replace("!important", "").strip()
