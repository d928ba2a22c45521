"""How WeChat recolours an article for dark mode, and how readable its text is in either mode.

WeChat's reader rewrites the inline colours of an article on the phone when dark mode is on; nothing
in the HTML opts in. `recolour()` does the same to a fragment, so the preview can show both modes,
and `contrast_problems()` measures every run of text against its background in both (WCAG 2.1),
so `wxpub check` can report what readers will struggle to read.

The rules, as WeChat's open-source dark-mode SDK applies them:
- only background, text, border and text-shadow colours change; a gradient counts as the mix of
  its colours; SVG is left alone (so math drawn in `currentColor` follows the text); a node with a
  background image is left alone and the text on it keeps the light background under it;
- the background is converted first, then the text colour relative to the converted background;
  a node with a background but no text colour gets one computed from the colour it inherits;
- `data-no-dark` on an element keeps its own colours.
Standard library plus tinycss2 (which parses CSS colours exactly as CSS defines them) and lxml.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterator, NamedTuple

PAGE_LIGHT = (255.0, 255.0, 255.0)
PAGE_DARK = (25.0, 25.0, 25.0)  # #191919, WeChat's dark page
TEXT_LIGHT = (26.0, 26.0, 26.0)  # rgba(0,0,0,.9) on white: text with no colour of its own
TEXT_DARK = (209.0, 209.0, 209.0)  # rgba(255,255,255,.8) on #191919

WHITE_BRIGHTNESS = 250  # a background (or text) at least this bright counts as white
GREY_LIGHTNESS = 40  # a pure grey background lighter than this (HSL %) is inverted
BG_MAX_BRIGHTNESS = 190  # a tinted background is brought down to this
BG_MIN_LIGHTNESS = 22  # a dark background is raised to this lightness (HSL %)
TEXT_MIN_GAP = 65  # text must differ from its background by this much perceived brightness
TEXT_MAX_ABOVE_PAGE = 230  # and is never made brighter than the page by more than this
ALPHA_IGNORED = 0.05

MIN_CONTRAST = 4.5  # WCAG 2.1 AA for body text

RGB = tuple[float, float, float]

_BACKGROUND = ("background", "background-color")
_BORDER = (
    "border", "border-color", "border-top", "border-right", "border-bottom", "border-left",
    "border-top-color", "border-right-color", "border-bottom-color", "border-left-color",
    "outline", "outline-color", "text-decoration", "text-decoration-color",
)


class Colour(NamedTuple):
    """A CSS colour as 0..255 channels and an alpha of 0..1."""

    r: float
    g: float
    b: float
    a: float = 1.0

    @property
    def rgb(self) -> RGB:
        return (self.r, self.g, self.b)


def parse_colour(text: str) -> Colour | None:
    """A CSS colour (hex, rgb(), hsl(), a name, transparent); None for anything else (currentColor too)."""
    from tinycss2.color3 import parse_color

    found = parse_color(text)
    if found is None or isinstance(found, str):
        return None
    return Colour(found.red * 255, found.green * 255, found.blue * 255, found.alpha)


def css(rgb: RGB) -> str:
    """The shortest #hex for an opaque colour."""
    r, g, b = (max(0, min(255, round(c))) for c in rgb)
    text = f"{r:02x}{g:02x}{b:02x}"
    if text[0] == text[1] and text[2] == text[3] and text[4] == text[5]:
        text = text[0] + text[2] + text[4]
    return "#" + text


def brightness(rgb: RGB) -> float:
    """Perceived brightness, 0..255 (the YIQ weighting the SDK uses)."""
    r, g, b = rgb
    return (299 * r + 587 * g + 114 * b) / 1000


def over(colour: Colour, under: RGB) -> RGB:
    """The opaque colour seen when `colour` is painted over `under`."""
    a = colour.a
    return (colour.r * a + under[0] * (1 - a), colour.g * a + under[1] * (1 - a), colour.b * a + under[2] * (1 - a))


def hsl(rgb: RGB) -> tuple[float, float, float]:
    """Hue 0..1, saturation 0..100, lightness 0..100."""
    h, l, s = colorsys.rgb_to_hls(*(c / 255 for c in rgb))
    return h, s * 100, l * 100


