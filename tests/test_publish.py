"""Publishing end to end: the real wechatpy client against the sandbox over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from sandbox_fixtures import APPID, SECRET, sandbox  # noqa: F401  (fixture)

from wxpub.cli import main
from wxpub.errors import UsageError, WeChatError
from wxpub.ledger import Ledger
from wxpub.post import parse_post
from wxpub.config import Credentials
from wxpub.publish import (
    PublishOptions,
    PublishRefused,
    PublishResult,
    excerpt,
    publish_paths,
    rewrite_sources,
)
from wxpub.sandbox import Sandbox

NO_WAIT = dict(sleep=lambda seconds: None)


class Project:
    """A project folder with posts and images made with Pillow."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "img").mkdir(parents=True)
        (root / "wxpub.toml").write_text("[publish]\npoll_interval = 0\n", encoding="utf-8")

    def image(self, name: str, color: tuple[int, int, int], size: tuple[int, int] = (320, 200)) -> str:
        Image.new("RGB", size, color).save(self.root / "img" / name)
        return f"img/{name}"

    def gif(self, name: str) -> str:
        frames = [Image.new("RGB", (60, 40), (i * 80, 0, 255 - i * 80)) for i in range(3)]
        frames[0].save(self.root / "img" / name, save_all=True, append_images=frames[1:], duration=100, loop=0)
        return f"img/{name}"

    def post(self, name: str, title: str, body: str, images: list[str] = (), **meta: str) -> Path:
        front = "".join(f"{key}: {value}\n" for key, value in {"title": title, **meta}.items())
        pictures = "".join(f"\n![picture {i}]({src})\n" for i, src in enumerate(images))
        path = self.root / name
        path.write_text(f"---\n{front}---\n\n{body}\n{pictures}", encoding="utf-8")
        return path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "blog")


def run(sandbox: Sandbox, project: Project, *posts: Path, **options: object) -> PublishResult:
    return publish_paths(
        list(posts),
        PublishOptions(**{**NO_WAIT, **options}),
        api_base=sandbox.url,
        credentials=Credentials(APPID, SECRET),
        token_store="memory",
    )


def stored(sandbox: Sandbox, media_id: str) -> list[dict]:
    return sandbox.drafts(APPID)[media_id]["articles"]


def three_images(project: Project) -> list[str]:
    return [project.image(f"p{i}.png", (40 * i, 90, 200)) for i in range(3)]


def test_first_publish_uploads_everything_and_adds_one_draft(sandbox: Sandbox, project: Project) -> None:
    post = project.post("a.md", "第一篇", "正文第一段，讲一件事。\n\n第二段。", three_images(project), author="作者", comments="fans-only")
    result = run(sandbox, project, post)
    assert result.action == "added" and result.posts[0].action == "added"
    assert (result.uploaded, result.reused) == (4, 0)  # three content images and the cover
    [article] = stored(sandbox, result.media_id)
    assert article["title"] == "第一篇" and article["author"] == "作者"
    assert article["digest"].startswith("正文第一段")
    assert article["filtered_images"] == [] and article["content"].count("/mmbiz_") == 3
    assert article["pic_crop_235_1"] and article["pic_crop_1_1"]
    assert (article["need_open_comment"], article["only_fans_can_comment"]) == (1, 1)
    ledger = json.loads((project.root / "wxpub-ledger.json").read_text(encoding="utf-8"))
    assert list(ledger["accounts"][APPID]["drafts"]) == [result.media_id]
    assert ledger["accounts"][APPID]["drafts"][result.media_id]["posts"] == ["a.md"]


def test_an_unchanged_rerun_makes_no_uploads_and_at_most_two_calls(sandbox: Sandbox, project: Project) -> None:
    post = project.post("a.md", "不变", "正文。", three_images(project))
    first = run(sandbox, project, post)
    before = sandbox.count()
    again = run(sandbox, project, post)
    assert again.action == "unchanged" and again.media_id == first.media_id
    assert (again.uploaded, again.reused) == (0, 4)
    assert sandbox.count() - before == again.calls <= 2
    assert len(sandbox.drafts(APPID)) == 1


def test_an_edit_updates_the_same_draft(sandbox: Sandbox, project: Project) -> None:
    images = three_images(project)
    post = project.post("a.md", "标题", "旧的正文。", images)
    first = run(sandbox, project, post)
    project.post("a.md", "新标题", "新的正文。", images + [project.image("new.png", (1, 2, 3))])
    second = run(sandbox, project, post)
    assert second.action == "updated" and second.media_id == first.media_id
    assert (second.uploaded, second.reused) == (1, 4)
    [article] = stored(sandbox, first.media_id)
    assert article["title"] == "新标题" and "新的正文" in article["content"]
    assert len(sandbox.drafts(APPID)) == 1 and sandbox.count("draft/add") == 1 and sandbox.count("draft/update") == 1


def test_a_deleted_draft_is_added_again_and_said_so(sandbox: Sandbox, project: Project) -> None:
    post = project.post("a.md", "标题", "正文。", three_images(project))
    first = run(sandbox, project, post)
    sandbox.state["drafts"].clear()  # deleted on the website
    second = run(sandbox, project, post)
    assert second.action == "added" and second.media_id != first.media_id
    assert any("no longer exists" in note for note in second.notes)
    assert second.uploaded == 0


