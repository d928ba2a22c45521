"""Conversion: golden HTML for every feature, the output contract, and what the API reports."""

from __future__ import annotations

from pathlib import Path

import pytest

import wxpub
from wxpub.errors import ConfigError
from contract import assert_contract, assert_golden, assert_profile

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.md"))


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, update_golden: bool) -> None:
    assert_golden(GOLDEN / f"{case}.md", update_golden)


@pytest.mark.parametrize("case", CASES)
def test_output_is_deterministic(case: str) -> None:
    text = (GOLDEN / f"{case}.md").read_text(encoding="utf-8")
    assert wxpub.convert_text(text).html == wxpub.convert_text(text).html


def test_emphasis_next_to_cjk_punctuation_is_bold() -> None:
    html = wxpub.convert_text("**“引号”**后文，**粗体，**后文").html
    assert ">“引号”</strong>后文" in html
    assert ">粗体，</strong>后文" in html


def test_soft_breaks_join_cjk_lines_and_keep_spaces_between_words() -> None:
    html = wxpub.convert_text("中文\n继续，\n下一行 English\nwords").html
    assert "中文继续，下一行 English words" in html


def test_code_whitespace_survives_wechat() -> None:
    html = wxpub.convert_text("```python\nif x:\n\n\treturn  'a  b'\n```").html
    code = html[html.index("<pre") : html.index("</pre>")]
    assert "\u00a0\u00a0\u00a0\u00a0" in code  # the tab, as four no-break spaces
    assert "<br><br>" in code  # the blank line
    assert "  " not in code.split(">", 1)[1]  # no plain-space runs for WeChat to collapse
    assert "white-space:pre" not in html
    assert "&nbsp;" not in html
    assert "overflow:auto" in html  # long lines scroll sideways


def test_no_whitespace_only_text_between_highlight_spans() -> None:
    import lxml.html

    html = wxpub.convert_text("```python\nx = call(a, b)  # note\n```").html
    code = lxml.html.fragment_fromstring(html).find(".//pre")
    texts = [code.text] + [child.tail for child in code]
    assert all(t is None or t.strip("\u00a0 ") for t in texts), texts


def test_only_coloured_tokens_get_spans_and_neighbours_merge() -> None:
    html = wxpub.convert_text("```python\nfoo.bar.baz(qux)\n```").html
    assert "<span" not in html[html.index("<pre") : html.index("</pre>")]


def test_title_comes_from_the_first_h1_and_leaves_the_body() -> None:
    converted = wxpub.convert_text("# 我的标题\n\n正文")
    assert converted.title == "我的标题"
    assert "我的标题" not in converted.html


def test_h1_repeating_the_front_matter_title_is_dropped() -> None:
    converted = wxpub.convert_text("---\ntitle: 标题\n---\n# 标题\n\n正文\n\n# 另一个\n")
    assert converted.title == "标题"
    assert ">标题<" not in converted.html
    assert "另一个" in converted.html


def test_images_are_recorded_with_their_lines_and_src_is_kept() -> None:
    converted = wxpub.convert_file(GOLDEN / "images.md")
    assert [(i.src, i.line) for i in converted.images] == [
        ("images/photo.jpg", 5),
        ("images/diagram.png", 7),
        ("images/no-caption.png", 9),
        ("images/icon.png", 11),
        ("https://example.com/remote.png", 13),
    ]
    assert converted.images[0].alt == "替代文字"
    assert converted.images[0].title == "图 1：标题作为图注"
    assert 'src="images/photo.jpg"' in converted.html


def test_links_are_numbered_references_with_lines() -> None:
    converted = wxpub.convert_file(GOLDEN / "links.md")
    assert [(l.number, l.url, l.text, l.line) for l in converted.links] == [
        (1, "https://example.com/a", "变成编号引用", 5),
        (2, "https://example.org/b", "另一个地址", 6),
        (3, "mailto:hi@example.com", "联系我们", 11),
    ]
    html = converted.html
    assert 'href="https://mp.weixin.qq.com/s/AbCdEf"' in html
    assert html.count("<a ") == 1
    assert "[3] 联系我们: " in html


