"""The output contract every converted fragment must keep, checked on golden cases and random input."""

from __future__ import annotations

from pathlib import Path

import lxml.html

import wxpub
from wxpub import profile
from wxpub.convert import Converted

FORBIDDEN_TAGS = {"style", "script", "link", "iframe", "form", "input", "meta"}


def assert_golden(source: Path, update: bool) -> Converted:
    """Convert `source` and compare with its golden `.html` beside it (written when `update` or missing),
    then hold the output to the contract. Returns the conversion."""
    converted = wxpub.convert_file(source)
    expected_path = source.with_suffix(".html")
    actual = converted.html + "\n"
    if update or not expected_path.exists():
        expected_path.write_text(actual, encoding="utf-8")
    assert actual == expected_path.read_text(encoding="utf-8")
    assert_contract(converted.html)
    return converted


def assert_contract(html: str) -> None:
    """The output contract, and the WeChat profile."""
    assert_profile(html)
    assert html.startswith("<section style="), html[:80]
    assert html.endswith("</section>")
    root = lxml.html.fragment_fromstring(html)
    assert root.tag == "section"
    for element in root.iter():
        if not isinstance(element.tag, str):
            raise AssertionError(f"comment or processing instruction left: {element!r}")
        assert element.tag not in FORBIDDEN_TAGS, element.tag
        for name in element.attrib:
            assert name not in ("class", "id"), f"<{element.tag} {name}=…>"
            assert not name.startswith("on"), f"<{element.tag} {name}=…>"
            assert not name.startswith("data-"), f"<{element.tag} {name}=…>"
        style = element.get("style")
        if style is not None:
            assert style and "; " not in style and ": " not in style, style
            assert "var(" not in style and "--" not in style.split(":")[0], style


def assert_profile(html: str) -> None:
    """Every tag, attribute and declaration of `html` is inside the WeChat profile (wxpub/profile.py)."""
    root = lxml.html.fragment_fromstring(html)
    for element in root.iter():
        assert isinstance(element.tag, str) and profile.allowed_tag(element.tag), element.tag
        for name, value in element.attrib.items():
            assert profile.allowed_attribute(element.tag, name, value), f"<{element.tag} {name}={value!r}>"
            if name == "style":
                assert profile.style_violations(element.tag, value) == [], (element.tag, value)
