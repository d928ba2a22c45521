"""Exactly once under every fault: lost answers, slow answers, killed runs, concurrent runs, gone
materials. Real HTTP against the sandbox on 127.0.0.1; each test ends by counting what the account
holds: one draft per post, one permanent material per image, and a content image uploaded twice
only where the answer to its upload was lost (and then said)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest
from PIL import Image
from sandbox_fixtures import APPID, SECRET

from wxpub.config import Credentials
from wxpub.errors import WeChatError, WxpubError
from wxpub.ledger import Ledger
from wxpub.publish import PublishOptions, PublishResult, publish, publish_paths
from wxpub.sandbox import Sandbox
from wxpub.wechat import RetryPolicy, WeChat

# WeChat's 30 s read timeout and a slow answer past it, scaled down so that tests take a second
# (with a margin a loaded machine cannot eat: the slow call must land after the client gave up).
READ_TIMEOUT = 0.5
SLOW = 0.8
SETTLE = 2.0


class Blog:
    """A project folder with posts whose images are small PNGs made with Pillow."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "img").mkdir(parents=True)
        (root / "wxpub.toml").write_text("[publish]\npoll_interval = 0\nconcurrency = 1\n", encoding="utf-8")
        self.ledger = root / "wxpub-ledger.json"

    def post(self, name: str, title: str, images: int = 2, seed: int = 0) -> Path:
        refs = []
        for i in range(images + 1):  # the first is the cover too
            file = f"{name}-{i}.png"
            Image.new("RGB", (48, 32), ((seed * 37 + i * 70) % 256, (seed * 11) % 256, 120 + i)).save(self.root / "img" / file)
            refs.append(f"![p{i}](img/{file})\n")
        path = self.root / f"{name}.md"
        path.write_text(f"---\ntitle: {title}\n---\n\n正文，{title}。\n\n" + "\n".join(refs), encoding="utf-8")
        return path


@pytest.fixture
def blog(tmp_path: Path) -> Blog:
    return Blog(tmp_path / "blog")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "state", accounts={APPID: SECRET}) as running:
        yield running


def quick_client(sandbox: Sandbox, said: list[str]) -> WeChat:
    """A client whose read timeout is short, and which really waits (a little) for lost answers to land."""
    return WeChat(
        APPID,
        SECRET,
        api_base=sandbox.url,
        storage="memory",
        timeout=(2.0, READ_TIMEOUT),
        retry=RetryPolicy(settle=SETTLE, first_delay=0.2),
        on_wait=said.append,
    )


def run_quick(sandbox: Sandbox, blog: Blog, *posts: Path, said: list[str] | None = None) -> PublishResult:
    said = [] if said is None else said
    return publish(list(posts), client=quick_client(sandbox, said), ledger=Ledger(blog.ledger, APPID), options=PublishOptions(), progress=said.append)


def run(sandbox: Sandbox, *posts: Path, **options: Any) -> PublishResult:
    return publish_paths(
        list(posts),
        PublishOptions(**{"sleep": lambda seconds: None, **options}),
        api_base=sandbox.url,
        credentials=Credentials(APPID, SECRET),
        token_store="memory",
    )


def assert_exactly_once(sandbox: Sandbox, *posts: Path, lost: int = 0) -> None:
    """One draft per post, one material per cover; content images once each, plus `lost` copies."""
    titles = Counter(article["title"] for draft in sandbox.drafts(APPID).values() for article in draft["articles"])
    for post in posts:
        title = post.read_text(encoding="utf-8").split("title: ", 1)[1].split("\n", 1)[0]
        assert titles[title] == 1, f"{title}: {titles[title]} drafts"
    materials = Counter(entry["sha256"] for entry in sandbox.materials(APPID).values())
    assert materials and set(materials.values()) == {1}, materials
    content = Counter(entry["sha256"] for entry in sandbox.uploads().values() if entry["kind"] == "uploadimg")
    assert sum(content.values()) - len(content) == lost, content


def chain(error: BaseException) -> list[BaseException]:
    """Every exception reachable from `error` through __cause__ and __context__, suppressed or not."""
    links: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        link = todo.pop()
        if link is None or any(link is seen for seen in links):
            continue
        links.append(link)
        todo += [link.__cause__, link.__context__]
    return links


