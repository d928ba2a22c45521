"""Math: `$…$`, `\\(…\\)`, `$$…$$` and `\\[…\\]` drawn as inline SVG (pure Python, via ziamath).

Drawn in `currentColor`. WeChat keeps inline SVG but strips `<defs>`, `<use>`, `id` and `url(#…)`,
so every glyph is drawn as a plain path. Each formula is measured in `em`, so it follows the size
of the text around it; an inline formula is lowered with `vertical-align` so that its baseline is the text's baseline.
WeChat counts every character of the article against its limit, so the paths are written with
relative integer coordinates and one `<path>` per colour.

A drawing cannot wrap. A display formula sits in a block that scrolls sideways; an inline formula
that may be wider than its column sits in an inline box that is never wider than the column and
scrolls likewise (WeChat ignores % sizes on SVG, so the box, not the SVG, is limited). A formula
wider than a phone's column is reported: readers would have to scroll to read it.

    render_inline(r"E=mc^2", 16)      -> '<svg …>'                 (raises MathError)
    render_display(r"\\sum_i x_i", 16) -> '<section …><svg …></section>'
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as etree
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, NamedTuple

from markdown import Markdown
from markdown.blockprocessors import BlockProcessor
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.util import AtomicString

__all__ = ["MathError", "MathExtension", "MathWarning", "makeExtension", "render_display", "render_inline", "width_px"]

# Path coordinates are rounded to 1/GRID_PER_PX of a CSS pixel at the given font size. At 6 per
# pixel the error stays under a device pixel on a 3x phone screen and most relative coordinates
# are one or two digits (8 looks the same and costs 6% more characters; 4 saves 6%).
GRID_PER_PX = 6
# Blank units around the ink, so anti-aliased edges are not clipped by the SVG viewport.
PAD = 1
# WeChat's article column on a 375 px phone: 343 px between its 16 px margins, less the few px
# the built-in themes pad the article with. A wider formula cannot be read without scrolling.
PHONE_COLUMN_PX = 331
# An inline formula wider than this may not fit the column it sits in (a quote, a list, a list
# in a quote narrow the column to about 240 px), so it goes in a box that scrolls; narrower ones
# wrap to the next line like a word, and cost no extra characters.
INLINE_SCROLL_PX = 240


class MathError(ValueError):
    """A TeX formula that cannot be drawn; `str()` says why."""


# ---------------------------------------------------------------------------------------------
# The pure functions


def render_inline(tex: str, font_size_px: float) -> str:
    """Draw `tex` in text style as an `<svg>` that sits on the text baseline; a wide one in a
    box as wide as the column at most, that scrolls sideways."""
    drawing = _render(tex.strip(), float(font_size_px), False)
    return _inline(drawing, scrolls=drawing.width_em * font_size_px > INLINE_SCROLL_PX)


def render_display(tex: str, font_size_px: float) -> str:
    """Draw `tex` in display style, centred in its own block that scrolls sideways when too wide."""
    drawing = _render(tex.strip(), float(font_size_px), True)
    # A block with auto margins is centred, and when it is wider than the column its left edge
    # stays put so the wrapper scrolls; max-width:none stops it from being squeezed.
    svg = drawing.svg(f"display:block;margin:0 auto;max-width:none;{drawing.size}")
    return f'<section style="margin:1em 0;overflow-x:auto;overflow-y:hidden">{svg}</section>'


def width_px(tex: str, font_size_px: float, display: bool = False) -> float:
    """How wide `tex` is drawn, in CSS px, with text of `font_size_px` (raises MathError)."""
    return _render(tex.strip(), float(font_size_px), display).width_em * font_size_px


def _inline(drawing: _Drawing, scrolls: bool) -> str:
    if not scrolls:
        return drawing.svg(f"{drawing.size};vertical-align:{drawing.lower}")
    # An inline-block that clips its overflow has its baseline at its bottom edge: lowered as the
    # SVG would be, the formula's baseline stays on the text's. The SVG is a block inside it, so
    # the box is exactly as tall as the drawing.
    svg = drawing.svg(f"display:block;max-width:none;{drawing.size}")
    box = f"display:inline-block;max-width:100%;overflow-x:auto;overflow-y:hidden;vertical-align:{drawing.lower}"
    return f'<span style="{box}">{svg}</span>'


@lru_cache(maxsize=1024)
def _render(tex: str, font_size_px: float, display: bool) -> _Drawing:
    if not tex:
        raise MathError("empty formula")
    if font_size_px <= 0:
        raise ValueError(f"font size must be positive, not {font_size_px}")
    units_per_em = max(round(font_size_px * GRID_PER_PX), 16)
    svg, bbox = _ziamath_svg(tex, units_per_em, display)
    return _compact_svg(svg, bbox, units_per_em)


@contextmanager
def _ziamath_settings() -> Iterator[Any]:
    """ziamath's settings are global: set ours for one drawing and put theirs back afterwards."""
    import ziamath  # imported here: it loads a font and takes a quarter of a second

    cfg = ziamath.config
    saved = (cfg.svg2, cfg.precision, cfg.math.color, cfg.math.background, cfg.numbering.autonumber)
    # svg2=False draws each glyph as a <path> instead of <symbol> + <use href="#id">.
    cfg.svg2, cfg.precision = False, 4
    cfg.math.color, cfg.math.background = "currentColor", "none"
    cfg.numbering.autonumber = False
    try:
        yield ziamath
    finally:
        (cfg.svg2, cfg.precision, cfg.math.color, cfg.math.background,
         cfg.numbering.autonumber) = saved


