"""`wxpub preview`: the page driven in the system's headless Chromium, and its server over real HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner
from imagegen import photo
from PIL import Image

from wxpub.cli import main
from wxpub.convert import convert_file
from wxpub.images import prepare_images
from wxpub.preview.server import PreviewServer, Target

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]

POST = """---
title: 预览测试
author: 小林
digest: 一篇用来测试实时预览的文章。
cover: cover.jpg
---

第一段：写在编辑器里，看在浏览器里。

<p style="color:#333;background:#fff">白底深灰的字</p>
"""


def write_post(folder: Path, text: str = POST, name: str = "post.md") -> Path:
    """Save as editors do: a whole new file renamed over the old one, never a half-written one."""
    path = folder / name
    temporary = folder / f".{name}.tmp"
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "wxpub.toml").write_text('[preview]\naccount_name = "测试号"\n', encoding="utf-8")
    (tmp_path / "cover.jpg").write_bytes(photo((500, 900)))  # a phone photo, shown 900 px wide once turned
    write_post(tmp_path)
    return tmp_path


@pytest.fixture
def server(project: Path) -> Iterator[PreviewServer]:
    running = PreviewServer(Target.of(project / "post.md"), port=0)
    running.start()
    yield running
    running.stop()


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def bad_request(url: str) -> str:
    """The one-line error of a request the server refuses as bad (400)."""
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 400
    body = refused.value.read().decode("utf-8")
    error = json.loads(body)["error"] if refused.value.headers.get_content_type() == "application/json" else body
    assert "Traceback" not in body and "\n" not in error.strip()
    return error


# --- the server alone -----------------------------------------------------------------------------


def test_the_article_is_what_publish_would_send_with_the_prepared_images(server: PreviewServer, project: Path) -> None:
    article = get_json(server.url + "api/article")
    assert article["error"] is None
    assert (article["title"], article["author"], article["account"]) == ("预览测试", "小林", "测试号")
    converted = convert_file(project / "post.md")
    prepared = prepare_images(converted.images, project / "post.md", meta=converted.meta)
    assert prepared.cover is not None
    assert article["cover"]["url"] == f"/img/{prepared.cover.sha256}"
    with urllib.request.urlopen(server.url + article["cover"]["url"].lstrip("/"), timeout=10) as answer:
        assert answer.read() == prepared.cover.data
    assert article["light"] == converted.html  # no images in the body: the very fragment publish sends
    assert "#b2b2b2" in article["dark"] and "#191919" in article["dark"]
    assert article["length"] == converted.content_length


def test_the_budget_counts_each_picture_at_its_uploaded_length_once(server: PreviewServer, project: Path) -> None:
    version = server.changes.version
    write_post(project, POST + "\n![封面](cover.jpg)\n")
    assert server.changes.wait(version, timeout=2) > version
    time.sleep(0.1)  # the rest of the save's events
    converted = convert_file(project / "post.md")
    article = get_json(server.url + "api/article")
    assert "<img" in article["light"]
    assert article["length"] == converted.content_length  # what check and publish say


def test_problems_follow_the_colour_and_size_picked_in_the_page(server: PreviewServer, project: Path) -> None:
    version = server.changes.version
    write_post(project, POST + "\n见[文档](https://example.com)。\n")
    assert server.changes.wait(version, timeout=2) > version
    time.sleep(0.1)  # the rest of the save's events
    as_saved = get_json(server.url + "api/problems")
    assert not [p for p in as_saved["problems"] if p["code"] == "WX308"]
    pale = get_json(server.url + "api/problems?color=%23ffd0d0")  # what the page would send
    assert [p["code"] for p in pale["problems"] if p["code"] == "WX308"] == ["WX308"]
    assert "#ffd0d0" in next(p["message"] for p in pale["problems"] if p["code"] == "WX308")
    assert bad_request(server.url + "api/problems?font_size=big") == "font_size 'big' is not a number (give a size in px between 10 and 28)"


def test_problems_come_from_check_with_a_place_to_find_them(server: PreviewServer, project: Path) -> None:
    write_post(project, POST.replace("第一段：写在", "第一段:写在"))  # half-width colon in CJK text
    found = get_json(server.url + "api/problems")["problems"]
    assert [(p["code"], p["line"]) for p in found] == [("WX402", 8)]
    assert found[0]["needle"]


def test_a_folder_gets_an_index(project: Path) -> None:
    write_post(project, POST.replace("预览测试", "第二篇"), "second.md")
    running = PreviewServer(Target.of(project), port=0)
    running.start()
    try:
        index = get_json(running.url + "api/index")
        assert [(p["path"], p["title"], p["problems"]) for p in index["posts"]] == [("post.md", "预览测试", 0), ("second.md", "第二篇", 0)]
        assert all(0 < p["length"] < p["limit"] == 20_000 for p in index["posts"])
        assert get_json(running.url + "api/article?post=second.md")["title"] == "第二篇"
        assert "not a post" in bad_request(running.url + "api/article?post=../wxpub.toml")
    finally:
        running.stop()


@pytest.mark.parametrize("asked", [
    "font_size=abc", "font_size=nan", "font_size=99", "color=zzz", "color=%23c33%0a", "theme=nope", "theme=../wxpub.toml", "theme=/etc/x.css",
    "post=post.md%00", "post=../wxpub.toml", "post=nope.md",
])
def test_a_bad_query_is_refused_in_one_line_by_both_endpoints(project: Path, asked: str) -> None:
    running = PreviewServer(Target.of(project), port=0)
    running.start()
    try:
        query = asked if asked.startswith("post=") else f"post=post.md&{asked}"
        for endpoint in ("api/article", "api/problems"):
            error = bad_request(f"{running.url}{endpoint}?{query}")
            assert "internal error" not in error and "\x00" not in error
        assert get_json(running.url + "api/article?post=post.md&font_size=17&color=%23c33&theme=geek")["error"] is None
    finally:
        running.stop()


def test_the_change_stream_ignores_its_query(server: PreviewServer) -> None:
    with urllib.request.urlopen(server.url + "events?since=abc", timeout=10) as stream:  # it once took since= as a number
        assert stream.readline() == b"retry: 500\n"


def test_a_connection_reset_by_the_page_is_no_traceback_in_the_terminal(server: PreviewServer, capsys: pytest.CaptureFixture[str]) -> None:
    import socket
    import struct

    host, port = server.url.removeprefix("http://").rstrip("/").split(":")
    for partial in (b"", b"GET /api/article HTTP/1.1\r\nHost: 127.0.0.1\r\n"):
        connection = socket.create_connection((host, int(port)), timeout=5)
        connection.sendall(partial)
        time.sleep(0.1)
        # Closed with a reset, as a browser drops a kept-alive connection when its tab closes.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
    time.sleep(0.3)
    assert get_json(server.url + "api/article")["error"] is None  # still serving
    assert "Traceback" not in capsys.readouterr().err


def test_the_index_lists_only_the_posts_inside_the_folder(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "secret.md").write_text("---\ntitle: 不该出现\n---\n\n秘密。\n", encoding="utf-8")
    (project / "secret.md").symlink_to(elsewhere / "secret.md")  # a link out of the project
    (project / "same.md").symlink_to(project / "post.md")  # a link to a post of the folder is one of its posts
    (project / "drafts").symlink_to(elsewhere, target_is_directory=True)
    running = PreviewServer(Target.of(project), port=0)
    running.start()
    try:
        assert [p["path"] for p in get_json(running.url + "api/index")["posts"]] == ["post.md", "same.md"]
        assert "not a post" in bad_request(running.url + "api/article?post=secret.md")
        assert "not a post" in bad_request(running.url + "api/article?post=drafts/secret.md")
    finally:
        running.stop()


def test_the_index_shows_the_error_of_a_post_the_page_cannot_show(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "photo.jpg").write_bytes(photo((900, 500)))
    write_post(project, POST + f"\n![外面的图]({elsewhere / 'photo.jpg'})\n", "outside.md")
    running = PreviewServer(Target.of(project), port=0)
    running.start()
    try:
        article = get_json(running.url + "api/article?post=outside.md")
        assert "is outside the project folder" in article["error"]
        entry = next(p for p in get_json(running.url + "api/index")["posts"] if p["path"] == "outside.md")
        assert (entry["error"], entry["length"]) == (article["error"], None)
    finally:
        running.stop()


def test_the_article_says_its_primary_colour(server: PreviewServer, project: Path) -> None:
    assert get_json(server.url + "api/article")["color"] == "#077"  # the default theme's own
    assert get_json(server.url + "api/article?theme=geek")["color"] == "#026"
    assert get_json(server.url + "api/article?theme=geek&color=%23c33")["color"] == "#c33"
    version = server.changes.version
    write_post(project, POST.replace("cover: cover.jpg", "cover: cover.jpg\ncolor: '#a05000'"))
    assert server.changes.wait(version, timeout=2) > version
    time.sleep(0.1)  # the rest of the save's events
    assert get_json(server.url + "api/article")["color"] == "#a05000"  # the post's own


def test_the_cli_refuses_a_missing_post_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["preview", str(tmp_path / "nope.md"), "--no-open", "--port", "0"])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {tmp_path / 'nope.md'}: no such file or folder (give a Markdown post or a folder of posts)"


# --- the page in Chromium ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object, server: PreviewServer) -> Iterator[object]:
    opened = browser.new_page(viewport={"width": 1300, "height": 500})  # type: ignore[attr-defined]
    requested: list[str] = []
    opened.on("request", lambda request: requested.append(request.url))
    opened.goto(server.url)
    opened.wait_for_function("window.wxpubRenders > 0")
    yield opened
    opened.close()
    assert [url for url in requested if not url.startswith(server.url)] == []  # nothing from the internet


def test_the_article_renders_in_both_modes(page: object) -> None:
    assert "白底深灰的字" in page.inner_text("#light-article")  # type: ignore[attr-defined]
    assert page.inner_text(".light .title") == "预览测试"  # type: ignore[attr-defined]
    assert page.inner_text(".light .account") == "测试号"  # type: ignore[attr-defined]
    colours = page.evaluate(  # type: ignore[attr-defined]
        """() => [...document.querySelectorAll('#light-article p, #dark-article p')]
                 .filter(p => p.textContent === '白底深灰的字')
                 .map(p => [getComputedStyle(p).color, getComputedStyle(p).backgroundColor])"""
    )
    assert colours == [["rgb(51, 51, 51)", "rgb(255, 255, 255)"], ["rgb(178, 178, 178)", "rgb(25, 25, 25)"]]
    assert page.eval_on_selector("#feed-crop img", "img => img.naturalWidth") > 0  # type: ignore[attr-defined]


def test_a_save_shows_within_a_second_without_reloading_the_page(page: object, project: Path) -> None:
    loaded_at = page.evaluate("window.wxpubLoadedAt")  # type: ignore[attr-defined]
    page.evaluate("window.scrollTo(0, 120)")  # type: ignore[attr-defined]
    start = time.monotonic()
    write_post(project, POST + "\n新加的一段。\n")
    page.wait_for_function("document.querySelector('#light-article').innerText.includes('新加的一段')", timeout=1000)  # type: ignore[attr-defined]
    assert time.monotonic() - start < 1.0
    assert page.evaluate("window.wxpubLoadedAt") == loaded_at  # type: ignore[attr-defined]
    assert page.evaluate("window.scrollY") == 120  # type: ignore[attr-defined]


def test_the_theme_switch_restyles_the_article_and_shows_the_lines_to_keep_it(page: object) -> None:
    page.select_option("#theme", "geek")  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('#budget-text').textContent.endsWith('theme geek')")  # type: ignore[attr-defined]
    assert page.inner_text("#permanent-front") == "theme: geek"  # type: ignore[attr-defined]
    assert page.inner_text("#permanent-toml") == '[convert]\ntheme = "geek"'  # type: ignore[attr-defined]
    font = page.evaluate("getComputedStyle(document.querySelector('#light-article > section')).fontSize")  # type: ignore[attr-defined]
    assert font == "15px"  # geek's size, not the default theme's 16px


def test_a_broken_post_shows_its_error_and_recovers(page: object, project: Path) -> None:
    write_post(project, "---\ntitle: [不闭合\n---\n\n正文\n")
    page.wait_for_function("document.body.classList.contains('broken')", timeout=2000)  # type: ignore[attr-defined]
    error = page.inner_text("#error")  # type: ignore[attr-defined]
    assert error.startswith(f"{project / 'post.md'}:2: ")
    assert "白底深灰的字" in page.inner_text("#light-article")  # type: ignore[attr-defined]  # the last good article stays
    write_post(project, POST.replace("第一段", "修好的第一段"))
    page.wait_for_function("!document.body.classList.contains('broken') && document.querySelector('#light-article').innerText.includes('修好的第一段')", timeout=2000)  # type: ignore[attr-defined]


def test_a_problem_links_to_its_place_and_copy_puts_rich_text_on_the_clipboard(page: object, project: Path) -> None:
    write_post(project, POST.replace("白底深灰的字", "白底深灰的字,后面是半角逗号"))
    page.wait_for_function("document.querySelectorAll('#problems a').length === 1", timeout=3000)  # type: ignore[attr-defined]
    assert page.inner_text("#problems .code") == "WX402"  # type: ignore[attr-defined]
    page.click("#problems a")  # type: ignore[attr-defined]
    assert page.eval_on_selector("#light-article .flash", "el => el.textContent") == "白底深灰的字,后面是半角逗号"  # type: ignore[attr-defined]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])  # type: ignore[attr-defined]
    page.click("#copy")  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('copied')")  # type: ignore[attr-defined]
    copied = page.evaluate(  # type: ignore[attr-defined]
        "async () => { const [item] = await navigator.clipboard.read(); return await (await item.getType('text/html')).text(); }"
    )
    assert "<section style=" in copied and "白底深灰的字,后面是半角逗号" in copied


def test_requests_for_another_host_name_are_refused(server: PreviewServer) -> None:
    request = urllib.request.Request(server.url + "api/article", headers={"Host": "attacker.example:80"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403


def test_saving_an_image_or_the_config_is_a_change_too(server: PreviewServer, project: Path) -> None:
    before = get_json(server.url + "api/article")
    version = server.changes.version
    (project / "cover.jpg").write_bytes(photo((700, 700), tint=90))
    assert server.changes.wait(version, timeout=2) > version
    time.sleep(0.1)  # the rest of the save's events
    after = get_json(server.url + "api/article")
    assert after["cover"]["url"] != before["cover"]["url"]
    version = server.changes.version
    (project / "wxpub.toml").write_text('[preview]\naccount_name = "改名了"\n', encoding="utf-8")
    assert server.changes.wait(version, timeout=2) > version
    assert get_json(server.url + "api/article")["account"] == "改名了"


def test_the_cli_prints_its_address_and_serves_until_stopped(project: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "wxpub", "preview", str(project / "post.md"), "--port", "0", "--no-open"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        assert get_json(url + "api/article")["title"] == "预览测试"
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert err.startswith(f"wxpub preview of {project / 'post.md'} on {url} (Ctrl-C stops it)")


def test_saving_the_theme_css_restyles_the_article(project: Path) -> None:
    (project / "mine.css").write_text(".wxpub { color: #222; }\np { color: #123456; }\n", encoding="utf-8")
    write_post(project, POST.replace("cover: cover.jpg", "cover: cover.jpg\ntheme: mine.css"))
    running = PreviewServer(Target.of(project / "post.md"), port=0)
    running.start()
    try:
        assert "color:#123456" in get_json(running.url + "api/article")["light"]
        version = running.changes.version
        (project / "mine.css").write_text(".wxpub { color: #222; }\np { color: #654321; }\n", encoding="utf-8")
        assert running.changes.wait(version, timeout=2) > version
        assert "color:#654321" in get_json(running.url + "api/article")["light"]
    finally:
        running.stop()


def test_the_account_name_comes_from_the_posts_account(tmp_path: Path) -> None:
    (tmp_path / "wxpub.toml").write_text('[accounts.main]\nappid = "wx0000000000sandbox"\nname = "小满的技术笔记"\n', encoding="utf-8")
    Image.new("RGB", (940, 400), (40, 120, 200)).save(tmp_path / "cover.png")
    (tmp_path / "post.md").write_text("---\ntitle: 标题\ncover: cover.png\n---\n\n正文。\n", encoding="utf-8")
    server = PreviewServer(Target.of(tmp_path / "post.md"), port=0)
    assert server.article(server.asked({}))["account"] == "小满的技术笔记"


def open_page(browser: object, url: str, width: int = 1300) -> object:
    opened = browser.new_page(viewport={"width": width, "height": 700})  # type: ignore[attr-defined]
    opened.goto(url)
    opened.wait_for_function("window.wxpubRenders > 0 || document.body.classList.contains('broken')")
    return opened


# Where each column is on the whole page (not the window), and how far the page scrolls.
COLUMNS = """() => ({
  columns: [...document.querySelectorAll('.phone, aside, table.index')].map(el => {
    const box = el.getBoundingClientRect();
    return [el.className || el.tagName, box.left + scrollX, box.right + scrollX, box.top + scrollY];
  }),
  scrollWidth: document.documentElement.scrollWidth,
  width: document.documentElement.clientWidth,
})"""


@pytest.mark.parametrize("width", [320, 375, 700, 1280])
def test_every_column_is_within_reach_in_a_narrow_window(browser: object, server: PreviewServer, width: int) -> None:
    opened = open_page(browser, server.url, width)
    try:
        laid = opened.evaluate(COLUMNS)  # type: ignore[attr-defined]
    finally:
        opened.close()  # type: ignore[attr-defined]
    assert len(laid["columns"]) == 3
    for name, left, right, _ in laid["columns"]:
        assert left >= 0, f"{name} starts {left} px left of the page, where no scrolling reaches it"
        assert right <= max(laid["scrollWidth"], laid["width"]), f"{name} ends past the page"
    (_, light_left, _, light_top), (_, dark_left, _, dark_top), _ = laid["columns"]
    if width >= 1280:
        assert light_top == dark_top and dark_left > light_left  # side by side when there is room
        assert laid["scrollWidth"] == laid["width"]
    else:
        assert dark_top > light_top  # stacked: light first
    if width >= 407:  # a 375 px phone and its margins fit: nothing to scroll sideways
        assert laid["scrollWidth"] == laid["width"]


@pytest.mark.parametrize("width", [320, 700])
def test_the_index_is_within_reach_in_a_narrow_window(browser: object, project: Path, width: int) -> None:
    running = PreviewServer(Target.of(project), port=0)
    running.start()
    opened = open_page(browser, running.url, width)
    try:
        laid = opened.evaluate(COLUMNS)  # type: ignore[attr-defined]
    finally:
        opened.close()  # type: ignore[attr-defined]
        running.stop()
    [(_, left, right, _)] = laid["columns"]
    assert left >= 0 and right <= max(laid["scrollWidth"], laid["width"])


def test_the_colour_picker_shows_the_colour_in_use_and_resets_to_it(page: object) -> None:
    picker = "document.querySelector('#color').value"
    assert page.evaluate(picker) == "#007777"  # type: ignore[attr-defined]  # the default theme's #077
    page.select_option("#theme", "geek")  # type: ignore[attr-defined]
    page.wait_for_function(f"{picker} === '#002266'")  # type: ignore[attr-defined]  # geek's #026
    page.evaluate("(() => { const c = document.querySelector('#color'); c.value = '#cc3333'; c.dispatchEvent(new Event('input')); })()")  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('#permanent-front').textContent.includes('#cc3333')")  # type: ignore[attr-defined]
    page.click("#color-reset")  # type: ignore[attr-defined]
    page.wait_for_function(f"{picker} === '#002266' && document.querySelector('#permanent-card').textContent.indexOf('#cc3333') < 0")  # type: ignore[attr-defined]
    assert "#cc3333" not in page.inner_html("#light-article")  # type: ignore[attr-defined]


def test_a_post_with_an_error_shows_no_budget_bar(browser: object, server: PreviewServer, project: Path) -> None:
    write_post(project, "---\ntitle: [不闭合\n---\n\n正文\n")
    opened = open_page(browser, server.url)
    try:
        assert opened.inner_text("#budget-text") == "not measured: the post has an error (above)"  # type: ignore[attr-defined]
        assert opened.eval_on_selector("#budget-bar div", "d => d.getBoundingClientRect().width") == 0  # type: ignore[attr-defined]
        write_post(project)
        opened.wait_for_function("document.querySelector('#budget-text').textContent.includes('of 20,000 characters')", timeout=2000)  # type: ignore[attr-defined]
        assert opened.eval_on_selector("#budget-bar div", "d => d.getBoundingClientRect().width") > 0  # type: ignore[attr-defined]
        write_post(project, "---\ntitle: [不闭合\n---\n\n正文\n")  # broken again: the old figure goes
        opened.wait_for_function("document.querySelector('#budget-text').textContent.startsWith('not measured')", timeout=2000)  # type: ignore[attr-defined]
        assert opened.eval_on_selector("#budget-bar div", "d => d.getBoundingClientRect().width") == 0  # type: ignore[attr-defined]
    finally:
        opened.close()  # type: ignore[attr-defined]
