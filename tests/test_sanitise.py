"""The sanitiser keeps what the WeChat profile allows and nothing else: tags, attributes, URL schemes, styles."""

from __future__ import annotations

import lxml.html
import pytest

import wxpub
from wxpub import profile


def body(html: str) -> str:
    """The fragment without its root section."""
    return html[html.index(">") + 1 : -len("</section>")]


def messages(converted: wxpub.Converted) -> list[str]:
    return [notice.message for notice in converted.warnings]


@pytest.mark.parametrize(
    "markdown",
    [
        '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
        '<svg xmlns:xlink="http://www.w3.org/1999/xlink"><a href="javascript:alert(1)"><text>x</text></a></svg>',
        '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
        '<math><mrow href="javascript:alert(1)"><mi>x</mi></mrow></math>',
        '<p><a href=" JaVa\tScRiPt:alert(1)">x</a></p>',
        '<p><a href="vbscript:msgbox(1)">x</a></p>',
        '<p><a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a></p>',
        '<p><img src="javascript:alert(1)" alt="x"></p>',
        '<p><img src="data:image/svg+xml,&lt;svg onload=alert(1)&gt;" alt="x"></p>',
        '<blockquote cite="javascript:alert(1)">x</blockquote>',
    ],
)
def test_no_script_url_survives(markdown: str) -> None:
    converted = wxpub.convert_text(markdown + "\n")
    lowered = converted.html.lower()
    assert "javascript:" not in lowered and "vbscript:" not in lowered and "data:" not in lowered
    assert "xlink" not in lowered
    assert any("URLs are not allowed" in m or "link" in m for m in messages(converted)), messages(converted)


def test_svg_link_loses_its_href_and_keeps_its_text() -> None:
    converted = wxpub.convert_text('<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>\n')
    assert "<svg><text>x</text></svg>" in converted.html
    assert "removed xlink:href= from <a>: javascript URLs are not allowed in WeChat articles" in messages(converted)


def test_mathml_keeps_its_markup_without_the_link() -> None:
    converted = wxpub.convert_text('<math><mi xlink:href="javascript:alert(1)">x</mi><annotation>x</annotation></math>\n')
    assert body(converted.html) == "<math><mi>x</mi></math>"
    assert "removed xlink:href= from <mi>: javascript URLs are not allowed in WeChat articles" in messages(converted)


def test_styles_that_run_code_are_removed_and_named() -> None:
    converted = wxpub.convert_text('<p style="behavior:url(x.htc);-moz-binding:url(x);color:#c00">段落</p>\n')
    assert '<p style="margin:0 0 1em;color:#c00">段落</p>' in converted.html
    assert "behavior" not in converted.html and "binding" not in converted.html
    assert messages(converted) == [
        "removed 'behavior:url(x.htc)' (it runs code) from <p>",
        "removed '-moz-binding:url(x)' (it runs code) from <p>",
    ]


def test_raw_styles_are_held_to_the_profile() -> None:
    converted = wxpub.convert_text(
        '<p style="position:fixed;top:0;display:flex;color:#000;margin:0 !important;background:url(http://x/a.png)">段落</p>\n'
    )
    style = lxml.html.fragment_fromstring(converted.html).find("p").get("style")
    assert profile.style_violations("p", style) == []
    assert "color:#010101" in style  # pure black, which WeChat swallows, made near-black
    removed = " ".join(messages(converted))
    for name in ("position:fixed", "top:0", "display:flex", "margin:0 !important", "background:url(http://x/a.png)"):
        assert name in removed


def test_tags_outside_the_profile_lose_the_tag_or_their_content() -> None:
    converted = wxpub.convert_text(
        '<p><font color="red">留下文字</font><marquee>也留下</marquee></p>\n\n'
        "<svg><defs><linearGradient><stop/></linearGradient></defs><use href=\"#a\"/><path d=\"M0 0\"/></svg>\n"
    )
    html = body(converted.html)
    assert "留下文字也留下" in html
    assert "font" not in html and "marquee" not in html
    assert "defs" not in html and "lineargradient" not in html and "use" not in html and '<path d="M0 0"></path>' in html
    assert "removed the tag <font> and kept its text: WeChat does not keep it" in messages(converted)