# latex2mathml passes an unknown command through as text; ziamath would then draw "\foo" literally.
_UNKNOWN_COMMAND = re.compile(r"\\[A-Za-z]+")


def _ziamath_svg(tex: str, size: int, display: bool) -> tuple[etree.Element, Any]:
    with _ziamath_settings() as ziamath:
        try:
            formula = ziamath.Latex(tex, size=size, inline=not display, margin=0)
        except Exception as exc:  # latex2mathml and ziamath raise many unrelated types
            detail = str(exc).strip() or type(exc).__name__
            raise MathError(f"cannot parse TeX ({detail})") from exc
        for element in formula.mathml.iter():
            if element.tag == "merror":
                raise MathError("cannot parse TeX")
            if element.text and (unknown := _UNKNOWN_COMMAND.search(element.text)):
                raise MathError(f"unknown TeX command {unknown.group(0)}")
        # The bundled math font has no CJK; a missing glyph would be drawn as an empty box.
        text = "".join(element.text or "" for element in formula.mathml.iter())
        missing = dict.fromkeys(c for c in text if not c.isspace() and formula.font.glyphindex(c) == 0)
        if missing:
            raise MathError(f"the math font has no {''.join(missing)!r}")
        svg = etree.Element("svg")
        formula.node.draw(0, 0, svg)
        return svg, formula.node.bbox


# ---------------------------------------------------------------------------------------------
# Compacting ziamath's SVG

_PATH_TOKEN = re.compile(r"[MLQCZ]|-?[\d.]+(?:e-?\d+)?")
_ARGC = {"M": 2, "L": 2, "Q": 4, "C": 6, "Z": 0}


@dataclass(frozen=True)
class _Drawing:
    """A formula's shapes and sizes, to be written as an `<svg>` with the style its place needs."""

    view_box: str
    shapes: str
    size: str  # "width:…em;height:…em"
    lower: str  # the vertical-align that puts the formula's baseline on the text's
    width_em: float

    def svg(self, style: str) -> str:
        # No xmlns: in HTML an <svg> is an SVG element without one, and it would cost 34
        # characters of WeChat's budget per formula.
        return f'<svg viewBox="{self.view_box}" style="{style}">{self.shapes}</svg>'