def test_several_posts_make_one_draft_with_several_articles(sandbox: Sandbox, project: Project) -> None:
    shared = project.image("shared.png", (9, 9, 9))
    posts = [project.post(f"p{i}.md", f"第{i}篇", f"正文{i}。", [shared, project.image(f"own{i}.png", (i, 50, 50))]) for i in range(3)]
    result = run(sandbox, project, *posts)
    assert [p.index for p in result.posts] == [0, 1, 2]
    assert [a["title"] for a in stored(sandbox, result.media_id)] == ["第0篇", "第1篇", "第2篇"]
    assert sandbox.count("media/uploadimg") == 4  # the shared image once
    alone = run(sandbox, project, posts[0])  # an article of that draft, named on its own: it stays there
    assert alone.media_id == result.media_id and alone.action == "unchanged" and len(sandbox.drafts(APPID)) == 1
    fresh = project.post("p9.md", "第9篇", "正文9。", [shared])
    mixed = run(sandbox, project, posts[0], fresh)  # with a post in no draft: a draft of their own
    assert mixed.media_id != result.media_id and any("holds a different set of articles" in note for note in mixed.notes)
    assert mixed.uploaded == 0


def test_one_post_of_a_draft_published_on_its_own_is_updated_in_that_draft(
    sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = (project.post(f"{name}.md", f"文章{name}", f"正文{name}。", three_images(project)) for name in ("a", "b"))
    first = run(sandbox, project, a, b)
    project.post("a.md", "文章a", "改过的正文a。", three_images(project))
    alone = run(sandbox, project, a)
    assert alone.media_id == first.media_id and [(p.action, p.index) for p in alone.posts] == [("updated", 0)]
    assert f"{a} is article 1 of draft {first.media_id} (with {b}): updated it there" in alone.notes
    assert list(sandbox.drafts(APPID)) == [first.media_id] and sandbox.count("draft/add") == 1
    assert "改过的正文a" in stored(sandbox, first.media_id)[0]["content"]
    # Every later run, of either form or order, finds it there, unchanged.
    assert [p.action for p in run(sandbox, project, a).posts] == ["unchanged"]
    assert [p.action for p in run(sandbox, project, a, b).posts] == ["unchanged", "unchanged"]
    reordered = run(sandbox, project, b, a)
    assert reordered.media_id == first.media_id and [(p.action, p.index) for p in reordered.posts] == [("unchanged", 1), ("unchanged", 0)]
    project.post("b.md", "文章b", "改过的正文b。", three_images(project))
    dry = run(sandbox, project, b, dry_run=True)
    assert [(step["body"]["media_id"], step["body"]["index"]) for step in dry.plan if step["call"] == "draft/update"] == [(first.media_id, 1)]
    monkeypatch.setenv("WXPUB_API_BASE", sandbox.url)
    monkeypatch.setenv("WXPUB_APPID", APPID)
    monkeypatch.setenv("WXPUB_SECRET", SECRET)
    monkeypatch.setenv("WXPUB_TOKEN_STORE", "memory")
    changed = CliRunner().invoke(main, ["publish", "--changed", str(a), str(b)])
    assert changed.exit_code == 0, changed.output
    assert f"unchanged: {a}" in changed.stdout and f"updated: {b} (" in changed.stdout and f"draft {first.media_id}" in changed.stdout
    assert list(sandbox.drafts(APPID)) == [first.media_id] and sandbox.count("draft/add") == 1
    assert "改过的正文b" in stored(sandbox, first.media_id)[1]["content"]


def test_submitting_one_post_of_a_bigger_draft_is_refused(sandbox: Sandbox, project: Project) -> None:
    a, b = (project.post(f"{name}.md", f"文章{name}", f"正文{name}。", three_images(project)) for name in ("a", "b"))
    first = run(sandbox, project, a, b)
    with pytest.raises(UsageError, match=rf"in draft {first.media_id} with .*b\.md .*which --submit would publish too") as refused:
        run(sandbox, project, a, submit=True)
    assert "wxpub publish --submit" in (refused.value.hint or "")
    assert sandbox.count("freepublish/submit") == 0 and list(sandbox.drafts(APPID)) == [first.media_id]


def test_one_post_of_a_published_draft_named_on_its_own(sandbox: Sandbox, project: Project) -> None:
    a, b = (project.post(f"{name}.md", f"文章{name}", f"正文{name}。", three_images(project)) for name in ("a", "b"))
    first = run(sandbox, project, a, b, submit=True)
    assert first.published and first.article_id
    unchanged = run(sandbox, project, a)
    assert unchanged.published and unchanged.posts[0].action == "unchanged" and unchanged.article_id == first.article_id
    assert not sandbox.drafts(APPID)
    previewed = run(sandbox, project, a, preview_to="writer_wx")
    assert previewed.preview_msg_id is None and not sandbox.state["previews"]
    assert "no preview sent to writer_wx: the draft was published and has left the draft box" in previewed.notes
    project.post("a.md", "文章a", "改过的正文a。", three_images(project))
    edited = run(sandbox, project, a)  # a published article is not changed in place: a new draft, for a alone
    assert edited.action == "added" and list(sandbox.drafts(APPID)) == [edited.media_id]
    assert any(f"of draft {first.media_id} (with {b}), which was published" in note for note in edited.notes)
    assert run(sandbox, project, a).action == "unchanged" and run(sandbox, project, b).published  # b's record was kept
    assert list(sandbox.drafts(APPID)) == [edited.media_id] and sandbox.count("freepublish/submit") == 1


def test_at_most_8_posts(sandbox: Sandbox, project: Project) -> None:
    posts = [project.post(f"p{i}.md", f"t{i}", "x", [project.image("a.png", (1, 1, 1))]) for i in range(9)]
    with pytest.raises(UsageError, match="at most 8"):
        run(sandbox, project, *posts)


def test_animated_gifs_go_up_as_permanent_material(sandbox: Sandbox, project: Project) -> None:
    post = project.post("a.md", "动图", "看图。", [project.gif("moving.gif"), project.image("still.png", (5, 5, 5))])
    result = run(sandbox, project, post)
    kinds = sorted((u["kind"], u["format"]) for u in sandbox.uploads().values())
    assert ("material", "gif") in kinds and ("uploadimg", "png") in kinds
    [article] = stored(sandbox, result.media_id)
    assert "/mmbiz_gif/" in article["content"] and article["filtered_images"] == []


def test_submit_polls_until_published_and_reports_in_words(tmp_path: Path, project: Project) -> None:
    sleeps: list[float] = []
    post = project.post("a.md", "发表", "正文。", three_images(project))
    with Sandbox(tmp_path / "s", accounts={APPID: SECRET}, publish_sequence=(1, 1, 0)) as sandbox:
        said: list[str] = []
        result = publish_paths(
            [post], PublishOptions(submit=True, poll_interval=2, sleep=sleeps.append), api_base=sandbox.url,
            credentials=Credentials(APPID, SECRET), token_store="memory", progress=said.append,
        )
        assert result.publish_status == 0 and result.publish_words == "published"
        assert sandbox.count("freepublish/get") == 3 and sleeps == [2, 4, 8]
        assert said.count("publish status: publishing") == 2 and "publish status: published" in said
        assert result.article_urls and result.media_id not in sandbox.drafts(APPID)


def test_a_failed_publish_is_reported(tmp_path: Path, project: Project) -> None:
    post = project.post("a.md", "发表", "正文。", three_images(project))
    with Sandbox(tmp_path / "s", accounts={APPID: SECRET}, publish_sequence=(1, 4)) as sandbox:
        result = run(sandbox, project, post, submit=True)
    assert result.publish_status == 4 and "rejected" in (result.publish_words or "")


def test_preview_goes_to_a_wechat_id(sandbox: Sandbox, project: Project) -> None:
    post = project.post("a.md", "预览", "正文。", three_images(project))
    result = run(sandbox, project, post, preview_to="writer_wx")
    assert result.preview_msg_id
    assert sandbox.state["previews"][-1] == {"appid": APPID, "to": "writer_wx", "media_id": result.media_id}


@pytest.mark.parametrize("fault", ["supersede-token", "expire-token"])
def test_a_token_that_dies_mid_run_is_refreshed(sandbox: Sandbox, project: Project, fault: str) -> None:
    post = project.post("a.md", "令牌", "正文。", three_images(project))
    sandbox.inject(fault, "media/uploadimg", after=1)
    result = run(sandbox, project, post, concurrency=1)
    assert result.uploaded == 4 and sandbox.count("stable_token") == 2
    assert len(sandbox.uploads()) == 4


def test_http_500_is_retried(sandbox: Sandbox, project: Project) -> None:
    post = project.post("a.md", "五百", "正文。", three_images(project))
    sandbox.inject("http", "media/uploadimg", status=500, times=2)
    sandbox.inject("http", "draft/add", status=500)
    result = run(sandbox, project, post)
    assert result.action == "added" and len(sandbox.drafts(APPID)) == 1 and len(sandbox.uploads()) == 4


@pytest.mark.parametrize("fault", ["drop-before", "drop-after"])
def test_a_dropped_draft_add_leaves_exactly_one_draft(sandbox: Sandbox, project: Project, fault: str) -> None:
    post = project.post("a.md", "掉线", "正文。", three_images(project))
    sandbox.inject(fault, "draft/add")
    result = run(sandbox, project, post)
    assert list(sandbox.drafts(APPID)) == [result.media_id]
    if fault == "drop-after":  # it landed: found at the first look, not sent again
        assert sandbox.count("draft/batchget") == 1 and sandbox.count("draft/add") == 1
    else:  # it never landed: looked for until it could no longer land, then sent again
        assert sandbox.count("draft/batchget") > 1 and sandbox.count("draft/add") == 2
    assert run(sandbox, project, post).action == "unchanged"


def test_45009_is_not_retried_and_a_rerun_finishes_without_reuploading(sandbox: Sandbox, project: Project) -> None:
    post = project.post("a.md", "配额", "正文。", three_images(project))
    sandbox.inject("errcode", "draft/add", errcode=45009)
    with pytest.raises(WeChatError) as failed:
        run(sandbox, project, post)
    assert failed.value.errcode == 45009 and "daily quota" in str(failed.value)
    assert sandbox.count("draft/add") == 1 and not sandbox.drafts(APPID)
    result = run(sandbox, project, post)
    assert result.action == "added" and result.uploaded == 0 and len(sandbox.uploads()) == 4


def test_a_run_killed_between_uploads_is_rerun_without_duplicates(tmp_path: Path, project: Project) -> None:
    images = [project.image(f"k{i}.png", (i * 30, 10, 10)) for i in range(5)]
    post = project.post("a.md", "中断", "正文。", images)
    (project.root / "wxpub.toml").write_text("[publish]\nconcurrency = 1\n", encoding="utf-8")
    env = {**os.environ, "WXPUB_APPID": APPID, "WXPUB_SECRET": SECRET, "WXPUB_TOKEN_STORE": "memory", "PYTHONPATH": str(Path(__file__).parents[1])}
    with Sandbox(tmp_path / "s", accounts={APPID: SECRET}) as sandbox:
        env["WXPUB_API_BASE"] = sandbox.url
        sandbox.inject("drop-before", "media/uploadimg", after=2, seconds=2.0)  # the third upload hangs
        process = subprocess.Popen([sys.executable, "-m", "wxpub", "publish", str(post)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while sandbox.count("media/uploadimg") < 2 and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait()
        uploads_before = Ledger(project.root / "wxpub-ledger.json", APPID)._account()["uploads"]
        assert len(uploads_before["uploadimg"]) == 2
        made_before = sum(len(by_sha) for by_sha in uploads_before.values())  # and the cover, which goes first
        result = run(sandbox, project, post)
        assert result.uploaded == 6 - made_before and result.reused == made_before
        stored_hashes = [u["sha256"] for u in sandbox.uploads().values()]
        assert len(stored_hashes) == len(set(stored_hashes)) == 6
        assert len(sandbox.drafts(APPID)) == 1


def test_a_post_that_fails_its_checks_uploads_nothing(sandbox: Sandbox, project: Project) -> None:
    long_title = project.post("a.md", "长" * 70, "正文。", three_images(project))
    no_cover = project.post("b.md", "无图", "只有文字。")
    with pytest.raises(PublishRefused) as refused:
        run(sandbox, project, long_title, no_cover)
    problems = [p.one_line() for p in refused.value.problems]
    assert any("title is 70 characters, 210 bytes; WeChat refuses titles over 64" in p and "a.md:2:" in p for p in problems)
    assert any("no cover" in p and "b.md" in p for p in problems)
    assert sandbox.count() == 0


def test_content_over_the_limit_says_by_how_much(sandbox: Sandbox, project: Project) -> None:
    post = project.post("a.md", "太长", "\n\n".join(f"第{i}段，" + "字" * 60 for i in range(400)), three_images(project))
    with pytest.raises(PublishRefused, match=r"the content is [\d,]+ characters of HTML with WeChat's image URLs, [\d,]+ over"):
        run(sandbox, project, post)
    assert sandbox.count() == sandbox.count("stable_token") <= 1  # the token came while images were prepared


def code_heavy(blocks: int) -> str:
    """A body of `blocks` highlighted code blocks, strings and keywords in every line."""
    block = "```python\n" + "".join(f'def f{i}(x):\n    return "value {i}" if x else None\n' for i in range(12)) + "```\n\n"
    return "正文。\n\n" + block * blocks


def test_a_post_over_the_limit_is_refused_with_what_fit_would_do(sandbox: Sandbox, project: Project) -> None:
    post = project.post("a.md", "代码", code_heavy(8), three_images(project))
    with pytest.raises(PublishRefused) as refused:
        run(sandbox, project, post)
    [problem] = [p.one_line() for p in refused.value.problems]
    assert problem.startswith(f"{post}:1: the content is ") and " over WeChat's limit" in problem
    assert problem.endswith("(--fit would make it fit, giving up: code blocks colour only keywords and comments)")
    assert sandbox.count("media/uploadimg") == 0
    hopeless = project.post("b.md", "代码", code_heavy(60), three_images(project))
    with pytest.raises(PublishRefused, match=r"--fit would not be enough: shorten the post or split it"):
        run(sandbox, project, hopeless)
    with pytest.raises(PublishRefused, match=r"--fit is not enough even with every cheaper rendering"):
        run(sandbox, project, hopeless, fit=True)
    assert sandbox.count("media/uploadimg") == 0


def test_publish_fit_sends_the_cheaper_rendering_and_says_what_it_gave_up(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    post = project.post("a.md", "代码", code_heavy(8), three_images(project))
    result = run(sandbox, project, post, fit=True)
    [article] = stored(sandbox, result.media_id)
    assert result.posts[0].content_chars < 20_000
    assert "color:#16a" not in article["content"] and "color:#612" in article["content"]  # strings plain, keywords coloured
    assert any("code blocks colour only keywords and comments [fit]" in w for w in result.posts[0].warnings)
    monkeypatch.setenv("WXPUB_API_BASE", sandbox.url)
    monkeypatch.setenv("WXPUB_APPID", APPID)
    monkeypatch.setenv("WXPUB_SECRET", SECRET)
    cli = CliRunner().invoke(main, ["publish", "--fit", str(post)])
    assert cli.exit_code == 0, cli.output
    assert "to fit WeChat's 20,000 characters, code blocks colour only keywords and comments" in cli.stderr
    refused = CliRunner().invoke(main, ["publish", str(post)])
    assert refused.exit_code != 0 and "--fit would make it fit" in refused.stderr and "Traceback" not in refused.output


def test_dry_run_calls_nothing_and_shows_the_payload(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    post = project.post("a.md", "演练", "正文。", three_images(project))
    monkeypatch.setenv("WXPUB_API_BASE", sandbox.url)
    result = CliRunner().invoke(main, ["publish", "--dry-run", "--json", str(post)])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plan"]
    assert [step["call"] for step in plan].count("media/uploadimg") == 3
    assert plan[-1]["call"] == "draft/add" and plan[-1]["body"]["articles"][0]["title"] == "演练"
    assert sandbox.count() == 0


def test_publish_to_sandbox_starts_one_and_says_where_to_look(project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The sandbox publish started stops with it: the line says which command serves the draft's page again, and it does."""
    monkeypatch.setenv("WXPUB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WXPUB_SANDBOX_PORT", "0")
    post = project.post("a.md", "试试", "正文。", three_images(project))
    result = CliRunner().invoke(main, ["publish", "--sandbox", str(post)])
    assert result.exit_code == 0, result.output
    assert "added: " in result.stdout
    found = re.search(r"see the draft: run `(wxpub sandbox --port (\d+))`, then open (http://127\.0\.0\.1:(\d+)/drafts/(\S+)) ", result.stderr)
    assert found and found.group(2) == found.group(4), result.stderr
    assert not (project.root / "wxpub-ledger.json").exists()  # sandbox uploads stay out of the project's ledger
    assert (tmp_path / "cache" / "sandbox" / "wxpub-ledger.json").exists()
    again = CliRunner().invoke(main, ["publish", "--sandbox", "--json", str(post)])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["sandbox"]["serve"].startswith("wxpub sandbox")
    command, url = found.group(1).split()[1:], found.group(3)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    served = subprocess.Popen([sys.executable, "-m", "wxpub", *command], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert served.stderr is not None and f"wxpub sandbox on {url.split('drafts/')[0]}" in served.stderr.readline()
        with urllib.request.urlopen(url, timeout=10) as page:
            assert "试试" in page.read().decode("utf-8")
    finally:
        served.terminate()
        served.wait()


def test_the_sandbox_command_listens_where_publish_looks(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "WXPUB_CACHE_DIR": str(tmp_path / "cache"), "WXPUB_SANDBOX_PORT": str(port)}
    served = subprocess.Popen([sys.executable, "-m", "wxpub", "sandbox"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert served.stderr is not None
        assert served.stderr.readline().startswith(f"wxpub sandbox on http://127.0.0.1:{port}/ ")
        assert (tmp_path / "cache" / "sandbox" / "sandbox.json").exists()  # where it listens, for publish to find
    finally:
        served.terminate()
        served.wait()
    assert served.returncode == 0 and not (tmp_path / "cache" / "sandbox" / "sandbox.json").exists()  # a kill stops it as Ctrl-C does


def test_publish_into_a_running_sandbox_links_the_draft_at_once(project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WXPUB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WXPUB_SANDBOX_PORT", "0")
    from wxpub.sandbox import owner_key, sandbox_state_dir

    post = project.post("a.md", "试试", "正文。", three_images(project))
    with Sandbox(sandbox_state_dir(), key=owner_key()) as running:
        result = CliRunner().invoke(main, ["publish", "--sandbox", str(post)])
        assert result.exit_code == 0, result.output
        (media_id,) = running.drafts()
        assert f"see the draft at {running.url}drafts/{media_id} (all drafts: {running.url})" in result.stderr
        again = CliRunner().invoke(main, ["publish", "--sandbox", "--json", str(post)])
        assert json.loads(again.stdout)["sandbox"] == {"draft_url": f"{running.url}drafts/{media_id}", "drafts_url": running.url, "serve": None}


def test_json_output_per_post(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WXPUB_API_BASE", sandbox.url)
    monkeypatch.setenv("WXPUB_APPID", APPID)
    monkeypatch.setenv("WXPUB_SECRET", SECRET)
    post = project.post("a.md", "输出", "正文。", three_images(project))
    result = CliRunner().invoke(main, ["publish", "--json", str(post)])
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)["posts"]
    assert entry["action"] == "added" and entry["uploaded"] == 4 and entry["reused"] == 0 and entry["media_id"]
    assert "uploaded 4/4" in result.stderr


def test_secret_and_token_never_reach_output_or_files(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WXPUB_API_BASE", sandbox.url)
    monkeypatch.setenv("WXPUB_APPID", APPID)
    monkeypatch.setenv("WXPUB_SECRET", SECRET)
    monkeypatch.setenv("WXPUB_TOKEN_STORE", "memory")
    post = project.post("a.md", "机密", "正文。", three_images(project))
    runner = CliRunner()
    outputs = [runner.invoke(main, ["publish", "--json", str(post)])]
    project.post("a.md", "机密二", "改了。", three_images(project))
    sandbox.inject("supersede-token", "draft/get")
    sandbox.inject("drop-before", "message/mass/preview")  # not retried (it is not idempotent): printed
    outputs.append(runner.invoke(main, ["publish", "--preview-to", "someone", str(post)]))
    sandbox.inject("errcode", "draft/get", errcode=40125)
    outputs.append(runner.invoke(main, ["publish", "--json", str(post)]))
    assert [o.exit_code for o in outputs] == [0, 3, 3]
    tokens = list(sandbox._plain.values())
    assert len(tokens) == 2
    texts = [o.stdout + o.stderr + repr(o.exception) for o in outputs]
    texts += [p.read_text(errors="replace") for p in project.root.rglob("*") if p.is_file() and p.suffix in (".json", ".md", ".toml")]
    texts += [p.read_text(errors="replace") for p in sandbox.state_dir.rglob("*.json")]
    blob = "\n".join(texts)
    assert "lost the connection" in blob
    assert SECRET not in blob
    assert not any(token in blob for token in tokens)


def test_rewrite_sources_changes_only_the_src_values() -> None:
    html = (
        '<p><img alt="a&amp;b" src="img/a%20b.png" style="x"><img src=\'img/c.jpg\'/>'
        '<img data-src="img/c.jpg" src="img/q.png?x=1&amp;y=2"></p><p>img/c.jpg src="img/c.jpg"</p>'
    )
    urls = {"img/a%20b.png": "http://u/1?wx_fmt=png&x=1", "img/c.jpg": "http://u/2", "img/q.png?x=1&y=2": "http://u/3"}
    assert rewrite_sources(html, urls) == (
        '<p><img alt="a&amp;b" src="http://u/1?wx_fmt=png&amp;x=1" style="x"><img src="http://u/2"/>'
        '<img data-src="img/c.jpg" src="http://u/3"></p><p>img/c.jpg src="img/c.jpg"</p>'
    )


def test_excerpt_is_plain_and_within_the_digest_limit() -> None:
    from wxpub.digest import own_html

    html = own_html(parse_post("第一句话[^1]，见[文档](https://x.org)。" + "很长" * 100 + "\n\n[^1]: 注释\n"))
    text = excerpt(html)
    assert text.startswith("第一句话，见文档。很长") and "注释" not in text and "1" not in text and "参考" not in text
    assert text.endswith(("…", "。")) and len(text) <= 54
    assert excerpt(own_html(parse_post("短。"))) == "短。"
    # Paragraphs first; a post of lists and headings alone gives their text, markers left out.
    assert excerpt(own_html(parse_post("> [!TIP]\n> 提示\n\n- 列表\n\n正文。"))) == "正文。"
    assert excerpt(own_html(parse_post("## 标题\n\n1. 第一步\n2. 第二步\n"))) == "标题 第一步 第二步"


def test_images_with_cjk_names_and_spaces_are_uploaded_and_linked(sandbox: Sandbox, project: Project) -> None:
    from PIL import Image

    folder = project.root / "图片"
    folder.mkdir()
    Image.new("RGB", (400, 300), "red").save(folder / "猫 图.png")
    post = project.post("cjk.md", "中文文件名", "正文。\n\n![猫](<图片/猫 图.png>)\n", [])
    result = run(sandbox, project, post)
    [article] = stored(sandbox, result.media_id)
    assert article["filtered_images"] == [] and article["content"].count("/mmbiz_") == 1
    assert "猫 图.png" not in article["content"] and "%E7" not in article["content"]


def test_an_image_wechat_would_drop_stops_the_publish(sandbox: Sandbox, project: Project) -> None:
    post = project.post("raw.md", "原始图片", '正文。\n\n<p><img src="https://example.com/x.png"></p>\n', three_images(project))
    with pytest.raises(PublishRefused, match=r"image 'https://example.com/x.png' would be dropped by WeChat"):
        run(sandbox, project, post)
    assert sandbox.drafts(APPID) == {} and sandbox.count("media/uploadimg") == 0


def test_the_cli_lists_every_problem_before_refusing(project: Project) -> None:
    first = project.post("a.md", "标" * 70, "正文。", three_images(project))
    second = project.post("b.md", "第二篇", "正文。\n\n![缺](img/missing.png)\n", [])
    result = CliRunner().invoke(main, ["publish", "--dry-run", str(first), str(second)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert any("a.md" in line and "title" in line for line in lines)
    assert any("b.md" in line and "missing.png" in line for line in lines)
    assert lines[-1].startswith("nothing was uploaded: ")


def test_a_draft_added_by_a_killed_run_is_adopted_and_brought_up_to_date(
    sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wxpub.ledger import Ledger

    images = three_images(project)
    post = project.post("a.md", "标题", "旧的正文。", images)
    real = Ledger.record_draft

    def killed(self: Ledger, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the run dies after draft/add answered, before it wrote that down

    monkeypatch.setattr(Ledger, "record_draft", killed)
    with pytest.raises(KeyboardInterrupt):
        run(sandbox, project, post)
    monkeypatch.setattr(Ledger, "record_draft", real)
    project.post("a.md", "标题", "新的正文。", images)
    second = run(sandbox, project, post)
    assert any("interrupted" in note for note in second.notes)
    assert second.posts[0].action == "updated" and sandbox.count("draft/add") == 1
    [article] = stored(sandbox, second.media_id)
    assert "新的正文" in article["content"]
    assert run(sandbox, project, post).action == "unchanged"


def test_a_refused_draft_add_leaves_nothing_to_look_for(sandbox: Sandbox, project: Project) -> None:
    post = project.post("a.md", "标题", "正文。", three_images(project))
    sandbox.inject("errcode", "draft/add", errcode=45166)
    with pytest.raises(WeChatError):
        run(sandbox, project, post)
    ledger = json.loads((project.root / "wxpub-ledger.json").read_text(encoding="utf-8"))
    assert not ledger["accounts"][APPID].get("pending")
    assert run(sandbox, project, post).action == "added" and sandbox.count("draft/batchget") == 0


def test_a_project_file_cannot_choose_where_the_secret_goes(project: Project) -> None:
    from wxpub.errors import ConfigError
    from wxpub.config import PublishSettings

    (project.root / "wxpub.toml").write_text('[publish]\napi_base = "https://evil.example.com/"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="api_base is not read from a project file"):
        PublishSettings.find(project.root / "a.md")


def test_a_failed_status_check_still_reports_the_submitted_publish(sandbox: Sandbox, project: Project) -> None:
    post = project.post("a.md", "标题", "正文。", three_images(project))
    sandbox.inject("errcode", "freepublish/get", errcode=45009, times=99)
    result = run(sandbox, project, post, submit=True)
    assert result.publish_id and result.publish_status is None
    assert "status unknown" in (result.publish_words or "")


def test_debug_logs_of_the_http_stack_show_no_token_or_secret(
    sandbox: Sandbox, project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    post = project.post("a.md", "日志", "正文。", three_images(project))
    with caplog.at_level(logging.DEBUG):
        run(sandbox, project, post)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "access_token=" in text  # the URLs were logged ...
    assert text.count("access_token=") == text.count("access_token=***")  # ... every token masked
    assert SECRET not in text


def test_an_unchanged_published_post_is_neither_added_nor_published_again(sandbox: Sandbox, project: Project) -> None:
    post = project.post("a.md", "发表", "正文。", three_images(project))
    first = run(sandbox, project, post, submit=True)
    assert first.publish_status == 0
    again = run(sandbox, project, post, submit=True)
    assert again.action == "unchanged" and again.publish_id == first.publish_id
    assert "submitted before" in (again.publish_words or "")
    assert sandbox.count("freepublish/submit") == 1 and sandbox.count("draft/add") == 1
    plain = run(sandbox, project, post)
    assert plain.action == "unchanged" and any("not changed since" in note for note in plain.notes)
    project.post("a.md", "发表", "改过的正文。", three_images(project))
    edited = run(sandbox, project, post)
    assert edited.action == "added" and sandbox.count("draft/add") == 2


def test_two_processes_writing_one_ledger_lose_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    monkeypatch.setenv("WXPUB_CACHE_DIR", str(tmp_path / "cache"))
    ledger_path = tmp_path / "wxpub-ledger.json"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_record_many, args=(str(ledger_path), str(tmp_path / "cache"), n)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    uploads = json.loads(ledger_path.read_text(encoding="utf-8"))["accounts"][APPID]["uploads"]["uploadimg"]
    assert len(uploads) == 2 * 40
    assert not list(tmp_path.glob(".wxpub-ledger.json.*.tmp"))


def _record_many(path: str, cache: str, worker: int) -> None:
    import hashlib
    import os

    from wxpub.ledger import Ledger

    os.environ["WXPUB_CACHE_DIR"] = cache
    ledger = Ledger(Path(path), APPID)
    for n in range(40):
        sha = hashlib.sha256(f"{worker}-{n}".encode()).hexdigest()
        ledger.record_upload(sha, "uploadimg", f"http://mmbiz.qpic.cn/{worker}/{n}")


def test_titles_as_wechat_takes_them(sandbox: Sandbox, project: Project) -> None:
    """A real 22-character title publishes quietly; 40 characters publish with a warning; 70 are refused before any call."""
    real = project.post("real.md", "奔赴Web3，视频号熟人社交捧起新创作者经济", "正文。", three_images(project))  # 22 characters
    result = run(sandbox, project, real)
    assert result.action == "added" and not [w for w in result.posts[0].warnings if "the title is" in w]
    forty = project.post("forty.md", "标" * 40, "正文。", three_images(project))
    result = run(sandbox, project, forty)
    assert result.action == "added"
    assert any("40 characters, 120 bytes; WeChat documents at most 32 and may refuse it" in w for w in result.posts[0].warnings)
    calls = sandbox.count()
    seventy = project.post("seventy.md", "标" * 70, "正文。", three_images(project))
    with pytest.raises(PublishRefused, match="WeChat refuses titles over 64 characters"):
        run(sandbox, project, seventy)
    assert sandbox.count() == calls


@pytest.mark.parametrize(("field", "errcode"), [("author", 45110), ("digest", 45004)])
def test_a_length_wechat_refuses_names_it_and_the_rerun_uploads_nothing(
    sandbox: Sandbox, project: Project, field: str, errcode: int
) -> None:
    value = "长" * (17 if field == "author" else 129)
    post = project.post("a.md", "标题", "正文。", three_images(project), **{field: value})
    with pytest.raises(WeChatError) as refused:
        run(sandbox, project, post)
    message = str(refused.value)
    assert refused.value.errcode == errcode
    assert f"the {field} '{value}'" in message and f"{len(value)} characters, {len(value) * 3} bytes" in message
    assert "uploads are kept" in message
    uploads = sandbox.count("media/uploadimg") + sandbox.count("material/add_material")
    post.write_text(post.read_text(encoding="utf-8").replace(value, "短"), encoding="utf-8")
    assert run(sandbox, project, post).action == "added"
    assert sandbox.count("media/uploadimg") + sandbox.count("material/add_material") == uploads


def test_a_published_post_rerun_says_it_was_published_and_shows_no_draft(project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WXPUB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WXPUB_SANDBOX_PORT", "0")
    post = project.post("a.md", "发表", "正文。", three_images(project))
    submitted = CliRunner().invoke(main, ["publish", "--sandbox", "--submit", str(post)])
    assert submitted.exit_code == 0, submitted.output
    # the sandbox this command started has stopped: the line says how to serve the article's page again
    assert "see the draft" not in submitted.stderr and "see the published article: run `wxpub sandbox" in submitted.stderr
    assert re.search(r"/s/A\w+ \(the sandbox this command started stops with it\)", submitted.stderr), submitted.stderr
    again = CliRunner().invoke(main, ["publish", "--sandbox", str(post)])
    assert again.exit_code == 0, again.output
    article_id = again.stderr.split("/s/", 1)[1].split()[0]
    assert f"unchanged: {post} -> published article 1 (0 uploaded, 4 reused)" in again.stdout and "-> draft" not in again.stdout
    assert f"publish 2247483001: published before this run; nothing changed since (article_id {article_id})" in again.stdout
    assert "see the draft at" not in again.stderr and "was published (publish_id 2247483001" in again.stderr
    as_json = json.loads(CliRunner().invoke(main, ["publish", "--sandbox", "--json", str(post)]).stdout)
    assert as_json["published"] is True and as_json["publish_id"] == "2247483001" and as_json["article_id"] == article_id
    assert as_json["action"] == "unchanged" and as_json["posts"][0]["publish_status"] == "published before this run; nothing changed since"


def test_a_refused_publish_with_json_prints_its_problems_as_json(project: Project) -> None:
    """A script asking for JSON gets JSON on stdout whatever happens, and the exit code says how it went."""
    first = project.post("a.md", "标" * 70, "正文。", three_images(project))
    second = project.post("b.md", "第二篇", "正文。\n\n![缺](img/missing.png)\n", [])
    result = CliRunner().invoke(main, ["publish", "--dry-run", "--json", str(first), str(second)])
    assert result.exit_code == 1
    refused = json.loads(result.stdout)
    assert refused["error"] == "PublishRefused" and len(refused["problems"]) == 2
    assert [p["path"].split("/")[-1] for p in refused["problems"]] == ["a.md", "b.md"]
    assert "title" in refused["problems"][0]["message"] and "missing.png" in refused["problems"][1]["message"]
    assert result.stderr.strip().splitlines()[-1] == "nothing was uploaded: 2 problems to fix first"  # people still get their lines
    usage = CliRunner().invoke(main, ["publish", "--json", "--verify", "--submit", str(first)])
    assert usage.exit_code == 2 and json.loads(usage.stdout)["error"] == "UsageError"


def test_every_api_function_taking_paths_takes_one_path(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from wxpub import check_paths, verify_paths
    from wxpub.publish.changed import publish_changed

    post = project.post("a.md", "一篇", "正文。", three_images(project))
    result = publish_paths(str(post), PublishOptions(**NO_WAIT), api_base=sandbox.url, credentials=Credentials(APPID, SECRET), token_store="memory")
    assert result.action == "added" and [p.path for p in result.posts] == [str(post)]
    assert publish_paths(post, PublishOptions(dry_run=True), credentials=Credentials(APPID, SECRET)).action == "would-update"
    assert verify_paths(str(post), api_base=sandbox.url, credentials=Credentials(APPID, SECRET), token_store="memory").exit_code == 0
    changed = publish_changed(str(project.root), PublishOptions(**NO_WAIT), api_base=sandbox.url, credentials=Credentials(APPID, SECRET), token_store="memory")
    assert [p.action for p in changed.posts] == ["unchanged"]
    report = check_paths(str(project.root))
    assert [r.path for r in report.results] == [str(post)] and not report.crashed, list(report.lines())
    assert [r.path for r in check_paths(post).results] == [str(post)]
    with pytest.raises(TypeError, match="paths must be a path or a list of paths, not int"):
        check_paths(3)  # type: ignore[arg-type]
    assert sandbox.count("draft/add") == 1


def test_publish_options_are_held_to_the_bounds_of_the_project_file(project: Project) -> None:
    """One rule for PublishOptions and [publish] in wxpub.toml: a UsageError naming the field and its range."""
    for field, value, words in (
        ("concurrency", -1, "concurrency must be a whole number from 1 to 64, not -1"),
        ("concurrency", 2.5, "concurrency must be a whole number from 1 to 64, not 2.5"),
        ("poll_max", -1, "poll_max must be a whole number from 0 to 100, not -1"),
        ("poll_interval", float("nan"), "poll_interval must be a number of at least 0, not nan"),
        ("settle", -2.0, "settle must be a number of at least 0, not -2.0"),
    ):
        with pytest.raises(UsageError) as refused:
            PublishOptions(**{field: value})
        assert refused.value.message == f"PublishOptions: {words}"
    assert PublishOptions(concurrency=1, poll_max=0, poll_interval=0).poll_max == 0
    post = project.post("a.md", "一篇", "正文。", three_images(project))
    (project.root / "wxpub.toml").write_text("[publish]\npoll_max = -1\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["publish", "--dry-run", str(post)])
    assert out.exit_code == 2 and "wxpub.toml: [publish] poll_max must be a whole number from 0 to 100, not -1" in out.stderr, out.output


def _cli_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WXPUB_API_BASE", sandbox.url)
    monkeypatch.setenv("WXPUB_APPID", APPID)
    monkeypatch.setenv("WXPUB_SECRET", SECRET)
    monkeypatch.setenv("WXPUB_TOKEN_STORE", "memory")


@pytest.mark.parametrize("submit", [False, True])
def test_a_lost_preview_answer_says_a_rerun_sends_it_again_and_that_the_draft_is_saved(
    sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch, submit: bool
) -> None:
    """message/mass/preview cannot be looked up: promising that nothing is done twice would be false."""
    _cli_env(sandbox, monkeypatch)
    post = project.post("a.md", "预览", "正文。", three_images(project))
    sandbox.inject("drop-after", "message/mass/preview")
    lost = CliRunner().invoke(main, ["publish", "--preview-to", "my_wx", *(["--submit"] if submit else []), str(post)])
    assert lost.exit_code == 3, lost.output
    [media_id] = sandbox.drafts(APPID)
    assert len(sandbox.state["previews"]) == 1  # it was sent: only the answer was lost
    assert "nothing is done twice" not in lost.stderr
    assert "the preview to my_wx may have been sent" in lost.stderr and "a rerun sends it again" in lost.stderr
    assert f"draft {media_id} is saved, and this failure did not change it" in lost.stderr
    assert ("not submitted" in lost.stderr) == submit and sandbox.count("freepublish/submit") == 0


@pytest.mark.parametrize("errcode", [40132, 45028])
def test_a_refused_preview_says_the_draft_is_saved(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch, errcode: int) -> None:
    _cli_env(sandbox, monkeypatch)
    post = project.post("a.md", "预览", "正文。", three_images(project))
    sandbox.inject("errcode", "message/mass/preview", errcode=errcode)
    refused = CliRunner().invoke(main, ["publish", "--preview-to", "my_wx", str(post)])
    assert refused.exit_code == 3, refused.output
    [media_id] = sandbox.drafts(APPID)
    [line] = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert f"(errcode {errcode})" in line and f"draft {media_id} is saved, and this failure did not change it" in line
    assert "may have been sent" not in line  # refused outright: nothing was sent


def test_the_posts_warnings_are_printed_when_a_later_step_fails(sandbox: Sandbox, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _cli_env(sandbox, monkeypatch)
    post = project.post("c.md", "警告", "正文。", [project.image("cover.png", (10, 90, 200), (600, 300))])
    sandbox.inject("errcode", "freepublish/submit", errcode=45009)
    failed = CliRunner().invoke(main, ["publish", "--submit", str(post)])
    assert failed.exit_code == 3, failed.output
    lines = failed.stderr.splitlines()
    warning = next(i for i, line in enumerate(lines) if line.startswith("warning: ") and "the cover is only 600 px wide" in line)
    error = next(i for i, line in enumerate(lines) if line.startswith("error: "))
    assert warning < error and "daily quota" in lines[error]
    rerun = CliRunner().invoke(main, ["publish", "--submit", str(post)])
    assert rerun.exit_code == 0, rerun.output
    assert rerun.stderr.count("the cover is only 600 px wide") == 1  # said once, not once per place
