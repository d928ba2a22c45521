"""The WeChat profile: the tags, attributes, URL schemes and CSS the output may use.

WeChat publishes no such list. This table is what other converters' code and users' reports show
WeChat keeping, with the risky parts left out or replaced:

* no styles on `<tr>` (reportedly ignored): borders and backgrounds go on the cells;
* no `display:flex`/`grid` (contested): list rows are built without them;
* no pure black colour (`#000`, `black`, `rgb(0,0,0)`): the editor swallows it; `#010101` looks
  the same and survives;
* no `!important` (it defeats WeChat's dark mode), no `position`/`top`… (stripped), no `var()`,
  no `expression()`/`behavior`/`-moz-binding` (they run code), no `url()` but one https image in
  a background;
* SVG sized in px or em, never in % (WeChat ignores `width="100%"`); no `<defs>`, `<use>`,
  `url(#…)` or filters (stripped);
* links only over http, https and mailto; images over http(s) or a path that wxpub uploads.

The sanitiser (inline.py), themes, `wxpub check` and the sandbox all ask this module, so a rule has
one home. Standard library only and cheap to import: `wxpub check` runs as a pre-commit hook.
"""

from __future__ import annotations

import functools

import re
from typing import Callable

# --- tags and attributes ----------------------------------------------------------------------

# Attributes any allowed HTML element may carry. `class` and `id` are not here: WeChat strips
# them (wxpub's own classes exist only until the theme is inlined).
GLOBAL_ATTRIBUTES = frozenset({"style", "title", "dir", "lang"})

_HTML: dict[str, frozenset[str]] = {
    tag: frozenset()
    for tag in (
        "section p span br strong b em i u s del ins mark sup sub small code kbd samp var pre "
        "blockquote h1 h2 h3 h4 h5 h6 hr ul ol li dl dt dd table thead tbody tfoot tr th td caption "
        "figure figcaption abbr cite q"
    ).split()
}
_HTML.update(
    {
        "a": frozenset({"href"}),
        "img": frozenset({"src", "alt"}),  # sizes in style: WeChat reads width=/height= unreliably
        "ol": frozenset({"start", "reversed", "type"}),
        "li": frozenset({"value"}),
        "th": frozenset({"colspan", "rowspan", "scope"}),
        "td": frozenset({"colspan", "rowspan"}),
        "col": frozenset({"span"}),
        "colgroup": frozenset({"span"}),
        "blockquote": frozenset({"cite"}),
        "q": frozenset({"cite"}),
    }
)

# SVG as WeChat keeps it: shapes, paths and text, painted with plain colours. defs, use, symbol,
# clipPath, mask, filter, pattern, gradients, markers, image, a and foreignObject are left out.
_SVG_PAINT = frozenset(
    "fill fill-opacity fill-rule stroke stroke-width stroke-linecap stroke-linejoin stroke-miterlimit "
    "stroke-dasharray stroke-dashoffset stroke-opacity opacity transform style font-size font-family "
    "font-weight font-style text-anchor visibility vector-effect shape-rendering".split()
)
_SVG: dict[str, frozenset[str]] = {
    "svg": _SVG_PAINT | {"xmlns", "viewbox", "width", "height", "preserveaspectratio", "version", "role", "focusable", "aria-hidden"},
    "g": _SVG_PAINT,
    "path": _SVG_PAINT | {"d"},
    "rect": _SVG_PAINT | {"x", "y", "width", "height", "rx", "ry"},
    "circle": _SVG_PAINT | {"cx", "cy", "r"},
    "ellipse": _SVG_PAINT | {"cx", "cy", "rx", "ry"},
    "line": _SVG_PAINT | {"x1", "y1", "x2", "y2"},
    "polyline": _SVG_PAINT | {"points"},
    "polygon": _SVG_PAINT | {"points"},
    "text": _SVG_PAINT | {"x", "y", "dx", "dy", "rotate", "textlength", "lengthadjust"},
    "tspan": _SVG_PAINT | {"x", "y", "dx", "dy", "rotate"},
}

# MathML presentation markup (no links, no actions, no annotations).
_MATHML_ATTRIBUTES = frozenset(
    "xmlns display displaystyle scriptlevel mathvariant mathsize mathcolor mathbackground dir "
    "stretchy fence separator form lspace rspace minsize maxsize symmetric largeop movablelimits "
    "accent accentunder linethickness numalign denomalign bevelled notation width height depth "
    "columnalign rowalign columnspacing rowspacing columnlines rowlines frame framespacing "
    "columnspan rowspan align style".split()
)
_MATHML: dict[str, frozenset[str]] = {
    tag: _MATHML_ATTRIBUTES
    for tag in (
        "math mrow mi mo mn ms mtext mspace msup msub msubsup mfrac msqrt mroot munder mover "
        "munderover mmultiscripts mprescripts none mtable mtr mtd mstyle mpadded mphantom menclose "
        "merror mfenced semantics"
    ).split()
}