def _compact_svg(svg: etree.Element, bbox: Any, units_per_em: int) -> _Drawing:
    """Rewrite ziamath's drawing as short shapes: merged per fill, no ids, no defs."""
    # The drawing's baseline is y=0 with y pointing down; move the top-left corner to 0,0.
    x0 = math.floor(bbox.xmin) - PAD
    y0 = math.floor(-bbox.ymax) - PAD
    width = math.ceil(bbox.xmax) + PAD - x0
    height = math.ceil(-bbox.ymin) + PAD - y0
    fills: dict[str, _PathWriter] = {}
    strokes: list[str] = []

    def walk(element: etree.Element, inherited_fill: str) -> None:
        fill = element.get("fill", inherited_fill)
        if element.tag in ("defs", "title", "marker"):
            return  # arrowheads on \cancel-like notations need url(#…), which WeChat strips
        if element.tag in ("path", "rect") and element.get("stroke") is None:
            writer = fills.setdefault(fill, _PathWriter(x0, y0))
            if element.tag == "path":
                writer.add_path(element.get("d", ""))
            else:
                writer.add_rect(*(float(element.get(k, 0)) for k in ("x", "y", "width", "height")))
        elif element.tag in ("path", "rect", "ellipse", "line"):
            strokes.append(_stroked(element, x0, y0))
        for child in element:
            walk(child, fill)

    walk(svg, "currentColor")
    shapes = [f'<path fill="{_attr(fill)}" d="{writer.d()}"/>' for fill, writer in fills.items()]
    shapes += strokes
    return _Drawing(
        view_box=f"0 0 {width} {height}",
        shapes="".join(shapes),
        size=f"width:{_em(width, units_per_em)};height:{_em(height, units_per_em)}",
        lower=_em(-(y0 + height), units_per_em),
        width_em=width / units_per_em,
    )