def from_hsl(h: float, s: float, l: float) -> RGB:
    r, g, b = colorsys.hls_to_rgb(h, max(0.0, min(100.0, l)) / 100, s / 100)
    return (r * 255, g * 255, b * 255)


def with_brightness(rgb: RGB, target: float) -> RGB:
    """`rgb` made exactly `target` bright: scaled down towards black, or mixed up towards white."""
    current = brightness(rgb)
    target = max(0.0, min(255.0, target))
    if target <= current:
        ratio = target / current if current else 0.0
        return (rgb[0] * ratio, rgb[1] * ratio, rgb[2] * ratio)
    k = (target - current) / (255 - current)
    return tuple(c + (255 - c) * k for c in rgb)  # type: ignore[return-value]


def dark_background(rgb: RGB) -> RGB:
    """A background as WeChat shows it in dark mode (already mixed over what lies under it)."""
    h, s, l = hsl(rgb)
    if (s == 0 and l > GREY_LIGHTNESS) or brightness(rgb) > WHITE_BRIGHTNESS:
        # White and light greys are inverted about the dark page's lightness, so white becomes the page.
        # The result is a pure grey whatever the tint: the SDK writes `Color.hsl(0, 0, …)` here
        # (src/modules/sdk.js _adjustBackgroundBrightness, unchanged since v1.0.0), so a near-white
        # paper such as #fdfbf7 (HSL saturation 60) turns dark grey, not brown.
        return from_hsl(0, 0, min(100.0, 100 + hsl(PAGE_DARK)[2] - l))
    if brightness(rgb) > BG_MAX_BRIGHTNESS:
        return with_brightness(rgb, BG_MAX_BRIGHTNESS)
    if l < BG_MIN_LIGHTNESS:
        return from_hsl(h, s, BG_MIN_LIGHTNESS)
    return rgb


def dark_text(rgb: RGB, background: RGB) -> RGB:
    """A text (or border) colour as WeChat shows it in dark mode over the converted `background`."""
    text_b, bg_b = brightness(rgb), brightness(background)
    if text_b >= WHITE_BRIGHTNESS or abs(text_b - bg_b) >= TEXT_MIN_GAP:
        return rgb
    h, s, l = hsl(rgb)
    flipped = from_hsl(h, s, 90 - l)
    flipped_b = brightness(flipped)
    if abs(flipped_b - bg_b) < TEXT_MIN_GAP:
        # Flipping is not enough: move the brightness just far enough from the background.
        target = bg_b + TEXT_MIN_GAP if bg_b + TEXT_MIN_GAP <= 255 else bg_b - TEXT_MIN_GAP
        flipped = with_brightness(rgb, target)
    ceiling = brightness(PAGE_DARK) + TEXT_MAX_ABOVE_PAGE
    return with_brightness(flipped, ceiling) if brightness(flipped) > ceiling else flipped


# --- styles -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Decl:
    """One declaration of a style attribute, kept as written but for whitespace."""

    name: str
    value: str
    important: bool

    def text(self) -> str:
        return f"{self.name}:{self.value}{'!important' if self.important else ''}"


@lru_cache(maxsize=4096)
def _declarations(style: str) -> tuple[_Decl, ...]:
    from .profile import declarations

    return tuple(
        _Decl(name, value.removesuffix("!important").strip(), value.endswith("!important"))
        for name, value in declarations(style)
    )


@dataclass(frozen=True)
class _Facts:
    """What one style attribute says about colours; a fragment repeats few styles many times."""

    decls: tuple[_Decl, ...]
    background: Colour | None
    image: bool
    text: Colour | None


@lru_cache(maxsize=4096)
def _facts(style: str) -> _Facts:
    decls = _declarations(style)
    background, image = _own_background(decls)
    return _Facts(decls, background, image, _own_text(decls))


def _colour_tokens(value: str) -> Iterator[tuple[object, Colour]]:
    import tinycss2

    for token in tinycss2.parse_component_value_list(value):
        colour = _token_colour(token)
        if colour is not None:
            yield token, colour


