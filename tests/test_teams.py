"""Publishing as a team: blocks, several accounts in one sandbox, publish --changed, doctor, init, CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import lxml.html
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from wxpub.cli import main
from wxpub.convert import convert_file
from wxpub.publish import PublishOptions
from wxpub.publish.changed import publish_changed
from wxpub.sandbox import Sandbox

NEWS, SHOP = "wx1111111111111111", "wx2222222222222222"
SECRETS = {NEWS: "S3CRET-news-7d6c5b4a39281706f5e4d3", SHOP: "S3CRET-shop-0a1b2c3d4e5f60718293a4"}
NO_WAIT = dict(sleep=lambda seconds: None, poll_interval=0)
REPO = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def picture(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (940, 400)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Sandbox]]:
    """A repository with two accounts, each with its own footer (one with a QR code), served by one sandbox."""
    root = tmp_path / "team"
    write(root / "wxpub.toml", f"""
[publish]
account = "news"

[accounts.news]
appid = "{NEWS}"
name = "每日新闻"
author = "新闻部"
footer = "blocks/news-footer.md"

[accounts.shop]
appid = "{SHOP}"
name = "好物小店"
author = "店长"
theme = "warm"
footer = "blocks/shop-footer.md"
""")
    write(root / "blocks/news-footer.md", "本文由 @{{ author }} 为「{{ account.name }}」原创发布。\n\n![关注我们](qr.png)\n")
    picture(root / "blocks/qr.png", (10, 10, 10), (300, 300))
    write(root / "blocks/shop-footer.md", "「{{ account.name }}」题图来自 Unsplash，基于 CC0 协议。\n")
    picture(root / "posts/img/a.png", (200, 40, 40))
    picture(root / "posts/img/b.png", (40, 200, 40))
    picture(root / "posts/img/c.png", (40, 40, 200))
    write(root / "posts/a.md", "---\ntitle: 新闻一\ncover: img/a.png\n---\n\n第一篇新闻。\n")
    write(root / "posts/b.md", "---\ntitle: 新闻二\ncover: img/b.png\n---\n\n第二篇新闻。\n")
    write(root / "posts/c.md", "---\ntitle: 店里上新\ncover: img/c.png\naccount: shop\n---\n\n新货到了。\n")
    with Sandbox(tmp_path / "state", accounts=SECRETS) as sandbox:
        monkeypatch.setenv("WXPUB_API_BASE", sandbox.url)
        monkeypatch.setenv("WXPUB_SECRET_NEWS", SECRETS[NEWS])
        monkeypatch.setenv("WXPUB_SECRET_SHOP", SECRETS[SHOP])
        monkeypatch.setenv("WXPUB_TOKEN_STORE", "memory")
        monkeypatch.delenv("WXPUB_APPID", raising=False)
        monkeypatch.delenv("WXPUB_SECRET", raising=False)
        yield root, sandbox


def contents(sandbox: Sandbox, appid: str) -> dict[str, str]:
    return {article["title"]: article["content"] for draft in sandbox.drafts(appid).values() for article in draft["articles"]}


def test_each_post_lands_in_its_account_with_its_footer(team: tuple[Path, Sandbox]) -> None:
    root, sandbox = team
    result = publish_changed([root / "posts"], PublishOptions(**NO_WAIT))
    assert [p.action for p in result.posts] == ["added", "added", "added"]
    assert [p.account for p in result.posts] == ["news", "news", "shop"]
    news, shop = contents(sandbox, NEWS), contents(sandbox, SHOP)
    assert set(news) == {"新闻一", "新闻二"} and set(shop) == {"店里上新"}
    assert "本文由 @新闻部 为「每日新闻」原创发布。" in news["新闻一"]
    assert "好物小店" not in news["新闻一"] and "每日新闻" not in shop["店里上新"]
    assert "「好物小店」题图来自 Unsplash" in shop["店里上新"]
    authors = {a["title"]: a["author"] for d in sandbox.drafts(SHOP).values() for a in d["articles"]}
    assert authors == {"店里上新": "店长"}
    # The footer's QR code went up once for the account, shared by both posts.
    assert sandbox.count("media/uploadimg") == 1
    assert news["新闻一"].count("<img") == news["新闻二"].count("<img") == 1
    # verify reads each post back from its own account.
    from wxpub.verify import verify_paths

    assert verify_paths([root / "posts/c.md"]).exit_code == 0
    assert verify_paths([root / "posts/a.md"]).exit_code == 0


def test_a_footer_change_updates_every_post_of_that_account_and_uploads_nothing(team: tuple[Path, Sandbox]) -> None:
    root, sandbox = team
    publish_changed([root / "posts"], PublishOptions(**NO_WAIT))
    uploads = sandbox.count("media/uploadimg") + sandbox.count("material/add_material")
    drafts = set(sandbox.drafts(NEWS))
    write(root / "blocks/news-footer.md", "本文由 @{{ author }} 原创发布。未经许可，禁止转载。\n\n![关注我们](qr.png)\n")
    result = publish_changed([root / "posts"], PublishOptions(**NO_WAIT))
    assert [(p.path.split("/")[-1], p.action) for p in result.posts] == [("a.md", "updated"), ("b.md", "updated"), ("c.md", "unchanged")]
    assert all(p.uploaded == 0 for p in result.posts)
    assert sandbox.count("media/uploadimg") + sandbox.count("material/add_material") == uploads
    assert set(sandbox.drafts(NEWS)) == drafts  # updated in place, no new draft
    assert all("未经许可，禁止转载" in c for c in contents(sandbox, NEWS).values())


def test_changed_touches_only_the_changed_post(team: tuple[Path, Sandbox]) -> None:
    root, sandbox = team
    publish_changed([root / "posts"], PublishOptions(**NO_WAIT))
    write(root / "posts/b.md", "---\ntitle: 新闻二\ncover: img/b.png\n---\n\n第二篇新闻，改过了。\n")
    before = sandbox.count("draft/update") + sandbox.count("draft/add")
    runner = CliRunner()
    out = runner.invoke(main, ["publish", "--changed", str(root / "posts")])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0].startswith("unchanged: ") and lines[0].endswith("a.md (news)")
    assert lines[1].startswith("updated: ") and "b.md (news, draft " in lines[1] and "content or front matter changed" in lines[1]
    assert lines[2].startswith("unchanged: ") and lines[2].endswith("c.md (shop)")
    assert sandbox.count("draft/update") + sandbox.count("draft/add") == before + 1
    assert "改过了" in contents(sandbox, NEWS)["新闻二"]
    for secret in SECRETS.values():
        assert secret not in out.output


def test_posts_of_two_accounts_are_not_one_draft(team: tuple[Path, Sandbox]) -> None:
    root, _ = team
    out = CliRunner().invoke(main, ["publish", str(root / "posts/a.md"), str(root / "posts/c.md")])
    assert out.exit_code == 2
    assert "belong to 2 accounts" in out.stderr and "Traceback" not in out.output


def test_check_reports_block_problems_at_the_line_that_names_them(team: tuple[Path, Sandbox]) -> None:
    root, _ = team
    write(root / "blocks/loop.md", "见 {{ editor }}\n\n<!-- wxpub: include blocks/loop.md -->\n")
    post = write(root / "posts/d.md", "---\ntitle: 有问题\ncover: img/a.png\nfooter: blocks/gone.md\n---\n\n正文。\n\n<!-- wxpub: include blocks/loop.md -->\n")
    out = CliRunner().invoke(main, ["check", str(post)])
    assert out.exit_code == 1
    lines = [line.split(" ", 2)[:2] for line in out.stdout.splitlines()]
    assert [post.name + ":4:1:", "WX309"] in [[l[0].split("/")[-1], l[1]] for l in lines]
    assert [post.name + ":9:1:", "WX310"] in [[l[0].split("/")[-1], l[1]] for l in lines]
    assert [post.name + ":9:1:", "WX311"] in [[l[0].split("/")[-1], l[1]] for l in lines]
    # publish agrees: nothing is uploaded.
    refused = CliRunner().invoke(main, ["publish", str(post)])
    assert refused.exit_code != 0 and "nothing was uploaded" in refused.stderr



def test_a_key_a_block_uses_is_known_and_date_has_no_default(team: tuple[Path, Sandbox]) -> None:
    """WX310's advice (set the key in the front matter) leaves the post clean: a key its blocks use
    is no unknown key. `{{ date }}` is the post's `date:`, which nothing makes up."""
    root, _ = team
    write(root / "blocks/ad.md", "本期赞助商是 {{ sponsor }}，发表于 {{ date }}。\n")
    body = "\n正文。\n\n<!-- wxpub: include blocks/ad.md -->\n"
    bare = write(root / "posts/d.md", "---\ntitle: 赞助\ncover: img/a.png\n---\n" + body)
    out = CliRunner().invoke(main, ["check", str(bare)])
    assert out.exit_code == 1
    said = [line.split(" ", 2) for line in out.stdout.splitlines()]
    assert [(where.split("/")[-1], code) for where, code, _ in said] == [("d.md:8:1:", "WX310"), ("d.md:8:1:", "WX310")]
    assert "uses {{ date }}, but this post has no 'date:' in its front matter" in out.stdout
    assert "uses {{ sponsor }}, but this post has no 'sponsor:' in its front matter" in out.stdout
    assert "set the key in the post's front matter" in out.stdout
    # Following the advice: the keys are set, and the check passes (a typo is still a typo).
    write(bare, "---\ntitle: 赞助\ncover: img/a.png\nsponsor: 某某公司\ndate: 2024-05-01\nsponosr: x\n---\n" + body)
    out = CliRunner().invoke(main, ["check", str(bare)])
    assert [line.split(" ", 2)[:2] for line in out.stdout.splitlines()] == [[f"{bare}:6:1:", "WX103"]]
    assert "unknown key 'sponosr'; did you mean 'sponsor'?" in out.stdout
    converted = convert_file(bare)
    assert "本期赞助商是 某某公司，发表于 2024-05-01。" in converted.html
    assert [n.message for n in converted.warnings] == ["front matter: unknown key 'sponosr'; did you mean 'sponsor'?"]