class _PathWriter:
    """Collects absolute path commands and writes them relative, on an integer grid."""

    def __init__(self, dx: int, dy: int) -> None:
        self._dx, self._dy = dx, dy
        self._parts: list[str] = []
        self._last_cmd = ""
        self._cur = (0, 0)
        self._start = (0, 0)
        self._ctrl: tuple[int, int] | None = None  # last quadratic control point, for "t"

    def _point(self, x: float, y: float) -> tuple[int, int]:
        return round(x) - self._dx, round(y) - self._dy

    def _emit(self, cmd: str, *numbers: int) -> None:
        # A repeated command letter may be left out, and so may "l" straight after "m" (but a
        # second "m" must be written: numbers after an "m" mean lines).
        if cmd == "m" or (cmd != self._last_cmd and not (cmd == "l" and self._last_cmd == "m")):
            self._parts.append(cmd)
        for n in numbers:
            text = str(n)
            if self._parts and self._parts[-1][-1].isdigit() and text[0].isdigit():
                self._parts.append(" ")
            self._parts.append(text)
        self._last_cmd = cmd

    def _relative(self, *points: tuple[int, int]) -> list[int]:
        cx, cy = self._cur
        return [v for x, y in points for v in (x - cx, y - cy)]

    def move(self, p: tuple[int, int]) -> None:
        self._emit("m", *self._relative(p))
        self._cur = self._start = p
        self._ctrl = None

    def line(self, p: tuple[int, int]) -> None:
        if p == self._cur:
            return
        dx, dy = self._relative(p)
        if dy == 0:
            self._emit("h", dx)
        elif dx == 0:
            self._emit("v", dy)
        else:
            self._emit("l", dx, dy)
        self._cur = p
        self._ctrl = None

    def quad(self, ctrl: tuple[int, int], p: tuple[int, int]) -> None:
        (cx, cy), (qx, qy), (px, py) = self._cur, ctrl, p
        chord_x, chord_y = px - cx, py - cy
        chord = math.hypot(chord_x, chord_y)
        # A curve whose control point lies on the chord is a line (off by under half a unit).
        if chord and abs(chord_x * (qy - cy) - chord_y * (qx - cx)) <= 0.75 * chord and (
            0 <= chord_x * (qx - cx) + chord_y * (qy - cy) <= chord * chord
        ):
            self.line(p)
            return
        # TrueType puts the point between two curves halfway between their control points, so
        # the next control point is usually the mirror of the last: "t" then needs only the end.
        if self._ctrl is not None:
            mirror = (2 * cx - self._ctrl[0], 2 * cy - self._ctrl[1])
            if abs(mirror[0] - qx) <= 1 and abs(mirror[1] - qy) <= 1:
                self._emit("t", *self._relative(p))
                self._cur, self._ctrl = p, mirror  # the control point the viewer will use
                return
        self._emit("q", *self._relative(ctrl, p))
        self._cur, self._ctrl = p, ctrl

    def close(self) -> None:
        self._emit("z")
        self._last_cmd = ""  # after z a lone number would not mean a line
        self._cur = self._start
        self._ctrl = None

    def add_path(self, d: str) -> None:
        tokens = _PATH_TOKEN.findall(d)
        i = 0
        pending: list[tuple[str, list[tuple[int, int]]]] = []
        while i < len(tokens):
            cmd = tokens[i]
            args = [float(t) for t in tokens[i + 1 : i + 1 + _ARGC[cmd]]]
            i += 1 + _ARGC[cmd]
            points = [self._point(args[k], args[k + 1]) for k in range(0, len(args), 2)]
            pending.append((cmd, points))
        for n, (cmd, points) in enumerate(pending):
            if cmd == "M":
                self.move(points[0])
            elif cmd == "L":
                # a line back to the start just before "Z" is drawn by the Z itself
                closing = n + 1 < len(pending) and pending[n + 1][0] == "Z"
                if not (closing and points[0] == self._start):
                    self.line(points[0])
            elif cmd == "Z":
                self.close()
            elif cmd == "Q":
                self.quad(*points)
            else:
                self._emit("c", *self._relative(*points))
                self._cur = points[-1]
                self._ctrl = None

    def add_rect(self, x: float, y: float, width: float, height: float) -> None:
        left, top = self._point(x, y)
        right, bottom = self._point(x + width, y + height)
        if bottom == top:
            bottom = top + 1  # a rule thinner than the grid still has to show
        # Drawn down-right-up, the same turning direction as the font's outer contours, so that
        # where a rule overlaps a glyph (the bar of a square root) the nonzero fill stays solid.
        self.move((left, top))
        self.line((left, bottom))
        self.line((right, bottom))
        self.line((right, top))
        self.close()

    def d(self) -> str:
        return "".join(self._parts)


def _stroked(element: etree.Element, x0: int, y0: int) -> str:
    """A stroked shape (\\boxed, \\cancel): kept as its element, moved to the shifted origin."""
    attrs: dict[str, str] = {}
    for key, value in element.attrib.items():
        if key in ("id", "class", "marker-end", "marker-start") or "url(" in value:
            continue
        if key in ("x", "cx"):
            value = str(round(float(value)) - x0)
        elif key in ("y", "cy"):
            value = str(round(float(value)) - y0)
        elif key in ("width", "height", "rx", "ry", "stroke-width"):
            value = str(max(round(float(value)), 1))
        elif key == "d":
            writer = _PathWriter(x0, y0)
            writer.add_path(value)
            value = writer.d()
        attrs[key] = value
    attrs.setdefault("fill", "none")
    body = " ".join(f'{k}="{_attr(v)}"' for k, v in attrs.items())
    return f"<{element.tag} {body}/>"


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _em(units: float, units_per_em: int) -> str:
    text = f"{units / units_per_em:.3f}".rstrip("0").rstrip(".")
    text = text.replace("0.", ".", 1) if text.lstrip("-").startswith("0.") else text
    return f"{text}em" if text not in ("", "-0", "0") else "0"


