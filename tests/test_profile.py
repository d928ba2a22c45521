"""Every built-in theme, on every golden case, the examples and random input, stays inside the WeChat profile."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wxpub
from contract import assert_profile
from wxpub import themes

ROOT = Path(__file__).parent.parent
POSTS = sorted((ROOT / "tests" / "golden").glob("*.md")) + sorted((ROOT / "examples" / "posts").glob("*.md")) + sorted(
    (ROOT / "benchmarks" / "posts").glob("*.md")
)
THEMES = [theme.name for theme in themes.list_themes()]


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("post", POSTS, ids=lambda p: p.stem)
def test_every_post_in_every_theme_is_inside_the_profile(post: Path, theme: str) -> None:
    assert_profile(wxpub.convert_file(post, theme=theme).html)


@pytest.mark.parametrize("theme", THEMES)
def test_built_in_themes_have_nothing_outside_the_profile(theme: str) -> None:
    resolved = themes.resolve(themes.load_theme(theme))
    assert resolved.notices == ()


def test_a_user_theme_loses_what_is_outside_the_profile_with_a_notice_for_each(tmp_path: Path) -> None:
    css = tmp_path / "mine.css"
    css.write_text(
        "p { color: #000; margin: 0 0 1em; position: relative; }\n"
        "tr { background: #eee; }\n"
        ".li { display: flex; }\n"
        "h2 { color: #c00 !important; behavior: url(x.htc); }\n",
        encoding="utf-8",
    )
    converted = wxpub.convert_text("## 标题\n\n段落\n\n| a |\n|---|\n| 1 |\n\n- 项\n", theme=str(css))
    assert_profile(converted.html)
    messages = [n.message for n in converted.warnings if n.code == "theme-css"]
    assert messages == [
        "theme mine: 'color: #000' in 'p' is now #010101 (the WeChat editor swallows pure black)",
        "theme mine: dropped 'position: relative' from 'p' (WeChat strips position)",
        "theme mine: dropped 'background: #eee' from 'tr' (WeChat ignores styles on <tr>: put them on the cells)",
        "theme mine: dropped 'display: flex' from '.li' (WeChat may not keep flex or grid layout)",
        "theme mine: dropped 'behavior: url(x.htc)' from 'h2' (it runs code)",
    ]
    assert '<p style="color:#010101;margin:0 0 1em">段落</p>' in converted.html
    assert '<h2 style="color:#c00">标题</h2>' in converted.html  # !important stripped, the colour kept


PIECES = [
    "# 标题", "## 二级", "段落", "**粗体**", "`code`", "[链接](https://example.com)", "![图](a.png \"题\")",
    "- 项", "  - 子项", "1. 一", "- [ ] 待办", "> 引用", "> [!TIP]", "> [!CAUTION]", "```python", "def f(): return None",
    "```", "| a | b |", "|:-|-:|", "| 1 | 2 |", "$x^2$", "$$E=mc^2$$", "[^1]", "[^1]: 脚注", "---",
    '<svg width="100%" viewBox="0 0 10 10"><defs><linearGradient id="g"/></defs><use href="#g"/>'
    '<a xlink:href="javascript:alert(1)"><rect fill="url(#g)" width="5" height="5"/></a></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi><annotation>x</annotation></math>',
    '<p style="behavior:url(x.htc);-moz-binding:url(x);color:black;display:flex">p</p>',
    '<table><tr style="background:#000"><td style="position:absolute">c</td></tr></table>',
    "<font color=red>f</font>", '<img src="data:image/png;base64,AA" onerror="x()">', '<a href="vbscript:x">v</a>',
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=20), st.sampled_from(THEMES))
def test_random_input_in_any_theme_stays_inside_the_profile(parts: list[str], theme: str) -> None:
    text = "\n".join(parts)
    try:
        converted = wxpub.convert_text(text, theme=theme)
    except wxpub.PostError:
        return
    assert_profile(converted.html)