# tag -> the attributes it may carry (GLOBAL_ATTRIBUTES too, for HTML tags).
TAGS: dict[str, frozenset[str]] = {
    **{tag: names | GLOBAL_ATTRIBUTES for tag, names in _HTML.items()},
    **_SVG,
    **_MATHML,
}

# Tags outside the profile whose content goes with them: it is code, another page, a form, media,
# hidden source (TeX in <annotation>) or SVG plumbing that would show up as text. Any other tag
# outside the profile is unwrapped: its text stays.
REMOVED_WITH_CONTENT = frozenset(
    (
        "script style iframe frame frameset object embed applet form input button select textarea "
        "option link meta base noscript template canvas audio video source track dialog title head "
        "defs use symbol clippath mask filter pattern lineargradient radialgradient marker "
        "foreignobject metadata desc image switch animate animatemotion animatetransform set "
        "annotation annotation-xml"
    ).split()
)

# --- URLs --------------------------------------------------------------------------------------

# Attribute -> the schemes it may use; "" allows a URL without a scheme (a path, for images the
# publisher uploads). javascript:, vbscript: and data: are never among them.
URL_ATTRIBUTES: dict[str, frozenset[str]] = {
    "href": frozenset({"http", "https", "mailto"}),
    "src": frozenset({"http", "https", ""}),
    "cite": frozenset({"http", "https"}),
}
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")
# Browsers ignore ASCII whitespace and control characters inside a scheme ("java\tscript:").
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f]+")


def url_scheme(url: str) -> str:
    """The scheme of `url` as a browser reads it, lower case; "" for a relative URL."""
    match = _SCHEME.match(_IGNORED_IN_URL.sub("", url).lower())
    return match.group(1) if match else ""


def allowed_tag(tag: str) -> bool:
    """Whether the output may contain `<tag>` (HTML, SVG or MathML; case-insensitive)."""
    return tag.lower() in TAGS


def allowed_attribute(tag: str, name: str, value: str) -> bool:
    """Whether `<tag name="value">` may be in the output (URL-valued attributes judged by scheme)."""
    tag, name = tag.lower(), name.lower()
    if name not in TAGS.get(tag, ()):
        return False
    schemes = URL_ATTRIBUTES.get(name)
    if schemes is not None:
        return url_scheme(value) in schemes
    if tag in _SVG:
        if "url(" in value.lower():  # references to <defs>, which WeChat strips
            return False
        if tag == "svg" and name in ("width", "height") and "%" in value:
            return False  # WeChat ignores percentage sizes on SVG
    if name == "style":
        return not style_violations(tag, value)
    return True


# --- CSS ---------------------------------------------------------------------------------------

# A rule for a property's values: None when the value is inside the profile, else why not.
ValueRule = Callable[[str], "str | None"]


def _any(value: str) -> str | None:
    return None


def _keywords(*allowed: str) -> ValueRule:
    words = frozenset(allowed)

    def rule(value: str) -> str | None:
        return None if value.lower() in words else f"only {', '.join(sorted(words))}"

    return rule


_DISPLAY = frozenset({"block", "inline", "inline-block", "table", "table-cell", "list-item", "none"})


def _display(value: str) -> str | None:
    if value.lower() in _DISPLAY:
        return None
    if "flex" in value.lower() or "grid" in value.lower() or "box" in value.lower():
        return "WeChat may not keep flex or grid layout"
    return f"only {', '.join(sorted(_DISPLAY))}"


def _background(value: str) -> str | None:
    urls = re.findall(r"url\(\s*['\"]?([^'\")]*)", value, re.IGNORECASE)
    if len(urls) > 1:
        return "WeChat keeps one background image at most"
    if urls and url_scheme(urls[0]) != "https":
        return "a background image must be an https URL"
    return None


# property -> the rule for its values (besides the general ones: no black, no url(), no !important…).
# A property not here is outside the profile.
PROPERTIES: dict[str, ValueRule] = {
    **{
        prop: _any
        for prop in (
            "color background-color border border-top border-right border-bottom border-left "
            "border-color border-top-color border-right-color border-bottom-color border-left-color "
            "border-width border-top-width border-right-width border-bottom-width border-left-width "
            "border-style border-top-style border-right-style border-bottom-style border-left-style "
            "border-radius border-top-left-radius border-top-right-radius border-bottom-left-radius "
            "border-bottom-right-radius border-collapse border-spacing "
            "margin margin-top margin-right margin-bottom margin-left "
            "padding padding-top padding-right padding-bottom padding-left "
            "width height min-width max-width min-height max-height "
            "font font-size font-weight font-style font-family font-variant line-height "
            "letter-spacing word-spacing text-align text-indent text-decoration text-transform "
            "text-shadow vertical-align word-break overflow-wrap word-wrap opacity box-sizing "
            "box-shadow transform transform-origin caption-side table-layout list-style-type "
            "list-style-position -webkit-text-size-adjust"
        ).split()
    },
    "background": _background,
    "background-image": _background,
    "background-size": _any,
    "background-position": _any,
    "background-repeat": _any,
    "display": _display,
    "overflow": _keywords("auto", "hidden", "scroll", "visible"),
    "overflow-x": _keywords("auto", "hidden", "scroll", "visible"),
    "overflow-y": _keywords("auto", "hidden", "scroll", "visible"),
    # WeChat does not honour pre/pre-wrap (code keeps its spaces as U+00A0 instead).
    "white-space": _keywords("normal", "nowrap"),
    "float": _keywords("left", "right", "none"),
    "clear": _keywords("left", "right", "both", "none"),
}

