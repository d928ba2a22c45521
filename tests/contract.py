"""The output contract every converted fragment must keep, checked on golden cases and random input."""

from __future__ import annotations

import lxml.html

FORBIDDEN_TAGS = {"style", "script", "link", "iframe", "form", "input", "meta"}


def assert_contract(html: str) -> None:
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