def test_the_digest_is_made_of_the_posts_own_text(tmp_path: Path) -> None:
    """Without `digest:`, publish (its payload and dry run) and the preview's share card send one
    made of the post's own paragraphs: not the account's header or footer, nor an include, notes
    or references; inline code is kept."""
    import json

    from wxpub.preview.article import build_article

    root = tmp_path / "news"
    write(root / "wxpub.toml", f"""
[accounts.news]
appid = "{NEWS}"
name = "每日新闻"
author = "新闻部"
header = "blocks/note.md"
footer = "blocks/footer.md"
""")
    write(root / "blocks/note.md", "> 编者按：本文作者 {{ author }}。\n")
    write(root / "blocks/footer.md", "欢迎关注「{{ account.name }}」。\n")
    write(root / "blocks/ad.md", "本期赞助商：某某公司。\n")
    picture(root / "posts/cover.png", (200, 40, 40))
    short = write(root / "posts/short.md", "---\ntitle: 要闻\ncover: cover.png\n---\n\n今天的新闻很多。\n")
    code = write(
        root / "posts/code.md",
        "---\ntitle: 并发\ncover: cover.png\n---\n\n<!-- wxpub: include blocks/ad.md -->\n\n"
        "我们用 `asyncio.gather()` 并发下载[^1]，见 [文档](https://docs.python.org)。\n\n```python\nawait x\n```\n\n[^1]: 一个注释。\n",
    )
    given = write(root / "posts/given.md", "---\ntitle: 自带\ncover: cover.png\ndigest: 写给读者的摘要\n---\n\n正文。\n")
    expected = {short: "今天的新闻很多。", code: "我们用 asyncio.gather() 并发下载，见 文档。", given: "写给读者的摘要"}
    for post, digest in expected.items():
        out = CliRunner().invoke(main, ["publish", "--dry-run", "--json", str(post)])
        assert out.exit_code == 0, out.output
        [draft] = [call for call in json.loads(out.stdout)["plan"] if call["call"] == "draft/add"]
        assert draft["body"]["articles"][0]["digest"] == digest
        assert build_article(post).digest == digest  # the preview's share card
        assert convert_file(post).digest == digest
    assert "编者按" in convert_file(short).html  # the header is in the article, only not in its digest
    # A post with no words of its own is sent without a digest; the card shows the one WeChat
    # makes of the content then: its first 54 characters, header included.
    pictures = write(root / "posts/pictures.md", "---\ntitle: 图集\n---\n\n![](cover.png)\n")
    assert convert_file(pictures).digest == ""
    assert build_article(pictures).digest == "编者按：本文作者 新闻部。 欢迎关注「每日新闻」。"