def _token_colour(token: object) -> Colour | None:
    from tinycss2.color3 import parse_color

    if getattr(token, "type", None) not in ("hash", "ident", "function"):
        return None
    found = parse_color(token)
    if found is None or isinstance(found, str):
        return None
    return Colour(found.red * 255, found.green * 255, found.blue * 255, found.alpha)


def _replace_colours(value: str, convert: Callable[[Colour], RGB]) -> str:
    import tinycss2

    out = []
    for token in tinycss2.parse_component_value_list(value):
        colour = _token_colour(token)
        if colour is None or colour.a < ALPHA_IGNORED:
            out.append(tinycss2.serialize([token]))
        else:
            out.append(css(convert(colour)))
    return "".join(out).strip()


def _has_image(value: str) -> bool:
    return "url(" in value.lower()


def _gradient_colour(value: str) -> Colour | None:
    """A gradient counts as the plain mix of its colours."""
    import tinycss2

    colours: list[Colour] = []
    for token in tinycss2.parse_component_value_list(value):
        if getattr(token, "type", None) == "function" and "gradient" in token.lower_name:
            colours.extend(c for arg in token.arguments if (c := _token_colour(arg)) is not None)
    if not colours:
        return None
    n = len(colours)
    return Colour(sum(c.r for c in colours) / n, sum(c.g for c in colours) / n, sum(c.b for c in colours) / n, sum(c.a for c in colours) / n)


def _own_background(decls: tuple[_Decl, ...]) -> tuple[Colour | None, bool]:
    """The element's background colour (None: none or transparent) and whether it has a background image."""
    colour: Colour | None = None
    image = False
    for decl in decls:
        if decl.name in _BACKGROUND or decl.name == "background-image":
            if _has_image(decl.value):
                image = True
                continue
            gradient = _gradient_colour(decl.value)
            if gradient is not None:
                colour = gradient
                continue
            for _, found in _colour_tokens(decl.value):
                colour = found
    if colour is not None and colour.a < ALPHA_IGNORED:
        colour = None
    return colour, image


def _own_text(decls: tuple[_Decl, ...]) -> Colour | None:
    colour = None
    for decl in decls:
        if decl.name == "color":
            colour = parse_colour(decl.value)
    return colour


# --- the walk -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paint:
    """The colours an element is drawn with, in light mode and as WeChat shows it in dark mode."""

    light_text: RGB
    light_bg: RGB
    dark_text: RGB
    dark_bg: RGB
    on_image: bool = False  # over a background image: its colours cannot be known from styles


_ROOT = Paint(TEXT_LIGHT, PAGE_LIGHT, TEXT_DARK, PAGE_DARK)


def _walk(element: object, paint: Paint, rewrite: bool) -> Iterator[tuple[object, Paint]]:
    """Each element with the colours it is drawn in; with `rewrite`, its style is recoloured for dark mode."""
    tag = element.tag if isinstance(element.tag, str) else ""  # type: ignore[attr-defined]
    if tag.lower() == "svg" or not tag:
        return  # WeChat leaves SVG as it is; `currentColor` inside follows the converted text
    facts = _facts(element.get("style") or "")  # type: ignore[attr-defined]
    decls, own_bg, image, own_text = facts.decls, facts.background, facts.image, facts.text
    keep = element.get("data-no-dark") is not None  # type: ignore[attr-defined]

    light_bg = over(own_bg, paint.light_bg) if own_bg is not None else paint.light_bg
    light_text = over(own_text, light_bg) if own_text is not None else paint.light_text
    if keep:
        dark_bg = over(own_bg, paint.dark_bg) if own_bg is not None else paint.dark_bg
        dark_text_ = over(own_text, dark_bg) if own_text is not None else paint.dark_text
    elif image:
        # Left alone, and the text on it gets the light background back under it.
        dark_bg, dark_text_ = light_bg, light_text
    else:
        dark_bg = dark_background(over(own_bg, paint.light_bg)) if own_bg is not None else paint.dark_bg
        if own_text is not None or own_bg is not None:
            dark_text_ = dark_text(light_text, dark_bg)
        else:
            dark_text_ = paint.dark_text
    here = Paint(light_text, light_bg, dark_text_, dark_bg, paint.on_image or image)
    if rewrite and not keep and not image and (decls or own_bg is not None):
        _restyle(element, decls, own_bg, own_text, here, paint)
    yield element, here
    for child in element:  # type: ignore[attr-defined]
        yield from _walk(child, here, rewrite)


