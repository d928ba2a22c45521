"""The round trip: what was sent compared with what the draft holds, as functions and against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sandbox_fixtures import APPID, SECRET, sandbox  # noqa: F401  (fixture)
from test_publish import Project, project, run, three_images  # noqa: F401  (fixture)

from wxpub.cli import main
from wxpub.sandbox import Sandbox
from wxpub.verify import ArticleCheck, VerifyReport, compare, facts


def test_nothing_lost() -> None:
    sent = '<p style="margin:0;color:#333">a  b<br>c</p><img src="http://x/1.png">'
    kept = '<p style="color: #333; margin: 0">a b<br>c</p><img src="http://x/1.png">'
    comparison = compare(sent, kept)
    assert not comparison.changed and comparison.words() == []


def test_text_lost_is_named() -> None:
    comparison = compare("<p>首先，第一步。</p><pre>line one\nline two</pre>", "<p>首先。</p><pre>line oneline two</pre>")
    assert comparison.lost
    assert comparison.text_changes == (("，第一步", ""), ("one line", "oneline"))
    assert comparison.words() == ['text lost: "，第一步"', 'text changed: "one line" became "oneline"']


def test_text_only_added_is_a_note_not_a_loss() -> None:
    comparison = compare("<p>正文</p>", "<p>正文</p><p>阅读原文</p>")
    assert comparison.text_changes == (("", "阅读原文"),) and not comparison.lost and comparison.changed


def test_images_lost_by_count_and_order() -> None:
    comparison = compare('<img src="a"><p>x</p><img src="b"><img src="c">', '<img src="a"><p>x</p><img src="c">')
    assert comparison.images_lost == ("b",) and comparison.images_sent == 3 and comparison.lost
    assert "images lost: 1 of 3 (b)" in comparison.words()


def test_an_image_served_over_https_or_lazily_is_the_same_image() -> None:
    sent = '<img src="http://mmbiz.qpic.cn/mmbiz_png/abc/0?wx_fmt=png"><img src="http://mmbiz.qpic.cn/mmbiz_png/def/0?wx_fmt=png">'
    kept = '<img data-src="https://mmbiz.qpic.cn/mmbiz_png/abc/0?wx_fmt=png&amp;from=appmsg"><img src="https://mmbiz.qpic.cn/mmbiz_png/xyz/0">'
    assert compare(sent, kept).images_lost == ("http://mmbiz.qpic.cn/mmbiz_png/def/0?wx_fmt=png",)


def test_links_removed_with_their_text_kept() -> None:
    comparison = compare('<p>see <a href="https://example.com/">this</a></p>', "<p>see this</p>")
    assert comparison.links_lost == ("https://example.com/",) and comparison.text_lost == () and comparison.lost
    assert comparison.elements_lost == {"a": 1}


def test_styles_lost_by_element_kind_are_notes_only() -> None:
    sent = '<section style="display:flex;color:#333"><p style="margin:0">a</p><p style="margin:0">b</p></section><table><tr style="background:#eee"><td>c</td></tr></table>'
    kept = '<section style="color:#333"><p>a</p><p style="margin:0">b</p></section><table><tr><td>c</td></tr></table>'
    comparison = compare(sent, kept)
    assert not comparison.lost and comparison.changed
    assert comparison.styles_lost == {"section": {"display:flex": 1}, "p": {"margin:0": 1}, "tr": {"background:#eee": 1}}
    report = VerifyReport((ArticleCheck("a.md", "D1", 0, comparison),))
    assert report.exit_code == 0
    assert "styles lost or changed: <p> margin:0 ×1; <section> display:flex ×1; <tr> background:#eee ×1" in "\n".join(report.lines())


def test_a_long_article_is_compared_block_by_block_and_quickly() -> None:
    import time

    paragraphs = [f'<p style="margin:0 0 1em">{"".join(chr(0x4E00 + (i * 7 + k) % 300) for k in range(200))}</p>' for i in range(90)]
    sent = "<section>" + "".join(paragraphs) + "</section>"
    kept = sent.replace(paragraphs[40], paragraphs[40][:60] + paragraphs[40][70:])
    started = time.monotonic()
    comparison = compare(sent, kept)
    assert time.monotonic() - started < 1
    assert comparison.text_changes == ((paragraphs[40][60:70], ""),)
    assert not comparison.styles_lost and not comparison.elements_lost


def test_hidden_text_is_not_text() -> None:
    assert facts("<p>a<script>var x</script><style>p{}</style>b</p>").text == "ab"


def _env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    monkeypatch.setenv("WXPUB_API_BASE", sandbox.url)
    monkeypatch.setenv("WXPUB_APPID", APPID)
    monkeypatch.setenv("WXPUB_SECRET", SECRET)
    monkeypatch.setenv("WXPUB_TOKEN_STORE", "memory")


def test_publish_verify_a_post_that_loses_nothing_exits_0(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, sandbox)
    post = project.post("a.md", "往返", "第一段，**粗体**和`代码`。\n\n第二段。", three_images(project))
    result = CliRunner().invoke(main, ["publish", "--verify", str(post)])
    assert result.exit_code == 0, result.output
    assert "article 1: WeChat kept it as sent" in result.stderr
    assert "verified 1 article: 0 lost text, images or links; 0 changed without losing any" in result.stderr


def test_a_post_published_with_fit_is_verified_as_fit_rendered_it(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, sandbox)
    body = "".join(f"第 {i} 段：设 $x_{{{i}}}$ 与 $\\lambda_{{{i}}}$，则 $y = w x + b$。\n\n" for i in range(60))
    post = project.post("fit.md", "公式", body, three_images(project))
    result = CliRunner().invoke(main, ["publish", "--fit", "--verify", str(post)])
    assert result.exit_code == 0, result.output
    assert "simple inline formulas are written as text" in result.stderr
    assert "article 1: WeChat kept it as sent" in result.stderr, result.stderr  # compared with what was sent
    again = CliRunner().invoke(main, ["verify", str(post)])  # later, from the ledger: it needed --fit, so it had it
    assert again.exit_code == 0 and "WeChat kept it as sent" in again.stderr, again.output


def test_verify_names_what_the_sandbox_stripped_and_exits_1(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, sandbox)
    post = project.post("raw.md", "原始", "前言。\n\n<pre>第一行\n第二行</pre>\n\n后记。", three_images(project))
    published = CliRunner().invoke(main, ["publish", "--verify", "--json", str(post)])
    assert published.exit_code == 1, published.output
    verified = json.loads(published.stdout)["verify"]
    [article] = verified["articles"]
    assert article["lost"] and article["text_changes"] == [{"sent": "第一行 第二行", "kept": "第一行第二行"}] and article["images_lost"] == []
    assert verified["exit_code"] == 1
    assert 'text changed: "第一行 第二行" became "第一行第二行"' in published.stderr
    again = CliRunner().invoke(main, ["verify", str(post)])  # later, from the ledger
    assert again.exit_code == 1 and 'became "第一行第二行"' in again.stderr and "lost what was sent" in again.stderr


def test_publish_verify_and_submit_do_not_go_together(project: Project) -> None:
    post = project.post("a.md", "发布", "正文。", three_images(project))
    result = CliRunner().invoke(main, ["publish", "--verify", "--submit", str(post)])
    assert result.exit_code == 2 and "--verify" in result.stderr and "Traceback" not in result.output


def test_verify_reads_every_post_of_a_draft_once(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, sandbox)
    posts = [project.post(f"{name}.md", name, "正文。", three_images(project)) for name in ("一", "二")]
    assert run(sandbox, project, *posts).action == "added"
    before = sandbox.count("draft/get")
    result = CliRunner().invoke(main, ["verify", "--json", *map(str, posts)])
    assert result.exit_code == 0, result.output
    assert [a["index"] for a in json.loads(result.stdout)["articles"]] == [0, 1]
    assert sandbox.count("draft/get") - before == 1


def test_verify_a_post_never_published_or_whose_draft_is_gone(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, sandbox)
    post = project.post("a.md", "未发", "正文。", three_images(project))
    never = CliRunner().invoke(main, ["verify", str(post)])
    assert never.exit_code == 2 and f"error: {post}: not in the ledger" in never.stderr and "Traceback" not in never.output
    result = run(sandbox, project, post)
    sandbox.state["drafts"].pop(result.media_id)
    gone = CliRunner().invoke(main, ["verify", str(post)])
    assert gone.exit_code == 2 and "no longer in the draft box" in gone.stderr


def test_verify_in_the_sandbox_from_the_command_line(project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WXPUB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WXPUB_SANDBOX_PORT", "0")
    post = project.post("a.md", "沙盒", "正文。", three_images(project))
    assert CliRunner().invoke(main, ["publish", "--sandbox", str(post)]).exit_code == 0
    result = CliRunner().invoke(main, ["verify", "--sandbox", str(post)])  # a new sandbox on the same state
    assert result.exit_code == 0, result.output
    assert "WeChat kept it as sent" in result.stderr


def test_a_post_edited_since_it_was_published_is_not_blamed_on_wechat(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, sandbox)
    post = project.post("a.md", "改过", "正文。", three_images(project))
    run(sandbox, project, post)
    with post.open("a", encoding="utf-8") as file:
        file.write("\nmy edit\n")
    result = CliRunner().invoke(main, ["verify", str(post)])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"error: {post}: the post was edited since it was published: WeChat's copy is of what was sent before (wxpub publish it first, then verify)"
    assert sandbox.count("draft/get") == 0  # said before asking WeChat anything
    assert CliRunner().invoke(main, ["publish", str(post)]).exit_code == 0
    assert CliRunner().invoke(main, ["verify", str(post)]).exit_code == 0


def test_a_published_post_is_verified_against_what_was_published(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, sandbox)
    post = project.post("raw.md", "发表", "前言。\n\n<pre>第一行\n第二行</pre>\n\n后记。", three_images(project))
    published = run(sandbox, project, post, submit=True)
    assert published.published and not sandbox.drafts(APPID)
    result = CliRunner().invoke(main, ["verify", "--json", str(post)])
    assert result.exit_code == 1, result.output  # what the sandbox kept of <pre> is still what it kept
    [article] = json.loads(result.stdout)["articles"]
    assert article["published"] and article["article_id"] == published.article_id and article["media_id"] == published.media_id
    assert f"{post}: published {published.article_id} article 1: lost what was sent" in result.stderr
    assert "publish it again" not in result.stderr and sandbox.count("freepublish/getarticle") == 1
    # A ledger that knows only the publish_id asks freepublish/get for the article_id.
    ledger_file = project.root / "wxpub-ledger.json"
    data = json.loads(ledger_file.read_text(encoding="utf-8"))
    data["accounts"][APPID]["drafts"][published.media_id].pop("article_id")
    ledger_file.write_text(json.dumps(data), encoding="utf-8")
    polls = sandbox.count("freepublish/get")
    again = CliRunner().invoke(main, ["verify", str(post)])
    assert again.exit_code == 1 and f"published {published.article_id} article 1" in again.stderr, again.output
    assert sandbox.count("freepublish/get") == polls + 1


def test_a_published_post_that_cannot_be_read_back_says_so_and_exits_4(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, sandbox)
    post = project.post("a.md", "发表", "正文。", three_images(project))
    run(sandbox, project, post, submit=True)
    sandbox.inject("errcode", "freepublish/getarticle", errcode=48001)
    result = CliRunner().invoke(main, ["verify", str(post)])
    assert result.exit_code == 4, result.output
    assert f"error: {post}: it was published (publish_id 2247483001) and is no longer a draft" in result.stderr
    assert "this account may not use this call" in result.stderr
    assert "publish it again" not in result.stderr and "Traceback" not in result.output