def test_raw_html_removal_is_reported() -> None:
    converted = wxpub.convert_file(GOLDEN / "raw_html.md")
    messages = [n.message for n in converted.warnings if n.code == "raw-html"]
    for tag in ("script", "style", "iframe", "form"):
        assert any(f"<{tag}>" in m for m in messages), (tag, messages)
    assert any("onclick" in m for m in messages)
    assert "steal" not in converted.html and "alert" not in converted.html


def test_unknown_front_matter_key_is_a_warning_with_its_line() -> None:
    converted = wxpub.convert_text("---\ntitle: t\nautor: me\n---\n正文\n")
    [notice] = [n for n in converted.warnings if n.code == "unknown-key"]
    assert notice.line == 3 and "author" in notice.message


def test_content_length_and_budget() -> None:
    converted = wxpub.convert_text("正文")
    assert converted.content_length == len(converted.html)
    assert converted.budget_left == 19_999 - len(converted.html)  # WeChat takes fewer than 20,000


@pytest.mark.parametrize("theme", ["default", "ink", "geek", "warm"])
def test_every_builtin_theme_keeps_the_contract(theme: str) -> None:
    text = (Path(__file__).parents[1] / "examples" / "posts" / "python-async.md").read_text(encoding="utf-8")
    converted = wxpub.convert_text(text, theme=theme)
    assert_contract(converted.html)
    assert not [n for n in converted.warnings if n.code == "theme-rule"]


def test_themes_look_different() -> None:
    text = "## 标题\n\n正文 **强调**\n\n```py\nx = 1\n```\n"
    outputs = {t: wxpub.convert_text(text, theme=t).html for t in ("default", "ink", "geek", "warm")}
    assert len(set(outputs.values())) == 4


def test_color_and_font_size_options() -> None:
    html = wxpub.convert_text("## 标题", color="#c33", font_size=18).html
    assert "font-size:18px" in html
    assert "border-bottom:2px solid #c33" in html


def test_bad_color_is_a_usage_error() -> None:
    with pytest.raises(wxpub.WxpubError, match="not a hex colour"):
        wxpub.convert_text("x", color="red;}")


def test_user_theme_variables_resolved_and_uninlinable_rules_dropped(tmp_path: Path) -> None:
    css = tmp_path / "mine.css"
    css.write_text(
        ":root { --primary: #123456; --gap: var(--missing, 3px); }\n"
        ".wxpub { color: var(--primary); }\n"
        "p { margin: var(--gap) 0; }\n"
        "h2::before { content: '#'; }\n"
        "a:hover { color: red; }\n"
        "@media (max-width: 600px) { p { font-size: 14px; } }\n",
        encoding="utf-8",
    )
    converted = wxpub.convert_text("## 标题\n\n段落", theme=str(css))
    assert "color:#123456" in converted.html
    assert "margin:3px 0" in converted.html
    assert_contract(converted.html)
    dropped = " ".join(n.message for n in converted.warnings if n.code == "theme-rule")
    assert "h2::before" in dropped and "a:hover" in dropped and "@media (max-width: 600px)" in dropped


def _theme_warnings(tmp_path: Path, css: str) -> tuple[str, list[str]]:
    theme = tmp_path / "bad.css"
    theme.write_text(css, encoding="utf-8")
    converted = wxpub.convert_text("## 标题\n\n段落", theme=str(theme))
    assert_profile(converted.html)
    prefix = f"theme {theme}:"
    return converted.html, [n.message.removeprefix(prefix) for n in converted.warnings if n.message.startswith(prefix)]


def test_an_unclosed_theme_rule_is_applied_as_browsers_do_and_named(tmp_path: Path) -> None:
    html, said = _theme_warnings(tmp_path, "h2 { color: blue }\np { color: red ")
    assert '<p style="color:red">' in html
    assert said == ["2: the rule 'p' is not closed; wxpub closes it at the end of the file: add the missing '}'"]


def test_a_stray_brace_in_a_theme_leaves_the_rules_after_it_and_is_named(tmp_path: Path) -> None:
    html, said = _theme_warnings(tmp_path, "/* { */\n}}} p {color:red}\nh2 { color: blue }")
    assert '<p style="color:red">' in html and '<h2 style="color:blue">' in html
    assert said == ["2: a '}' closes no rule; wxpub ignores it: remove it"] * 3


