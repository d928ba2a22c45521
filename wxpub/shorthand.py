"""One element's declarations, written in their shortest equivalent form.

A theme says `border-left: 4px solid #0969da` for every callout and `border-left-color: #1a7f37`
for a tip; inlined, the tip carries both. WeChat counts every character of the HTML against its
20,000-character limit, so the later longhand is folded into the shorthand before it (one
`border-left: 4px solid #1a7f37`), a margin side into the margin, and border sides that share a
style and colour share one `border`. Each rewrite sets the values the browser would have computed
anyway. (`font-size` with `font-family` is not made one `font`: WeChat handles font families
unreliably, and the shorthand would put the size at risk too.) Standard library only.
"""

from __future__ import annotations

import re

Declarations = list[tuple[str, str]]

_SIDES = ("top", "right", "bottom", "left")
_BORDER_STYLES = frozenset("none hidden dotted dashed solid double groove ridge inset outset".split())
_WIDTH = re.compile(r"^(?:-?[\d.]+[a-z%]*|thin|medium|thick)$")
# Longhand -> (its shorthand, what part of it the longhand sets).
_LONGHANDS: dict[str, tuple[str, str]] = {
    **{f"border-{side}-color": (f"border-{side}", "color") for side in _SIDES},
    "border-color": ("border", "color"),
    **{f"margin-{side}": ("margin", side) for side in _SIDES},
    **{f"padding-{side}": ("padding", side) for side in _SIDES},
    "background-color": ("background", "color"),
}
# Shorthand -> the properties it resets (a later shorthand makes earlier ones of these moot).
_RESETS: dict[str, frozenset[str]] = {
    "border": frozenset(
        {f"border-{side}" for side in _SIDES}
        | {f"border-{side}-{part}" for side in _SIDES for part in ("width", "style", "color")}
        | {"border-width", "border-style", "border-color"}
    ),
    **{f"border-{side}": frozenset({f"border-{side}-{part}" for part in ("width", "style", "color")}) for side in _SIDES},
    "border-color": frozenset({f"border-{side}-color" for side in _SIDES}),
    "margin": frozenset({f"margin-{side}" for side in _SIDES}),
    "padding": frozenset({f"padding-{side}" for side in _SIDES}),
    "background": frozenset({"background-color", "background-image", "background-repeat", "background-position", "background-size"}),
    "font": frozenset({"font-size", "font-family", "font-weight", "font-style", "font-variant", "line-height"}),
}


def shortest(declarations: Declarations) -> Declarations:
    """`declarations` (in cascade order, as they apply to one element) in their shortest equivalent form."""
    out: Declarations = []
    for prop, value in declarations:
        if "!important" in value or "var(" in value:
            out.append((prop, value))
            continue
        if prop in _LONGHANDS and _fold(out, prop, value):
            continue
        moot = _RESETS.get(prop, frozenset()) | {prop}
        out = [(p, v) for p, v in out if p not in moot]
        out.append((prop, value))
    names = {p for p, _ in out}
    if ("overflow-x", "auto") in out and not names & {"overflow", "overflow-y"}:
        # The other axis computes to auto as well, so this is `overflow: auto`.
        out = [("overflow", "auto") if (p, v) == ("overflow-x", "auto") else (p, v) for p, v in out]
    return _combine_border_sides(out)


def _fold(out: Declarations, prop: str, value: str) -> bool:
    """Write `prop: value` into the shorthand before it in `out`; False when there is none it fits."""
    shorthand, part = _LONGHANDS[prop]
    index = next((i for i, (p, _) in enumerate(out) if p == shorthand), None)
    if index is None or any(p == prop for p, _ in out[index + 1 :]) or " " in value.strip():
        return False
    current = out[index][1]
    if "!important" in current or "var(" in current:
        return False
    if shorthand in ("margin", "padding"):
        sides = _four(current)
        if sides is None:
            return False
        sides[_SIDES.index(part)] = value
        merged = _two_to_four(sides)
    elif shorthand == "background":
        if " " in current or "(" in current:  # more than a colour: leave it as it is
            return False
        merged = value
    else:  # a border: replace its colour, or add one
        tokens = current.split()
        kept = [t for t in tokens if _WIDTH.match(t) or t.lower() in _BORDER_STYLES]
        if len(tokens) - len(kept) > 1 or "(" in current:
            return False
        merged = " ".join([*kept, value])
    out[index] = (shorthand, merged)
    return True


def _four(value: str) -> list[str] | None:
    parts = value.split()
    if not 1 <= len(parts) <= 4 or "(" in value:
        return None
    top = parts[0]
    right = parts[1] if len(parts) > 1 else top
    bottom = parts[2] if len(parts) > 2 else top
    left = parts[3] if len(parts) > 3 else right
    return [top, right, bottom, left]


def _two_to_four(sides: list[str]) -> str:
    top, right, bottom, left = sides
    if left == right:
        if top == bottom:
            return top if top == right else f"{top} {right}"
        return f"{top} {right} {bottom}"
    return f"{top} {right} {bottom} {left}"


def _combine_border_sides(out: Declarations) -> Declarations:
    """`border-top: 2px solid #333; border-bottom: 1px solid #333` -> `border: solid #333; border-width: 2px 0 1px`."""
    names = {p for p, _ in out}
    sides = [f"border-{side}" for side in _SIDES]
    present = [s for s in sides if s in names]
    if len(present) < 2 or any(p.startswith("border") and p not in sides and p != "border-radius" for p in names):
        return out
    widths, looks = {}, set()
    for prop, value in out:
        if prop in sides:
            tokens = value.split()
            width = [t for t in tokens if _WIDTH.match(t)]
            look = tuple(t for t in tokens if not _WIDTH.match(t))
            if len(width) != 1 or "(" in value:
                return out
            widths[prop] = width[0]
            looks.add(look)
    if len(looks) != 1:
        return out
    look_text = " ".join(next(iter(looks)))
    if not any(t.lower() in _BORDER_STYLES for t in look_text.split()):
        return out  # no style: the sides draw nothing, and `border: <colour>` would say otherwise
    width_list = [widths.get(s, "0") for s in sides]
    if len(present) == 4 and len(set(width_list)) == 1:
        combined = [("border", f"{width_list[0]} {look_text}")]
    else:
        combined = [("border", look_text), ("border-width", _two_to_four(width_list))]
    before = sum(len(p) + len(v) + 2 for p, v in out if p in sides)
    after = sum(len(p) + len(v) + 2 for p, v in combined)
    if after >= before:
        return out
    first = next(i for i, (p, _) in enumerate(out) if p in sides)
    rest = [(p, v) for p, v in out if p not in sides]
    return rest[:first] + combined + rest[first:]
