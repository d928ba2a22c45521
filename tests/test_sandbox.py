"""The sandbox speaks the API with its limits and error codes, keeps state, serves pages and injects faults."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from sandbox_fixtures import APPID, SECRET, image_bytes, sandbox  # noqa: F401  (fixture)

from wxpub.sandbox import Sandbox


def call(sandbox: Sandbox, endpoint: str, body: dict | bytes | None = None, *, token: str | None = None, method: str = "POST", query: str = "", ctype: str = "application/json") -> dict:
    url = f"{sandbox.url}cgi-bin/{endpoint}?{query}"
    if token:
        url += f"&access_token={token}"
    data = body if isinstance(body, bytes) or body is None else json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=data if method == "POST" else None, method=method, headers={"Content-Type": ctype})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


def token(sandbox: Sandbox, force: bool = False) -> str:
    return call(sandbox, "stable_token", {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": force})["access_token"]


def multipart(data: bytes, name: str = "a.png") -> tuple[bytes, str]:
    boundary = "xXxBOUNDARYxXx"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"{name}\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def upload(sandbox: Sandbox, tok: str, data: bytes, endpoint: str = "media/uploadimg", query: str = "") -> dict:
    body, ctype = multipart(data)
    return call(sandbox, endpoint, body, token=tok, query=query, ctype=ctype)


def article(sandbox: Sandbox, tok: str, **fields: object) -> dict:
    cover = upload(sandbox, tok, image_bytes(), "material/add_material", "type=image")
    return {"title": "标题", "content": "<p>正文</p>", "thumb_media_id": cover["media_id"], **fields}


def test_stable_token_normal_mode_returns_the_same_token_and_force_refresh_kills_it(sandbox: Sandbox) -> None:
    first = token(sandbox)
    assert token(sandbox) == first
    assert call(sandbox, "draft/count", token=first, method="GET")["total_count"] == 0
    forced = token(sandbox, force=True)
    assert forced != first
    assert call(sandbox, "draft/count", token=first, method="GET")["errcode"] == 40001


def test_token_errors(tmp_path: Path) -> None:
    with Sandbox(tmp_path, accounts={APPID: SECRET}, ip_whitelist=("10.0.0.1",)) as sandbox:
        assert call(sandbox, "stable_token", {"grant_type": "client_credential", "appid": APPID, "secret": "wrong"})["errcode"] == 40125
        assert call(sandbox, "stable_token", {"grant_type": "client_credential", "appid": "wxnope", "secret": SECRET})["errcode"] == 40013
        answer = call(sandbox, "stable_token", {"grant_type": "client_credential", "appid": APPID, "secret": SECRET})
        assert answer["errcode"] == 40164 and "127.0.0.1" in answer["errmsg"]
        assert call(sandbox, "draft/count", method="GET")["errcode"] == 41001
        assert call(sandbox, "draft/count", token="made-up", method="GET")["errcode"] == 40014
        assert call(sandbox, "draft/count", {"x": 1}, token="made-up")["errcode"] == 43001


def test_expired_and_superseded_tokens(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    sandbox.expire_tokens()
    assert call(sandbox, "draft/count", token=tok, method="GET")["errcode"] == 42001
    fresh = token(sandbox)
    assert fresh != tok
    sandbox.supersede_tokens()
    assert call(sandbox, "draft/count", token=fresh, method="GET")["errcode"] == 40001


def test_uploadimg_takes_jpg_and_png_under_1mb_and_serves_them_back(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    png = image_bytes("PNG")
    url = upload(sandbox, tok, png)["url"]
    assert "/mmbiz_png/" in url
    with urllib.request.urlopen(url) as served:
        assert served.read() == png
    assert "/mmbiz_jpg/" in upload(sandbox, tok, image_bytes("JPEG"))["url"]
    assert upload(sandbox, tok, image_bytes("GIF"))["errcode"] == 40005
    assert upload(sandbox, tok, b"\x89PNG\r\n\x1a\n" + b"0" * (1024 * 1024))["errcode"] == 40009
    body = b"--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n"
    assert call(sandbox, "media/uploadimg", body, token=tok, ctype="multipart/form-data; boundary=b")["errcode"] == 41005


def test_add_material_takes_gifs_and_returns_a_media_id(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    answer = upload(sandbox, tok, image_bytes("GIF"), "material/add_material", "type=image")
    assert answer["media_id"] and "/mmbiz_gif/" in answer["url"]
    assert upload(sandbox, tok, image_bytes(), "material/add_material", "type=nonsense")["errcode"] == 40004
    assert upload(sandbox, tok, b"not an image", "material/add_material", "type=image")["errcode"] == 40005


@pytest.mark.parametrize(
    ("fields", "errcode"),
    [
        ({"title": "一" * 65}, 45003),  # the older documented 64 characters, what the editor takes
        ({"title": "x" * 65}, 45003),
        ({"author": "作" * 17}, 45110),  # the documented 16 "字"
        ({"digest": "摘" * 129}, 45004),  # the documented 128 "字"
        ({"content": "x" * 20_000}, 45002),
        ({"content": ""}, 44004),
        ({"content_source_url": "https://e.com/" + "a" * 1024}, 45005),
        ({"content_source_url": "javascript:alert(1)"}, 41039),
        ({"thumb_media_id": "nope"}, 40007),
        ({"pic_crop_235_1": "0_0_2_1"}, 40097),
    ],
)
def test_draft_add_enforces_the_article_limits(sandbox: Sandbox, fields: dict, errcode: int) -> None:
    tok = token(sandbox)
    assert call(sandbox, "draft/add", {"articles": [article(sandbox, tok, **fields)]}, token=tok)["errcode"] == errcode


def test_draft_add_at_the_limits_succeeds(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    fields = {"title": "一" * 64, "author": "作" * 16, "digest": "摘" * 128, "content": "x" * 19_999}
    assert "media_id" in call(sandbox, "draft/add", {"articles": [article(sandbox, tok, **fields)]}, token=tok)


def test_at_most_8_articles(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    one = article(sandbox, tok)
    assert call(sandbox, "draft/add", {"articles": [one] * 9}, token=tok)["errcode"] == 45008
    assert "media_id" in call(sandbox, "draft/add", {"articles": [one] * 8}, token=tok)
    assert call(sandbox, "draft/add", {"articles": []}, token=tok)["errcode"] == 44003


def test_content_keeps_only_its_own_upload_urls(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    url = upload(sandbox, tok, image_bytes())["url"]
    content = f'<p>a<img src="{url}" alt="ok"></p><p><img src="https://example.com/x.png"><img src="pic.png"/></p><script>bad()</script><p>end</p>'
    media_id = call(sandbox, "draft/add", {"articles": [article(sandbox, tok, content=content)]}, token=tok)["media_id"]
    stored = call(sandbox, "draft/get", {"media_id": media_id}, token=tok)["news_item"][0]["content"]
    assert stored == f'<p>a<img src="{url}" alt="ok"></p><p></p><p>end</p>'


def test_unicode_escapes_are_stored_literally(sandbox: Sandbox) -> None:
    """The pessimistic reading: a server that does not decode \\u escapes counts and stores them."""
    tok = token(sandbox)
    one = article(sandbox, tok, title="中文")
    escaped = json.dumps({"articles": [one]}).encode()  # ensure_ascii=True: \u4e2d\u6587
    media_id = call(sandbox, "draft/add", escaped, token=tok)["media_id"]
    assert call(sandbox, "draft/get", {"media_id": media_id}, token=tok)["news_item"][0]["title"] == "\\u4e2d\\u6587"
    raw = call(sandbox, "draft/add", {"articles": [one]}, token=tok)["media_id"]
    assert call(sandbox, "draft/get", {"media_id": raw}, token=tok)["news_item"][0]["title"] == "中文"


def test_draft_update_takes_one_article_object(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    one = article(sandbox, tok)
    media_id = call(sandbox, "draft/add", {"articles": [one]}, token=tok)["media_id"]
    assert call(sandbox, "draft/update", {"media_id": media_id, "index": 0, "articles": [one]}, token=tok)["errcode"] == 47001
    assert call(sandbox, "draft/update", {"media_id": media_id, "index": 1, "articles": one}, token=tok)["errcode"] == 40114
    assert call(sandbox, "draft/update", {"media_id": "gone", "index": 0, "articles": one}, token=tok)["errcode"] == 40007
    assert call(sandbox, "draft/update", {"media_id": media_id, "index": 0, "articles": {**one, "title": "新"}}, token=tok)["errcode"] == 0
    assert call(sandbox, "draft/get", {"media_id": media_id}, token=tok)["news_item"][0]["title"] == "新"


def test_batchget_and_delete(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    one = article(sandbox, tok)
    first = call(sandbox, "draft/add", {"articles": [one]}, token=tok)["media_id"]
    second = call(sandbox, "draft/add", {"articles": [{**one, "title": "二"}]}, token=tok)["media_id"]
    listing = call(sandbox, "draft/batchget", {"offset": 0, "count": 20, "no_content": 1}, token=tok)
    assert listing["total_count"] == 2 and {i["media_id"] for i in listing["item"]} == {first, second}
    assert "content" not in listing["item"][0]["content"]["news_item"][0]
    assert call(sandbox, "draft/batchget", {"offset": 0, "count": 21}, token=tok)["errcode"] == 40097
    assert call(sandbox, "draft/delete", {"media_id": first}, token=tok)["errcode"] == 0
    assert call(sandbox, "draft/get", {"media_id": first}, token=tok)["errcode"] == 40007


def test_publish_runs_through_its_status_sequence_and_removes_the_draft(tmp_path: Path) -> None:
    with Sandbox(tmp_path, accounts={APPID: SECRET}, publish_sequence=(1, 1, 0)) as sandbox:
        tok = token(sandbox)
        media_id = call(sandbox, "draft/add", {"articles": [article(sandbox, tok)]}, token=tok)["media_id"]
        publish_id = call(sandbox, "freepublish/submit", {"media_id": media_id}, token=tok)["publish_id"]
        statuses = [call(sandbox, "freepublish/get", {"publish_id": publish_id}, token=tok)["publish_status"] for _ in range(3)]
        assert statuses == [1, 1, 0]
        final = call(sandbox, "freepublish/get", {"publish_id": publish_id}, token=tok)
        assert final["article_detail"]["count"] == 1
        assert call(sandbox, "draft/get", {"media_id": media_id}, token=tok)["errcode"] == 40007
        with urllib.request.urlopen(final["article_detail"]["item"][0]["article_url"]) as page:
            assert "标题" in page.read().decode()


def test_a_publish_nobody_polls_ends_on_its_own_and_is_listed(tmp_path: Path) -> None:
    with Sandbox(tmp_path, accounts={APPID: SECRET}, publish_sequence=(1, 1, 0)) as sandbox:
        tok = token(sandbox)
        media_id = call(sandbox, "draft/add", {"articles": [article(sandbox, tok)]}, token=tok)["media_id"]
        publish_id = call(sandbox, "freepublish/submit", {"media_id": media_id}, token=tok)["publish_id"]
        # As WeChat's publishing runs without anyone asking: by the next look, the draft is an article.
        assert call(sandbox, "draft/get", {"media_id": media_id}, token=tok)["errcode"] == 40007
        listing = call(sandbox, "freepublish/batchget", {"offset": 0, "count": 20, "no_content": 1}, token=tok)
        assert listing["total_count"] == 1 and listing["item"][0]["update_time"] > 0
        news = listing["item"][0]["content"]["news_item"]
        assert [a["title"] for a in news] == ["标题"] and "content" not in news[0] and "/s/" in news[0]["url"]
        assert call(sandbox, "freepublish/get", {"publish_id": publish_id}, token=tok)["publish_status"] == 0
        assert call(sandbox, "freepublish/batchget", {"offset": 0, "count": 0}, token=tok)["errcode"] == 40097


def test_preview(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    media_id = call(sandbox, "draft/add", {"articles": [article(sandbox, tok)]}, token=tok)["media_id"]
    body = {"towxname": "someone", "msgtype": "mpnews", "mpnews": {"media_id": media_id}}
    assert call(sandbox, "message/mass/preview", body, token=tok)["errmsg"] == "preview success"
    assert call(sandbox, "message/mass/preview", {**body, "mpnews": {"media_id": "x"}}, token=tok)["errcode"] == 40007


def test_daily_quotas_give_45009(tmp_path: Path) -> None:
    with Sandbox(tmp_path, accounts={APPID: SECRET}, quotas={"draft/count": 2}) as sandbox:
        tok = token(sandbox)
        codes = [call(sandbox, "draft/count", token=tok, method="GET").get("errcode", 0) for _ in range(3)]
        assert codes == [0, 0, 45009]


def test_faults_over_http(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    control = urllib.request.Request(
        f"{sandbox.url}sandbox/faults", data=json.dumps({"kind": "errcode", "endpoint": "draft/count", "errcode": -1, "times": 2}).encode(), method="POST"
    )
    urllib.request.urlopen(control).read()
    codes = [call(sandbox, "draft/count", token=tok, method="GET").get("errcode", 0) for _ in range(3)]
    assert codes == [-1, -1, 0]
    sandbox.inject("http", "draft/count", status=502)
    with pytest.raises(urllib.error.HTTPError) as failed:
        call(sandbox, "draft/count", token=tok, method="GET")
    assert failed.value.code == 502
    sandbox.inject("drop-before", "draft/count")
    with pytest.raises(Exception):
        call(sandbox, "draft/count", token=tok, method="GET")
    assert [c.errcode for c in sandbox.calls if c.endpoint == "draft/count"][-3:] == [0, -502, -2]


def test_drop_after_acts_then_hangs_up(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    one = article(sandbox, tok)
    sandbox.inject("drop-after", "draft/add")
    with pytest.raises(Exception):
        call(sandbox, "draft/add", {"articles": [one]}, token=tok)
    assert len(sandbox.drafts(APPID)) == 1


def test_pages_and_state_survive_a_restart_without_secrets(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Sandbox(state, accounts={APPID: SECRET}) as sandbox:
        tok = token(sandbox)
        url = upload(sandbox, tok, image_bytes())["url"]
        one = article(sandbox, tok, title="页面标题", content=f'<p><img src="{url}"></p>')
        media_id = call(sandbox, "draft/add", {"articles": [one]}, token=tok)["media_id"]
        with urllib.request.urlopen(sandbox.url) as index:
            assert "页面标题" in index.read().decode()
        with urllib.request.urlopen(f"{sandbox.url}drafts/{media_id}") as page:
            assert url.split("?")[0].split(":", 2)[-1].split("/", 1)[1] in page.read().decode()
    stored = "".join(p.read_text(errors="replace") for p in state.rglob("*.json"))
    assert SECRET not in stored and tok not in stored
    with Sandbox(state, accounts={APPID: SECRET}) as again:
        assert media_id in again.drafts(APPID)
        assert call(again, "draft/count", token=token(again), method="GET")["total_count"] == 1
        with urllib.request.urlopen(f"{again.url}drafts/{media_id}") as page:  # on another port now
            path = url.split("127.0.0.1:", 1)[1].split("/", 1)[1]
            assert f'src="/{path}"' in page.read().decode()
        with urllib.request.urlopen(f"{again.url}{path}") as image:
            assert image.read() == image_bytes()


@pytest.mark.parametrize(("endpoint", "query"), [("media/uploadimg", ""), ("material/add_material", "type=image")])
def test_uploads_that_act_but_lose_their_answer(sandbox: Sandbox, endpoint: str, query: str) -> None:
    """drop-after: the upload is stored and the connection closed; latency: stored at once, answered too late."""
    tok = token(sandbox)
    sandbox.inject("drop-after", endpoint)
    with pytest.raises(Exception):
        upload(sandbox, tok, image_bytes(color=(1, 2, 3)), endpoint, query)
    assert len(sandbox.uploads()) == 1
    sandbox.inject("latency", endpoint, seconds=1.0)
    body, ctype = multipart(image_bytes(color=(4, 5, 6)))
    request = urllib.request.Request(f"{sandbox.url}cgi-bin/{endpoint}?{query}&access_token={tok}", data=body, headers={"Content-Type": ctype})
    with pytest.raises(Exception):  # the client gives up before the answer comes
        urllib.request.urlopen(request, timeout=0.3).read()
    assert len(sandbox.uploads()) == 2  # ...but the upload took effect at once
    assert "url" in upload(sandbox, tok, image_bytes(color=(7, 8, 9)), endpoint, query)  # one call each: the next is normal


def test_latency_for_one_endpoint_over_http_is_a_fault_not_a_global_delay(sandbox: Sandbox) -> None:
    control = urllib.request.Request(
        f"{sandbox.url}sandbox/faults", data=json.dumps({"kind": "latency", "endpoint": "material/add_material", "seconds": 0.2}).encode(), method="POST"
    )
    assert json.loads(urllib.request.urlopen(control).read())["queued"]["kind"] == "latency"
    assert sandbox.latency == 0 and [f.endpoint for f in sandbox.faults] == ["material/add_material"]


def test_batchget_material_lists_permanent_images_by_the_name_they_were_uploaded_with(sandbox: Sandbox) -> None:
    tok = token(sandbox)
    upload(sandbox, tok, image_bytes())  # a content image: not a material
    made = []
    for i in range(3):
        body, ctype = multipart(image_bytes(color=(i, 0, 0)), name=f"wxpub-{i:064x}.png")
        made.append(call(sandbox, "material/add_material", body, token=tok, query="type=image", ctype=ctype)["media_id"])
    listing = call(sandbox, "material/batchget_material", {"type": "image", "offset": 0, "count": 2}, token=tok)
    assert listing["total_count"] == 3 and listing["item_count"] == 2
    rest = call(sandbox, "material/batchget_material", {"type": "image", "offset": 2, "count": 20}, token=tok)
    names = {i["media_id"]: i["name"] for i in listing["item"] + rest["item"]}
    assert names == {media_id: f"wxpub-{i:064x}.png" for i, media_id in enumerate(made)}
    assert all("/mmbiz_png/" in i["url"] for i in listing["item"])
    assert call(sandbox, "material/batchget_material", {"type": "image", "offset": 0, "count": 21}, token=tok)["errcode"] == 40097
    assert call(sandbox, "material/batchget_material", {"type": "thumbs", "offset": 0, "count": 1}, token=tok)["errcode"] == 40004
    assert call(sandbox, "material/get_materialcount", token=tok, method="GET")["image_count"] == 3
    assert call(sandbox, "material/del_material", {"media_id": made[0]}, token=tok)["errcode"] == 0
    assert call(sandbox, "material/del_material", {"media_id": made[0]}, token=tok)["errcode"] == 40007
    assert set(sandbox.materials(APPID)) == set(made[1:])