def _restyle(element: object, decls: tuple[_Decl, ...], own_bg: Colour | None, own_text: Colour | None, here: Paint, parent: Paint) -> None:
    out = []
    for decl in decls:
        if decl.name in _BACKGROUND and own_bg is not None:
            value = css(here.dark_bg) if _gradient_colour(decl.value) else _replace_colours(decl.value, lambda c: dark_background(over(c, parent.light_bg)))
            decl = _Decl(decl.name, value, decl.important)
        elif decl.name == "color" and own_text is not None:
            decl = _Decl("color", css(here.dark_text), decl.important)
        elif decl.name in _BORDER or decl.name == "text-shadow":
            decl = _Decl(decl.name, _replace_colours(decl.value, lambda c: dark_text(over(c, here.light_bg), here.dark_bg)), decl.important)
        out.append(decl.text())
    if own_text is None and own_bg is not None:
        out.append(f"color:{css(here.dark_text)}")
    element.set("style", ";".join(out))  # type: ignore[attr-defined]


def recolour(fragment: str) -> str:
    """The fragment as WeChat shows it in dark mode: every inline colour converted (see the module docstring)."""
    import lxml.html

    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for _ in _walk_children(root, rewrite=True):
        pass
    return "".join(lxml.html.tostring(child, encoding="unicode") for child in root)


def _walk_children(root: object, rewrite: bool) -> Iterator[tuple[object, Paint]]:
    for child in root:  # type: ignore[attr-defined]
        yield from _walk(child, _ROOT, rewrite)


# --- contrast -----------------------------------------------------------------------------------


def luminance(rgb: RGB) -> float:
    """WCAG 2.1 relative luminance."""

    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    """WCAG 2.1 contrast ratio, 1..21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@dataclass(frozen=True)
class ContrastProblem:
    """Text whose contrast with its background is below 4.5:1 in one mode."""

    mode: str  # "light" or "dark"
    ratio: float
    text: RGB
    background: RGB
    tag: str
    sample: str  # the start of the text, to find it in the post

    def message(self) -> str:
        return (
            f"{self.mode} mode: text {css(self.text)} on {css(self.background)} has contrast {self.ratio:.2f}:1 "
            f"(WCAG asks at least {MIN_CONTRAST}:1) in <{self.tag}> \"{self.sample}\""
        )


def contrast_problems(fragment: str, minimum: float = MIN_CONTRAST) -> list[ContrastProblem]:
    """Every distinct combination of text and background colours below `minimum` in light or dark mode.

    Only elements that hold text of their own count; SVG and text over background images are
    skipped (their colours cannot be known from the styles). One problem per mode, tag and colours.
    """
    import lxml.html

    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    seen: set[tuple[str, str, RGB, RGB]] = set()
    found: list[ContrastProblem] = []
    for element, paint in _walk_children(root, rewrite=False):
        own = _own_text_content(element)
        if not own or paint.on_image:
            continue
        for mode, text, background in (("light", paint.light_text, paint.light_bg), ("dark", paint.dark_text, paint.dark_bg)):
            ratio = _contrast_cached(_rounded(text), _rounded(background))
            key = (mode, element.tag, _rounded(text), _rounded(background))  # type: ignore[attr-defined]
            if ratio < minimum and key not in seen:
                seen.add(key)
                found.append(ContrastProblem(mode, round(ratio, 2), text, background, element.tag, own[:20]))  # type: ignore[attr-defined]
    return found


def _rounded(rgb: RGB) -> RGB:
    return (round(rgb[0]), round(rgb[1]), round(rgb[2]))


def _own_text_content(element: object) -> str:
    parts = [element.text or ""]  # type: ignore[attr-defined]
    parts.extend(child.tail or "" for child in element)  # type: ignore[attr-defined]
    return " ".join(" ".join(parts).split())


@lru_cache(maxsize=1024)
def _contrast_cached(a: RGB, b: RGB) -> float:
    return contrast(a, b)
