"""`wxpub convert` and `wxpub themes` as a person and a script use them."""

from __future__ import annotations

import json

from wxpub.limits import IMAGE_URL_CHARS
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from wxpub.cli import main

GOLDEN = Path(__file__).parent / "golden"


def run(*args: str) -> "CliRunner":
    return CliRunner().invoke(main, list(args))


def test_convert_prints_the_fragment_on_stdout() -> None:
    result = run("convert", str(GOLDEN / "emphasis.md"))
    assert result.exit_code == 0
    assert result.stdout == (GOLDEN / "emphasis.html").read_text(encoding="utf-8")


def test_convert_json_for_scripts() -> None:
    result = run("convert", str(GOLDEN / "images.md"), "--json")
    data = json.loads(result.stdout)
    assert data["title"] == "图片"
    assert data["images"][0] == {"src": "images/photo.jpg", "line": 5, "alt": "替代文字", "title": "图 1：标题作为图注"}
    # Measured as publish sends it: each image path counted as long as a WeChat image URL.
    assert data["content_length"] == len(data["html"]) + sum(IMAGE_URL_CHARS - len(i["src"]) for i in data["images"])
    assert data["budget_left"] == 19_999 - data["content_length"]  # WeChat takes fewer than 20,000


def test_convert_to_a_file_and_a_phone_page(tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    result = run("convert", str(GOLDEN / "code.md"), "--page", "-o", str(out))
    assert result.exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "width:375px" in page
    assert "left of WeChat's 20,000" in result.stderr


def test_warnings_go_to_stderr_with_file_and_line(tmp_path: Path) -> None:
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: t\nautor: me\n---\n正文\n", encoding="utf-8")
    result = run("convert", str(post))
    assert result.exit_code == 0
    assert f"warning: {post}:3: front matter: unknown key 'autor'; did you mean 'author'?" in result.stderr
    assert "warning" not in result.stdout


def test_broken_yaml_is_one_line_with_file_line_and_hint(tmp_path: Path) -> None:
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: a\nauthor: b: c\n---\n正文\n", encoding="utf-8")
    result = run("convert", str(post))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {post}:3: front matter is not valid YAML")
    assert "Traceback" not in result.output


def test_a_gbk_file_is_refused_with_the_way_to_convert_it(tmp_path: Path) -> None:
    post = tmp_path / "gbk.md"
    post.write_bytes("标题\n\n正文".encode("gbk"))
    result = run("convert", str(post))
    assert result.exit_code == 1
    assert f"{post}:1: not UTF-8" in result.stderr and "iconv -f GB18030 -t UTF-8" in result.stderr


def test_a_bom_is_fine(tmp_path: Path) -> None:
    post = tmp_path / "bom.md"
    post.write_bytes("\ufeff---\ntitle: 有 BOM\n---\n正文\n".encode("utf-8"))
    result = run("convert", str(post), "--json")
    assert json.loads(result.stdout)["title"] == "有 BOM"


def test_unknown_theme_is_a_usage_error() -> None:
    result = run("convert", str(GOLDEN / "emphasis.md"), "--theme", "nope")
    assert result.exit_code == 2
    assert "unknown theme 'nope'" in result.stderr and "default, geek, ink, warm" in result.stderr


def test_themes_lists_the_builtin_themes() -> None:
    result = run("themes")
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == ["default", "geek", "ink", "warm"]


def test_python_dash_m_and_the_console_script_agree() -> None:
    module = subprocess.run([sys.executable, "-m", "wxpub", "convert", str(GOLDEN / "links.md")], capture_output=True, text=True)
    assert module.returncode == 0
    assert module.stdout == (GOLDEN / "links.html").read_text(encoding="utf-8")


def test_an_unexpected_failure_is_one_line_without_traceback(monkeypatch) -> None:
    import wxpub.convert

    def broken(*args, **kwargs):
        raise RuntimeError("something broke")

    monkeypatch.setattr(wxpub.convert, "convert_file", broken)
    result = run("convert", str(GOLDEN / "emphasis.md"))
    assert result.exit_code == 70
    assert result.stderr.strip() == "error: internal error, RuntimeError: something broke (please report it; WXPUB_DEBUG=1 shows the traceback)"
    as_json = run("convert", "--json", str(GOLDEN / "emphasis.md"))  # a script still gets JSON
    assert as_json.exit_code == 70 and json.loads(as_json.stdout) == {"error": "InternalError", "message": "RuntimeError: something broke"}


def test_an_unclosed_quote_in_front_matter_points_at_the_line_it_opens(tmp_path: Path) -> None:
    post = tmp_path / "p.md"
    post.write_text('---\ntitle: "没有收尾的引号\nauthor: b\ndigest: c\n---\n正文\n', encoding="utf-8")
    result = run("convert", str(post))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: {post}:2: front matter is not valid YAML: a quoted value is never closed "
        "(close it, or quote the whole value)"
    )


def test_writing_where_it_cannot_is_one_line(tmp_path: Path) -> None:
    post = GOLDEN / "emphasis.md"
    missing = run("convert", str(post), "-o", str(tmp_path / "nodir" / "out.html"))
    assert missing.exit_code == 2 and missing.stderr == f"error: {tmp_path / 'nodir' / 'out.html'}: no folder {tmp_path / 'nodir'} (create it first, or write somewhere else)\n"
    folder = run("convert", str(post), "-o", str(tmp_path))
    assert folder.exit_code == 2 and folder.stderr == f"error: {tmp_path}: is a folder (name a file to write, e.g. -o article.html)\n"
    given_a_folder = run("convert", str(GOLDEN))
    assert given_a_folder.exit_code == 2 and given_a_folder.stderr == f"error: {GOLDEN}: is a folder, not a post (name a Markdown file; check and publish --changed take folders)\n"


def test_a_post_that_is_not_there_is_a_usage_error_in_every_command(tmp_path: Path) -> None:
    missing = tmp_path / "nope.md"
    for command in ("convert", "check", "images", "publish", "verify"):
        result = run(command, str(missing))
        assert result.exit_code == 2, (command, result.output)
        assert result.stderr.startswith(f"error: {missing}: no such file"), (command, result.stderr)


def test_every_json_command_that_fails_prints_its_error_as_json(tmp_path: Path) -> None:
    missing = tmp_path / "nope.md"
    for command in ("convert", "check", "images", "verify"):
        result = run(command, "--json", str(missing))
        assert result.exit_code == 2, (command, result.output)
        data = json.loads(result.stdout)
        assert (data["error"], data["path"]) == ("UsageError", str(missing)) and data["message"].startswith("no such file"), command


def test_a_font_size_of_zero_is_refused_not_ignored() -> None:
    result = run("convert", str(GOLDEN / "emphasis.md"), "--font-size", "0")
    assert result.exit_code == 2 and "font size 0.0 is not a size from 10 to 28 px" in result.stderr