def test_theme_values_browsers_ignore_are_named_and_dropped(tmp_path: Path) -> None:
    html, said = _theme_warnings(
        tmp_path, "h2 { color: #zzz; margin: 0 }\np {\n  font-size: 16;\n  color: \"red\";\n  padding: 0 1em;\n  line-height: 1.8;\n}\n"
    )
    assert '<h2 style="margin:0">' in html
    assert "font-size:16;" not in html and '"red"' not in html and "padding:0 1em" in html and "line-height:1.8" in html
    assert said == [
        "1: 'color: #zzz' in 'h2' has '#zzz', which is no colour; browsers ignore the declaration: write a hex colour like #0f7b6c",
        "3: 'font-size: 16' in 'p' has the number 16 without a unit, which browsers ignore: write 16px (or em)",
        "4: 'color: \"red\"' in 'p' has a quoted colour, which browsers ignore: write it without quotes",
    ]


def test_an_undefined_custom_property_is_named_and_its_declaration_dropped(tmp_path: Path) -> None:
    html, said = _theme_warnings(tmp_path, ":root { --a: #123456; }\np { color: var(--nope); margin: var(--gap, 0) }\nh2 { color: var(--a) }")
    assert "initial" not in html and '<p style="margin:0">' in html and '<h2 style="color:#123456">' in html
    assert said == [
        (
            "2: 'color: var(--nope)' in 'p' uses --nope, which the theme does not define; the declaration is dropped: "
            "define it (in :root) or give var() a fallback"
        )
    ]


def test_a_custom_property_that_gives_a_value_browsers_ignore_is_named(tmp_path: Path) -> None:
    html, said = _theme_warnings(tmp_path, ":root { --size: 16; }\np { font-size: var(--size); margin: 0 }")
    assert '<p style="margin:0">' in html
    assert said == ["2: 'font-size: var(--size)' in 'p' has the number 16 without a unit, which browsers ignore: write 16px (or em)"]


def test_a_var_cycle_is_named_as_a_cycle(tmp_path: Path) -> None:
    html, said = _theme_warnings(tmp_path, ":root {\n  --a: var(--b);\n  --b: var(--a);\n}\np { color: var(--a) }")
    assert "<p>" in html
    assert said == [
        "2: custom property '--a' refers to itself through var(); it has no value: give it a plain one",
        "3: custom property '--b' refers to itself through var(); it has no value: give it a plain one",
        "5: 'color: var(--a)' in 'p' has no value, for its custom property refers to itself; the declaration is dropped",
    ]


def test_an_unreadable_declaration_in_a_theme_is_named(tmp_path: Path) -> None:
    html, said = _theme_warnings(tmp_path, "p { color red; margin: 0 }")
    assert '<p style="margin:0">' in html
    assert said == ["1: in 'p', something is no 'property: value' declaration; browsers skip it: look for a missing ':' or ';'"]


