"""Simple inline formulas written as text: `\\(x_i\\)` as <i>x</i><sub><i>i</i></sub>, not as a drawing.

A drawn formula costs hundreds of characters (a one-letter `\\(n\\)` is about 280), text a dozen,
so `--fit` may write the simple ones as text. TeX is read by latex2mathml (the parser the drawing
uses too); a formula is simple when its MathML holds only identifiers, numbers, operators, rows,
sub- and superscripts and single-letter accents. Anything else (fractions, roots, sums with
limits, matrices …) returns None and stays drawn.

Letters are italic, as TeX sets them, except names such as `log` and upright (`\\mathrm`) ones;
relations and binary operators get a space on each side, a comma one after.
"""

from __future__ import annotations

import xml.etree.ElementTree as etree

_NS = "{http://www.w3.org/1998/Math/MathML}"
# TeX's spacing, approximated by a space: relations and binary operators (not a leading sign).
_SPACED = set("=<>+−×·±≤≥≠≈→←↔∈∉⊂⊆∼≡÷∓∝")
# An accent over one letter, as a combining mark after it.
_ACCENTS = {"^": "\u0302", "ˆ": "\u0302", "~": "\u0303", "˜": "\u0303", "¯": "\u0304", "‾": "\u0304", "→": "\u20d7", "⃗": "\u20d7", "˙": "\u0307", "¨": "\u0308"}


def as_text(tex: str) -> etree.Element | None:
    """`<span>` holding `tex` as HTML text, or None when the formula is not simple enough."""
    from latex2mathml.converter import convert

    try:
        math = etree.fromstring(convert(tex))
    except Exception:  # latex2mathml raises many unrelated types; the drawing will report it
        return None
    span = etree.Element("span")
    if not _append(span, list(math), depth=0):
        return None
    if len(span):
        span[-1].tail = (span[-1].tail or "").rstrip() or None
    else:
        span.text = (span.text or "").strip()
    return span if len(span) or span.text else None


def _append(parent: etree.Element, nodes: list[etree.Element], depth: int) -> bool:
    for node in nodes:
        tag = node.tag.removeprefix(_NS)
        text = node.text or ""
        if "\\" in text:  # a command latex2mathml did not know, passed through as text
            return False
        if tag in ("mrow", "mstyle") and not node.get("mathsize"):
            if not _append(parent, list(node), depth):
                return False
        elif tag == "mi" and len(text) > 1:
            _add(parent, text + " ", False)  # a function's name (log, max), then a space as TeX sets one
        elif tag == "mi":
            _add(parent, text, node.get("mathvariant") != "normal" and not ("Α" <= text <= "Ω"))
        elif tag in ("mn", "mtext"):
            _add(parent, text, False)
        elif tag == "mo":
            _add(parent, _operator(parent, text), False)
        elif tag == "mspace":
            _add(parent, " ", False)
        elif tag in ("msub", "msup", "msubsup") and depth == 0 and len(node) == (3 if tag == "msubsup" else 2):
            if not _append(parent, [node[0]], depth):
                return False
            scripts = ["sub", "sup"] if tag == "msubsup" else [tag[1:]]
            for script, content in zip(scripts, list(node)[1:]):
                if not _append(etree.SubElement(parent, script), [content], depth + 1):
                    return False
        elif tag == "mover" and node.get("accent") == "true" and len(node) == 2:
            base, mark = _letter(node[0]), _ACCENTS.get(node[1].text or "")
            if base is None or mark is None:
                return False
            _add(parent, base + mark, True)
        else:
            return False
    return True


def _letter(node: etree.Element) -> str | None:
    while node.tag.removeprefix(_NS) == "mrow" and len(node) == 1:
        node = node[0]
    text = node.text or ""
    return text if node.tag.removeprefix(_NS) == "mi" and len(text) == 1 else None


def _operator(parent: etree.Element, text: str) -> str:
    if text == ",":
        return ", "
    if text in _SPACED and _has_operand(parent):
        return f" {text} "
    return text


def _has_operand(parent: etree.Element) -> bool:
    """Whether something stands before the operator here, so that it is binary, not a sign."""
    last = parent[-1].tail if len(parent) else parent.text
    if len(parent) and not last:
        return True
    stripped = (last or "").rstrip()
    return bool(stripped) and stripped[-1] not in "(,[{" and stripped[-1] not in _SPACED


def _add(parent: etree.Element, text: str, italic: bool) -> None:
    """Append `text`, italic runs merged into the `<i>` before them when nothing comes between."""
    if italic:
        if len(parent) and parent[-1].tag == "i" and not parent[-1].tail:
            parent[-1].text = (parent[-1].text or "") + text
        else:
            etree.SubElement(parent, "i").text = text
    elif len(parent):
        parent[-1].tail = (parent[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text
