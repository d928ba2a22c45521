"""Math: `$…$` / `$$…$$` to inline SVG that WeChat keeps."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import markdown
import pytest

from wxpub.mdext.math import MathError, MathExtension, MathWarning, render_display, render_inline

GAUSS = r"\int_0^\infty e^{-x^2}dx=\frac{\sqrt\pi}{2}"
FORBIDDEN = re.compile(
    r"<defs|<use|<symbol|<title|<style|\sid=|\sclass=|url\(|xlink|href|\s\s|>\s+<", re.IGNORECASE
)


def convert(text: str, **config: object) -> tuple[str, list[MathWarning]]:
    extension = MathExtension(**config)
    md = markdown.Markdown(extensions=[extension])
    return md.convert(text), extension.warnings


def svgs(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.S)


def em(style: str, name: str) -> float:
    m = re.search(rf"(?:^|;){name}:(-?[\d.]+)em", style)
    assert m, f"{name} missing from {style!r}"
    return float(m.group(1))


def style_of(svg: str) -> str:
    m = re.search(r'<svg [^>]*style="([^"]*)"', svg)
    assert m
    return m.group(1)


# --- the pure functions -------------------------------------------------------------------------


def test_inline_is_one_svg_in_current_color_on_the_baseline() -> None:
    svg = render_inline("E=mc^2", 16)
    assert svg.startswith("<svg ") and svg.endswith("</svg>") and svg.count("<svg") == 1
    assert 'fill="currentColor"' in svg
    assert "black" not in svg
    style = style_of(svg)
    # text-sized: a little wider than three em, a little under one em tall
    assert 3 < em(style, "width") < 4.5
    assert 0.6 < em(style, "height") < 1.0
    # nothing of E=mc^2 hangs much below the baseline
    assert -0.1 < em(style, "vertical-align") <= 0


def test_descenders_are_lowered_below_the_baseline() -> None:
    assert em(style_of(render_inline("y", 16)), "vertical-align") < -0.15
    assert em(style_of(render_inline(r"\frac{a}{b}", 16)), "vertical-align") < -0.2


def test_sizes_are_in_em_so_they_follow_the_text() -> None:
    small, large = render_inline("x+1", 14), render_inline("x+1", 20)
    assert em(style_of(small), "width") == pytest.approx(em(style_of(large), "width"), abs=0.02)
    assert "px" not in small


def test_display_is_a_centred_block_in_a_scrolling_wrapper() -> None:
    html = render_display(GAUSS, 16)
    assert html.startswith("<section ") and html.endswith("</section>")
    assert "overflow-x:auto" in html
    style = style_of(html)
    assert "display:block" in style and "margin:0 auto" in style and "max-width:none" in style
    assert "vertical-align" not in style
    # display style: the integral and the fraction make it taller than a line of text
    assert em(style, "height") > 2


@pytest.mark.parametrize(
    "tex",
    ["E=mc^2", GAUSS, r"\boxed{x}", r"\cancel{x}", r"\textcolor{red}{x}+y", r"\sqrt[3]{x}",
     r"\left(\sum_{i=1}^n i\right)^2", r"\begin{matrix}a&b\\c&d\end{matrix}"],
)
def test_no_construct_that_wechat_strips(tex: str) -> None:
    for html in (render_inline(tex, 16), render_display(tex, 16)):
        assert not FORBIDDEN.search(html), FORBIDDEN.search(html)
        assert "<path" in html


def test_an_explicit_colour_is_kept() -> None:
    svg = render_inline(r"\textcolor{red}{x}+y", 16)
    assert 'fill="red"' in svg and 'fill="currentColor"' in svg


def test_output_is_compact() -> None:
    # WeChat counts every character of the article; a short formula should cost about a thousand
    assert len(render_inline("E=mc^2", 16)) < 1200
    assert len(render_display(GAUSS, 16)) < 3000
    path = re.search(r' d="([^"]*)"', render_inline("E=mc^2", 16))
    assert path and re.fullmatch(r"[mlhvqtcz\d -]+", path.group(1))


def test_same_input_same_output() -> None:
    first = render_display(GAUSS, 16)
    from wxpub.mdext import math as module

    module._render.cache_clear()
    assert render_display(GAUSS, 16) == first
    assert render_inline("x^2", 16) == render_inline(" x^2 ", 16)


def test_ziamath_settings_are_put_back() -> None:
    import ziamath

    before = (ziamath.config.svg2, ziamath.config.precision, ziamath.config.math.color)
    render_inline(r"\alpha_{42}", 17)
    assert (ziamath.config.svg2, ziamath.config.precision, ziamath.config.math.color) == before


@pytest.mark.parametrize("tex", [r"\frac{a", "x^", r"\left( x", r"\begin{matrix} a", r"\nosuchcmd x", ""])
def test_broken_tex_raises_math_error(tex: str) -> None:
    with pytest.raises(MathError):
        render_inline(tex, 16)


def test_characters_missing_from_the_math_font_are_an_error() -> None:
    # the bundled font has no CJK: better the source and a warning than empty boxes
    with pytest.raises(MathError, match="速度"):
        render_inline(r"\text{速度} v", 16)
    html, warnings = convert(r"$v_{\text{平均}}$")
    assert "<svg" not in html and warnings[0][1] == r"v_{\text{平均}}"


def test_ziamath_is_imported_only_when_a_formula_is_drawn() -> None:
    code = (
        "import sys, markdown\n"
        "from wxpub.mdext.math import MathExtension\n"
        "markdown.markdown('no math here, $5 only', extensions=[MathExtension()])\n"
        "assert 'ziamath' not in sys.modules, 'imported too early'\n"
        "markdown.markdown('$x$', extensions=[MathExtension()])\n"
        "assert 'ziamath' in sys.modules\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# --- through Markdown ----------------------------------------------------------------------------


def test_inline_formula_in_a_paragraph() -> None:
    html, warnings = convert("质能方程 $E=mc^2$ 告诉我们")
    assert html.startswith("<p>质能方程 <svg ") and html.endswith("</svg> 告诉我们</p>")
    assert warnings == []


def test_display_formula_on_one_line() -> None:
    html, _ = convert(f"$${GAUSS}$$")
    assert html.startswith("<section ") and len(svgs(html)) == 1
    assert "<p>" not in html


def test_display_formula_on_several_lines_splits_the_paragraph() -> None:
    html, _ = convert("Before\n$$\na^2 +\nb^2\n$$\nafter")
    assert re.fullmatch(r"<p>Before</p>\n<section .*</section>\n<p>after</p>", html, flags=re.S)
    assert html.count("<svg") == 1


def test_display_and_inline_use_the_same_font_size_setting() -> None:
    small = style_of(svgs(convert("$x$", font_size=12)[0])[0])
    large = style_of(svgs(convert("$x$", font_size=24)[0])[0])
    assert em(small, "width") == pytest.approx(em(large, "width"), abs=0.03)


@pytest.mark.parametrize(
    "text",
    [
        "It costs $5 and $10.",
        "From $20,000 to $30,000.",
        "$ x$ and $x $ are not math",
        "a $x$5 is not math either",
    ],
)
def test_dollars_that_are_not_math_stay_text(text: str) -> None:
    html, warnings = convert(text)
    assert "<svg" not in html and warnings == []
    assert html == f"<p>{text}</p>"


def test_inline_math_does_not_cross_a_blank_line() -> None:
    html, _ = convert("a $x\n\ny$ b")
    assert "<svg" not in html


def test_inline_math_may_span_a_line_break() -> None:
    html, _ = convert("a $x +\ny$ b")
    assert len(svgs(html)) == 1


def test_escaped_dollars_are_plain_dollars() -> None:
    html, _ = convert(r"pay \$5 or \$x\$ and then $y$")
    assert html.startswith("<p>pay $5 or $x$ and then <svg")
    assert len(svgs(html)) == 1


def test_tex_escapes_and_markdown_characters_reach_the_formula() -> None:
    # `\{`, `\\`, `_` and `*` would be Markdown escapes or emphasis if they were not TeX here
    html, warnings = convert(r"$\{a_1*b_2*c\}$ and $a \\ b$ and $[x](y)$")
    assert warnings == []
    assert len(svgs(html)) == 3
    assert "<em>" not in html and "<a " not in html


def test_code_spans_and_fenced_code_keep_their_dollars() -> None:
    extension = MathExtension()
    md = markdown.Markdown(extensions=[extension, "fenced_code"])
    html = md.convert("`$x$` and `` $$y$$ `` then $z$\n\n```\n$a$\n$$b$$\n```\n\n    $$c$$\n")
    assert "<code>$x$</code>" in html and "<code>$$y$$</code>" in html
    assert "$a$\n$$b$$" in html and "<code>$$c$$\n</code>" in html
    assert len(svgs(html)) == 1


def test_display_formula_inside_a_blockquote() -> None:
    html, _ = convert("> $$x^2$$")
    assert html.startswith("<blockquote>") and len(svgs(html)) == 1


def test_broken_tex_is_shown_as_source_with_a_warning() -> None:
    html, warnings = convert(r"see $\frac{a$ and" + "\n\n$$\\left( x$$")
    assert '<span style="font-family:monospace">$\\frac{a$</span>' in html
    assert '<span style="font-family:monospace">$$\\left( x$$</span>' in html
    assert "<svg" not in html
    assert sorted(w.tex for w in warnings) == [r"\frac{a", r"\left( x"]
    assert all(w.message.startswith("math not rendered") for w in warnings)


def test_warnings_are_cleared_by_reset() -> None:
    extension = MathExtension()
    md = markdown.Markdown(extensions=[extension])
    md.convert(r"$\frac{a$")
    assert len(extension.warnings) == 1
    md.reset()
    assert extension.warnings == []
    md.convert("$x$")
    assert extension.warnings == []


def test_conversion_is_deterministic() -> None:
    text = f"a $E=mc^2$ b\n\n$${GAUSS}$$\n"
    assert convert(text)[0] == convert(text)[0]


def test_make_extension_takes_the_config() -> None:
    from wxpub.mdext.math import makeExtension

    extension = makeExtension(font_size=18)
    assert extension.getConfig("font_size") == 18


# --- simple inline formulas as text (a --fit step) -------------------------------------------------


@pytest.mark.parametrize(
    ("tex", "html"),
    [
        (r"n", "<span><i>n</i></span>"),
        (r"(x_i, y_i)", "<span>(<i>x</i><sub><i>i</i></sub>, <i>y</i><sub><i>i</i></sub>)</span>"),
        (r"\hat{y}_i = w x_i + b", "<span><i>y\u0302</i><sub><i>i</i></sub> = <i>wx</i><sub><i>i</i></sub> + <i>b</i></span>"),
        (r"X^\top X \theta = X^\top y", "<span><i>X</i><sup>⊤</sup><i>Xθ</i> = <i>X</i><sup>⊤</sup><i>y</i></span>"),
        (r"O(d^3)", "<span><i>O</i>(<i>d</i><sup>3</sup>)</span>"),
        (r"\lambda > 0", "<span><i>λ</i> &gt; 0</span>"),
        (r"f(x) = -x", "<span><i>f</i>(<i>x</i>) = −<i>x</i></span>"),
        (r"\log n", "<span>log <i>n</i></span>"),
        (r"\mathrm{MSE} + \Gamma", "<span>MSE + Γ</span>"),
    ],
)
def test_a_simple_formula_is_written_as_text(tex: str, html: str) -> None:
    import xml.etree.ElementTree as etree

    from wxpub.mdext.mathtext import as_text

    written = as_text(tex)
    assert written is not None and etree.tostring(written, encoding="unicode") == html


@pytest.mark.parametrize("tex", [r"\frac{1}{n}", r"\sqrt{x}", r"e^{-x^2}", r"\ce{H2O}", r"\begin{matrix}a\end{matrix}", r"\frac{"])
def test_a_formula_text_cannot_say_stays_drawn(tex: str) -> None:
    from wxpub.mdext.mathtext import as_text

    assert as_text(tex) is None
    md = markdown.Markdown(extensions=[MathExtension(simple_as_text=True)])
    html = md.convert(f"见 ${tex}$。")
    assert "<svg" in html or "font-family:monospace" in html  # drawn, or shown as written with a warning


def test_text_formulas_only_when_asked_and_never_for_display_math() -> None:
    plain = markdown.Markdown(extensions=[MathExtension()]).convert("设 $x_i$。")
    assert "<svg" in plain
    md = markdown.Markdown(extensions=[MathExtension(simple_as_text=True)])
    assert md.convert("设 $x_i$ 与 \\(n\\)。") == "<p>设 <span><i>x</i><sub><i>i</i></sub></span> 与 <span><i>n</i></span>。</p>"
    assert "<svg" in md.convert("$$\nx_i\n$$")


# --- formulas wider than a phone ------------------------------------------------------------------

LONG_SUM = "+".join(f"a_{{{i}}}" for i in range(1, 17))  # about 590 px at 16 px: a phone column is 331


def test_a_wide_inline_formula_scrolls_in_a_box_no_wider_than_the_column() -> None:
    html = render_inline(LONG_SUM, 16)
    assert html.startswith('<span style="display:inline-block;max-width:100%;overflow-x:auto;overflow-y:hidden;vertical-align:-')
    assert html.endswith("</svg></span>")
    style = style_of(html)
    assert style.startswith("display:block;max-width:none;") and em(style, "width") * 16 > 331
    assert "%" not in style and "vertical-align" not in style  # WeChat ignores % sizes on SVG
    assert not render_inline("E=mc^2", 16).startswith("<span")  # a short one wraps like a word, at no cost


def test_a_formula_wider_than_a_phone_is_reported_at_its_line() -> None:
    from wxpub.convert import convert_text

    text = f"---\ntitle: 求和\n---\n\n前文。\n\n数列 ${LONG_SUM}$ 的和。\n\n$${LONG_SUM}$$\n\n短的 $E=mc^2$ 不报。\n"
    from contract import assert_contract

    converted = convert_text(text)
    assert_contract(converted.html)  # the scrolling box is in WeChat's profile
    found = [(n.line, n.message) for n in converted.warnings if n.code == "math"]
    assert sorted(line for line, _ in found) == [7, 9]  # display formulas are met first
    assert all("wider than a phone's column of about 331 px" in message for _, message in found)
    assert all("shown as written" not in message for _, message in found)


@pytest.fixture(scope="module")
def phone() -> Iterator[object]:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 375, "height": 700})
        yield page
        browser.close()


@pytest.mark.parametrize("theme", ["default", "ink", "geek", "warm"])
def test_a_wide_inline_formula_never_widens_a_phone_page(phone: Any, theme: str) -> None:
    from wxpub.convert import convert_text
    from wxpub.preview.phone import phone_page

    text = f"---\ntitle: 求和\n---\n\n数列 ${LONG_SUM}$ 的和。\n\n> - 引用里的列表：${LONG_SUM}$\n"
    phone.set_content(phone_page(convert_text(text, theme=theme)))
    assert phone.evaluate("document.documentElement.scrollWidth") == 375
    boxes = phone.evaluate("[...document.querySelectorAll('svg')].map(s => s.parentElement.scrollWidth > s.parentElement.clientWidth)")
    assert boxes == [True, True]  # each scrolls inside its box


def test_a_formula_in_its_box_keeps_the_text_baseline(phone: Any) -> None:
    from wxpub.mdext.math import _inline, _render

    drawing = _render(r"y_1+\frac{a}{b}", 16.0, False)
    row = '<p style="font-size:16px;line-height:1.75;margin:0">文字 {} 文字</p>'
    phone.set_content("".join(row.format(_inline(drawing, scrolls)) for scrolls in (False, True)))
    tops = phone.evaluate("[...document.querySelectorAll('p')].map(p => p.querySelector('svg').getBoundingClientRect().top - p.getBoundingClientRect().top)")
    heights = phone.evaluate("[...document.querySelectorAll('p')].map(p => p.getBoundingClientRect().height)")
    assert tops[0] == pytest.approx(tops[1], abs=0.5) and heights[0] == pytest.approx(heights[1], abs=0.5)
