"""Declarations in their shortest equivalent form: what repeats is folded, nothing the browser computes changes."""

from __future__ import annotations

import pytest

import wxpub
from wxpub.shorthand import shortest


@pytest.mark.parametrize(
    ("declarations", "expected"),
    [
        # a callout's colour after the theme's border: one border-left
        ([("border-left", "4px solid #0969da"), ("border-left-color", "#1a7f37")], [("border-left", "4px solid #1a7f37")]),
        ([("border", "1px solid #c9d7ff"), ("border-color", "#b7e4c7")], [("border", "1px solid #b7e4c7")]),
        ([("border-left", "4px solid"), ("border-left-color", "red")], [("border-left", "4px solid red")]),
        ([("margin", "0"), ("margin-top", ".4em")], [("margin", ".4em 0 0")]),
        ([("padding", "6px 10px"), ("padding-left", "0")], [("padding", "6px 10px 6px 0")]),
        ([("margin", "1em 0"), ("margin-bottom", "1em")], [("margin", "1em 0")]),
        ([("background", "#fff"), ("background-color", "#eee")], [("background", "#eee")]),
        # a shorthand after its longhands makes them moot
        ([("margin-top", "1em"), ("margin", "0")], [("margin", "0")]),
        ([("border-left-color", "red"), ("border-left", "4px solid blue")], [("border-left", "4px solid blue")]),
        # sides with one style and colour share one border
        (
            [("border-top", "2px solid #333"), ("border-bottom", "1px solid #333"), ("padding", "6px")],
            [("border", "solid #333"), ("border-width", "2px 0 1px"), ("padding", "6px")],
        ),
        ([("overflow-x", "auto")], [("overflow", "auto")]),
        # left as they are: nothing shorter that means the same
        ([("overflow-x", "auto"), ("overflow-y", "hidden")], [("overflow-x", "auto"), ("overflow-y", "hidden")]),
        ([("overflow-x", "scroll")], [("overflow-x", "scroll")]),
        ([("background", "url(https://a/b.png) no-repeat"), ("background-color", "#eee")], [("background", "url(https://a/b.png) no-repeat"), ("background-color", "#eee")]),
        ([("border-top", "2px solid #333"), ("border-bottom", "1px dashed #333")], [("border-top", "2px solid #333"), ("border-bottom", "1px dashed #333")]),
        ([("border-top", "1px solid red"), ("border-color", "blue")], [("border-top", "1px solid red"), ("border-color", "blue")]),
        ([("font-size", "13px"), ("font-family", "Menlo,monospace")], [("font-size", "13px"), ("font-family", "Menlo,monospace")]),
        ([("margin", "0 !important"), ("margin-top", "1em")], [("margin", "0 !important"), ("margin-top", "1em")]),
    ],
)
def test_shortest(declarations: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    assert shortest(declarations) == expected


def test_a_tip_callout_carries_one_border() -> None:
    html = wxpub.convert_text("> [!TIP]\n> 提示\n").html
    assert "border-left:4px solid #1a7f37;" in html and "border-left-color" not in html