def test_theme_mistakes_are_findings_of_check(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wxpub.cli import main

    (tmp_path / "bad.css").write_text("p { font-size: 16 }", encoding="utf-8")
    (tmp_path / "a.md").write_text("---\ntitle: T\ntheme: bad.css\n---\n\n段落\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["check", str(tmp_path / "a.md")])
    assert "WX305 theme " in out.output and "bad.css:1: 'font-size: 16' in 'p' has the number 16 without a unit" in out.output


def test_inherited_styles_are_set_once_on_the_root() -> None:
    html = wxpub.convert_text("段落一\n\n段落二\n\n- 列表").html
    assert html.count("font-family") == 1
    assert html.count("line-height:1.75") == 1


def test_a_prose_article_is_compact() -> None:
    import re

    import lxml.html

    paragraph = "这是一段普通的中文正文，讲述一个故事，其中有一些**强调**的内容和一些标点符号。" + "后面还有更多的叙述和细节，" * 5
    text = "\n\n".join([paragraph] * 15 + ["## 小标题", "> 一段引用的话。"] + [paragraph] * 15)
    converted = wxpub.convert_text(text)
    visible = len(re.sub(r"\s", "", "".join(lxml.html.fragment_fromstring(converted.html).itertext())))
    assert converted.content_length / visible <= 2.0


@pytest.mark.parametrize(
    "source",
    [
        "- a\n  - b\n    - c\n",  # two spaces, as in CommonMark
        "- a\n    - b\n        - c\n",  # four spaces
        "1. a\n   - b\n     - c\n",  # three, under an ordered marker
        "1. a\n  1. b\n    1. c\n",  # two under an ordered marker: meant as nesting
    ],
)
def test_nested_lists_at_any_commonmark_indent(source: str) -> None:
    import lxml.html

    root = lxml.html.fragment_fromstring(wxpub.convert_text(source).html)
    # A row is a section that starts with its floated marker; "c" follows the marker of its row.
    depth_of_c = next(
        len([a for a in el.iterancestors() if len(a) and (a[0].get("style") or "").startswith("float:left")])
        for el in root.iter()
        if el.tail == "c"
    )
    assert depth_of_c == 3


def test_fenced_code_inside_a_list_item_keeps_its_indentation() -> None:
    html = wxpub.convert_text("1. step\n\n   ```sh\n   make\n     indented\n   ```\n").html
    assert "make<br>\u00a0\u00a0indented" in html


def test_project_defaults_sit_under_the_front_matter(tmp_path: Path) -> None:
    (tmp_path / "wxpub.toml").write_text('[convert]\ntheme = "geek"\nline_numbers = true\n', encoding="utf-8")
    post = tmp_path / "post.md"
    post.write_text("---\ntitle: t\n---\n## 标题\n\n```py\nx = 1\n```\n", encoding="utf-8")
    source = post.read_text(encoding="utf-8")
    assert wxpub.convert_file(post).html == wxpub.convert_text(source, theme="geek", line_numbers=True).html
    post.write_text("---\ntitle: t\ntheme: warm\n---\n## 标题\n", encoding="utf-8")
    assert wxpub.convert_file(post).html == wxpub.convert_text("## 标题", theme="warm").html


def test_unknown_config_key_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "wxpub.toml").write_text('[convert]\nthem = "geek"\n', encoding="utf-8")
    post = tmp_path / "post.md"
    post.write_text("正文\n", encoding="utf-8")
    with pytest.raises(wxpub.WxpubError, match=r"\[convert\] has unknown keys: them"):
        wxpub.convert_file(post)


def test_a_space_between_inline_elements_survives_wechat() -> None:
    html = wxpub.convert_text("**粗体** *斜体* 和 `a` `b`").html
    assert "</strong>\u00a0<em>" in html
    assert "</code>\u00a0<code" in html


def test_a_raw_html_image_is_reported_as_not_uploaded() -> None:
    converted = wxpub.convert_text('![图](a.png)\n\n<p><img src="b.png"></p>\n')
    messages = [n.message for n in converted.warnings if n.code == "foreign-image"]
    assert messages == ["image 'b.png' would be dropped by WeChat: only images wxpub uploads may appear in an article"]


def test_a_theme_named_by_a_post_must_be_inside_the_project(tmp_path: Path) -> None:
    project = tmp_path / "blog"
    project.mkdir()
    (project / "wxpub.toml").write_text("", encoding="utf-8")
    (tmp_path / "outside.css").write_text("p { color: red; }", encoding="utf-8")
    (project / "mine.css").write_text("p { color: #123456; }", encoding="utf-8")
    post = project / "post.md"
    post.write_text("---\ntitle: t\ntheme: ../outside.css\n---\n正文\n", encoding="utf-8")
    with pytest.raises(wxpub.PostError, match=r"post.md:3: theme '.*outside.css' is outside the project"):
        wxpub.convert_file(post)
    post.write_text("---\ntitle: t\ntheme: mine.css\n---\n正文\n", encoding="utf-8")
    assert "color:#123456" in wxpub.convert_file(post).html
    # Given on the command line (or to the API), the person chose it: allowed.
    assert "color:red" in wxpub.convert_file(post, theme=str(tmp_path / "outside.css")).html


def test_a_theme_given_on_the_command_line_is_relative_to_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from wxpub.cli import main

    (tmp_path / "wxpub.toml").write_text("", encoding="utf-8")
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "mine.css").write_text("p { color: #123456; }", encoding="utf-8")
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "a.md").write_text("正文\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(main, ["convert", "posts/a.md", "--theme", "./themes/mine.css"])
    assert out.exit_code == 0, out.output
    assert "color:#123456" in out.output
    assert "color:#123456" in wxpub.convert_file("posts/a.md", theme="themes/mine.css").html
    # A file that is not there is said in words, named where it was looked for.
    out = CliRunner().invoke(main, ["convert", "posts/a.md", "--theme", "./themes/nope.css"])
    assert out.exit_code != 0
    assert out.output.strip() == (
        f"error: {Path('themes/nope.css')}: cannot read theme './themes/nope.css': no such file (give a path to a UTF-8 CSS file)"
    )
    # In the front matter, the path stays relative to the post.
    (tmp_path / "posts" / "a.md").write_text("---\ntheme: ../themes/mine.css\n---\n正文\n", encoding="utf-8")
    assert "color:#123456" in wxpub.convert_file("posts/a.md").html


def test_a_nested_project_takes_no_settings_from_the_folder_above(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wxpub.convert]\ntheme = "themes/mine.css"\n', encoding="utf-8")
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "mine.css").write_text("p { color: #123456; }", encoding="utf-8")
    for marker in (".git", "pyproject.toml"):
        sub = tmp_path / f"sub{marker}"
        (sub / "posts").mkdir(parents=True)
        (sub / marker).mkdir() if marker == ".git" else (sub / marker).write_text("[project]\nname = 'x'\n", encoding="utf-8")
        post = sub / "posts" / "a.md"
        post.write_text("正文\n", encoding="utf-8")
        assert wxpub.convert_file(post).theme == "default"  # neither refused nor applied
        (sub / "posts" / "b.md").write_text("---\ntheme: ../../themes/mine.css\n---\n正文\n", encoding="utf-8")
        with pytest.raises(wxpub.PostError, match=r"b.md:2: theme .* is outside the project"):
            wxpub.convert_file(sub / "posts" / "b.md")
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "a.md").write_text("正文\n", encoding="utf-8")
    assert "color:#123456" in wxpub.convert_file(tmp_path / "posts" / "a.md").html