def test_blocks_count_in_the_budget_and_come_in_the_posts_theme(team: tuple[Path, Sandbox]) -> None:
    root, _ = team
    write(root / "posts/e.md", "---\ntitle: 无页脚\ncover: img/a.png\nfooter: none\naccount: shop\n---\n\n新货到了。\n")
    with_footer, without = convert_file(root / "posts/c.md"), convert_file(root / "posts/e.md")
    assert with_footer.theme == "warm" and "题图来自" in with_footer.html and "题图来自" not in without.html
    assert with_footer.content_length > without.content_length


def test_doctor_healthy_wrong_secret_and_whitelist(team: tuple[Path, Sandbox], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root, sandbox = team
    monkeypatch.chdir(root)
    out = CliRunner().invoke(main, ["doctor", "--account", "news"])
    assert out.exit_code == 0, out.output
    token, base, quota = out.stdout.splitlines()
    assert token == f"ok  news ({NEWS}): token: the AppSecret works"
    assert base == f"ok  news ({NEWS}): api base: {sandbox.url} answered"
    assert quota.startswith(f"ok  news ({NEWS}): quota today: stable_token 1/500000, media/uploadimg 0/100000") and "draft/add 0/1000" in quota

    monkeypatch.setenv("WXPUB_SECRET_SHOP", "not-the-secret")
    out = CliRunner().invoke(main, ["doctor"])
    assert out.exit_code == 1
    shop = [line for line in out.stdout.splitlines() if "shop" in line]
    assert shop[0].startswith(f"BAD shop ({SHOP}): token: stable_token: the AppSecret is wrong (errcode 40125)")
    assert "WXPUB_SECRET_SHOP" in shop[0] and "not-the-secret" not in out.output
    assert any(line.startswith("ok  news") for line in out.stdout.splitlines())
    # publish tells to check the variable the account's secret came from, not WXPUB_SECRET
    published = CliRunner().invoke(main, ["publish", "--account", "shop", "posts/c.md"])
    assert published.exit_code == 3 and "(check WXPUB_SECRET_SHOP;" in published.stderr, published.output

    with Sandbox(tmp_path / "walled", accounts=SECRETS, ip_whitelist=("203.0.113.7",)) as walled:
        monkeypatch.setenv("WXPUB_API_BASE", walled.url)
        out = CliRunner().invoke(main, ["doctor", "--account", "news"])
    assert out.exit_code == 1
    first = out.stdout.splitlines()[0]
    assert "127.0.0.1 is not on the account's IP whitelist" in first and "IP白名单" in first


def test_quota_get_in_the_sandbox(team: tuple[Path, Sandbox]) -> None:
    from wxpub.errors import WeChatError
    from wxpub.wechat import WeChat

    _, sandbox = team
    client = WeChat(NEWS, SECRETS[NEWS], api_base=sandbox.url, storage="memory")
    client.ensure_token()
    assert client.quota("draft/add") == {"daily_limit": 1000, "used": 0, "remain": 1000}
    assert client.quota("stable_token")["used"] == 1
    with pytest.raises(WeChatError) as refused:
        client.quota("no/such")
    assert refused.value.errcode == 76021


def test_redis_publish_lock_keeps_a_second_runner_out() -> None:
    import fakeredis

    from wxpub.publish.redislock import PublishBusy, publish_lock

    server = fakeredis.FakeServer()

    def connect(url: str) -> fakeredis.FakeRedis:
        return fakeredis.FakeRedis(server=server)

    with publish_lock("redis://runner", NEWS, redis_from_url=connect):
        with pytest.raises(PublishBusy):
            with publish_lock("redis://runner", NEWS, wait=0.05, redis_from_url=connect):
                pass
        with publish_lock("redis://runner", SHOP, wait=0.05, redis_from_url=connect):
            pass  # another account is free
    with publish_lock("redis://runner", NEWS, wait=0.05, redis_from_url=connect):
        pass  # released


def test_init_then_check_convert_and_publish_to_the_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "posts-repo"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("WXPUB_SANDBOX_PORT", "0")
    runner = CliRunner()
    made = runner.invoke(main, ["init"])
    assert made.exit_code == 0, made.output
    assert "next: wxpub check posts/ && " in made.stderr and "cd ." not in made.stderr  # it is here already
    for name in ("wxpub.toml", "blocks/footer.md", "posts/hello.md", "posts/images/hello-cover.jpg", ".pre-commit-config.yaml", ".github/workflows/wxpub.yml", ".gitignore"):
        assert (folder / name).is_file(), name
    assert "secret" not in (folder / "wxpub.toml").read_text(encoding="utf-8").split("[accounts.main]")[1].split("\n[")[0].replace("secret_file", "").replace("WXPUB_SECRET", "").lower().replace("appsecret", "")
    checked = runner.invoke(main, ["check", "posts/"])
    assert checked.exit_code == 0, checked.output
    # At the root too: the footer is a part of every post, checked for its typography, not as a post.
    at_root = runner.invoke(main, ["check", "."])
    assert at_root.exit_code == 0 and "2 files checked" in at_root.stderr, at_root.output
    footer = folder / "blocks" / "footer.md"
    footer.write_text(footer.read_text(encoding="utf-8") + "\n欢迎关注我们,每周更新。\n", encoding="utf-8")
    for named in (["check", "."], ["check", "blocks/footer.md"]):  # found in a folder, or named (a hook)
        slip = runner.invoke(main, named)
        assert slip.exit_code == 1 and [line.split(": ")[1].split()[0] for line in slip.stdout.splitlines()] == ["WX402"], slip.output
    assert runner.invoke(main, ["check", "--fix", "."]).exit_code == 0
    assert "欢迎关注我们，每周更新。" in footer.read_text(encoding="utf-8")
    converted = runner.invoke(main, ["convert", "posts/hello.md"])
    assert converted.exit_code == 0 and "为「我的公众号」原创发布" in converted.stdout
    published = runner.invoke(main, ["publish", "--sandbox", "posts/hello.md"])
    assert published.exit_code == 0, published.output
    assert published.stdout.startswith("added: posts/hello.md -> draft ")
    doctor = runner.invoke(main, ["doctor", "--sandbox"])
    assert doctor.exit_code == 0 and [line[:12] for line in doctor.stdout.splitlines()] == ["ok  main (wx"] * 3
    again = runner.invoke(main, ["init"])
    assert again.exit_code == 2 and again.stderr.startswith(f"error: {folder}: already has wxpub.toml, ")
    # the hook as the README gives it: one process for all the posts, which it spreads over the cores
    hook = yaml.safe_load((folder / ".pre-commit-config.yaml").read_text(encoding="utf-8"))["repos"][0]["hooks"][0]
    assert hook["require_serial"] is True and hook["types"] == ["markdown"]
    assert ".wxpub-cache" not in (folder / ".gitignore").read_text(encoding="utf-8")  # caches live in the user cache


def test_init_where_no_folder_can_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a file", encoding="utf-8")
    out = CliRunner().invoke(main, ["init", str(tmp_path / "f.txt" / "blog")])
    assert out.exit_code == 2
    assert out.stderr == f"error: {tmp_path / 'f.txt' / 'blog'}: cannot write wxpub.toml: Not a directory (give wxpub init a folder it can create and write in)\n"


def test_init_writes_the_example_workflow() -> None:
    shipped = (REPO / "wxpub/init_workflow.yml").read_text(encoding="utf-8")
    assert shipped == (REPO / "examples/ci/wxpub.yml").read_text(encoding="utf-8")


def test_the_workflow_steps_run_in_order_against_the_sandbox(tmp_path: Path) -> None:
    """The workflow's own `run:` lines, in order, in a clone of a repository made by `wxpub init`.

    Steps that `uses:` a third-party action (actions/checkout, actions/setup-python) are skipped:
    the clone stands in for the checkout and this Python for setup-python. The install step runs
    as written; with PIP_NO_INDEX it is satisfied by the wxpub under test, without the network.
    Secrets come from the sandbox, and WXPUB_API_BASE points at it.
    """
    bare, work = tmp_path / "origin.git", tmp_path / "runner"
    seed = tmp_path / "seed"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run([sys.executable, "-m", "wxpub", "init", str(seed)], check=True, capture_output=True)
    subprocess.run([*git, "init", "-q", "-b", "main", str(seed)], check=True)
    subprocess.run([*git, "-C", str(seed), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(seed), "commit", "-qm", "posts"], check=True)
    subprocess.run([*git, "-C", str(seed), "push", "-q", str(bare), "main"], check=True)
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True)
    workflow = yaml.safe_load((work / ".github/workflows/wxpub.yml").read_text(encoding="utf-8"))
    with Sandbox(tmp_path / "state", accounts={"wx0000000000sandbox": "S3CRET-ci-5e4d3c2b1a0f9e8d7c6b"}) as sandbox:
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PIP_NO_INDEX": "1",
            "WXPUB_API_BASE": sandbox.url,
            "WXPUB_TOKEN_STORE": "memory",
            "GIT_AUTHOR_NAME": "ci", "GIT_COMMITTER_NAME": "ci",
            "GIT_AUTHOR_EMAIL": "ci@example.com", "GIT_COMMITTER_EMAIL": "ci@example.com",
        }
        secrets = {"WXPUB_SECRET_MAIN": "S3CRET-ci-5e4d3c2b1a0f9e8d7c6b"}
        ran: list[str] = []
        for job in ("check", "publish"):
            spec = workflow["jobs"][job]
            # Secrets come from the test; repository variables are unset, as in a fresh repository.
            job_env = {
                k: secrets[k] if "secrets." in str(v) else "" if "vars." in str(v) else str(v)
                for k, v in (spec.get("env") or {}).items()
            }
            for step in spec["steps"]:
                if "uses" in step:
                    continue
                done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=work, env={**env, **job_env}, capture_output=True, text=True)
                assert done.returncode == 0, (step["run"], done.stdout, done.stderr)
                ran.append(step["run"].split("\n")[0])
                assert "S3CRET" not in done.stdout + done.stderr
        INSTALL = "python -m pip install \"${WXPUB_PACKAGE:-wxpub}\""
        assert ran == [INSTALL, "wxpub check posts/", INSTALL, "wxpub check posts/",
                       "wxpub publish --changed posts/", 'git config user.name "github-actions[bot]"']
        assert [d["articles"][0]["title"] for d in sandbox.drafts("wx0000000000sandbox").values()] == ["你好，世界"]
    log = subprocess.run(["git", "-C", str(bare), "log", "--format=%s", "main"], capture_output=True, text=True, check=True).stdout
    assert log.splitlines()[0] == "wxpub: ledger after publishing [skip ci]"
    shown = subprocess.run(["git", "-C", str(bare), "show", "main:wxpub-ledger.json"], capture_output=True, text=True, check=True).stdout
    assert "wx0000000000sandbox" in shown and "S3CRET" not in shown