def test_align_becomes_a_style_and_unknown_attributes_go() -> None:
    converted = wxpub.convert_text('<div align="center" data-x="1" id="y" width="3">居中</div>\n')
    assert body(converted.html) == '<section style="text-align:center">居中</section>'


def test_every_allowed_attribute_of_the_output_is_in_the_profile() -> None:
    converted = wxpub.convert_text('<p title="t" lang="zh" onclick="x()">a <img src="a.png" alt="b" onerror="x()" width="9"></p>\n')
    root = lxml.html.fragment_fromstring(converted.html)
    for element in root.iter():
        for name, value in element.attrib.items():
            assert profile.allowed_attribute(element.tag, name, value), (element.tag, name, value)


@pytest.mark.parametrize(
    ("tag", "name", "value", "allowed"),
    [
        ("a", "href", "https://mp.weixin.qq.com/s/x", True),
        ("a", "href", "mailto:a@example.com", True),
        ("a", "href", "javascript:alert(1)", False),
        ("a", "href", "\x01javascript:alert(1)", False),
        ("a", "href", "data:text/html,x", False),
        ("img", "src", "images/cat.png", True),
        ("img", "src", "https://mmbiz.qpic.cn/x", True),
        ("img", "src", "data:image/png;base64,AAAA", False),
        ("img", "onerror", "x()", False),
        ("svg", "width", "100%", False),
        ("svg", "width", "300", True),
        ("path", "fill", "url(#g)", False),
        ("path", "fill", "currentColor", True),
        ("mi", "xlink:href", "https://example.com", False),
        ("p", "id", "x", False),
        ("p", "class", "x", False),
        ("tr", "style", "border:0", False),
        ("td", "style", "border:0", True),
        ("use", "href", "#a", False),
    ],
)
def test_allowed_attribute(tag: str, name: str, value: str, allowed: bool) -> None:
    assert profile.allowed_attribute(tag, name, value) is allowed


@pytest.mark.parametrize(
    ("tag", "style", "reasons"),
    [
        ("p", "color:#333;margin:0 0 1em", []),
        ("p", "color:#000", ["'color:#000' (the WeChat editor swallows pure black: use #010101)"]),
        ("p", "border:1px solid black", ["'border:1px solid black' (the WeChat editor swallows pure black: use #010101)"]),
        ("p", "color:rgb(0, 0, 0)", ["'color:rgb(0, 0, 0)' (the WeChat editor swallows pure black: use #010101)"]),
        ("p", "color:#0000ff", []),
        ("p", "margin:0!important", ["'margin:0 !important' (!important defeats WeChat's dark mode)"]),
        ("p", "position:absolute", ["'position:absolute' (WeChat strips position)"]),
        ("section", "display:flex", ["'display:flex' (WeChat may not keep flex or grid layout)"]),
        ("p", "color:var(--x)", ["'color:var(--x)' (custom properties and var() do not reach WeChat)"]),
        ("tr", "background:#eee", ["'background:#eee' (WeChat ignores styles on <tr>: put them on the cells)"]),
        ("svg", "width:100%", ["'width:100%' (WeChat ignores % sizes on SVG: give px or em)"]),
        ("svg", "width:3.5em;height:20px", []),
        ("p", "background:url(https://x/a.png)", []),
        ("p", "background-image:url(https://a/1.png),url(https://a/2.png)", ["'background-image:url(https://a/1.png),url(https://a/2.png)' (WeChat keeps one background image at most)"]),
        ("p", "width:expression(alert(1))", ["'width:expression(alert(1))' (it runs code)"]),
        ("p", "white-space:pre", ["'white-space:pre' (only normal, nowrap)"]),
        ("p", "cursor:pointer", ["'cursor:pointer' (not in the WeChat profile)"]),
    ],
)
def test_style_violations(tag: str, style: str, reasons: list[str]) -> None:
    assert profile.style_violations(tag, style) == reasons


def test_clean_style_keeps_the_rest_in_order() -> None:
    assert profile.clean_style("td", "color:black;position:relative;padding:6px;font-family:'a;b'") == (
        'color:#010101;padding:6px;font-family:"a;b"',  # as tinycss2 writes a string back
        ["'position:relative' (WeChat strips position)"],
    )