def test_a_config_theme_outside_the_project_is_reported_at_its_line_in_the_config(tmp_path: Path) -> None:
    project = tmp_path / "blog"
    (project / "themes").mkdir(parents=True)
    (tmp_path / "out.css").write_text("p { color: red; }", encoding="utf-8")
    (project / "wxpub.toml").write_text('[preview]\naccount_name = "a"\n\n[convert]\ncolor = "#c33"\ntheme = "../out.css"\n', encoding="utf-8")
    post = project / "post.md"
    post.write_text("正文\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        wxpub.convert_file(post)
    assert Path(str(raised.value.path)) == project / "wxpub.toml" and raised.value.line == 6
    assert "[convert] theme" in raised.value.message and "is outside the project" in raised.value.message
    # A link inside the project to a file outside it is named as a link, with where it leads.
    (project / "themes" / "link.css").symlink_to(tmp_path / "out.css")
    (project / "wxpub.toml").write_text("", encoding="utf-8")
    post.write_text("---\ntheme: themes/link.css\n---\n正文\n", encoding="utf-8")
    with pytest.raises(wxpub.PostError, match=r"post.md:2: theme '.*link.css' is a link to '.*out.css', outside the project"):
        wxpub.convert_file(post)


def test_an_unknown_key_in_pyproject_is_named_as_pyproject_spells_its_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wxpub.convert]\nthem = "geek"\n', encoding="utf-8")
    post = tmp_path / "post.md"
    post.write_text("正文\n", encoding="utf-8")
    with pytest.raises(wxpub.WxpubError, match=r"pyproject.toml(:2)?: \[tool\.wxpub\.convert\] has unknown keys: them"):
        wxpub.convert_file(post)
    (tmp_path / "pyproject.toml").write_text('[tool.wxpub.convert]\ncolor = "red"\n', encoding="utf-8")
    wxpub.config.forget_settings()  # read once per run, as a command does
    with pytest.raises(ConfigError, match=r"pyproject.toml(:2)?: \[tool\.wxpub\.convert\] colour 'red'") as raised:
        wxpub.convert_file(post)
    assert raised.value.line == 2


def test_stray_closing_tags_in_raw_html_lose_no_content() -> None:
    html = wxpub.convert_text("a\n\n</section>\n\nb\n\n</body></html>\n\nc").html
    assert ">a</p>" in html and ">b</p>" in html and ">c</p>" in html
    assert_contract(html)


