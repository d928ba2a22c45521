"""`convert --fit`: cheaper renderings, in their fixed order, until a post fits WeChat's 20,000 characters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import wxpub
from wxpub import fit
from wxpub.cli import main
from wxpub.convert import _convert, fit_outlook, plan
from wxpub.post import parse_post

ROOT = Path(__file__).parent.parent
TECH_6K = ROOT / "benchmarks" / "posts" / "tech-6k.md"
THEMES = ("default", "ink", "geek", "warm")


def code_heavy(blocks: int) -> str:
    """A post of `blocks` highlighted code blocks, strings and keywords in every line."""
    block = "```python\n" + "".join(f'def f{i}(x):\n    return "value {i}" if x else None\n' for i in range(12)) + "```\n\n"
    return "---\ntitle: 代码\n---\n\n" + "正文。\n\n" + block * blocks


def test_a_post_that_fits_is_left_as_it_is() -> None:
    text = TECH_6K.read_text(encoding="utf-8")
    assert wxpub.convert_text(text, theme="default", fit=True) == wxpub.convert_text(text, theme="default")


def test_fit_takes_only_the_steps_it_needs_and_names_them() -> None:
    text = code_heavy(8)
    plain = wxpub.convert_text(text)
    assert not fit.fits(plain)
    fitted = wxpub.convert_text(text, fit=True)
    assert fit.fits(fitted)
    gave_up = [n.message for n in fitted.warnings if n.code == "fit"]
    assert gave_up == ["to fit WeChat's 20,000 characters, code blocks colour only keywords and comments"]
    assert "color:#16a" not in fitted.html and "color:#612" in fitted.html  # strings plain, keywords coloured


def test_the_steps_add_up_in_their_order() -> None:
    post = parse_post(TECH_6K.read_text(encoding="utf-8"))
    for theme in THEMES:
        resolved, options = plan(post, theme=theme)
        lengths = []
        for steps in range(len(fit.STEPS) + 1):
            converted = _convert(post, *fit.fitted_plan(resolved, options, steps))
            lengths.append(fit.publish_length(converted))
        assert lengths == sorted(lengths, reverse=True), (theme, lengths)
        assert lengths[-1] < lengths[0] * 0.9


def test_every_step_keeps_the_output_in_the_profile() -> None:
    from contract import assert_contract

    post = parse_post(TECH_6K.read_text(encoding="utf-8") + "\n> [!TIP]\n> 提示\n\n> 引用\n\n设 $x_i^2 = \\hat{y}$，见[文档](https://example.com)。\n")
    resolved, options = plan(post, theme="warm")
    converted = _convert(post, *fit.fitted_plan(resolved, options, len(fit.STEPS)))
    assert_contract(converted.html)
    assert "color:#" not in converted.html.split("<pre", 1)[1].split("</pre>", 1)[0]  # code in one colour


def test_a_post_too_long_for_any_step_says_so() -> None:
    converted = wxpub.convert_text(code_heavy(60), fit=True)
    assert not fit.fits(converted)
    [message] = [n.message for n in converted.warnings if n.code == "fit"]
    over = -converted.budget_left
    assert message == (
        "even with every cheaper rendering (code blocks colour only keywords and comments; code blocks are in one colour),"
        f" still {over:,} characters over WeChat's 20,000: shorten the post or split it"
    )


def test_a_post_too_long_for_any_step_names_only_the_steps_that_changed_it() -> None:
    # Prose, a bold word, a quote and a picture; no code, table, list, formula or link.
    text = "---\ntitle: 长\n---\n\n> 引用\n\n![图](a.png \"图注\")\n\n" + "这是**很长**的一段文字。\n\n" * 1400
    post = parse_post(text)
    converted = wxpub.convert_text(text, fit=True)
    assert not fit.fits(converted)
    # Against converting once per step: a step changed the post when its rendering differs from the one before.
    resolved, options = plan(post)
    htmls = [_convert(post, *fit.fitted_plan(resolved, options, steps)).html for steps in range(len(fit.STEPS) + 1)]
    changed = tuple(fit.STEPS[i].gives_up for i in range(len(fit.STEPS)) if htmls[i + 1] != htmls[i])
    assert changed and len(changed) < len(fit.STEPS) and converted.gave_up == changed
    [message] = [n.message for n in converted.warnings if n.code == "fit"]
    assert message.startswith(f"even with every cheaper rendering ({'; '.join(changed)}), still ")
    assert "code blocks" not in message and "formulas" not in message and "to fit" not in message
    prose = wxpub.convert_text("---\ntitle: 长\n---\n\n" + "没有别的，只有很长的文字。\n\n" * 2000, fit=True)
    assert [n.message for n in prose.warnings if n.code == "fit"] == [
        f"still {-prose.budget_left:,} characters over WeChat's 20,000, and no cheaper rendering changes this post: shorten the post or split it"
    ]


@pytest.mark.parametrize("theme", THEMES)
def test_the_6000_character_technical_post_fits_in_every_theme(theme: str) -> None:
    converted = wxpub.convert_file(TECH_6K, theme=theme, fit=True)
    assert fit.publish_length(converted) < 20_000


def _visible(html: str) -> int:
    import re

    import lxml.html

    return len(re.sub(r"\s", "", "".join(lxml.html.fragment_fromstring(html).itertext())))


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize(("post", "most"), [("prose.md", 1.8), ("tech-8k.md", 3.0)])
def test_every_theme_stays_within_its_characters_per_visible_character(theme: str, post: str, most: float) -> None:
    """The size targets benchmarks/bench_size.py prints, held: a theme change that costs more fails here."""
    converted = wxpub.convert_file(ROOT / "benchmarks" / "posts" / post, theme=theme)
    assert fit.publish_length(converted) / _visible(converted.html) <= most


@pytest.mark.parametrize("theme", THEMES)
def test_a_newsletter_of_59_links_and_22_pictures_fits_in_every_theme(theme: str) -> None:
    weekly = ROOT / "tests" / "realposts" / "weekly.md"
    assert not fit.fits(wxpub.convert_file(weekly, theme=theme))
    converted = wxpub.convert_file(weekly, theme=theme, fit=True)
    assert fit.publish_length(converted) < 20_000
    gave_up = [n.message for n in converted.warnings if n.code == "fit"]
    assert "to fit WeChat's 20,000 characters, reference and footnote marks are plain superscripts in the text colour" in gave_up
    assert converted.html.count("<sup>[") == 59  # each mark as plain as it can be
    assert converted.html.count("<img ") == 22


@pytest.mark.parametrize("theme", THEMES)
def test_a_tutorial_of_45_formulas_fits_in_every_theme(theme: str) -> None:
    tutorial = ROOT / "tests" / "realposts" / "tutorial.md"
    assert fit.publish_length(wxpub.convert_file(tutorial, theme=theme)) > 2 * 20_000
    converted = wxpub.convert_file(tutorial, theme=theme, fit=True)
    assert fit.publish_length(converted) < 20_000
    gave_up = [n.message for n in converted.warnings if n.code == "fit"]
    assert gave_up[-1] == "to fit WeChat's 20,000 characters, simple inline formulas are written as text, not drawn"
    assert "<i>x</i><sub><i>i</i></sub>" in converted.html
    assert converted.html.count("<svg") == 5  # the display formulas stay drawn


def test_the_steps_for_links_and_pictures_take_off_what_they_name() -> None:
    text = "---\ntitle: 图\n---\n\n**粗体**见[文档](https://example.com)[^1]。\n\n![猫](cat.png)\n\n[^1]: 注。\n"
    post = parse_post(text)
    resolved, options = plan(post, theme="warm")
    before = _convert(post, resolved, options).html
    assert 'class' not in before and "border-radius:12px" in before and '<figcaption style="' in before
    after = _convert(post, *fit.fitted_plan(resolved, options, len(fit.STEPS))).html
    assert "<sup>[1]</sup>" in after and "<figcaption>猫</figcaption>" in after and "<strong>粗体</strong>" in after
    assert "border-radius" not in after.split("<img", 1)[1].split(">", 1)[0]


def test_fit_names_only_the_steps_that_took_something_away() -> None:
    # The newsletter has no code blocks or tables, and its list markers are in the text colour already.
    converted = wxpub.convert_file(ROOT / "tests" / "realposts" / "weekly.md", fit=True)
    assert fit.fits(converted)
    assert [n.message.split("characters, ", 1)[1] for n in converted.warnings if n.code == "fit"] == [
        "callouts and quotes have no background or rounded corners",
        "inline code has no background",
        "reference and footnote marks are plain superscripts in the text colour",
        "pictures have square corners and no frame",
    ]


def test_outlook_says_how_far_over_and_whether_fit_helps() -> None:
    post = parse_post(code_heavy(8))
    outlook = fit_outlook(post)
    assert outlook.over_by == outlook.length - 19_999 > 0
    assert outlook.fits_with_fit and outlook.gives_up == ("code blocks colour only keywords and comments",)
    hopeless = fit_outlook(parse_post(code_heavy(60)))
    assert not hopeless.fits_with_fit and hopeless.gives_up == ()  # nothing would make it fit: not worth its renders to name
    fine = fit_outlook(parse_post("短文。\n"))
    assert fine.over_by == 0 and fine.fits_with_fit and fine.gives_up == ()


def test_cli_warns_without_fit_and_fits_with_it(tmp_path: Path) -> None:
    post = tmp_path / "long.md"
    post.write_text(code_heavy(8), encoding="utf-8")
    runner = CliRunner()
    plain = runner.invoke(main, ["convert", str(post), "--json"])
    assert plain.exit_code == 0
    data = json.loads(plain.stdout)
    assert data["over_by"] > 0 and data["fit"] == {"fits": True, "gives_up": ["code blocks colour only keywords and comments"]}
    assert f"{data['over_by']:,} characters over WeChat's 20,000; --fit would make it fit (code blocks colour only keywords and comments)" in plain.stderr
    fitted = runner.invoke(main, ["convert", str(post), "--fit", "-o", str(tmp_path / "out.html")])
    assert fitted.exit_code == 0
    assert "to fit WeChat's 20,000 characters, code blocks colour only keywords and comments" in fitted.stderr
    assert "over WeChat's" not in fitted.stderr



def sized(chars: int) -> str:
    """A post whose content is exactly `chars` characters as publish sends it."""
    head = "---\ntitle: 长度\n---\n\n"
    base = wxpub.convert_text(head + "a\n").content_length - 1
    text = head + "a" * (chars - base) + "\n"
    assert wxpub.convert_text(text).content_length == chars
    return text


def test_wechat_takes_fewer_than_20000_characters_and_every_figure_says_so(tmp_path: Path) -> None:
    """WeChat's content must be "少于2万字符": 19,999 fits with nothing left, 20,000 is one over,
    and convert, --json, check, publish, --fit and the preview all give that one figure."""
    from wxpub import validate
    from wxpub.preview.article import Article, Choices

    for chars, left in ((19_999, 0), (20_000, -1)):
        converted = wxpub.convert_text(sized(chars))
        over = max(0, -left)
        assert converted.budget_left == left
        assert fit.fits(converted) is (over == 0)
        assert fit_outlook(converted.post, plain=converted).over_by == over
        refused = [f for f in validate.validate(converted) if f.code == "WX301"]
        assert [f.message.split(", ")[1] for f in refused] == ([f"{over} over WeChat's limit (fewer than 20,000; inline styles count too)"] if over else [])
        assert validate.has_errors(refused) is bool(over)  # publish refuses exactly what check calls an error
        shown = Article(Path("p.md"), "t", "", "", "", "", "default", "#000", "", "", chars, None, (), Choices()).to_json()
        assert (shown["length"], shown["limit"], shown["left"]) == (chars, 20_000, left)
        post = tmp_path / f"p{chars}.md"
        post.write_text(sized(chars), encoding="utf-8")
        data = json.loads(CliRunner().invoke(main, ["convert", str(post), "--json"]).stdout)
        assert (data["content_length"], data["budget_left"], data.get("over_by", 0)) == (chars, left, over)
        written = CliRunner().invoke(main, ["convert", str(post), "-o", str(tmp_path / "p.html")])
        room = "0 left of WeChat's 20,000" if not over else "1 over WeChat's limit (fewer than 20,000)"
        assert f"({chars:,} characters, {room})" in written.stderr


def test_cli_json_with_fit_gives_the_figures_of_what_it_printed(tmp_path: Path) -> None:
    post = tmp_path / "long.md"
    post.write_text(code_heavy(60), encoding="utf-8")
    runner = CliRunner()
    fitted = runner.invoke(main, ["convert", str(post), "--fit", "--json"])
    assert fitted.exit_code == 0
    data = json.loads(fitted.stdout)
    assert data["budget_left"] < 0 and data["over_by"] == -data["budget_left"]
    assert data["fit"] == {"fits": False, "gives_up": ["code blocks colour only keywords and comments", "code blocks are in one colour"]}
    post.write_text(code_heavy(8), encoding="utf-8")
    fits_now = json.loads(runner.invoke(main, ["convert", str(post), "--fit", "--json"]).stdout)
    assert fits_now["budget_left"] >= 0 and fits_now["over_by"] == 0
    assert fits_now["fit"] == {"fits": True, "gives_up": ["code blocks colour only keywords and comments"]}
    post.write_text("短文。\n", encoding="utf-8")
    short = json.loads(runner.invoke(main, ["convert", str(post), "--fit", "--json"]).stdout)
    assert "over_by" not in short and "fit" not in short