def assert_clean_chain(error: BaseException, sandbox: Sandbox) -> None:
    """No link of the chain is anything but wxpub's own error, and none shows a token or the secret."""
    secrets = [SECRET, *sandbox._plain.values()]
    assert secrets[1:], "no token was issued: the test proves nothing"
    for link in chain(error):
        assert isinstance(link, WxpubError), f"{type(link).__name__} is in the chain of {error!r}"
        texts = [str(link), repr(link), repr(link.args), repr(vars(link))]
        assert not [s for s in secrets if any(s in text for text in texts)], f"a secret in {type(link).__name__}"


# --- lost and slow answers, one run ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ["drop-after", "latency", "delay"])
def test_a_lost_or_slow_draft_add_makes_one_draft(sandbox: Sandbox, blog: Blog, kind: str) -> None:
    post = blog.post("a", "草稿")
    # drop-after: done, answer lost; latency: done at once, answered after the read timeout;
    # delay: done only after the client gave up (a slow add that lands late).
    sandbox.inject(kind, "draft/add", seconds=0 if kind == "drop-after" else SLOW)
    said: list[str] = []
    result = run_quick(sandbox, blog, post, said=said)
    assert result.action == "added" and list(sandbox.drafts(APPID)) == [result.media_id]
    assert sandbox.count("draft/add") == 1
    if kind == "delay":  # not there at the first look: waited for (and said so), not added again
        assert sandbox.count("draft/batchget") >= 2
        assert "the draft/add whose answer was lost is not on the account yet; looking again until 2 s after it was sent" in said
    assert_exactly_once(sandbox, post)
    assert run(sandbox, post).action == "unchanged"