def test_what_a_block_brings_is_reported_at_the_line_that_names_it(team: tuple[Path, Sandbox]) -> None:
    root, _ = team
    write(root / "blocks/note.md", "> 编辑按：{{ title }}，{{ date }}。<script>alert(1)</script>\n")
    post = write(root / "posts/n.md", "---\ntitle: 带编者按\ndate: 2026-12-01\ncover: img/a.png\nheader: blocks/note.md\n---\n\n正文。\n\n<!-- wxpub: include blocks/note.md -->\n")
    converted = convert_file(post)
    assert converted.html.count("编辑按：带编者按，2026-12-01。") == 2
    raw = sorted(n.line for n in converted.warnings if n.code == "raw-html")
    assert raw == [5, 10]  # the header named in the front matter (line 5), the include (line 10)
    out = CliRunner().invoke(main, ["check", "--select", "WX303", str(post)])
    assert [line.split(" ")[0].rsplit(":", 3)[1] for line in out.stdout.splitlines()] == ["5", "10"]


def test_the_footer_comes_after_the_notes_and_the_references(team: tuple[Path, Sandbox]) -> None:
    root, _ = team
    post = write(root / "posts/n.md", "---\ntitle: 有注释\ncover: img/a.png\n---\n\n正文[^1]，见[官网](https://example.com)。\n\n[^1]: 一条注释。\n")
    converted = convert_file(post)
    text = lxml.html.fragment_fromstring(converted.html).text_content()
    order = [text.find(part) for part in ("正文", "一条注释", "官网: https://example.com", "原创发布")]
    assert -1 not in order and order == sorted(order), order
    assert "wxpub-footer" not in converted.html
    # the footer's own lines are still reported at the line that names them
    write(root / "blocks/news-footer.md", "本文由 @{{ author }} 原创发布。<script>alert(1)</script>\n")
    assert [n.line for n in convert_file(post).warnings if n.code == "raw-html"] == [1]