# ---------------------------------------------------------------------------------------------
# The Markdown extension

# `$…$` as pandoc reads it: the opening `$` is not escaped and is followed by a non-space, the
# closing `$` follows a non-space and is not followed by a digit ("$5 and $10" stays text).
# A `\` inside the formula takes the next character with it, so `\$` never closes. Placeholders
# (\x02…\x03) of code spans that were already taken out are never part of a formula.
INLINE_MATH_RE = (
    r"(?:(?<![\\$])|(?<=(?<!\\)\\\\))"  # not after "\" (escaped) or "$", but after "\\" is fine
    r"\$(?![\s$])"
    r"((?:[^$\\\n\x02\x03]|\\[^\n\x02\x03]|\n(?![ \t]*\n))+?)"
    r"(?<!\s)\$(?!\d)"
)

# `\(…\)`, LaTeX's own inline delimiters (as pymdown's arithmatex reads them): the opening `\(` is
# not itself escaped ("\\(" is a backslash and a bracket), and the formula ends at the first `\)`
# that is not part of a `\\`. Within one paragraph, like `$…$`.
PAREN_MATH_RE = (
    r"(?:(?<!\\)|(?<=(?<!\\)\\\\))"
    r"\\\("
    r"((?:[^\\\n\x02\x03]|\\[^)\n\x02\x03]|\n(?![ \t]*\n))+?)"
    r"\\\)"
)

# `$$` at the start of a line (at most three spaces in, as more would be code) up to `$$` at the
# end of a line, within one block: blank lines end a display formula as they end a paragraph.
# `\[ … \]` likewise (LaTeX's display delimiters); `(1)` is what the `$$` form matched, `(2)` the other.
DISPLAY_MATH_RE = re.compile(r"(?ms)^[ ]{0,3}(?:\$\$(.+?)\$\$|\\\[(.+?)\\\])[ \t]*$")


class MathInlineProcessor(InlineProcessor):
    """Replaces `$…$` with its SVG, stashed so that later patterns leave the markup alone."""

    def __init__(
        self, pattern: str, md: Markdown, extension: MathExtension, delimiters: tuple[str, str] = ("$", "$")
    ) -> None:
        super().__init__(pattern, md)
        self.extension = extension
        self.delimiters = delimiters

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[Any, int, int]:  # noqa: N802
        markup = self.extension.render(m.group(1), display=False, delimiters=self.delimiters)
        if isinstance(markup, str):
            return self.md.htmlStash.store(markup), m.start(0), m.end(0)
        return markup, m.start(0), m.end(0)


class MathBlockProcessor(BlockProcessor):
    """Turns a `$$…$$` (one line or several) into a display formula, splitting the block around it."""

    def __init__(self, parser: Any, extension: MathExtension) -> None:
        super().__init__(parser)
        self.extension = extension

    def test(self, parent: etree.Element, block: str) -> bool:
        return DISPLAY_MATH_RE.search(block) is not None

    def run(self, parent: etree.Element, blocks: list[str]) -> None:
        block = blocks.pop(0)
        m = DISPLAY_MATH_RE.search(block)
        assert m is not None  # test() said so
        before, after = block[: m.start()].rstrip("\n"), block[m.end() :].lstrip("\n")
        if before.strip():
            self.parser.parseBlocks(parent, [before])
        dollars = m.group(1) is not None
        tex = m.group(1) if dollars else m.group(2)
        delimiters = ("$$", "$$") if dollars else ("\\[", "\\]")
        markup = self.extension.render(tex, display=True, delimiters=delimiters)
        if isinstance(markup, str):
            # A <p> holding only a placeholder of block-level HTML (<section>) is dropped whole
            # when the placeholder is swapped back, so no <p> wraps the formula in the output.
            etree.SubElement(parent, "p").text = self.parser.md.htmlStash.store(markup)
        else:
            etree.SubElement(parent, "p").append(markup)
        if after.strip():
            blocks.insert(0, after)