_REASONS_LEFT_OUT = {
    "position": "WeChat strips position",
    "top": "WeChat strips position",
    "left": "WeChat strips position",
    "right": "WeChat strips position",
    "bottom": "WeChat strips position",
    "z-index": "WeChat strips position",
    "behavior": "it runs code",
    "-moz-binding": "it runs code",
    "animation": "WeChat does not animate articles",
    "transition": "WeChat does not animate articles",
    "content": "generated content needs ::before/::after, which cannot be inlined",
}
_BLACK = re.compile(
    r"(?<![\w-])(?:#000(?:000)?(?:f|ff)?\b|black\b|rgba?\(\s*0\s*[,\s]\s*0\s*[,\s]\s*0\s*(?:[,/]\s*(?:1|1\.0*|100%)\s*)?\))",
    re.IGNORECASE,
)
# Substitute for pure black, visually the same.
NEAR_BLACK = "#010101"
COLOR_PROPERTIES = frozenset({"color", "background", "background-color", "text-shadow", "box-shadow"}) | {
    p for p in PROPERTIES if p.startswith("border") and not p.endswith(("radius", "collapse", "spacing", "width", "style"))
}
# Properties whose values are lengths that WeChat ignores on SVG when given in %.
_SVG_SIZES = frozenset({"width", "height", "max-width", "min-width", "max-height", "min-height"})
_SVG_TAGS = frozenset(_SVG)


@functools.lru_cache(maxsize=8192)
def declarations(style: str) -> tuple[tuple[str, str], ...]:
    """`prop:value` pairs of an inline style, in order; property names in lower case, an
    `!important` kept at the end of its value. The one CSS declaration parser of wxpub: tinycss2,
    which reads quotes, escapes, comments and `url(a;b)` as CSS does."""
    import tinycss2

    out = []
    for node in tinycss2.parse_blocks_contents(style, skip_whitespace=True, skip_comments=True):
        if node.type != "declaration":
            continue
        value = tinycss2.serialize(node.value).strip()
        if value:
            out.append((node.lower_name, value + (" !important" if node.important else "")))
    return tuple(out)


def declaration_violation(tag: str, prop: str, value: str) -> str | None:
    """Why `prop:value` on `<tag>` is outside the profile, or None when it is inside."""
    tag, prop = tag.lower(), prop.lower()
    lowered = value.lower()
    if prop.startswith("--") or "var(" in lowered:
        return "custom properties and var() do not reach WeChat"
    if "!important" in lowered.replace(" ", ""):
        return "!important defeats WeChat's dark mode"
    if "expression(" in lowered or "javascript:" in lowered:
        return "it runs code"
    if tag == "tr":
        return "WeChat ignores styles on <tr>: put them on the cells"
    rule = PROPERTIES.get(prop)
    if rule is None:
        return _REASONS_LEFT_OUT.get(prop, "not in the WeChat profile")
    if "url(" in lowered and prop not in ("background", "background-image"):
        return "url() only in a background image"
    if prop in COLOR_PROPERTIES and _BLACK.search(value):
        return f"the WeChat editor swallows pure black: use {NEAR_BLACK}"
    if tag in _SVG_TAGS and prop in _SVG_SIZES and "%" in value:
        return "WeChat ignores % sizes on SVG: give px or em"
    return rule(value)


def style_violations(tag: str, style: str) -> list[str]:
    """Each declaration of `style` on `<tag>` outside the profile, as `'prop:value' (why)`."""
    out = []
    for prop, value in declarations(style):
        reason = declaration_violation(tag, prop, value)
        if reason:
            out.append(f"'{prop}:{value}' ({reason})")
    return out


def clean_style(tag: str, style: str) -> tuple[str, list[str]]:
    """`style` without the declarations outside the profile, and those removed (as style_violations names them).

    Pure black is not removed but replaced by NEAR_BLACK, which looks the same.
    """
    kept, removed = [], []
    for prop, value in declarations(style):
        if prop in COLOR_PROPERTIES and _BLACK.search(value):
            value = _BLACK.sub(NEAR_BLACK, value)
        reason = declaration_violation(tag, prop, value)
        if reason:
            removed.append(f"'{prop}:{value}' ({reason})")
        else:
            kept.append(f"{prop}:{value}")
    return ";".join(kept), removed
