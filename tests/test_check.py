"""wxpub check: every rule on good and bad posts, --fix and --diff, selection, config, the report, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from wxpub import check
from wxpub.check import RULES, Mode, Selection, Severity, check_file, check_paths, check_text, fix_text
from wxpub.limits import wechat_length
from wxpub.cli import main
from wxpub.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)

def _png(size: tuple[int, int]) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


COVER_PNG = _png((940, 400))  # holds both cover crops, wide enough to look sharp in the feed

GOOD = """---
title: 一篇好文章
author: 张三
digest: 写给读者的摘要
source_url: https://example.com/post
cover: cover.png
---

这是一篇 WeChat 文章，写于 2024 年。

```python
x = "中文abc,没有空格"
```

行内代码 `中文abc` 不会被改动。
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A project folder (marked by wxpub.toml) with a posts/ folder and a cover image."""
    (tmp_path / "wxpub.toml").write_text("[check]\n", encoding="utf-8")
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "cover.png").write_bytes(COVER_PNG)
    return tmp_path


def write(project: Path, text: str, name: str = "post.md") -> Path:
    path = project / "posts" / name
    path.write_text(text, encoding="utf-8")
    return path


def codes(problems: list[check.Problem]) -> list[str]:
    return [p.code for p in problems]


def where(problems: list[check.Problem], code: str) -> list[tuple[int, int]]:
    return [(p.line, p.col) for p in problems if p.code == code]


def post(front: str, body: str = "正文。\n") -> str:
    return f"---\n{front}---\n\n{body}"


# --- a good post ---------------------------------------------------------------------------------


def test_a_good_post_has_no_problems(project: Path) -> None:
    path = write(project, GOOD)
    assert check_file(path).problems == ()


def test_every_code_is_listed_once_with_a_severity() -> None:
    assert all(code.startswith("WX") and len(code) == 5 for code in RULES)
    assert {rule.severity for rule in RULES.values()} == set(Severity)
    fixable = {code for code, rule in RULES.items() if rule.fixable}
    assert fixable == {"WX110", "WX111", "WX112", "WX401", "WX402", "WX403", "WX404", "WX409"}


# --- the file ------------------------------------------------------------------------------------


def test_a_file_that_is_not_utf8_is_reported_with_its_line(project: Path) -> None:
    path = project / "posts" / "gbk.md"
    path.write_bytes("---\ntitle: 中文标题\n---\n".encode("gb18030"))
    result = check_file(path)
    assert result.crash is None
    [problem] = result.problems
    assert (problem.code, problem.line, problem.col) == ("WX001", 2, 8)
    assert "GB18030" in problem.message and "iconv" in problem.message


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 4,  # NUL bytes: a picture, an archive, random bytes
        b"---\ntitle: x\n---\n\n\x81\xff\xfe\x80 text\n",  # no NUL, but no text in GB18030 or Big5 either
    ],
)
def test_a_file_that_is_no_text_is_said_to_be_no_text_without_iconv_advice(project: Path, data: bytes) -> None:
    path = project / "posts" / "binary.md"
    path.write_bytes(data)
    [problem] = check_file(path).problems
    assert problem.code == "WX001" and problem.message.startswith("not a text file: its bytes are not UTF-8 (byte 0x")
    assert "iconv" not in problem.message and "is this the file you meant?" in problem.message
    out = CliRunner().invoke(main, ["convert", str(path)])
    assert out.exit_code == 1 and "not a text file" in out.output and "iconv" not in out.output


def test_utf16_text_is_text(project: Path) -> None:
    path = project / "posts" / "utf16.md"
    path.write_bytes("---\ntitle: 中文标题\n---\n\n正文\n".encode("utf-16"))  # with its BOM, as Notepad saves it
    [problem] = check_file(path).problems
    assert "it looks like UTF-16" in problem.message and "iconv -f UTF-16 -t UTF-8" in problem.message


def test_a_file_that_is_not_utf8_is_left_alone_by_fix(project: Path) -> None:
    path = project / "posts" / "gbk.md"
    data = "---\ntitle: 中文abc\n---\n".encode("gb18030")
    path.write_bytes(data)
    assert codes(list(check_file(path, Mode.FIX).problems)) == ["WX001"]
    assert path.read_bytes() == data


# --- front matter --------------------------------------------------------------------------------


def test_broken_yaml_is_reported_at_its_line_and_the_body_still_checked(project: Path) -> None:
    path = write(project, "---\ntitle: 标题\ntags: [a, b\nauthor: 张三\n---\n\n正文abc\n")
    result = check_file(path)
    assert result.crash is None
    assert where(list(result.problems), "WX101") == [(3, 1)]  # where the bracket opens, not where it is noticed
    assert where(list(result.problems), "WX401") == [(7, 3)]
    assert "WX206" not in codes(list(result.problems))  # the cover may be in the broken part


def test_a_key_given_twice_is_an_error_at_the_second_for_check_and_convert(project: Path) -> None:
    path = write(project, "---\ntitle: A\ncover: cover.png\ntitle: B\n---\n\n正文。\n")
    [problem] = [p for p in check_file(path).problems if p.code == "WX101"]
    assert (problem.line, problem.col) == (4, 1)
    assert "'title' is given twice, first on line 2" in problem.message and "keep one of them" in problem.message
    out = CliRunner().invoke(main, ["convert", str(path)])
    assert out.exit_code == 1 and f"{path}:4: front matter: 'title' is given twice" in out.output
    # A key may still override one merged in with `<<`, as YAML allows.
    merged = check_text(post("title: 标题\nbase: &b {a: 1}\ntags:\n  <<: *b\n  a: 2\n"), content=False)
    assert "WX101" not in codes(merged)


def test_front_matter_that_never_ends_is_reported() -> None:
    problems = check_text("---\ntitle: 标题\n\n正文\n")
    assert where(problems, "WX101") == [(1, 1)]


def test_no_title_but_a_heading_is_fine_and_nothing_at_all_is_an_error(project: Path) -> None:
    with_heading = write(project, "---\ncover: cover.png\n---\n\n# 从标题来\n\n正文。\n", "h.md")
    without = write(project, "---\ncover: cover.png\n---\n\n正文。\n", "n.md")
    assert check_file(with_heading).problems == ()
    assert where(list(check_file(without).problems), "WX102") == [(1, 1)]


def test_unknown_key_names_the_line_and_a_guess() -> None:
    problems = check_text(post("title: 标题\nautor: 张三\n"), content=False)
    [problem] = [p for p in problems if p.code == "WX103"]
    assert (problem.line, problem.col) == (3, 1)
    assert "'author'" in problem.message


@pytest.mark.parametrize(
    ("key", "code", "good", "bad", "severity"),
    [
        ("title", "WX113", "标" * 32, "标" * 33, "warning"),  # the documented 32 "字": WeChat may refuse more
        ("title", "WX104", "a" * 64, "a" * 65, "error"),  # the older documented 64: surely refused
        ("author", "WX105", "张" * 16, "张" * 16 + "x", "warning"),
        ("digest", "WX106", "摘" * 128, "摘" * 128 + "!", "warning"),
    ],
)
def test_lengths_are_counted_in_characters(key: str, code: str, good: str, bad: str, severity: str) -> None:
    title = "" if key == "title" else "title: 标题\n"
    assert code not in codes(check_text(post(f"{title}{key}: {good}\n"), content=False))
    problems = check_text(post(f"{title}{key}: {bad}\n"), content=False)
    [problem] = [p for p in problems if p.code == code]
    line = 2 if key == "title" else 3
    assert (problem.line, problem.col) == (line, len(key) + 3)
    assert f"{len(bad)} characters, {len(bad.encode())} bytes" in problem.message
    assert problem.severity.value == severity


def test_a_real_chinese_title_passes() -> None:
    problems = check_text(post("title: 奔赴Web3，视频号熟人社交捧起新创作者经济\n"), content=False)
    assert not {"WX104", "WX113"} & set(codes(problems))


def test_units() -> None:
    assert wechat_length("abc") == 3
    assert wechat_length("中文™：") == 4


def test_source_url_length_is_measured_percent_encoded() -> None:
    short = "https://example.com/" + "a" * 1000
    assert "WX107" not in codes(check_text(post(f"title: 标题\nsource_url: {short}\n"), content=False))
    chinese = "https://example.com/" + "文" * 120  # 120 × 9 bytes once percent-encoded
    problems = check_text(post(f"title: 标题\nsource_url: {chinese}\n"), content=False)
    assert where(problems, "WX107") == [(3, 13)]


def test_values_that_are_not_text() -> None:
    problems = check_text(post("title: 2024\nauthor: [a, b]\n"), content=False)
    assert where(problems, "WX108") == [(2, 8), (3, 9)]  # at the value


def test_front_matter_formatting_is_reported_and_fixed() -> None:
    text = "---- \ntitle:标题\nauthor： 张三  \n---\n\n正文。\n"
    problems = check_text(text, content=False)
    assert where(problems, "WX112") == [(1, 1)]
    assert where(problems, "WX110") == [(2, 6), (3, 7)]
    assert where(problems, "WX111") == [(3, 11)]
    assert "WX101" not in codes(problems)  # judged as --fix will write it
    fixed, done = fix_text(text)
    assert fixed == "---\ntitle: 标题\nauthor: 张三\n---\n\n正文。\n"
    assert fix_text(fixed) == (fixed, [])


def test_fix_leaves_front_matter_values_alone_and_reports_the_title() -> None:
    text = post(
        "title: 标题abc\nauthor: 张三abc\nsource_url: https://example.com/中文abc\ntags: [中文abc]\n"
        "digest: '摘要,English'\n"
    )
    fixed, _ = fix_text(text)
    assert fixed.split("---")[1] == text.split("---")[1]
    problems = check_text(fixed, content=False)
    [title] = [p for p in problems if p.line == 2 and p.code == "WX401"]
    assert title.edit is None and "by hand" in title.message


def test_fix_never_touches_alerts_links_footnotes_or_math() -> None:
    text = post(
        "title: 标题\n",
        "> [!提示] 交通\n> 坐地铁2号线。\n\n> [!NOTE]\n> 说明abc。\n\n"
        "见[文档abc](https://e.com/中文a)和![图x](a.png)。脚注[^注1]。\n\n[^注1]: 说明abc。\n\n$x中文$ 和 \\(a中b\\)\n",
    )
    fixed, _ = fix_text(text)
    for kept in ("> [!提示] 交通", "> [!NOTE]", "[文档abc](https://e.com/中文a)", "![图x](a.png)", "[^注1]", "$x中文$", "\\(a中b\\)"):
        assert kept in fixed
    assert "坐地铁 2 号线" in fixed and "[^注1]: 说明 abc。" in fixed


# --- typography ----------------------------------------------------------------------------------


def test_typography_is_reported_at_the_line_and_column_in_the_file() -> None:
    text = "---\ntitle: 标题\n---\n\n这是WeChat文章,写于2024年。\n\n> 引用abc\n\n全角ＡＢＣ字母\n\n这是 “引号” 测试\n"
    problems = check_text(text, content=False)
    assert where(problems, "WX401") == [(5, 3), (5, 9), (5, 14), (5, 18), (7, 5), (9, 3), (9, 6)]
    assert where(problems, "WX402") == [(5, 11)]
    assert where(problems, "WX404") == [(9, 3)]
    assert where(problems, "WX403") == [(11, 3), (11, 8)]
    messages = {p.message for p in problems}
    assert "add a space between '是' and 'W'" in messages
    assert "use full-width '，' instead of ',' in CJK text" in messages
    assert "remove the space between '是' and '“'" in messages



@pytest.mark.parametrize(
    "body, fixed",
    [
        # autocorrect turns only the first mark of a run full-width ('？??'): a run is left as written
        ("真的吗???太好了!!!", "真的吗???太好了!!!"),
        ("好??你好", "好??你好"),
        ("好?!你好", "好?! 你好"),
        ("你好,,世界", "你好,,世界"),
        ("真的吗?太好了!", "真的吗？太好了！"),
        ("好的!你呢?", "好的！你呢？"),
        # autocorrect's own rules: '!' after a Latin letter or sign is English punctuation, followed by a space
        ("提升了30%!你觉得呢?", "提升了 30%! 你觉得呢？"),
        # autocorrect changes the colon only: quotes and the '.' after a quote are left (and not reported)
        ('他说:"好的".然后走了。', '他说："好的".然后走了。'),
    ],
)
def test_fix_never_half_converts_a_run_of_punctuation(body: str, fixed: str) -> None:
    text = post("title: 标题\n", body + "\n")
    problems = check_text(text, content=False)
    assert not [p for p in problems if "''" in p.message]
    new, done = fix_text(text)
    assert new == post("title: 标题\n", fixed + "\n")
    assert len(done) == len([p for p in problems if p.edit])
    assert fix_text(new) == (new, [])


def test_a_conversion_and_a_space_are_separate_problems_each_quoting_what_it_changes() -> None:
    problems = check_text(post("title: 标题\n", "好, 你好\n"), content=False)
    assert [(p.code, p.message) for p in problems] == [
        ("WX402", "use full-width '，' instead of ',' in CJK text"),
        ("WX403", "remove the space between ',' and '你'"),
    ]

CODE_HEAVY = """---
title: 代码
---