def test_converting_from_several_threads_gives_each_post_its_own_facts() -> None:
    from concurrent.futures import ThreadPoolExecutor

    posts = [f"# 标题{n}\n\n![图{n}](img{n}.png)\n\n[链接{n}](https://example.com/{n})\n" for n in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(wxpub.convert_text, posts))
    for n, converted in enumerate(results):
        assert converted.title == f"标题{n}"
        assert [i.src for i in converted.images] == [f"img{n}.png"]
        assert [l.url for l in converted.links] == [f"https://example.com/{n}"]


def test_urls_shown_as_text_may_break_anywhere_and_keep_their_punctuation_out() -> None:
    html = wxpub.convert_text(
        "见https://docs.python.org/3/library/asyncio.html。又见 <https://a.b/c>，"
        "(https://en.wikipedia.org/wiki/Foo_(bar))。`https://in.code/x` 与 <b title=\"https://raw.attr/x\">粗</b>\n"
    ).html
    url = '<span style="word-break:break-all">{}</span>'
    assert "见" + url.format("https://docs.python.org/3/library/asyncio.html") + "。" in html
    assert url.format("https://a.b/c") + "，" in html
    assert "(" + url.format("https://en.wikipedia.org/wiki/Foo_(bar)") + ")。" in html
    assert "https://in.code/x</code>" in html and 'title="https://raw.attr/x"' in html


def test_bold_markers_are_b_elements_and_stay_bold_once() -> None:
    html = wxpub.convert_text("1. 一\n2. 二\n", theme="warm").html
    assert '<b style="float:left;margin-left:-1.8em;color:#730">1.</b>' in html
    assert "font-weight" not in html


def test_an_empty_list_item_keeps_its_line() -> None:
    html = wxpub.convert_text("- \n- 二\n").html
    assert '•</span><br></section>' in html


def _effective_alignment(cell: object) -> str:
    """What a browser aligns a table cell's text to: its own, else inherited (a <th> is centred
    unless an alignment was set above it)."""
    import re

    def own(element: object) -> str | None:
        found = re.findall(r"text-align:(\w+)", element.get("style") or "")  # type: ignore[attr-defined]
        return found[-1] if found else None

    if own(cell):
        return own(cell)  # type: ignore[return-value]
    inherited = next((own(a) for a in cell.iterancestors() if own(a)), None)  # type: ignore[attr-defined]
    return inherited or ("center" if cell.tag == "th" else "start")  # type: ignore[attr-defined]


@pytest.mark.parametrize("theme", ["default", "ink", "geek", "warm"])
def test_a_tables_commonest_alignment_is_said_once_and_every_cell_keeps_its_own(theme: str) -> None:
    import lxml.html

    source = "| 名称 | 数量 | 占比 | 备注 |\n|---|--:|--:|:-:|\n" + "| 甲 | 1 | 2% | 无 |\n" * 4
    root = lxml.html.fragment_fromstring(wxpub.convert_text(source, theme=theme).html)
    [table] = root.iter("table")
    aligned = [[_effective_alignment(cell) for cell in row] for row in table.iter("tr")]
    assert aligned == [["left", "right", "right", "center"]] * 5  # as before the hoist, header row included
    assert "text-align:right" in table.get("style")
    assert sum("text-align:right" in (td.get("style") or "") for td in table.iter("td")) == 0


def test_list_rows_of_one_line_are_lines_of_the_list() -> None:
    html = wxpub.convert_text("- 一\n- 二\n- 三\n").html
    assert '<section style="margin:0 0 1em;padding-left:1.4em"><span style="float:left;margin-left:-1.4em">•</span>一<br>' in html
    assert html.count("<br>") == 2 and html.count("<section") == 2
    nested = wxpub.convert_text("- 一\n  - 甲\n  - 乙\n- 二\n").html
    assert "<section><span" in nested and "甲<br><span" in nested  # a row holding a list stays a block


def test_list_rows_that_inherit_a_text_indent_stay_blocks() -> None:
    html = wxpub.convert_text("<div style=\"text-indent:2em\" markdown=\"1\">\n\n- 一\n- 二\n\n</div>\n").html
    assert "<br>" not in html and html.count("<section><span") == 2