class MathWarning(NamedTuple):
    """What is wrong with a formula, the formula, and the formula as written (to find its line)."""

    message: str
    tex: str
    source: str


class MathExtension(Extension):
    """Inline and display math as SVG; formulas that cannot be drawn are listed in `warnings`."""

    def __init__(self, **kwargs: Any) -> None:
        self.config = {
            "font_size": [16.0, "Body text size in CSS pixels; sets the precision of the paths"],
            "simple_as_text": [False, "Write simple inline formulas as text, not as drawings (--fit)"],
        }
        super().__init__(**kwargs)
        # (message, tex) for every formula shown as source instead, or too wide for a phone
        # (display formulas are met first)
        self.warnings: list[MathWarning] = []

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802
        md.registerExtension(self)
        if "$" not in md.ESCAPED_CHARS:
            md.ESCAPED_CHARS.append("$")  # so "\$" shows a plain "$"
        # 185: after 'backtick' (190), so code spans claim their `$` first; before 'escape' (180),
        # so TeX's `\{`, `\\` and `\,` reach the formula untouched; and before 'link' (160) and
        # 'em_strong' (60), so `[`, `*` and `_` inside a formula stay TeX.
        md.inlinePatterns.register(MathInlineProcessor(INLINE_MATH_RE, md, self), "math-inline", 185)
        # 186: the same place for `\(…\)`, and before 'escape' (180), which would take the backslashes.
        md.inlinePatterns.register(
            MathInlineProcessor(PAREN_MATH_RE, md, self, ("\\(", "\\)")), "math-inline-paren", 186
        )
        # 72: after 'code' (80), so an indented `$$` stays code (fenced code is stashed earlier by
        # its preprocessor); before 'hashheader' (70) and 'paragraph' (10), so a `$$` line inside
        # a paragraph is split out rather than read as paragraph text.
        md.parser.blockprocessors.register(MathBlockProcessor(md.parser, self), "math-block", 72)

    def reset(self) -> None:
        self.warnings = []

    def render(self, tex: str, *, display: bool, delimiters: tuple[str, str] | None = None) -> str | etree.Element:
        """SVG markup for `tex`, or a monospace span with the source as written and a warning if it
        fails; a formula wider than a phone's column is drawn, with a warning."""
        font_size = float(self.getConfig("font_size"))
        if not display and self.getConfig("simple_as_text"):
            from .mathtext import as_text

            written = as_text(tex)
            if written is not None:
                for element in written.iter():  # text already, never Markdown
                    element.text = AtomicString(element.text) if element.text else None
                    element.tail = AtomicString(element.tail) if element.tail else None
                return written
        opening, closing = delimiters or (("$$", "$$") if display else ("$", "$"))
        source = f"{opening}{tex}{closing}"
        try:
            markup = render_display(tex, font_size) if display else render_inline(tex, font_size)
            wide = width_px(tex, font_size, display)
            if wide > PHONE_COLUMN_PX:
                self.warnings.append(MathWarning(
                    f"formula {wide:.0f} px wide (text at {font_size:g} px), wider than a phone's column of about "
                    f"{PHONE_COLUMN_PX} px: readers have to scroll sideways to read it; split it into shorter "
                    "formulas, or over lines in a display formula (\\begin{aligned}…\\\\…\\end{aligned})",
                    tex, source,
                ))
            return markup
        except MathError as exc:
            self.warnings.append(MathWarning(f"math not rendered: {exc} (the formula is shown as source)", tex, source))
            span = etree.Element("span", {"style": "font-family:monospace"})
            span.text = AtomicString(source)
            return span


def makeExtension(**kwargs: Any) -> MathExtension:  # noqa: N802
    return MathExtension(**kwargs)