def test_a_new_image_is_a_change(team: tuple[Path, Sandbox]) -> None:
    root, sandbox = team
    publish_changed([root / "posts"], PublishOptions(**NO_WAIT))
    picture(root / "posts/img/a2.png", (90, 90, 20))
    write(root / "posts/a.md", "---\ntitle: 新闻一\ncover: img/a.png\n---\n\n第一篇新闻。\n\n![新图](img/a2.png)\n")
    result = publish_changed([root / "posts"], PublishOptions(**NO_WAIT))
    assert [(p.action, p.why, p.uploaded) for p in result.posts][0] == ("updated", "1 new image", 1)
    assert [p.action for p in result.posts][1:] == ["unchanged", "unchanged"]


def test_a_refused_post_stops_changed_before_any_upload(team: tuple[Path, Sandbox]) -> None:
    root, sandbox = team
    write(root / "posts/z.md", "---\ntitle: 缺页脚\ncover: img/a.png\nfooter: blocks/gone.md\n---\n\n正文。\n")
    out = CliRunner().invoke(main, ["publish", "--changed", str(root / "posts")])
    assert out.exit_code == 1 and "nothing was uploaded" in out.stderr and "z.md:4:" in out.stderr
    assert sandbox.count("media/uploadimg") == sandbox.count("material/add_material") == sandbox.count("draft/add") == 0


