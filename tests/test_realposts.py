"""Posts in the shapes writers really use: golden output, and each shape that used to go wrong."""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import pytest

import wxpub
from contract import assert_contract, assert_golden

REALPOSTS = Path(__file__).parent / "realposts"
CASES = sorted(p.stem for p in REALPOSTS.glob("*.md"))


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, update_golden: bool) -> None:
    converted = assert_golden(REALPOSTS / f"{case}.md", update_golden)
    assert "data-wxpub" not in converted.html


@pytest.mark.parametrize("case", CASES)
def test_output_is_deterministic(case: str) -> None:
    text = (REALPOSTS / f"{case}.md").read_text(encoding="utf-8")
    assert wxpub.convert_text(text).html == wxpub.convert_text(text).html


@pytest.mark.parametrize("theme", ["default", "ink", "geek", "warm"])
@pytest.mark.parametrize("case", CASES)
def test_every_theme_keeps_the_contract(case: str, theme: str) -> None:
    converted = wxpub.convert_file(REALPOSTS / f"{case}.md", theme=theme)
    assert_contract(converted.html)


def _root(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(html)


def _text(html: str) -> str:
    return "".join(_root(html).itertext())


# --- Markdown inside HTML blocks ----------------------------------------------------------------


CENTRED = """<div align="center">

[![CI](https://img.shields.io/badge/ci-passing-green.svg)](https://github.com/o/r/actions)
[![License](https://img.shields.io/badge/license-MIT-blue.svg)](https://opensource.org/licenses/MIT)

这是**加粗**和[链接](https://example.com/docs)

</div>

后文
"""


def test_markdown_after_a_blank_line_inside_a_block_element_is_converted() -> None:
    converted = wxpub.convert_text(CENTRED)
    text = _text(converted.html)
    assert "**" not in text and "](" not in text and "[![" not in text
    assert "<strong>加粗</strong>" in converted.html
    assert [(l.number, l.url, l.text) for l in converted.links] == [
        (1, "https://github.com/o/r/actions", "CI"),
        (2, "https://opensource.org/licenses/MIT", "License"),
        (3, "https://example.com/docs", "链接"),
    ]
    assert [i.src for i in converted.images] == [
        "https://img.shields.io/badge/ci-passing-green.svg",
        "https://img.shields.io/badge/license-MIT-blue.svg",
    ]
    assert [i.line for i in converted.images] == [3, 4]
    assert_contract(converted.html)


def test_align_center_centres_the_block_and_its_paragraphs_lose_the_indent() -> None:
    html = wxpub.convert_text(CENTRED, theme="ink").html
    section = _root(html)[0]
    assert section.tag == "section" and section.get("style").startswith("text-align:center")
    assert "align=" not in html
    paragraph = section.find("p")
    assert "text-indent:0" in paragraph.get("style")  # ink indents paragraphs by 2em otherwise


def test_badges_stay_inline_images_followed_by_their_reference_marks() -> None:
    html = wxpub.convert_text(CENTRED).html
    paragraph = _root(html)[0].find("p")
    assert [child.tag for child in paragraph] == ["img", "sup", "img", "sup"]
    assert [child.text for child in paragraph.iter("sup")] == ["[1]", "[2]"]
    assert "<figure" not in html  # a row of badges is not a picture with a caption


def test_a_linked_picture_alone_is_a_figure_with_its_mark_in_the_caption() -> None:
    html = wxpub.convert_text("[![架构图](arch.png)](https://example.com/arch)\n").html
    figure = _root(html).find("figure")
    assert figure is not None
    assert "".join(figure.find("figcaption").itertext()) == "架构图[1]"
    assert "[1] 架构图: " in html


def test_a_picture_linked_to_its_own_file_is_no_reference() -> None:
    converted = wxpub.convert_text("[![大图](big.png)](big.png)\n")
    assert converted.links == ()
    assert "<figure" in converted.html and "[1]" not in converted.html


def test_without_a_blank_line_an_html_block_stays_raw_as_on_github() -> None:
    html = wxpub.convert_text('<div align="center">\n**不是粗体**\n</div>\n').html
    assert "**不是粗体**" in _text(html)
    assert 'style="text-align:center"' in html


def test_a_paragraph_with_blank_lines_inside_is_one_centred_line_of_markdown() -> None:
    html = wxpub.convert_text('<p align="center">\n\n居中的**段落**\n\n</p>\n').html
    paragraph = _root(html).find("p")
    assert "text-align:center" in paragraph.get("style")
    assert paragraph.text == "居中的" and paragraph[0].tag == "strong"


def test_bare_list_items_in_a_block_become_the_themes_list_rows() -> None:
    source = '<div align="center">\n\n<li>特性一</li>\n<li>特性<b>二</b></li>\n\n</div>\n'
    html = wxpub.convert_text(source).html
    assert "<li" not in html
    # The rows are lines of one list block, each starting with its floated marker.
    [rows] = [row for row in _root(html).iter("section") if len(row) and "float:left" in (row[0].get("style") or "")]
    for br in rows.iter("br"):
        br.tail = "\n" + (br.tail or "")
    assert "".join(rows.itertext()).split("\n") == ["•特性一", "•特性二"]
    assert [m.text for m in rows if "float:left" in (m.get("style") or "")] == ["•", "•"]


def test_a_bare_list_item_left_raw_is_a_paragraph_with_a_bullet() -> None:
    html = wxpub.convert_text("<li>孤零零的一项</li>\n").html
    assert "<li" not in html
    assert _root(html).find("p").text == "• 孤零零的一项"


def test_markdown_attribute_and_nested_blocks_still_work() -> None:
    source = '<section markdown="1">\n*斜体*\n</section>\n\n<table>\n<tr>\n<td>\n\n**格内**\n\n</td>\n</tr>\n</table>\n'
    html = wxpub.convert_text(source).html
    assert "<em>斜体</em>" in html
    assert "<strong>格内</strong>" in html


def test_a_block_element_never_closed_does_not_keep_the_rest_of_the_post_raw() -> None:
    html = wxpub.convert_text('<div align="center">\n<img src="logo.png">\n\n## 标题\n\n正文 **粗**\n').html
    assert "<h2" in html and "<strong>粗</strong>" in html
    assert "##" not in _text(html)


def test_tags_in_code_are_shown_as_written() -> None:
    source = "`<div align=\"center\">` 与 <https://a.b/c>\n\n    <div>缩进代码</div>\n\n```html\n<div>围栏</div>\n```\n"
    html = wxpub.convert_text(source).html
    assert "data-wxpub" not in html
    # "<" is escaped, so no tag begins; ">" needs no escape in HTML text.
    assert '&lt;div align="center">' in html and "&lt;div>缩进代码&lt;/div>" in html
    assert ">https://a.b/c<" in html


# --- the title and H1s --------------------------------------------------------------------------


def test_an_h1_after_body_text_stays_in_the_body_as_a_heading() -> None:
    converted = wxpub.convert_text("---\ntitle: 示例\n---\n正文\n\n# 一级标题\n\n## 二级标题\n")
    assert converted.title == "示例"
    h1 = _root(converted.html).find("h1")
    assert h1 is not None and h1.text == "一级标题"
    h2 = _root(converted.html).find("h2")
    assert _em(h1, "font-size") > _em(h2, "font-size")


def test_an_h1_after_body_text_is_no_title_even_without_one() -> None:
    converted = wxpub.convert_text("开头一段\n\n# 中间的标题\n")
    assert converted.title == ""
    assert "中间的标题" in converted.html


def test_a_leading_h1_is_the_title_even_after_a_comment() -> None:
    converted = wxpub.convert_text("<!-- 草稿 -->\n\n# 真正的标题\n\n正文\n\n# 第二个\n")
    assert converted.title == "真正的标题"
    assert "真正的标题" not in converted.html and "第二个" in converted.html


@pytest.mark.parametrize("theme", ["default", "ink", "geek", "warm"])
def test_every_theme_sets_h1_above_h2(theme: str) -> None:
    html = wxpub.convert_text("正文\n\n# 一级\n\n## 二级\n", theme=theme).html
    assert _em(_root(html).find("h1"), "font-size") > _em(_root(html).find("h2"), "font-size")


def _em(element: lxml.html.HtmlElement, prop: str) -> float:
    found = re.search(rf"(?:^|;){prop}:([\d.]+)em", element.get("style", ""))
    assert found, element.get("style")
    return float(found.group(1))


# --- heading attributes -------------------------------------------------------------------------


@pytest.mark.parametrize("attrs", ["{#list-rendering}", "{.note}", "{#id .a .b}", "{: #id }", '{#x data-k="v"}'])
def test_heading_attributes_are_not_shown(attrs: str) -> None:
    converted = wxpub.convert_text(f"# 列表渲染 {attrs}\n\n正文\n\n## 小节 `code` {attrs}\n")
    assert converted.title == "列表渲染"
    assert "{" not in converted.html and "}" not in converted.html
    assert "小节" in converted.html


def test_braces_that_are_not_attributes_stay() -> None:
    assert "集合 {1, 2}" in wxpub.convert_text("## 集合 {1, 2}\n").html


# --- \( \) and \[ \] ----------------------------------------------------------------------------


def test_latex_delimiters_are_math() -> None:
    converted = wxpub.convert_text("行内 \\(a^2+b^2=c^2\\) 结束。\n\n\\[\n\\int_0^1 x\\,dx\n\\]\n")
    root = _root(converted.html)
    assert root.find("p").find("svg") is not None
    assert root.find("section").find("svg") is not None
    assert "\\(" not in converted.html and "a^2" not in converted.html and "\\int" not in converted.html
    assert not converted.warnings


def test_an_escaped_backslash_before_a_bracket_is_no_formula() -> None:
    html = wxpub.convert_text("路径 C:\\\\(x86\\\\) 目录").html
    assert "<svg" not in html and "\\(x86\\)" in html


def test_what_cannot_be_drawn_stays_visible_as_written_with_a_warning_at_its_line() -> None:
    converted = wxpub.convert_text("---\ntitle: t\n---\n第一段\n\n化学 \\(\\ce{H2O}\\) 配平\n\n\\[ \\ce{CO2} \\]\n")
    assert "\\(\\ce{H2O}\\)" in _text(converted.html)
    assert "\\[ \\ce{CO2} \\]" in _text(converted.html)
    math = [(n.line, "\\ce" in n.message) for n in converted.warnings if n.code == "math"]
    assert sorted(math) == [(6, True), (8, True)]


# --- where raw HTML problems were written -------------------------------------------------------


def test_every_raw_html_notice_carries_the_line_and_column_it_was_written_at() -> None:
    """A problem on each of many lines, in every place raw HTML is met; each is reported where it is."""
    # (the Markdown, the start of the one tag in it that is reported)
    shapes = [
        ('para {n} <span onclick="f()">x</span> end', "<span"),
        ("<div>\n<script>bad({n})</script>\n</div>", "<script>bad"),
        ("- item {n} <button>b</button>", "<button"),
        ('> quote {n} <a href="https://example.com/{n}">x</a>', "<a "),
        ('<p onclick="g({n})">raw block</p>', "<p "),
        ('<div align="center">\n\n**md {n}** <img src="raw{n}.png">\n\n</div>', "<img"),
        ("| h | h |\n|---|---|\n| {n} | <input> |", "<input"),
        ('1. one\n   - nested {n} <video src="v.mp4"></video>', "<video"),
        ('```html\n<script>no({n})</script>\n```\n\n`<iframe>` then <iframe src="i{n}"></iframe>', '<iframe src="i'),
        ('    <embed> indented code {n}\n\ntext <object data="o"></object> {n}', "<object"),
    ]
    lines = ["---", "title: 位置", "---", ""]
    expected = []
    for n in range(40):
        shape, needle = shapes[n % len(shapes)]
        for offset, line in enumerate(shape.format(n=n).split("\n")):
            if needle in line:
                expected.append((len(lines) + 1, line.index(needle) + 1))
            lines.append(line)
        lines.append("")
    converted = wxpub.convert_text("\n".join(lines))
    got = [(n.line, n.col) for n in converted.warnings if n.code in ("raw-html", "foreign-image")]
    assert len(expected) == 40
    assert got == expected


def test_convert_json_gives_each_warning_its_line_and_column(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from wxpub.cli import main

    post = tmp_path / "post.md"
    post.write_text("---\ntitle: t\n---\n正文\n\n> 引用 <iframe src=\"x\"></iframe>\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["convert", str(post), "--json"])
    assert result.exit_code == 0
    [warning] = json.loads(result.stdout)["warnings"]
    assert (warning["line"], warning["col"]) == (6, 6)
    assert f"{post}:6:6: removed <iframe>" in result.stderr


def test_columns_count_characters_as_written_even_with_tabs_and_repeated_tags() -> None:
    source = 'a <b onclick="1">x</b> and <b onclick="2">y</b>\n\n-\titem <i onclick="3">z</i>\n\n  -   deeper <u onclick="4">w</u>\n'
    converted = wxpub.convert_text(source)
    assert [(n.line, n.col) for n in converted.warnings] == [(1, 3), (1, 28), (3, 8), (5, 14)]