正文abc

```python
s = "中文abc,没空格"  # 注释abc
```

~~~
中文abc
~~~

> ```js
> var a = '中文abc';
> ```

- 列表abc

    ```
    缩进围栏中文abc
    ```

行内 `中文abc` 与 $x中文abc$ 和 <span title="中文abc">标签abc</span>

链接 [文字](https://example.com/中文abc) 与 <https://example.com/中文abc> 与 https://example.com/a中文b

$$
\\text{中文abc}
$$

<script>
var b = '中文abc';
</script>

<pre>
预格式中文abc
</pre>
"""


def test_fix_keeps_code_math_urls_and_html_intact_and_is_idempotent() -> None:
    fixed, done = fix_text(CODE_HEAVY)
    assert done
    before, after = CODE_HEAVY.split("\n"), fixed.split("\n")
    assert len(before) == len(after)
    changed = {i + 1 for i, (a, b) in enumerate(zip(before, after)) if a != b}
    assert changed == {5, 19, 25}  # autocorrect would change the autolink on line 27: refused
    assert after[4] == "正文 abc"
    assert after[18] == "- 列表 abc"
    assert after[24] == '行内 `中文abc` 与 $x中文abc$ 和 <span title="中文abc">标签 abc</span>'
    assert fix_text(fixed) == (fixed, [])
    assert not [p for p in check_text(fixed, content=False) if p.edit]


def test_fix_and_check_agree(project: Path) -> None:
    path = write(project, CODE_HEAVY)
    fixable = [p for p in check_file(path).problems if p.edit]
    result = check_file(path, Mode.FIX)
    assert result.fixed == len(fixable)
    assert not [p for p in result.problems if p.edit]



def test_check_lists_every_change_fix_makes_and_fix_counts_only_those(project: Path) -> None:
    # autocorrect makes 'ＡＢＣ' half-width, and only on a second look spaces it from the CJK around it
    text = post("title: 测试Python的排版,看看\ncover: cover.png\n", "这里有全角ＡＢＣ字母。\n\n中文abc,还有数字123。\n")
    path = write(project, text)
    listed = [p for p in check_file(path).problems if p.edit]
    fixed, done = fix_text(text, str(path))
    assert sorted(done, key=lambda p: (p.line, p.col)) == sorted(listed, key=lambda p: (p.line, p.col))
    assert "全角 ABC 字母" in fixed
    runner = CliRunner()
    checked = runner.invoke(main, ["check", str(path)])
    assert f"({len(listed)} fixable with --fix)" in checked.stderr
    title = len([p for p in check_file(path).problems if p.line == 2])
    assert title  # the title's typography is reported, never fixed: it is not counted as fixed
    diffed = runner.invoke(main, ["check", "--diff", str(path)])
    assert f"{len(listed)} problems in 1 file would be fixed; {title} warnings would be left" in diffed.stderr
    fixing = runner.invoke(main, ["check", "--fix", str(path)])
    assert f"fixed {len(listed)} problems in 1 file; {title} warnings left" in fixing.stderr
    assert path.read_text(encoding="utf-8") == fixed


def test_an_edit_that_cannot_be_applied_is_not_counted_as_fixed() -> None:
    from wxpub.check.problems import Edit, applied_edits

    text, applied = applied_edits("abc\ndef", [Edit(1, 2, "b", "B"), Edit(1, 1, "abc", "x"), Edit(2, 1, "zz", "y")])
    assert text == "aBc\ndef" and applied == [Edit(1, 2, "b", "B")]

# --- silencing -----------------------------------------------------------------------------------


def test_inline_comments_silence_one_line() -> None:
    text = (
        "---\ntitle: " + "长" * 20 + "  # wxpub: ignore WX104\n---\n\n"
        "第一行abc <!-- wxpub: ignore WX401 -->\n"
        "第二行abc,逗号 <!-- wxpub: ignore WX402 -->\n"
        "<!-- wxpub: ignore -->\n"
        "第四行abc,逗号\n"
        "第五行abc\n"
    )
    problems = check_text(text, content=False)
    assert "WX104" not in codes(problems)
    assert [(p.line, p.code) for p in problems if p.line > 4] == [(6, "WX401"), (9, "WX401")]
    fixed, _ = fix_text(text)
    assert "第一行abc <!--" in fixed and "第二行 abc,逗号" in fixed and "第四行abc,逗号" in fixed


# --- selection and config ------------------------------------------------------------------------


def test_select_and_ignore_take_codes_and_prefixes() -> None:
    text = post("title: 标题abc\nautor: x\n", "正文abc,好\n")
    assert set(codes(check_text(text, selection=Selection.from_options("WX4"), content=False))) == {"WX401", "WX402"}
    assert set(codes(check_text(text, selection=Selection.from_options(ignore="WX4,WX103"), content=False))) == set()
    only = Selection.from_options(select=["WX401"], ignore=["WX401"])
    assert check_text(text, selection=only, content=False) == []
    with pytest.raises(UsageError, match="unknown code 'WX999'"):
        Selection.from_options("WX999")


def test_config_is_found_by_walking_up(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wxpub.check]\nignore = ["WX4"]\n', encoding="utf-8")
    deeper = tmp_path / "posts" / "2024"
    deeper.mkdir(parents=True)
    path = deeper / "p.md"
    path.write_text(post("title: 标题\nautor: x\n", "正文abc\n"), encoding="utf-8")
    report = check_paths([path], selection=Selection())
    assert codes(report.problems) == ["WX206", "WX103"]
    (tmp_path / "posts" / "wxpub.toml").write_text('[check]\nselect = ["WX401"]\n', encoding="utf-8")
    check._selection_in.cache_clear()
    from wxpub import config

    config._settings_in.cache_clear()
    assert codes(check_paths([path]).problems) == ["WX401"]
    # the command line wins over the file for select, and adds to its ignore
    assert codes(check_paths([path], selection=Selection.from_options("WX1")).problems) == ["WX103"]


def test_a_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "wxpub.toml").write_text('[check]\nselect = ["NOPE"]\n', encoding="utf-8")
    (tmp_path / "p.md").write_text(post("title: 标题\n"), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(tmp_path / "p.md")])
    assert result.exit_code == 2
    assert "unknown code 'NOPE'" in result.stderr and "wxpub.toml" in result.stderr


# --- images --------------------------------------------------------------------------------------


def test_image_rules(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    posts = project / "posts"
    (posts / "ok.png").write_bytes(PNG_1X1)
    (posts / "text.png").write_text("not an image", encoding="utf-8")
    (posts / "photo.heic").write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64)
    (posts / "broken.png").write_bytes(PNG_1X1[:20])
    outside = tmp_path_factory.mktemp("elsewhere") / "o.png"
    outside.write_bytes(PNG_1X1)
    body = (
        "![好](ok.png)\n![缺](missing.png)\n![文本](text.png)\n![手机](photo.heic)\n"
        f"![外]({os.path.relpath(outside, posts)})\n![远](https://example.com/a.png)\n![坏](broken.png)\n"
    )
    problems = list(check_file(write(project, post("title: 图片\ncover: nope.jpg\n", body))).problems)
    assert sorted(codes(problems)) == ["WX201", "WX201", "WX202", "WX202", "WX203", "WX204", "WX205"]
    assert where(problems, "WX201") == [(3, 8), (7, 6)]  # the cover, then missing.png
    assert where(problems, "WX202") == [(8, 7), (12, 6)]
    assert where(problems, "WX203") == [(9, 7)]
    assert where(problems, "WX204") == [(10, 6)]
    assert where(problems, "WX205") == [(11, 6)]
    assert Severity.NOTE is RULES["WX205"].severity


def test_no_cover_at_all(project: Path) -> None:
    problems = check_file(write(project, post("title: 无图\n"))).problems
    assert codes(list(problems)) == ["WX206"]
    assert check_file(write(project, post("title: 有图\n", "![图](cover.png)\n"), "b.md")).problems == ()


# --- content -------------------------------------------------------------------------------------


def test_raw_html_is_reported_where_it_is(project: Path) -> None:
    body = "正文。\n\n<script>alert(1)</script>\n\n<iframe src=\"https://example.com\"></iframe>\n\n<form><input></form>\n\n<p onclick=\"x()\">点</p>\n"
    problems = list(check_file(write(project, post("title: 标题\ncover: cover.png\n", body))).problems)
    found = [(p.line, p.col, p.message.split(":")[0]) for p in problems if p.code == "WX303"]
    assert found == [
        (8, 1, "removed <script>"),
        (10, 1, "removed <iframe>"),
        (12, 1, "removed <form>"),  # with its <input>: one removal, said once
        (14, 1, "removed onclick= from <p>"),  # at its tag
    ]


def test_links_become_references_as_a_note(project: Path) -> None:
    body = "见 [文档](https://example.com/docs) 一节。\n"
    path = write(project, post("title: 标题\ncover: cover.png\n", body))
    problems = list(check_file(path).problems)
    assert [(p.code, p.line, p.col) for p in problems] == [("WX304", 6, 8)]
    assert "reference [1]" in problems[0].message
    assert check_paths([path]).exit_code == 0  # notes alone pass


def test_content_over_the_limits(project: Path) -> None:
    long = "\n\n".join("这是很长的文章中的一段，" * 20 for _ in range(100))
    problems = list(check_file(write(project, post("title: 长文\ncover: cover.png\n", long))).problems)
    [over] = [p for p in problems if p.code == "WX301"]
    assert "fewer than 20,000" in over.message and "at most" not in over.message  # measured exactly
    # Over 1 MB of HTML from a source the converter still takes: short callouts, each styled.
    huge = "> [!TIP]\n> 文\n\n" * 7_000
    problems = list(check_file(write(project, post("title: 巨文\ncover: cover.png\n", huge), "huge.md")).problems)
    assert {"WX301", "WX302"} <= set(codes(problems))
    beyond = ("文" * 99 + "\n") * 4000  # 400,000 characters: refused before it is parsed
    problems = list(check_file(write(project, post("title: 巨文\ncover: cover.png\n", beyond), "beyond.md")).problems)
    assert codes(problems) == ["WX306"] and "more than the 100,000 any WeChat article" in problems[0].message


def test_a_post_the_converter_refuses(project: Path) -> None:
    problems = list(check_file(write(project, post("title: 标题\ncover: cover.png\ntheme: no-such-theme\n"))).problems)
    assert codes(problems) == ["WX306"]
    assert "no-such-theme" in problems[0].message


def test_one_content_measure_for_convert_check_and_publish(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """convert, check and the dry run all report the characters publish will send (image URLs included)."""
    import json

    from wxpub.convert import convert_file

    body = "\n\n".join("这是很长的文章中的一段，" * 20 for _ in range(30)) + "\n\n![图](cover.png)\n\n![图](cover.png)\n"
    path = write(project, post("title: 长文\ncover: cover.png\n", body))
    converted = convert_file(path)
    assert converted.content_length > len(converted.html)  # two image paths, counted as WeChat URLs
    assert converted.content_length == len(converted.sent_html) and "cover.png" not in converted.sent_html
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["publish", "--dry-run", "--json", str(path)])
    assert json.loads(result.stdout)["posts"][0]["content_chars"] == converted.content_length
    convert_json = json.loads(CliRunner().invoke(main, ["convert", "--json", str(path)]).stdout)
    assert convert_json["content_length"] == converted.content_length
    over = write(project, post("title: 长文\ncover: cover.png\n", body * 3), "over.md")
    [problem] = [p for p in check_file(over).problems if p.code == "WX301"]
    assert f"{convert_file(over).content_length:,} characters" in problem.message



@pytest.mark.parametrize(
    "body, expanded",
    [
        ("正文。\n\n<!-- wxpub: include blocks/ad.md -->\n", True),
        ("正文。\n\n```\n<!-- wxpub: include blocks/ad.md -->\n```\n", False),
        ("正文。\n\n    <!-- wxpub: include blocks/ad.md -->\n\n后文。\n", False),  # an indented code block
        ("正文。\n\n    代码\n\n    <!-- wxpub: include blocks/ad.md -->\n\n后文。\n", False),  # still the same code block
        ("正文。\n    <!-- wxpub: include blocks/ad.md -->\n", True),  # no blank line before: the paragraph goes on
        ("- 列表\n\n    <!-- wxpub: include blocks/ad.md -->\n", True),  # inside the list item, not code
    ],
)
def test_an_include_in_code_is_shown_as_written(project: Path, body: str, expanded: bool) -> None:
    from wxpub.convert import convert_file

    (project / "blocks").mkdir()
    (project / "blocks" / "ad.md").write_text("广告内容。\n", encoding="utf-8")
    path = write(project, post("title: 标题\ncover: cover.png\n", body))
    html = convert_file(path).html.replace("\xa0", " ")  # code keeps its spaces as no-break spaces
    assert ("广告内容" in html) is expanded
    assert ("wxpub: include blocks/ad.md" in html) is not expanded


def test_a_missing_include_says_how_to_go_without_it(project: Path) -> None:
    path = write(project, post("title: 标题\ncover: cover.png\nfooter: blocks/gone.md\n", "正文。\n\n<!-- wxpub: include blocks/ad.md -->\n"))
    found = {p.line: p.message for p in check_file(path).problems if p.code == "WX309"}
    assert found[9] == (
        "block 'blocks/ad.md' (include) does not exist "
        "(create the file (paths are relative to the project root), or remove the include line)"
    )
    assert found[4].endswith("or write 'none' to go without)")  # a footer named in the front matter

# --- files, modes and the report -----------------------------------------------------------------


def test_fix_keeps_bom_and_crlf(project: Path) -> None:
    path = project / "posts" / "crlf.md"
    path.write_bytes("\ufeff---\r\ntitle: 标题\r\ncover: cover.png\r\n---\r\n\r\n正文abc\r\n".encode("utf-8"))
    result = check_file(path, Mode.FIX)
    assert result.fixed == 1 and result.problems == ()
    assert path.read_bytes() == "\ufeff---\r\ntitle: 标题\r\ncover: cover.png\r\n---\r\n\r\n正文 abc\r\n".encode("utf-8")


def test_diff_writes_nothing(project: Path) -> None:
    path = write(project, post("title: 标题\ncover: cover.png\n", "正文abc\n"))
    before = path.read_text(encoding="utf-8")
    report = check_paths([path], Mode.DIFF)
    assert path.read_text(encoding="utf-8") == before
    diff = "\n".join(report.lines())
    assert "-正文abc" in diff and "+正文 abc" in diff
    assert report.exit_code == 1



@pytest.mark.parametrize("tool", [["patch", "-p1", "--quiet"], ["git", "apply"]])
def test_the_diff_of_a_crlf_file_applies_to_it(project: Path, monkeypatch: pytest.MonkeyPatch, tool: list[str]) -> None:
    import shutil

    if shutil.which(tool[0]) is None:
        pytest.skip(f"no {tool[0]} here")
    original = "\ufeff---\r\ntitle: 标题\r\ncover: cover.png\r\n---\r\n\r\n正文abc\r\n\r\n结尾abc".encode("utf-8")
    path = project / "posts" / "crlf.md"
    path.write_bytes(original)
    monkeypatch.chdir(project)
    out = CliRunner().invoke(main, ["check", "--diff", "posts/crlf.md"])
    assert out.exit_code == 1 and b"+\xe6\xad\xa3\xe6\x96\x87 abc\r\n" in out.stdout_bytes  # '+正文 abc', CRLF kept
    assert check_file(path, Mode.FIX).fixed == 2
    fixed = path.read_bytes()
    path.write_bytes(original)
    applied = subprocess.run(tool, input=out.stdout_bytes, cwd=project, capture_output=True)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert path.read_bytes() == fixed

def test_diff_says_what_would_be_fixed_and_what_would_be_left(project: Path) -> None:
    fixable = write(project, post("title: 标题\ncover: cover.png\n", "正文abc，写于2024年\n"), "a.md")
    out = CliRunner().invoke(main, ["check", "--diff", str(fixable)])
    # Exit 1 as for any problem found: the diff shows problems, fixed only once --fix writes them.
    assert out.exit_code == 1 and "+正文 abc，写于 2024 年" in out.stdout
    assert out.stderr.strip() == "wxpub check: 3 problems in 1 file would be fixed; 1 file checked, no problems would be left"
    broken = write(project, post("title: 标题\ncomments: maybe\ncover: cover.png\n", "正文abc\n"), "b.md")
    out = CliRunner().invoke(main, ["check", "--diff", str(fixable), str(broken)])
    assert out.stderr.strip() == (
        "wxpub check: 4 problems in 2 files would be fixed; 1 error would be left in 1 of 2 files"
    )
    fixed = CliRunner().invoke(main, ["check", "--fix", str(fixable)])
    assert fixed.exit_code == 0 and fixed.stderr.strip() == "wxpub check: fixed 3 problems in 1 file; 1 file checked, no problems left"


def test_report_exit_codes_and_summary() -> None:
    clean = check.Report()
    clean.add(check.FileResult("a.md"))
    assert clean.exit_code == 0 and "1 file checked, no problems" in clean.summary()
    note = check.Problem("a.md", 1, 1, "WX304", "a link")
    warning = check.Problem("a.md", 2, 3, "WX401", "add a space", check.Edit(2, 3, "", " "))
    noted = check.Report()
    noted.add(check.FileResult("a.md", (note,)))
    assert noted.exit_code == 0
    found = check.Report()
    found.add(check.FileResult("a.md", (note, warning)))
    assert found.exit_code == 1
    assert found.summary() == "wxpub check: 1 warning, 1 note in 1 of 1 file (1 fixable with --fix)"
    assert list(found.lines()) == ["a.md:1:1: WX304 a link", "a.md:2:3: WX401 add a space"]
    found.add(check.FileResult("b.md", crash="ValueError: boom"))
    assert found.exit_code == 123
    assert list(found.crash_lines()) == ["error: cannot check b.md: ValueError: boom"]


def test_mode_from_flags() -> None:
    assert Mode.from_flags() is Mode.CHECK
    assert Mode.from_flags(fix=True) is Mode.FIX
    assert Mode.from_flags(diff=True) is Mode.DIFF
    with pytest.raises(UsageError):
        Mode.from_flags(fix=True, diff=True)


def test_folders_are_walked_and_other_files_ignored(project: Path) -> None:
    write(project, GOOD, "a.md")
    (project / "posts" / "notes.txt").write_text("正文abc", encoding="utf-8")
    (project / "posts" / ".hidden").mkdir()
    (project / "posts" / ".hidden" / "x.md").write_text("正文abc", encoding="utf-8")
    (project / "posts" / "sub").mkdir()
    write(project, GOOD, "sub/b.markdown")
    assert [p.name for p in check.iter_posts([project])] == ["a.md", "b.markdown"]


def test_a_file_named_is_checked_whatever_its_name_ends_with(project: Path) -> None:
    # convert and publish take it; the pre-commit hook names Markdown files only (types: [markdown])
    path = write(project, post("title: 标题\ncover: cover.png\n", "正文abc\n"), "post.mdx")
    assert list(check.iter_posts([path])) == [path]
    out = CliRunner().invoke(main, ["check", str(path)])
    assert out.exit_code == 1 and "post.mdx:6:3: WX401" in out.stdout
    assert out.stderr.strip() == "wxpub check: 1 warning in 1 of 1 file (1 fixable with --fix)"


def test_folders_in_messages_are_named_never_as_dot(project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    from wxpub.config import shown

    outside = tmp_path_factory.mktemp("elsewhere") / "o.png"
    outside.write_bytes(COVER_PNG)
    write(project, post(f"title: 标题\ncover: {outside}\n", "正文。\n\n![图](missing.png)\n"))
    for here in (project, project / "posts"):  # the project root, then the post's folder
        monkeypatch.chdir(here)
        lines = [p.message for p in check_paths([project / "posts" / "post.md"]).problems]
        assert any(f"is outside the project folder {project} (" in line for line in lines), lines
        assert any(f"(paths are relative to {shown(project / 'posts')})" in line for line in lines), lines
        assert not any(" . " in line or " .)" in line for line in lines), lines
    assert shown(project / "posts") == str(project / "posts") and shown(project / "posts" / "post.md") == "post.md"
    empty = CliRunner().invoke(main, ["check", "."])
    assert empty.exit_code == 1  # a folder with a post in it, named '.'
    (project / "posts" / "post.md").unlink()
    empty = CliRunner().invoke(main, ["check", "."])
    assert empty.exit_code == 2 and empty.stderr.startswith(f"error: {project / 'posts'}: no Markdown files")


def test_a_folder_with_no_markdown_is_a_usage_error_naming_it(project: Path) -> None:
    empty = project / "posts" / "drafts"
    empty.mkdir()
    (empty / "notes.txt").write_text("正文", encoding="utf-8")
    (empty / ".hidden").mkdir()
    (empty / ".hidden" / "x.md").write_text("正文", encoding="utf-8")
    out = CliRunner().invoke(main, ["check", str(empty)])
    assert out.exit_code == 2 and out.stdout == ""
    [line] = out.stderr.splitlines()  # one line: no summary of "0 files checked" after it
    assert line.startswith(f"error: {empty}: no Markdown files in this folder (.md,") and "check the folder's name" in line
    with pytest.raises(UsageError, match="no Markdown files in this folder"):
        check_paths([project / "posts", empty])
    write(project, GOOD, "a.md")
    assert check_paths([project / "posts"]).exit_code == 0  # a folder with posts below it is fine


def test_many_files_in_parallel_give_the_same_report(project: Path) -> None:
    for number in range(10):
        write(project, post(f"title: 第{number}篇\ncover: cover.png\n", f"正文abc{number}\n"), f"p{number}.md")
    serial = check_paths([project], jobs=1)
    parallel = check_paths([project], jobs=2)
    assert [r.problems for r in serial.results] == [r.problems for r in parallel.results]
    assert len(parallel.problems) == 30  # three spaces missing in each post


# --- the command line ----------------------------------------------------------------------------


def test_cli_prints_problems_on_stdout_and_the_summary_on_stderr(project: Path) -> None:
    bad = write(project, post("title: 标题\ncover: cover.png\n", "正文abc\n"), "bad.md")
    result = CliRunner().invoke(main, ["check", str(project)])
    assert result.exit_code == 1
    assert result.stdout == f"{bad}:6:3: WX401 add a space between '文' and 'a'\n"
    assert result.stderr.strip() == "wxpub check: 1 warning in 1 of 1 file (1 fixable with --fix)"

    fixed = CliRunner().invoke(main, ["check", "--fix", str(bad)])
    assert fixed.exit_code == 0 and fixed.stdout == ""
    assert "fixed 1 problem in 1 file" in fixed.stderr
    assert CliRunner().invoke(main, ["check", str(bad)]).exit_code == 0


def test_cli_usage_errors_exit_2(project: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["check"]).exit_code == 2
    assert runner.invoke(main, ["check", str(project / "nope.md")]).exit_code == 2
    assert runner.invoke(main, ["check", "--fix", "--diff", str(project)]).exit_code == 2
    assert runner.invoke(main, ["check", "--select", "XX1", str(project)]).exit_code == 2


def test_cli_crash_on_a_file_exits_123(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, GOOD)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(check, "check_text", boom)
    result = CliRunner().invoke(main, ["check", "-j", "1", str(project)])
    assert result.exit_code == 123
    assert "cannot check" in result.stderr and "RuntimeError: boom" in result.stderr


def test_cli_lists_codes() -> None:
    result = CliRunner().invoke(main, ["check", "--codes"])
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == len(RULES)
    assert "WX401  warning  a missing space between CJK and Latin letters or digits (fixable)" in result.stdout


def test_the_hook_does_not_load_the_publishing_stack(project: Path) -> None:
    write(project, GOOD.replace("正文", "见 [文档](https://example.com)"), "a.md")
    write(project, post("title: 标题\n", "![图](cover.png) <script>x</script>\n"), "b.md")
    script = (
        "import sys\n"
        "from wxpub.cli import main\n"
        "try:\n"
        "    main(['check', '-j', '1', sys.argv[1]])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'wechatpy', 'requests', 'premailer', 'cssutils'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy"
        " or m in ('wxpub.publish', 'wxpub.wechat', 'wxpub.ledger')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # The first run on a machine compiles the theme (premailer); every later one must not need it.
    subprocess.run([sys.executable, "-c", script, str(project)], capture_output=True, text=True, env=env)
    done = subprocess.run([sys.executable, "-c", script, str(project)], capture_output=True, text=True, env=env)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr


def test_json_output_lists_every_problem(tmp_path: Path) -> None:
    import json

    post = tmp_path / "p.md"
    post.write_text("---\ntitle: 测试\n---\n\nPython测试,包含.\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "--json", str(post)])
    assert result.exit_code == 1
    problems = json.loads(result.stdout)
    assert {p["code"] for p in problems} >= {"WX401", "WX402", "WX206"}
    assert all(p["path"] == str(post) and p["line"] >= 1 for p in problems)