def test_one_broken_post_does_not_hide_the_others_problems_from_changed(team: tuple[Path, Sandbox]) -> None:
    root, sandbox = team
    write(root / "posts/a.md", "---\ntitle: 新闻一\ntags: [a, b\ncover: img/a.png\n---\n\n第一篇新闻。\n")  # YAML never closes the list
    write(root / "posts/b.md", "---\ntitle: 新闻二\ncover: img/b.png\ncomments: maybe\n---\n\n第二篇新闻。\n")
    write(root / "posts/d.md", "---\ntitle: 新闻四\ncover: img/a.png\naccount: nope\n---\n\n第四篇。\n")
    out = CliRunner().invoke(main, ["publish", "--changed", str(root / "posts")])
    assert out.exit_code == 1, out.output
    said = out.stderr.splitlines()
    assert [line.split(": ")[1].split("/")[-1] for line in said[:-1]] == ["a.md:3", "b.md:4", "d.md:4"], said
    assert "not valid YAML" in said[0] and "comments must be one of" in said[1] and "nope" in said[2]
    assert said[-1] == "nothing was uploaded: 3 problems to fix first"
    assert sandbox.count("media/uploadimg") == sandbox.count("material/add_material") == sandbox.count("draft/add") == 0
    # Posts named together in one draft: the same.
    out = CliRunner().invoke(main, ["publish", "--dry-run", str(root / "posts/a.md"), str(root / "posts/b.md")])
    assert out.exit_code == 1 and "a.md:3: front matter is not valid YAML" in out.stderr and "b.md:4: comments must be" in out.stderr


def test_a_post_of_front_matter_alone_is_not_published_as_its_footer(team: tuple[Path, Sandbox]) -> None:
    root, sandbox = team
    empty = write(root / "posts/empty.md", "---\ntitle: 空的\ncover: img/a.png\n---\n")
    out = CliRunner().invoke(main, ["publish", str(empty)])
    assert out.exit_code == 1 and f"{empty}:4: the post has no text to publish (write the article below the front matter)" in out.stderr
    assert sandbox.count("draft/add") == 0 and sandbox.count("media/uploadimg") == 0


