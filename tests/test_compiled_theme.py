"""A compiled theme inlines exactly as premailer does, and spares later processes from importing it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import wxpub
from wxpub import compiled_theme, inline
from wxpub.convert import plan
from wxpub.post import parse_post
from wxpub.render import render

from test_property import lines

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.md"))
THEMES = ("default", "ink", "geek", "warm")


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WXPUB_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    compiled_theme._load_theme.cache_clear()
    compiled_theme._styles.cache_clear()


def both_ways(markdown: str, theme: str = "default") -> tuple[str, str]:
    """The fragment inlined by premailer, then by the theme premailer compiled on the way."""
    resolved, options = plan(parse_post(markdown), theme=theme)
    rendered = render(parse_post(markdown), options)
    images = frozenset(i.src for i in rendered.images)
    original_apply = compiled_theme.apply
    try:
        compiled_theme.apply = lambda root, css: False  # type: ignore[assignment]
        by_premailer, _ = inline.inline(rendered.html, resolved, images)
    finally:
        compiled_theme.apply = original_apply  # type: ignore[assignment]
    used: list[bool] = []
    compiled_theme.apply = lambda root, css: used.append(original_apply(root, css)) or used[-1]  # type: ignore[assignment]
    try:
        by_compiled, _ = inline.inline(rendered.html, resolved, images)
    finally:
        compiled_theme.apply = original_apply  # type: ignore[assignment]
    assert used == [True], "the second conversion should not have needed premailer"
    return by_premailer, by_compiled


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("case", CASES)
def test_compiled_theme_output_is_premailers_byte_for_byte(case: str, theme: str) -> None:
    by_premailer, by_compiled = both_ways((GOLDEN / f"{case}.md").read_text(encoding="utf-8"), theme)
    assert by_compiled == by_premailer


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(lines)
def test_compiled_theme_matches_premailer_on_random_markdown(parts: list[str]) -> None:
    text = "\n".join(parts)
    try:
        parse_post(text)
    except wxpub.PostError:
        return
    by_premailer, by_compiled = both_ways(text)
    assert by_compiled == by_premailer


def test_a_style_attribute_never_seen_goes_back_to_premailer() -> None:
    wxpub.convert_text("段落\n")
    markdown = '<p style="COLOR: Red ;font-weight : bold">原样的 HTML</p>\n\n段落\n'
    resolved, options = plan(parse_post(markdown))
    rendered = render(parse_post(markdown), options)
    root = inline._parse(rendered.html)
    inline._sanitise(root, frozenset())
    assert compiled_theme.apply(root, resolved.css) is False
    assert 'class="wxpub"' in inline.etree.tostring(root, encoding="unicode"), "the tree must be left as it was"
    first = wxpub.convert_text(markdown).html  # premailer, which learns the style
    again = inline._parse(rendered.html)
    inline._sanitise(again, frozenset())
    assert compiled_theme.apply(again, resolved.css) is True
    assert wxpub.convert_text(markdown).html == first


def test_a_user_theme_is_compiled_too(tmp_path: Path) -> None:
    css = tmp_path / "mine.css"
    css.write_text(
        "section { color: #333 } p { margin: 0 0 1em } h2 { color: #c00; font-size: 20px }"
        " p:first-child { margin-top: 0 } blockquote > p { color: #666 !important } .callout p + p { margin: 0 }"
        " li:nth-child(2) { color: red } h2:hover { color: blue } * { box-sizing: border-box }",
        encoding="utf-8",
    )
    markdown = "## 标题\n\n段落\n\n> 引用\n>\n> 第二段\n\n> [!NOTE]\n> 一\n>\n> 二\n\n- 一\n- 二\n"
    by_premailer, by_compiled = both_ways(markdown, theme=str(css))
    assert by_compiled == by_premailer and "color:#c00" in by_compiled and "color:#666" in by_compiled


def test_a_broken_cache_file_only_costs_speed() -> None:
    expected = wxpub.convert_text("## 标题\n\n段落\n").html
    folder = compiled_theme._cache().folder
    for path in folder.iterdir():
        path.write_text("{not json", encoding="utf-8")
    compiled_theme._load_theme.cache_clear()
    compiled_theme._styles.cache_clear()
    assert wxpub.convert_text("## 标题\n\n段落\n").html == expected


def test_a_later_process_converts_without_importing_premailer(tmp_path: Path) -> None:
    post = Path(__file__).parents[1] / "examples" / "posts" / "python-async.md"
    script = (
        "import sys, wxpub; html = wxpub.convert_file(sys.argv[1]).html;"
        "print('premailer' in sys.modules, 'cssutils' in sys.modules, len(html))"
    )
    env = {**os.environ, "WXPUB_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        subprocess.run([sys.executable, "-c", script, str(post)], env=env, capture_output=True, text=True, check=True).stdout.split()
        for _ in range(2)
    ]
    assert runs[0][:2] == ["True", "True"]
    assert runs[1][:2] == ["False", "False"]
    assert runs[0][2] == runs[1][2]
