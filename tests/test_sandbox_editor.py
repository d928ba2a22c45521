"""The sandbox keeps of an article what WeChat's editor would, and its pages serve nothing that runs."""

from __future__ import annotations

import re
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sandbox_fixtures import APPID, SECRET, image_bytes, sandbox  # noqa: F401  (fixture)
from test_sandbox import article, call, token, upload

from wxpub.sandbox import Sandbox
from wxpub.sandbox.editor import keep


def stored_content(sandbox: Sandbox, content: str) -> str:
    tok = token(sandbox)
    media_id = call(sandbox, "draft/add", {"articles": [article(sandbox, tok, content=content)]}, token=tok)["media_id"]
    return call(sandbox, "draft/get", {"media_id": media_id}, token=tok)["news_item"][0]["content"]


def test_script_style_class_id_and_handlers_are_stripped(sandbox: Sandbox) -> None:
    content = '<style>p{color:red}</style><p class="lead" id="top" onclick="steal()" onMouseOver="x()">hi<script>steal()</script></p>'
    assert stored_content(sandbox, content) == "<p>hi</p>"


def test_only_its_own_uploads_stay_as_images(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    url = upload(sandbox, tok, image_bytes())["url"]
    elsewhere = url.replace("127.0.0.1", "example.com")  # the same path on another host
    content = f'<p><img src="{url}" alt="ok"><img src="{elsewhere}"><img src="data:image/png;base64,AAAA"><img src="pic.png"></p>'
    media_id = call(sandbox, "draft/add", {"articles": [article(sandbox, tok, content=content)]}, token=tok)["media_id"]
    assert call(sandbox, "draft/get", {"media_id": media_id}, token=tok)["news_item"][0]["content"] == f'<p><img src="{url}" alt="ok"></p>'
    assert sandbox.drafts(APPID)[media_id]["articles"][0]["filtered_images"] == [elsewhere, "data:image/png;base64,AAAA", "pic.png"]


def test_links_other_than_mp_weixin_lose_their_tag_and_keep_their_text(sandbox: Sandbox) -> None:
    content = (
        '<p><a href="https://mp.weixin.qq.com/s/abc" style="color:#087">ours</a> '
        '<a href="https://example.com/">theirs</a> <a href="mailto:a@b.c">mail</a> <a href="#top">anchor</a></p>'
    )
    assert stored_content(sandbox, content) == '<p><a href="https://mp.weixin.qq.com/s/abc" style="color:#087">ours</a> theirs mail anchor</p>'


def test_spaces_collapse_and_code_loses_its_newlines(sandbox: Sandbox) -> None:
    content = "<p>a     b\u00a0\u00a0c</p><pre><code>def f():\n    return 1\n</code></pre>"
    assert stored_content(sandbox, content) == "<p>a b\u00a0\u00a0c</p><pre><code>def f(): return 1</code></pre>"


def test_declarations_outside_the_profile_are_dropped(sandbox: Sandbox) -> None:
    content = (
        '<section style="display:flex;color:#333;position:absolute;top:0"><p style="margin:0 0 1em;color:#333">x</p></section>'
        '<table><tr style="background:#eee"><td style="padding:6px">c</td></tr></table>'
    )
    assert stored_content(sandbox, content) == (
        '<section style="color:#333"><p style="margin:0 0 1em;color:#333">x</p></section>'
        '<table><tr><td style="padding:6px">c</td></tr></table>'
    )


def test_strict_mode_drops_the_whole_style_of_an_element_holding_one_bad_declaration(tmp_path: Path) -> None:
    content = '<section style="display:flex;color:#333"><p style="margin:0;color:#333">x</p></section>'
    with Sandbox(tmp_path, accounts={APPID: SECRET}, strict=True) as strict:
        assert stored_content(strict, content) == '<section><p style="margin:0;color:#333">x</p></section>'


def test_draft_update_is_filtered_too(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    one = article(sandbox, tok)
    media_id = call(sandbox, "draft/add", {"articles": [one]}, token=tok)["media_id"]
    changed = {**one, "content": '<p class="x">new<script>x()</script></p>'}
    assert call(sandbox, "draft/update", {"media_id": media_id, "index": 0, "articles": changed}, token=tok)["errcode"] == 0
    assert call(sandbox, "draft/get", {"media_id": media_id}, token=tok)["news_item"][0]["content"] == "<p>new</p>"
    listing = call(sandbox, "draft/batchget", {"offset": 0, "count": 20, "no_content": 0}, token=tok)
    assert listing["item"][0]["content"]["news_item"][0]["content"] == "<p>new</p>"


def test_unbalanced_and_unknown_markup_comes_out_well_formed() -> None:
    kept = keep('<p>a<b>b<p>c</i></section><blink>d</blink><!-- note --><br/>', own_image=lambda src: False)
    assert kept.content == "<p>a<b>b<p>cd<br></p></b></p>"  # end tags with no start are ignored; what is open is closed


HOSTILE = [
    '<svg width="20" height="20"><a xlink:href="javascript:alert(1)"><text y="10">svg link</text></a></svg>',
    '<math><mi xlink:href="javascript:alert(2)">x</mi></math>',
    '<p style="behavior:url(x.htc);-moz-binding:url(x);color:#333">behaviour</p>',
    '<a href="jav&#x09;ascript:alert(3)">tab</a><a href=" javascript:alert(4)">space</a><a href="JaVaScRiPt:alert(5)">case</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCg2KTwvc2NyaXB0Pg==">data</a><a href="vbscript:msgbox(7)">vb</a>',
    '<img src=x onerror=alert(8)><iframe src="javascript:alert(9)"></iframe><object data="javascript:alert(10)"></object>',
    '<form action="javascript:alert(11)"><button formaction="javascript:alert(12)">go</button></form>',
    '<svg><script>alert(13)</script><animate attributeName="href" to="javascript:alert(14)"/></svg>',
    '<base href="javascript:alert(15)//"><p title="&quot;><script>alert(16)</script>">quoted</p>',
    '</div></section></article><script>alert(17)</script><p>after</p>',
    '<a href="https://mp.weixin.qq.com/s/x" onclick="alert(18)">mp</a><svg><use href="#x"/><image href="javascript:alert(19)"/></svg>',
]


class _Links(HTMLParser):
    """Every tag and attribute a browser would see in a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


def runs_something(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    found = [f"<{t}>" for t in parser.tags if t in ("script", "iframe", "object", "embed", "form", "base", "animate")]
    for name, value in parser.attributes:
        squeezed = re.sub(r"[\x00-\x20]+", "", value).lower()
        if name.startswith("on") or squeezed.startswith(("javascript:", "vbscript:", "data:")) or "behavior" in squeezed or "binding" in squeezed:
            found.append(f"{name}={value}")
    return found


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_draft_page_of_hostile_raw_html_serves_no_script_and_no_javascript_link(sandbox: Sandbox, hostile: str) -> None:
    tok = token(sandbox)
    one = article(sandbox, tok, content=hostile, title="<script>alert(0)</script>", author="<b>x</b>", digest='"><img src=x onerror=alert(0)>')
    media_id = call(sandbox, "draft/add", {"articles": [one]}, token=tok)["media_id"]
    for url in (f"{sandbox.url}drafts/{media_id}", sandbox.url):
        with urllib.request.urlopen(url) as served:
            page = served.read().decode()
            assert "script-src" not in served.headers["Content-Security-Policy"] and "default-src 'none'" in served.headers["Content-Security-Policy"]
        assert runs_something(page) == []
        assert "&lt;script&gt;alert(0)&lt;/script&gt;" in page  # the title is shown, as text
    assert runs_something(call(sandbox, "draft/get", {"media_id": media_id}, token=tok)["news_item"][0]["content"]) == []


def test_content_stored_unfiltered_by_an_older_sandbox_is_still_shown_safely(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    media_id = call(sandbox, "draft/add", {"articles": [article(sandbox, tok)]}, token=tok)["media_id"]
    sandbox.state["drafts"][media_id]["articles"][0]["content"] = "".join(HOSTILE)
    with urllib.request.urlopen(f"{sandbox.url}drafts/{media_id}") as served:
        page = served.read().decode()
    assert runs_something(page) == [] and "after" in page and "svg link" in page


def test_strict_mode_can_be_switched_over_http(sandbox: Sandbox) -> None:
    import json

    control = urllib.request.Request(f"{sandbox.url}sandbox/config", data=json.dumps({"strict": True}).encode(), method="POST")
    assert json.loads(urllib.request.urlopen(control).read())["strict"] is True
    assert stored_content(sandbox, '<p style="position:absolute;color:#333">x</p>') == "<p>x</p>"


@pytest.mark.parametrize("golden", sorted((Path(__file__).parent / "golden").glob("*.html")), ids=lambda path: path.stem)
def test_what_wxpub_makes_keeps_its_text_images_and_links_in_the_sandbox(golden: Path) -> None:
    """Every golden case, its images uploaded, loses no text, image or link to WeChat's editor as the sandbox models it."""
    from wxpub.publish import image_sources, rewrite_sources
    from wxpub.verify import compare

    fragment = golden.read_text(encoding="utf-8")
    sent = rewrite_sources(fragment, {src: f"http://127.0.0.1/mmbiz_png/{i}/0?wx_fmt=png" for i, src in enumerate(image_sources(fragment))})
    comparison = compare(sent, keep(sent, own_image=lambda src: True).content)
    assert not comparison.lost, comparison.words()
