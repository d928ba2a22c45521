"""One verdict: what check reports is what publish refuses (validate.py), shown with each reproduction."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import wxpub
from wxpub.check import check_file, check_text
from wxpub.cli import main
from wxpub.errors import PostError
from wxpub.publish import PublishOptions, PublishRefused, publish_paths

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "wxpub.toml").write_text("", encoding="utf-8")
    Image.new("RGB", (940, 400), (40, 120, 200)).save(tmp_path / "cover.png")
    monkeypatch.delenv("WXPUB_APPID", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(project: Path, text: str, name: str = "post.md") -> Path:
    path = project / name
    path.write_text(text, encoding="utf-8")
    return path


def errors(path: Path) -> set[str]:
    return {p.code for p in check_file(path).problems if p.severity.value == "error"}


def dry_run_refusals(path: Path) -> list[str]:
    try:
        publish_paths([path], PublishOptions(dry_run=True))
    except (PublishRefused, PostError) as refused:
        return [p.one_line() for p in getattr(refused, "problems", (refused,))]
    return []


def test_a_rule_then_a_heading_is_a_rule_and_a_heading_for_check_and_convert(project: Path) -> None:
    path = write(project, "---\n# 标题\n\n<script>x</script>\n\n中文English\n\n![图](cover.png)\n")
    converted = wxpub.convert_file(path)
    assert converted.title == "标题" and converted.meta == {}
    found = {(p.code, p.line) for p in check_file(path).problems}
    assert {("WX303", 4), ("WX401", 6)} <= found and "WX102" not in {code for code, _ in found}


def test_a_raw_image_is_refused_by_check_and_by_publish(project: Path) -> None:
    path = write(project, "---\ntitle: 标题\ncover: cover.png\n---\n\n正文。\n\n<img src=\"https://example.com/a.png\">\n")
    assert "WX307" in errors(path)
    [refusal] = dry_run_refusals(path)
    assert "post.md:8:" in refusal and "would be dropped by WeChat" in refusal


@pytest.mark.parametrize(
    "body",
    ["", "\n\n", "<!-- more -->\n\n---\n", "# 标题\n"],  # a leading heading that repeats the title leaves the body
)
def test_a_post_with_no_text_is_an_error_for_check_and_publish(project: Path, body: str) -> None:
    path = write(project, f"---\ntitle: 标题\ncover: cover.png\n---\n{body}")
    [problem] = [p for p in check_file(path).problems if p.severity.value == "error"]
    assert (problem.code, problem.line, problem.col) == ("WX312", 4, 1)  # the closing fence: where the text should begin
    assert problem.message == "the post has no text to publish (write the article below the front matter)"
    [refusal] = dry_run_refusals(path)
    assert refusal == "post.md:4: the post has no text to publish (write the article below the front matter)"
    converted = CliRunner().invoke(main, ["convert", "post.md"])
    assert converted.exit_code == 0 and "warning: post.md:4:1: the post has no text to publish" in converted.stderr


@pytest.mark.parametrize(
    "body",
    ["\n![图](cover.png)\n", "\n# 另一个标题\n", "\n<!-- wxpub: include blocks/ad.md -->\n", "\n- - -\n正文。\n", "\n*_*_*_\n"],
)
def test_a_picture_a_heading_or_an_include_is_text_enough(project: Path, body: str) -> None:
    (project / "blocks").mkdir()
    (project / "blocks" / "ad.md").write_text("广告。\n", encoding="utf-8")
    path = write(project, f"---\ntitle: 标题\ncover: cover.png\n---\n{body}")
    assert "WX312" not in {p.code for p in check_file(path).problems}


def test_a_raw_link_is_a_warning_for_both(project: Path) -> None:
    path = write(project, "---\ntitle: 标题\ncover: cover.png\n---\n\n见 <a href=\"https://example.com\">这里</a>。\n")
    assert errors(path) == set() and "WX303" in {p.code for p in check_file(path).problems}
    assert dry_run_refusals(path) == []


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("comments: maybe", "WX114"),
        ("source_url: ftp://example.com/a", "WX109"),
        ("cover_focus: 2,0", "WX115"),
        ("cover_focus: left", "WX115"),
    ],
)
def test_values_publish_refuses_are_errors_in_check_at_their_line(project: Path, line: str, code: str) -> None:
    path = write(project, f"---\ntitle: 标题\ncover: cover.png\n{line}\n---\n\n正文。\n")
    [problem] = [p for p in check_file(path).problems if p.code == code]
    assert problem.line == 4 and problem.severity.value == "error"
    [refusal] = dry_run_refusals(path)
    assert "post.md:4:" in refusal


def test_the_example_posts_pass_their_own_check_and_fix_keeps_their_alerts(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    before = wxpub.convert_file(tmp_path / "examples" / "posts" / "autumn-hangzhou.md").html
    result = CliRunner().invoke(main, ["check", "--fix", str(tmp_path / "examples")])
    assert result.exit_code == 0, result.output
    after = wxpub.convert_file(tmp_path / "examples" / "posts" / "autumn-hangzhou.md").html
    assert before == after and ">交通<" in after and "[!" not in after


def test_dropped_theme_rules_are_named_in_the_same_order_every_run(tmp_path: Path) -> None:
    css = tmp_path / "mine.css"
    css.write_text("p{color:#333}\na:hover, p::before, h2:focus, li::marker {color:red}\n@media (max-width:1px){p{x:y}}\n")
    post = tmp_path / "p.md"
    post.write_text("# 标题\n\n正文\n", encoding="utf-8")
    runs = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-m", "wxpub", "convert", "--theme", str(css), str(post)], capture_output=True, text=True, env=env
        )
        runs.append([line for line in done.stderr.splitlines() if "dropped" in line])
    assert runs[0] == runs[1] == runs[2] and len(runs[0]) == 5


@pytest.mark.parametrize(
    ("content", "said"),
    [(b"\xff\xfe", "not UTF-8"), (b'{"accounts": {"wx1": []}}', "accounts.wx1 must be an object")],
)
def test_a_damaged_ledger_is_one_line_with_a_hint(project: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, said: str) -> None:
    write(project, "---\ntitle: 标题\ncover: cover.png\n---\n\n正文。\n")
    (project / "wxpub-ledger.json").write_bytes(content)
    monkeypatch.setenv("WXPUB_APPID", "wx1")
    result = CliRunner().invoke(main, ["publish", "--dry-run", "post.md"])
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    assert said in line and "restore it from git" in line and "internal error" not in line


def test_warnings_show_once_in_plain_publish_output(project: Path) -> None:
    Image.new("RGB", (400, 200), (1, 2, 3)).save(project / "small.png")
    write(project, "---\ntitle: " + "标" * 40 + "\ncover: small.png\n---\n\n正文。\n")
    result = CliRunner().invoke(main, ["publish", "--dry-run", "post.md"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("WeChat documents at most 32") == 1
    assert result.stderr.count("the cover is only 400 px wide") == 1
    assert "post.md:2:" in result.stderr and str(project) not in result.stderr  # relative to where it runs
    assert "WeChat documents" not in result.stdout


@pytest.mark.parametrize(
    ("front", "body", "line"),
    [("cover: small.jpg\n", "正文。\n", 3), ("", "![图](small.jpg)\n\n正文。\n", 5)],  # the first image is the cover
)
def test_check_warns_of_a_blurry_cover_as_images_and_publish_do(project: Path, front: str, body: str, line: int) -> None:
    from imagegen import photo

    # Stored 1200×600, shown 600 px wide: the camera turned it (EXIF orientation 6).
    (project / "small.jpg").write_bytes(photo((1200, 600), orientation=6, gps=False))
    path = write(project, f"---\ntitle: 标题\n{front}---\n\n{body}")
    said = "the cover is only 600 px wide; it looks blurry in the feed below 900 px"
    [problem] = [p for p in check_file(path).problems if p.code == "WX207"]
    assert (problem.line, problem.severity.value) == (line, "warning") and said in problem.message
    assert problem.message.endswith("(use a picture at least 900 px wide)")
    images = CliRunner().invoke(main, ["images", "post.md"])
    assert images.exit_code == 0 and said in images.stdout
    published = CliRunner().invoke(main, ["publish", "--dry-run", "post.md"])
    assert published.exit_code == 0 and published.stderr.count(said) == 1 and f"post.md:{line}: " in published.stderr
    (project / "small.jpg").write_bytes(photo((600, 1200), orientation=6, gps=False))  # shown 1200 px wide
    assert "WX207" not in {p.code for p in check_file(path).problems}


@pytest.mark.parametrize("kind", ["PNG", "WEBP"])
def test_check_warns_of_an_animation_that_becomes_a_still_as_publish_does(project: Path, kind: str) -> None:
    frames = [Image.new("RGB", (400, 300), (40 * i, 0, 0)) for i in range(5)]
    frames[0].save(project / f"anim.{kind.lower()}", kind, save_all=True, append_images=frames[1:])
    path = write(project, f"---\ntitle: 标题\ncover: cover.png\n---\n\n正文。\n\n![动图](anim.{kind.lower()})\n")
    said = f"animated {kind}: only the first frame is kept (WeChat animates only GIF)"
    [problem] = [p for p in check_file(path).problems if p.code == "WX208"]
    assert (problem.line, problem.severity.value) == (8, "warning") and said in problem.message
    published = CliRunner().invoke(main, ["publish", "--dry-run", "post.md"])
    assert published.exit_code == 0 and published.stderr.count(said) == 1 and "post.md:8: " in published.stderr


def test_progress_is_plain_lines_in_a_log(project: Path) -> None:
    write(project, "---\ntitle: 标题\ncover: cover.png\n---\n\n![图](cover.png)\n")
    result = CliRunner().invoke(main, ["images", "post.md"])
    assert result.exit_code == 0, result.output
    assert "\r" not in result.stderr and "[1/2] cover.png" in result.stderr


def test_the_ledger_keeps_the_mode_the_umask_gives(project: Path) -> None:
    from wxpub.ledger import Ledger

    old = os.umask(0o022)
    try:
        Ledger(project / "wxpub-ledger.json", "wx1").record_upload("a" * 64, "uploadimg", "http://mmbiz.qpic.cn/x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((project / "wxpub-ledger.json").stat().st_mode) == 0o644


def test_check_json_and_the_dry_run_name_the_same_problems(project: Path) -> None:
    path = write(project, "---\ntitle: " + "长" * 70 + "\ncomments: maybe\n---\n\n正文。\n")
    problems = json.loads(CliRunner().invoke(main, ["check", "--json", "post.md"]).stdout)
    check_errors = sorted((p["line"], p["code"]) for p in problems if p["severity"] == "error")
    assert check_errors == [(1, "WX206"), (2, "WX104"), (3, "WX114")]
    assert len(dry_run_refusals(path)) == 3


def test_check_text_needs_no_file() -> None:
    assert [p.code for p in check_text("---\ntitle: 标题\n---\n\n正文。\n") if p.code != "WX206"] == []