def test_changed_on_a_folder_with_no_post_is_a_usage_error(team: tuple[Path, Sandbox]) -> None:
    root, sandbox = team
    (root / "drafts").mkdir()
    out = CliRunner().invoke(main, ["publish", "--changed", str(root / "drafts")])
    assert out.exit_code == 2 and f"error: {root / 'drafts'}: no Markdown files in this folder" in out.output
    out = CliRunner().invoke(main, ["publish", "--changed", str(root / "blocks")])
    assert out.exit_code == 2 and f"error: {root / 'blocks'}: no posts in this folder, only blocks" in out.output
    assert sandbox.count("draft/add") == 0


def test_accounts_lists_each_account_without_its_secret(team: tuple[Path, Sandbox], monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = team
    monkeypatch.chdir(root)
    monkeypatch.delenv("WXPUB_SECRET_SHOP")
    out = CliRunner().invoke(main, ["accounts"])
    assert out.exit_code == 0
    news, shop = out.stdout.splitlines()
    assert news.startswith(f"news (default): appid {NEWS}, name 每日新闻, author 新闻部") and news.endswith("secret WXPUB_SECRET_NEWS")
    assert shop.startswith(f"shop: appid {SHOP}") and "theme warm" in shop and shop.endswith("secret missing (set WXPUB_SECRET_SHOP)")
    assert all(secret not in out.output for secret in SECRETS.values())


def test_a_secret_in_an_account_table_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "wxpub.toml", f'[accounts.news]\nappid = "{NEWS}"\nsecret = "oops"\n')
    post = write(tmp_path / "p.md", "---\ntitle: t\n---\n\nx\n")
    out = CliRunner().invoke(main, ["convert", str(post)])
    assert out.exit_code == 2 and "must not be in a config file" in out.stderr and "oops" not in out.output


def test_an_unknown_account_in_front_matter_is_named_at_its_line(team: tuple[Path, Sandbox]) -> None:
    root, sandbox = team
    post = write(root / "posts/x.md", "---\ntitle: 走错门\ncover: img/a.png\naccount: nosuch\n---\n\n正文。\n")
    out = CliRunner().invoke(main, ["publish", str(post)])
    assert out.exit_code == 1 and "x.md:4: no account 'nosuch' in the project (known: news, shop)" in out.stderr
    checked = CliRunner().invoke(main, ["check", str(post)])
    assert "x.md:4:1: WX306 no account 'nosuch'" in checked.stdout


def test_with_a_redis_token_store_a_second_runner_waits_for_the_account(team: tuple[Path, Sandbox], monkeypatch: pytest.MonkeyPatch) -> None:
    import fakeredis
    import redis

    from wxpub.publish import redislock

    root, sandbox = team
    server = fakeredis.FakeServer()
    monkeypatch.setattr(redis.Redis, "from_url", staticmethod(lambda url, **kw: fakeredis.FakeRedis(server=server)))
    monkeypatch.setattr(redislock, "WAIT_SECONDS", 0.1)
    monkeypatch.setenv("WXPUB_TOKEN_STORE", "redis://ci-redis:6379/0")
    other = fakeredis.FakeRedis(server=server).lock(f"wxpub:publish:{NEWS}", timeout=60)
    assert other.acquire()  # another runner is publishing into the news account
    out = CliRunner().invoke(main, ["publish", str(root / "posts/a.md")])
    assert out.exit_code == 75 and f"another runner has been publishing into {NEWS}" in out.stderr
    assert sandbox.count("draft/add") == 0
    assert CliRunner().invoke(main, ["publish", str(root / "posts/c.md")]).exit_code == 0  # the shop account is free
    other.release()
    assert CliRunner().invoke(main, ["publish", str(root / "posts/a.md")]).exit_code == 0