def test_greater_than_is_written_plain_in_text_and_escaped_in_attributes() -> None:
    html = wxpub.convert_text('![a>b](x.png "图>1")\n\n`x > y` 与 a->b\n').html
    assert 'alt="a&gt;b"' in html and ">图>1</figcaption>" in html and "x > y</code>" in html and "a->b" in html


CODE = "```py\nx = 1\n```\n"


def numbered(converted: wxpub.Converted) -> bool:
    return "1\u00a0\u00a0</span>" in converted.html


@pytest.mark.parametrize(
    ("written", "on"),
    [('"false"', False), ("'no'", False), ("'off'", False), ("'False'", False), ('"true"', True), ("'yes'", True), ("'on'", True)],
)
def test_a_yes_no_key_written_as_text_means_what_it_says_and_is_warned_about(written: str, on: bool) -> None:
    """bool("false") is True: a quoted word is read as the word, with a warning at its value."""
    from wxpub.validate import validate

    converted = wxpub.convert_text(f"---\ntitle: t\nline_numbers: {written}\n---\n{CODE}")
    assert numbered(converted) is on
    [finding] = [f for f in validate(converted) if f.code == "WX117"]
    assert (finding.line, finding.col, finding.severity.value) == (3, 15, "warning")
    word = "true" if on else "false"
    assert finding.message == f"line_numbers: '{written[1:-1]}' is text, read as {word}; write line_numbers: {word}, without quotes"


def test_yes_no_keys_take_yaml_booleans_and_refuse_anything_else() -> None:
    for written, on in (("false", False), ("no", False), ("off", False), ("true", True), ("yes", True), ("on", True)):
        converted = wxpub.convert_text(f"---\ntitle: t\nline_numbers: {written}\n---\n{CODE}")
        assert numbered(converted) is on and not [n for n in converted.warnings if n.code == "yes-no-text"]
    for written in ("maybe", "1", "[true]"):
        with pytest.raises(wxpub.PostError) as refused:
            wxpub.convert_text(f"---\ntitle: t\nline_numbers: {written}\n---\n{CODE}")
        assert refused.value.line == 3 and refused.value.message.startswith("line_numbers must be true or false")


def test_an_unknown_code_style_is_an_error_at_its_line_listing_the_styles() -> None:
    """Raised while highlighting, it made every code block plain text, without a word."""
    with pytest.raises(wxpub.PostError) as refused:
        wxpub.convert_text(f"---\ntitle: t\ncode_style: nope\n---\n{CODE}")
    assert refused.value.line == 3 and refused.value.message == "code_style 'nope' is not a code style"
    assert refused.value.hint is not None and refused.value.hint.startswith("use one of: wxpub-light, wxpub-dark, ")
    assert "monokai" in refused.value.hint
    with pytest.raises(wxpub.errors.UsageError):  # given by a script: a usage error, as a bad theme is
        wxpub.convert_text(CODE, code_style="nope")
    assert "<pre" in wxpub.convert_text(f"---\ntitle: t\ncode_style: monokai\n---\n{CODE}").html


def test_convert_settings_in_wxpub_toml_are_read_the_same_way(tmp_path: Path) -> None:
    from wxpub.check import check_file

    def project(name: str, settings: str) -> tuple[Path, Path]:
        (tmp_path / name).mkdir()
        config, post = tmp_path / name / "wxpub.toml", tmp_path / name / "post.md"
        config.write_text(f"[convert]\n{settings}\n", encoding="utf-8")
        post.write_text(f"---\ntitle: t\n---\n{CODE}", encoding="utf-8")
        return config, post

    _, post = project("a", 'line_numbers = "off"')
    converted = wxpub.convert_file(post)
    assert not numbered(converted)
    assert [n.message for n in converted.warnings if n.code == "yes-no-text"] == [
        '[convert] in wxpub.toml: line_numbers = "off" is text, read as false; write line_numbers = false, without quotes'
    ]
    config, post = project("b", 'code_style = "nope"')
    with pytest.raises(wxpub.errors.ConfigError) as refused:
        wxpub.convert_file(post)
    assert refused.value.path == str(config) and refused.value.message == "[convert] code_style 'nope' is not a code style"
    [problem] = check_file(post).problems
    assert problem.code == "WX306" and problem.message.startswith(f"{config}: [convert] code_style 'nope' is not a code style; use one of:")
