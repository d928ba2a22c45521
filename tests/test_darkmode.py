"""Dark mode as WeChat recolours it, checked against examples worked out by hand, and the contrast rule."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest

from wxpub.check import check_text
from wxpub.convert import convert_text
from wxpub.darkmode import brightness, contrast, contrast_problems, parse_colour, recolour
from wxpub.themes import list_themes

GOLDEN = Path(__file__).parent / "golden"


def styles(fragment: str) -> list[str]:
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    return [el.get("style") or "" for el in root.iter() if isinstance(el.tag, str) and el.tag != "div"]


def test_a_white_background_becomes_the_dark_page() -> None:
    # White: HSL lightness 100 is inverted about the page's (#191919 has 9.8): 100 + 9.8 - 100 = 9.8.
    # A light grey #f5f5f5 (lightness 96.1) becomes 13.7, i.e. #232323.
    out = recolour('<section style="background:#fff"><p style="background-color:#f5f5f5">x</p></section>')
    # A background alone gets a text colour: the inherited #1a1a1a (lightness 10) flipped to 80, #ccc.
    assert styles(out) == ["background:#191919;color:#ccc", "background-color:#232323;color:#ccc"]


def test_a_near_white_tinted_background_becomes_a_pure_grey() -> None:
    # #fdfbf7 (ink's paper) is brighter than 250 (251.1), so it counts as white: its lightness 98.0
    # is inverted to 100 + 9.8 - 98.0 = 11.8, and the SDK builds the result as hsl(0, 0, l), a grey
    # (#1e1e1e), not the tint's own hue and saturation, which would be a brown slab (#30240c).
    out = recolour('<section style="background:#fdfbf7">x</section>')
    assert styles(out) == ["background:#1e1e1e;color:#ccc"]


def test_grey_text_is_flipped_only_when_too_close_to_the_background() -> None:
    # #333 (brightness 51) is 26 from the page (25), under 65: lightness 20 becomes 90 - 20 = 70, #b2b2b2.
    # #999 (brightness 153) is 128 away, so it is kept, as WeChat keeps it.
    out = recolour('<section style="color:#333"><p>a <span style="color:#999">b</span></p></section>')
    assert styles(out) == ["color:#b2b2b2", "", "color:#999"]


def test_a_dark_code_block_is_raised_to_lightness_22_and_keeps_its_text() -> None:
    # #282c34 has lightness 18: raised to 22 it is #31363f. Its text #abb2bf (brightness 176) is
    # far enough from that (53), so it is kept; a border on the light page is converted like text.
    out = recolour('<pre style="background:#282c34;color:#abb2bf;border:1px solid #ddd">x</pre>')
    assert styles(out) == ["background:#31363f;color:#abb2bf;border:1px solid #ddd"]


def test_an_svg_is_left_alone_and_currentcolor_follows_the_converted_text() -> None:
    fragment = '<p style="color:#333">x<svg style="fill:currentColor"><path fill="#333" style="stroke:#000"></path></svg></p>'
    out = recolour(fragment)
    assert 'style="color:#b2b2b2"' in out
    assert '<svg style="fill:currentColor"><path fill="#333" style="stroke:#000"></path></svg>' in out


def test_a_coloured_callout_becomes_a_mid_tone_and_its_title_is_kept() -> None:
    # #fff8e5 is tinted (saturation > 0) and not white (brightness 247.9 < 250): it is scaled down to
    # brightness 190, #c3beaf. The title #9a6700 (brightness 106.5) is 83.5 from that, so it is kept,
    # and reads at only about 2.6:1: the contrast rule reports it in dark mode, not in light.
    fragment = (
        '<section style="background:#fff8e5;border-left:4px solid #f0a020">'
        '<p style="color:#9a6700">警告</p><p>正文</p></section>'
    )
    out = recolour(fragment)
    assert styles(out)[0].startswith("background:#c3beaf;border-left:4px solid ")
    assert styles(out)[0].endswith(";color:#1a1a1a")  # a background alone gets a text colour
    assert styles(out)[1] == "color:#9a6700"
    found = contrast_problems(fragment)
    assert [(p.mode, p.sample, round(p.ratio, 1)) for p in found] == [("dark", "警告", 2.6)]


def test_data_no_dark_and_background_images_are_left_alone() -> None:
    out = recolour(
        '<section data-no-dark="" style="background:#fff;color:#333">a</section>'
        '<section style="background:url(x.png);color:#333">b</section>'
    )
    assert styles(out) == ["background:#fff;color:#333", "background:url(x.png);color:#333"]


@pytest.mark.parametrize("theme", [t.name for t in list_themes()])
def test_every_built_in_theme_s_pale_boxes_turn_dark_grey_in_dark_mode(theme: str) -> None:
    # A pale tinted box that WeChat scales to brightness 190 is a light patch on the dark page; the
    # themes use pure greys or tints bright enough to count as white, which WeChat turns dark grey.
    for case, html in _golden_in(theme):
        light = lxml.html.fragment_fromstring(html, create_parent="div")
        dark = lxml.html.fragment_fromstring(recolour(html), create_parent="div")
        for before, after in zip(light.iter(), dark.iter()):
            paint = parse_colour(_background(before))
            if paint is None or brightness(paint.rgb) <= 190:
                continue  # no box, or a strong one (an accent or a dark code block), which WeChat keeps
            grey = parse_colour(_background(after))
            assert grey is not None
            seen = (case.name, before.tag, _background(before), _background(after))
            assert brightness(grey.rgb) < 60 and max(grey.rgb) - min(grey.rgb) < 8, seen


def _golden_in(theme: str) -> list[tuple[Path, str]]:
    """Each golden case but raw_html (its colours are the writer's own) converted in `theme`, without
    its front matter, so that the colours are the theme's, not the case's."""
    converted = []
    for case in sorted(GOLDEN.glob("*.md")):
        if case.stem == "raw_html":
            continue
        text = case.read_text(encoding="utf-8")
        body = text.split("---\n", 2)[2] if text.startswith("---\n") else text
        converted.append((case, convert_text(body, theme=theme).html))
    return converted


def _background(element: object) -> str:
    style = element.get("style") or "" if isinstance(element.tag, str) else ""  # type: ignore[attr-defined]
    found = [d.split(":", 1)[1] for d in style.split(";") if d.split(":", 1)[0].strip() in ("background", "background-color")]
    return found[-1].strip() if found else ""


def test_contrast_is_wcag_21() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast(parse_colour("#767676").rgb, (255, 255, 255)) == pytest.approx(4.54, abs=0.01)


def test_light_grey_text_is_reported_in_light_mode() -> None:
    found = contrast_problems('<section style="color:#333"><p style="color:#aaa">浅灰的字</p></section>')
    assert [(p.mode, p.tag) for p in found] == [("light", "p")]


@pytest.mark.parametrize("theme", [t.name for t in list_themes()])
def test_every_built_in_theme_reads_at_4_5_to_1_in_both_modes(theme: str) -> None:
    for case, html in _golden_in(theme):
        assert [p.message() for p in contrast_problems(html)] == [], case.name


def test_check_reports_low_contrast_at_its_line() -> None:
    text = "---\ntitle: 标题\ncover: https://example.com/c.jpg\n---\n\n第一段。\n\n<p style=\"color:#bbb\">看不清的字</p>\n"
    found = [p for p in check_text(text, "post.md") if p.code == "WX308"]
    assert [(p.line, p.col) for p in found] == [(8, 23)]
    assert found[0].message.startswith("light mode: text #bbb on #fff has contrast 1.92:1")


def test_a_primary_colour_of_the_posts_own_is_measured() -> None:
    # A built-in theme in its own colours is measured by the test above; a colour the post picks is not.
    text = "---\ntitle: 标题\ncolor: '#ffdd00'\ncover: https://example.com/c.jpg\n---\n\n正文。\n\n见[文档](https://example.com/a)。\n"
    assert [p.code for p in check_text(text, "post.md") if p.code == "WX308"]  # the reference mark, pale yellow on white
    assert not [p for p in check_text(text.replace("color: '#ffdd00'\n", ""), "post.md") if p.code == "WX308"]