def test_the_sandbox_rehearses_each_account_under_its_own_appid(
    team: tuple[Path, Sandbox], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With --sandbox, drafts, uploads, quotas and ledgers stay per account, as on WeChat; no account's own secret is read."""
    from wxpub.sandbox import SANDBOX_APPID, owner_key, sandbox_state_dir

    root, _ = team
    monkeypatch.chdir(root)
    monkeypatch.setenv("WXPUB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("WXPUB_SECRET_NEWS")
    monkeypatch.delenv("WXPUB_SECRET_SHOP")
    # The shop's second post has the news post's cover: a second account has none of the first one's uploads.
    write(root / "posts/d.md", "---\ntitle: 店里又上新\ncover: img/a.png\naccount: shop\n---\n\n又有新货。\n")
    with Sandbox(sandbox_state_dir(), key=owner_key()) as running:
        monkeypatch.setenv("WXPUB_SANDBOX_PORT", str(running.port))
        out = CliRunner().invoke(main, ["publish", "--changed", "posts/", "--sandbox"])
        assert out.exit_code == 0, out.output
        lines = out.stdout.splitlines()
        assert [line.split(" (")[0] for line in lines] == ["added: posts/a.md", "added: posts/b.md", "added: posts/c.md", "added: posts/d.md"]
        assert lines[3].endswith("; 1 uploaded, 0 reused)") and lines[3].startswith("added: posts/d.md (shop, draft ")
        assert set(contents(running, NEWS)) == {"新闻一", "新闻二"} and set(contents(running, SHOP)) == {"店里上新", "店里又上新"}
        assert running.drafts(SANDBOX_APPID) == {}
        assert len(running.materials(NEWS)) == 2 and len(running.materials(SHOP)) == 2  # each account its own covers
        doctor = CliRunner().invoke(main, ["doctor", "--sandbox"])
        assert doctor.exit_code == 0, doctor.output
        said = doctor.stdout.splitlines()
        assert [line.split(":")[0] for line in said] == [f"ok  news ({NEWS})"] * 3 + [f"ok  shop ({SHOP})"] * 3
        assert "draft/add 2/1000" in said[2] and "draft/add 2/1000" in said[5]  # two drafts each, not four shared
        verified = CliRunner().invoke(main, ["verify", "--sandbox", "posts/d.md"])
        assert verified.exit_code == 0, verified.output
        again = CliRunner().invoke(main, ["publish", "--changed", "posts/", "--sandbox"])
        assert again.stdout.splitlines() == ["unchanged: posts/a.md (news)", "unchanged: posts/b.md (news)",
                                             "unchanged: posts/c.md (shop)", "unchanged: posts/d.md (shop)"], again.output
    assert not (root / "wxpub-ledger.json").exists()  # the sandbox's ledger stays in its own folder


def test_an_appid_wechat_refuses_is_named_where_it_was_read(
    team: tuple[Path, Sandbox], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root, _ = team
    monkeypatch.chdir(root)
    with Sandbox(tmp_path / "other", accounts={SHOP: SECRETS[SHOP]}) as other:  # knows no news account
        monkeypatch.setenv("WXPUB_API_BASE", other.url)
        out = CliRunner().invoke(main, ["publish", "posts/a.md"])
        assert out.exit_code == 3, out.output
        assert "the AppID is not valid (errcode 40013) (check [accounts.news] appid in wxpub.toml: it starts with 'wx'" in out.stderr
        picture(tmp_path / "bare" / "c.png", (90, 20, 20))
        bare = write(tmp_path / "bare" / "p.md", "---\ntitle: 无账号\ncover: c.png\n---\n\n正文。\n")
        monkeypatch.setenv("WXPUB_APPID", NEWS)
        monkeypatch.setenv("WXPUB_SECRET", "whatever")
        out = CliRunner().invoke(main, ["publish", str(bare)])
        assert out.exit_code == 3 and "(check WXPUB_APPID: it starts with 'wx'" in out.stderr, out.output


def test_changed_json_gives_each_post_as_publish_json_does(team: tuple[Path, Sandbox]) -> None:
    import json

    root, sandbox = team
    first = CliRunner().invoke(main, ["publish", "--changed", "--json", str(root / "posts")])
    assert first.exit_code == 0, first.output
    changed = json.loads(first.stdout)
    assert set(changed) == {"posts", "notes"}
    a, b, c = changed["posts"]
    single = CliRunner().invoke(main, ["publish", "--json", str(root / "posts/a.md")])
    assert single.exit_code == 0, single.output
    [post] = json.loads(single.stdout)["posts"]
    assert set(a) == set(post) | {"why"}
    assert (a["action"], a["account"], a["why"], a["uploaded"]) == ("added", "news", "not published before", 2)
    assert (c["account"], c["title"], c["index"]) == ("shop", "店里上新", 0)
    assert post["action"] == "unchanged" and post["account"] == "news" and post["media_id"] == a["media_id"]
    again = json.loads(CliRunner().invoke(main, ["publish", "--changed", "--json", str(root / "posts")]).stdout)
    assert [(p["action"], p["why"], p["media_id"]) for p in again["posts"]] == [("unchanged", "", p["media_id"]) for p in (a, b, c)]


def test_accounts_json_says_where_each_secret_comes_from_never_the_secret(team: tuple[Path, Sandbox], monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    root, _ = team
    monkeypatch.chdir(root)
    monkeypatch.delenv("WXPUB_SECRET_SHOP")
    out = CliRunner().invoke(main, ["accounts", "--json"])
    assert out.exit_code == 0, out.output
    found = json.loads(out.stdout)
    assert found["default"] == "news"
    news, shop = found["accounts"]
    assert news == {
        "account": "news", "default": True, "appid": NEWS, "name": "每日新闻", "author": "新闻部", "theme": None, "header": None,
        "footer": "blocks/news-footer.md", "secret_from": "WXPUB_SECRET_NEWS", "secret_variable": "WXPUB_SECRET_NEWS",
    }
    assert (shop["account"], shop["default"], shop["theme"], shop["secret_from"]) == ("shop", False, "warm", None)
    assert all(secret not in out.output for secret in SECRETS.values())