def test_a_31_second_draft_add_is_waited_for_not_repeated() -> None:
    """The schedule of looks after a 30 s timeout reaches a draft that lands at 31 s (no real waiting)."""
    clock = [0.0]
    policy = RetryPolicy(sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    sent_at = time.time() - 30  # the read timeout has just passed
    looks = 0

    def look() -> str | None:  # draft/batchget, as the account answers it while the add is landing
        nonlocal looks
        looks += 1
        return "D1" if 30 + clock[0] >= 31 else None

    client = WeChat(APPID, SECRET, api_base="http://127.0.0.1:9/", storage="memory", retry=policy)
    assert client.settle(look, sent_at) == "D1"
    assert 1 < looks <= 3 and clock[0] < 2
    clock[0], looks = 0.0, 0
    assert client.settle(lambda: None, sent_at) is None  # never landed: looked until 60 s after sending
    assert 29 <= clock[0] <= 30.5


@pytest.mark.parametrize("kind", ["drop-after", "latency", "delay"])
def test_a_lost_or_slow_cover_upload_makes_one_material(sandbox: Sandbox, blog: Blog, kind: str) -> None:
    post = blog.post("a", "封面")
    sandbox.inject(kind, "material/add_material", seconds=0 if kind == "drop-after" else SLOW)
    result = run_quick(sandbox, blog, post)
    assert result.action == "added"
    assert sandbox.count("material/add_material") == 1
    assert sandbox.count("material/batchget_material") >= (2 if kind == "delay" else 1)
    assert len(sandbox.materials(APPID)) == 1
    # The material was sent once, under the name wxpub gives it, and found by that name.
    [material] = sandbox.materials(APPID).values()
    assert material["name"].startswith("wxpub-") and material["sha256"][:32] in material["name"]
    assert_exactly_once(sandbox, post)


@pytest.mark.parametrize("kind", ["drop-after", "latency"])
def test_a_lost_content_image_answer_is_the_one_resend_and_it_is_said(sandbox: Sandbox, blog: Blog, kind: str) -> None:
    post = blog.post("a", "正文图")
    sandbox.inject(kind, "media/uploadimg", seconds=0 if kind == "drop-after" else SLOW)
    result = run_quick(sandbox, blog, post)
    assert result.action == "added"
    assert [note for note in result.notes if "was lost; uploaded it again" in note and "cannot be listed" in note]
    assert_exactly_once(sandbox, post, lost=1)
    again = run(sandbox, post)
    assert again.action == "unchanged" and again.uploaded == 0


# --- lost answers, then a rerun ---------------------------------------------------------------------
def test_a_lost_draft_add_that_cannot_be_checked_is_settled_by_the_rerun(sandbox: Sandbox, blog: Blog) -> None:
    post = blog.post("a", "重跑")
    sandbox.inject("drop-after", "draft/add")
    sandbox.inject("http", "draft/batchget", status=502, times=50)  # and the look fails too
    with pytest.raises(WeChatError) as failed:
        run(sandbox, post)
    assert failed.value.maybe_done and "answer was lost" in str(failed.value)
    assert_clean_chain(failed.value, sandbox)
    assert len(sandbox.drafts(APPID)) == 1  # it did land
    sandbox.clear_faults()
    result = run(sandbox, post)
    assert any("interrupted" in note for note in result.notes)
    assert sandbox.count("draft/add") == 1
    assert_exactly_once(sandbox, post)


def published_titles(sandbox: Sandbox) -> list[str]:
    return [a["title"] for p in sandbox.published(APPID).values() for a in p["articles"]]


def test_a_submit_whose_answer_was_lost_is_found_published_and_not_sent_again(sandbox: Sandbox, blog: Blog) -> None:
    post = blog.post("a", "只发一次")
    sandbox.inject("drop-after", "freepublish/submit")
    with pytest.raises(WeChatError) as failed:
        run(sandbox, post, submit=True)
    assert failed.value.maybe_done and "run again: nothing is done twice" in str(failed.value)
    # WeChat went on publishing: the draft left the box and became an article.
    assert published_titles(sandbox) == ["只发一次"] and not sandbox.drafts(APPID)
    result = run(sandbox, post, submit=True)
    assert any("published by a run whose answer from WeChat was lost" in note for note in result.notes), result.notes
    assert result.action == "unchanged" and result.publish_status == 0
    assert sandbox.count("freepublish/submit") == 1 and sandbox.count("draft/add") == 1
    assert published_titles(sandbox) == ["只发一次"]  # once, not twice
    again = run(sandbox, post, submit=True)  # and the ledger now knows it
    assert again.action == "unchanged" and sandbox.count("freepublish/submit") == 1
    assert sandbox.count("freepublish/batchget") == 1  # looked up once, by the run after the loss


def test_a_submit_that_never_reached_wechat_is_sent_again_by_the_rerun(sandbox: Sandbox, blog: Blog) -> None:
    post = blog.post("a", "再发一次")
    sandbox.inject("drop-before", "freepublish/submit")  # the connection closes before WeChat acts
    with pytest.raises(WeChatError) as failed:
        run(sandbox, post, submit=True)
    assert failed.value.maybe_done  # from where the client stands, it may have happened
    assert published_titles(sandbox) == [] and len(sandbox.drafts(APPID)) == 1
    result = run(sandbox, post, submit=True)
    assert any("did not publish it" in note for note in result.notes), result.notes
    assert result.publish_status == 0
    assert published_titles(sandbox) == ["再发一次"]
    assert sandbox.count("freepublish/submit") == 2 and sandbox.count("draft/add") == 1


def test_a_submit_wechat_refuses_leaves_nothing_to_look_for(sandbox: Sandbox, blog: Blog) -> None:
    post = blog.post("a", "未通过")
    sandbox.inject("errcode", "freepublish/submit", errcode=53503)
    with pytest.raises(WeChatError) as failed:
        run(sandbox, post, submit=True)
    assert not failed.value.maybe_done
    result = run(sandbox, post, submit=True)
    assert result.publish_status == 0 and sandbox.count("freepublish/batchget") == 0
    assert published_titles(sandbox) == ["未通过"]


def test_a_lost_material_answer_that_cannot_be_checked_is_settled_by_the_rerun(sandbox: Sandbox, blog: Blog) -> None:
    post = blog.post("a", "重跑封面")
    sandbox.inject("drop-after", "material/add_material")
    sandbox.inject("http", "material/batchget_material", status=503, times=50)
    with pytest.raises(WeChatError) as failed:
        run(sandbox, post)
    assert failed.value.maybe_done and failed.value.path and failed.value.path.endswith("a.md")
    assert_clean_chain(failed.value, sandbox)
    sandbox.clear_faults()
    result = run(sandbox, post)
    assert any("found on the account" in note for note in result.notes)
    assert sandbox.count("material/add_material") == 1
    assert_exactly_once(sandbox, post)


# --- the ledger lists what the account does not have -------------------------------------------------
def test_a_deleted_cover_is_uploaded_again_instead_of_failing_every_run(sandbox: Sandbox, blog: Blog) -> None:
    post = blog.post("a", "删了封面")
    first = run(sandbox, post)
    [cover] = sandbox.materials(APPID)
    sandbox.delete_material(cover)  # on the website: the material and the draft
    sandbox.state["drafts"].clear()
    result = run(sandbox, post)
    assert result.action == "added" and any("no longer on the account" in note and cover in note for note in result.notes)
    assert sandbox.count("draft/add") == 3  # the first run's, the refused one (40007), the one that worked
    assert result.media_id != first.media_id and len(sandbox.drafts(APPID)) == 1
    assert_exactly_once(sandbox, post)
    assert run(sandbox, post).action == "unchanged"


def test_a_deleted_cover_is_uploaded_again_when_the_draft_is_updated(sandbox: Sandbox, blog: Blog) -> None:
    post = blog.post("a", "更新时")
    first = run(sandbox, post)
    [cover] = sandbox.materials(APPID)
    sandbox.delete_material(cover)
    post.write_text(post.read_text(encoding="utf-8").replace("正文", "改过的正文"), encoding="utf-8")
    result = run(sandbox, post)
    assert result.action == "updated" and result.media_id == first.media_id
    assert any("no longer on the account" in note for note in result.notes)
    [article] = sandbox.drafts(APPID)[first.media_id]["articles"]
    assert "改过的正文" in article["content"] and article["thumb_media_id"] in sandbox.materials(APPID)
    assert_exactly_once(sandbox, post)


def test_a_ledger_of_another_accounts_uploads_heals(tmp_path: Path, blog: Blog) -> None:
    post = blog.post("a", "别的账号")
    with Sandbox(tmp_path / "one", accounts={APPID: SECRET}) as one:
        run(one, post)
    with Sandbox(tmp_path / "other", accounts={APPID: SECRET}) as other:  # same AppID, none of its data
        result = run(other, post)
        assert result.action == "added"
        assert any("draft" in note and "no longer exists" in note for note in result.notes)
        assert any("no longer on the account" in note for note in result.notes)
        assert_exactly_once(other, post)
        assert run(other, post).action == "unchanged"


def test_a_40007_that_is_not_a_gone_material_is_reported(sandbox: Sandbox, blog: Blog) -> None:
    post = blog.post("a", "别的错误")
    run(sandbox, post)
    sandbox.state["drafts"].clear()
    sandbox.inject("errcode", "draft/add", errcode=40007)  # though the cover is there
    with pytest.raises(WeChatError) as failed:
        run(sandbox, post)
    assert failed.value.errcode == 40007 and sandbox.count("material/get_material") == 1
    assert_clean_chain(failed.value, sandbox)
    assert len(sandbox.materials(APPID)) == 1 and not sandbox.drafts(APPID)


# --- killed runs and concurrent runs -----------------------------------------------------------------
def _environment(sandbox: Sandbox) -> dict[str, str]:
    return {
        **os.environ,
        "WXPUB_APPID": APPID,
        "WXPUB_SECRET": SECRET,
        "WXPUB_TOKEN_STORE": "memory",
        "WXPUB_API_BASE": sandbox.url,
        "PYTHONPATH": str(Path(__file__).parents[1]),
    }


def test_runs_killed_at_random_points_and_rerun_leave_everything_exactly_once(tmp_path: Path, blog: Blog) -> None:
    chance = random.Random(20261201)
    kills, rounds, settled, posts = 0, 0, 0, []
    with Sandbox(tmp_path / "state", accounts={APPID: SECRET}, latency=0.03) as sandbox:
        env = _environment(sandbox)
        while kills < 20:
            rounds += 1
            assert rounds <= 60, f"only {kills} kills landed mid-run"
            post = blog.post(f"k{rounds}", f"第{rounds}篇", images=2, seed=rounds)
            posts.append(post)
            for _ in range(chance.choice((1, 1, 2))):  # sometimes the rerun is killed too
                calls = sandbox.count()
                sandbox.inject("delay", "draft/add", seconds=0.15)  # an add that lands late, after a kill
                process = subprocess.Popen([sys.executable, "-m", "wxpub", "publish", str(post)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                # Kill after a random number of the run's calls (token, cover, three images, draft),
                # a few ms into the next one or between two.
                after = chance.randint(0, 6)
                deadline = time.time() + 30
                while sandbox.count() < calls + after and process.poll() is None and time.time() < deadline:
                    time.sleep(0.002)
                time.sleep(chance.uniform(0, 0.15))
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    kills += 1
                _, stderr = process.communicate(timeout=30)
                assert process.returncode in (0, -signal.SIGKILL), stderr.decode()
            sandbox.clear_faults()
            result = run(sandbox, post, sleep=time.sleep, settle=1.0)
            assert result.posts[0].action in ("added", "updated", "unchanged")
            again = run(sandbox, post)
            assert again.action == "unchanged" and again.uploaded == 0
            settled += bool(result.notes)  # a kill had left something in flight: settled from the account
            lost = sum("uploaded it again" in note for note in result.notes)
            content = Counter(e["sha256"] for e in sandbox.uploads().values() if e["kind"] == "uploadimg")
            assert sum(content.values()) - len(content) <= kills and lost <= kills
        assert_exactly_once(sandbox, *posts, lost=sum(c - 1 for c in Counter(e["sha256"] for e in sandbox.uploads().values() if e["kind"] == "uploadimg").values()))
        assert len(sandbox.drafts(APPID)) == len(posts)
        assert len(sandbox.materials(APPID)) == len(posts)
        assert settled >= 1, "no kill landed while a call was in flight"


def test_two_concurrent_publishes_of_one_post_upload_once_and_make_one_draft(tmp_path: Path, blog: Blog) -> None:
    post = blog.post("a", "同时", images=3)
    with Sandbox(tmp_path / "state", accounts={APPID: SECRET}, latency=0.1) as sandbox:
        env = _environment(sandbox)
        runs = [
            subprocess.Popen([sys.executable, "-m", "wxpub", "publish", str(post)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [process.communicate(timeout=60) for process in runs]
        assert [process.returncode for process in runs] == [0, 0], outputs
        said = sorted(stdout for stdout, _ in outputs)
        assert said[0].startswith("added:") and "(5 uploaded, 0 reused)" in said[0]  # four images and the cover
        assert said[1].startswith("unchanged:") and "(0 uploaded, 5 reused)" in said[1]
        assert any("waiting for it to finish" in stderr for _, stderr in outputs)
        assert sandbox.count("draft/add") == 1 and sandbox.count("material/add_material") == 1
        assert sandbox.count("media/uploadimg") == 4
        assert_exactly_once(sandbox, post)


# --- no chain holds the token or the secret ----------------------------------------------------------
def test_no_error_keeps_a_chain_that_holds_the_token_or_the_secret(sandbox: Sandbox, blog: Blog) -> None:
    client = WeChat(APPID, SECRET, api_base=sandbox.url, storage="memory", retry=RetryPolicy(tries=2, sleep=lambda s: None, settle=0))
    client.batchget_drafts()  # a token exists
    errors: list[WeChatError] = []

    def failing(kind: str, endpoint: str, call: Any, **fault: Any) -> None:
        sandbox.inject(kind, endpoint, times=10, **fault)
        with pytest.raises(WeChatError) as failed:
            call()
        errors.append(failed.value)
        sandbox.clear_faults()

    failing("drop-before", "draft/batchget", client.batchget_drafts)
    failing("http", "draft/batchget", client.batchget_drafts, status=503)
    failing("http", "draft/batchget", client.batchget_drafts, status=404)
    failing("errcode", "draft/batchget", client.batchget_drafts, errcode=45009)
    failing("errcode", "draft/batchget", client.batchget_drafts, errcode=40001)  # refreshed once, then refused
    failing("drop-after", "draft/add", lambda: client.call("post", "draft/add", json_body={"articles": []}, idempotent=False))
    sandbox.inject("http", "material/batchget_material", status=500, times=10)  # the look fails too
    failing("drop-after", "material/add_material", lambda: client.add_image_material(b"\x89PNG\r\n\x1a\n" + b"0" * 64, "x.png", "image/png"))
    slow = WeChat(APPID, SECRET, api_base=sandbox.url, storage="memory", timeout=(2, 0.2), retry=RetryPolicy(tries=1, sleep=lambda s: None))
    failing("delay", "draft/count", lambda: slow.call("get", "draft/count"), seconds=0.4)
    sandbox.clear_faults()
    with pytest.raises(WeChatError) as wrong:
        WeChat(APPID, "not-" + SECRET, api_base=sandbox.url, storage="memory").batchget_drafts()
    errors.append(wrong.value)
    # ... and through publishing, where errors are wrapped with the post's path.
    post = blog.post("a", "链")
    for endpoint, fault in [("media/uploadimg", {"errcode": 40009}), ("draft/add", {"errcode": 45166}), ("stable_token", {"errcode": 40164})]:
        sandbox.clear_faults()
        sandbox.inject("errcode", endpoint, **fault)
        with pytest.raises(WeChatError) as failed:
            run(sandbox, post)
        errors.append(failed.value)
    sandbox.clear_faults()
    sandbox.inject("drop-before", "draft/get", times=10)
    run(sandbox, post)
    with pytest.raises(WeChatError) as failed:
        run(sandbox, post)
    errors.append(failed.value)
    assert len(errors) == 13
    for error in errors:
        assert_clean_chain(error, sandbox)
