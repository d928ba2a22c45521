"""The client: stable tokens shared through a cache, one request path with retries, errors as sentences."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import fakeredis
import pytest
from sandbox_fixtures import APPID, SECRET, Sleeps, client, image_bytes, sandbox, sleeps  # noqa: F401  (fixtures)

from wxpub.errors import ConfigError, WeChatError
from wxpub.sandbox import Sandbox
from wxpub.wechat import (
    FileStorage,
    RetryPolicy,
    WeChat,
    normalize_base,
    redact,
    token_storage,
    translate,
)


def cover(client: WeChat) -> str:
    media_id = client.add_image_material(image_bytes(), "c.png", "image/png").media_id
    assert media_id
    return media_id


def test_tokens_come_from_stable_token_and_are_cached(client: WeChat, sandbox: Sandbox) -> None:
    client.upload_image(image_bytes(), "a.png", "image/png")
    client.upload_image(image_bytes(color=(1, 2, 3)), "b.png", "image/png")
    assert sandbox.count("stable_token") == 1
    assert sandbox.count("token") == 0


def test_a_file_cache_shares_one_token_between_runs_and_never_holds_the_secret(sandbox: Sandbox, tmp_path: Path) -> None:
    spec = f"file:{tmp_path / 'tokens'}"
    WeChat(APPID, SECRET, api_base=sandbox.url, storage=spec).batchget_drafts()
    WeChat(APPID, SECRET, api_base=sandbox.url, storage=spec).batchget_drafts()
    assert sandbox.count("stable_token") == 1
    cache = tmp_path / "tokens" / f"{APPID}.json"
    assert cache.exists() and SECRET not in cache.read_text()
    assert oct(cache.stat().st_mode & 0o777) == "0o600"


def test_the_default_file_cache_lives_in_the_user_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WXPUB_CACHE_DIR", str(tmp_path / "cache"))
    storage = token_storage("file", APPID)
    assert isinstance(storage, FileStorage)
    assert storage.path == tmp_path / "cache" / "tokens" / f"{APPID}.json"


def test_redis_storage_shares_one_token_between_machines(sandbox: Sandbox) -> None:
    server = fakeredis.FakeServer()

    def connect(url: str) -> fakeredis.FakeRedis:
        assert url == "redis://cache.example:6379/0"
        return fakeredis.FakeRedis(server=server)

    for _ in range(3):  # three machines, one token
        storage = token_storage("redis://cache.example:6379/0", APPID, redis_from_url=connect)
        WeChat(APPID, SECRET, api_base=sandbox.url, storage=storage).batchget_drafts()
    assert sandbox.count("stable_token") == 1


def test_unknown_token_store_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a token store"):
        token_storage("memcached://x", APPID)


def test_api_base_is_configurable(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WXPUB_API_BASE", sandbox.url.rstrip("/"))
    assert WeChat(APPID, SECRET, storage="memory").batchget_drafts()["total_count"] == 0
    assert normalize_base("https://relay.example/cgi-bin/") == "https://relay.example/"
    with pytest.raises(ConfigError):
        normalize_base("relay.example")


def test_system_busy_is_retried_with_backoff(client: WeChat, sandbox: Sandbox, sleeps: Sleeps) -> None:
    sandbox.inject("errcode", "media/uploadimg", errcode=-1, times=2)
    assert client.upload_image(image_bytes(), "a.png", "image/png").url
    assert sandbox.count("media/uploadimg") == 3
    assert len(sleeps.calls) == 2 and sleeps.calls[1] > sleeps.calls[0]


def test_http_5xx_is_retried_and_gives_up_after_the_policy(client: WeChat, sandbox: Sandbox) -> None:
    sandbox.inject("http", "draft/batchget", status=503, times=10)
    with pytest.raises(WeChatError, match="HTTP 503") as failed:
        client.batchget_drafts()
    assert sandbox.count("draft/batchget") == 4
    assert failed.value.errcode is None


def test_uploads_are_retried_with_their_bytes_after_a_dropped_connection(client: WeChat, sandbox: Sandbox) -> None:
    data = image_bytes(size=(300, 200))
    sandbox.inject("drop-before", "media/uploadimg")
    client.upload_image(data, "a.png", "image/png")
    stored = list(sandbox.uploads().values())
    assert len(stored) == 1 and stored[0]["size"] == len(data)


def test_a_timeout_is_retried(sandbox: Sandbox, sleeps: Sleeps) -> None:
    quick = WeChat(APPID, SECRET, api_base=sandbox.url, storage="memory", retry=RetryPolicy(sleep=sleeps), timeout=(2, 0.3))
    sandbox.inject("delay", "draft/batchget", seconds=0.6)
    assert quick.batchget_drafts()["total_count"] == 0
    time.sleep(0.4)  # the first, abandoned call is still sleeping in the sandbox
    assert sandbox.count("draft/batchget") == 2


@pytest.mark.parametrize("errcode", [45009, 45011])
def test_quotas_are_never_retried(client: WeChat, sandbox: Sandbox, sleeps: Sleeps, errcode: int) -> None:
    sandbox.inject("errcode", "draft/batchget", errcode=errcode)
    with pytest.raises(WeChatError) as failed:
        client.batchget_drafts()
    assert failed.value.errcode == errcode
    assert sandbox.count("draft/batchget") == 1 and sleeps.calls == []


@pytest.mark.parametrize("fault", ["expire-token", "supersede-token"])
def test_a_dead_token_is_refreshed_once(client: WeChat, sandbox: Sandbox, fault: str) -> None:
    client.batchget_drafts()
    sandbox.inject(fault, "draft/batchget")
    client.batchget_drafts()
    assert sandbox.count("stable_token") == 2
    assert [c.errcode for c in sandbox.calls if c.endpoint == "draft/batchget"] == [0, 42001 if fault == "expire-token" else 40001, 0]


def test_a_server_that_keeps_refusing_tokens_gets_one_refresh_only(client: WeChat, sandbox: Sandbox) -> None:
    sandbox.inject("errcode", "draft/batchget", errcode=40001, times=10)
    with pytest.raises(WeChatError):
        client.batchget_drafts()
    assert sandbox.count("draft/batchget") == 2


def test_a_lost_draft_add_answer_finds_the_draft_instead_of_adding_twice(client: WeChat, sandbox: Sandbox) -> None:
    article = {"title": "一次", "content": "<p>x</p>", "thumb_media_id": cover(client)}
    sandbox.inject("drop-after", "draft/add")
    media_id = client.add_draft([article])
    assert list(sandbox.drafts(APPID)) == [media_id]


def test_a_draft_add_dropped_before_acting_is_added_once(client: WeChat, sandbox: Sandbox) -> None:
    article = {"title": "一次", "content": "<p>x</p>", "thumb_media_id": cover(client)}
    sandbox.inject("drop-before", "draft/add")
    media_id = client.add_draft([article])
    assert list(sandbox.drafts(APPID)) == [media_id]
    # looked for until it could no longer land (no waiting: the sleep is injected), then sent once more
    assert sandbox.count("draft/batchget") > 1 and sandbox.count("draft/add") == 2


def test_draft_payload_is_raw_utf8_with_crop_fields(client: WeChat, sandbox: Sandbox) -> None:
    article = {"title": "中文标题", "content": "<p>x</p>", "thumb_media_id": cover(client), "pic_crop_235_1": "0_0.1_1_0.525532", "pic_crop_1_1": "0.2_0_0.8_1"}
    media_id = client.add_draft([article])
    stored = client.get_draft(media_id)
    assert stored and stored[0]["title"] == "中文标题"
    assert stored[0]["pic_crop_235_1"] == "0_0.1_1_0.525532" and stored[0]["pic_crop_1_1"] == "0.2_0_0.8_1"
    assert client.get_draft("gone") is None


def test_wrong_secret_says_so(sandbox: Sandbox) -> None:
    with pytest.raises(WeChatError) as failed:
        WeChat(APPID, "not-the-secret", api_base=sandbox.url, storage="memory").batchget_drafts()
    assert failed.value.errcode == 40125 and "AppSecret is wrong" in str(failed.value)
    assert "not-the-secret" not in str(failed.value)


def test_ip_whitelist_names_the_ip_and_where_to_add_it(tmp_path: Path) -> None:
    with Sandbox(tmp_path, accounts={APPID: SECRET}, ip_whitelist=("10.1.1.1",)) as sandbox:
        with pytest.raises(WeChatError) as failed:
            WeChat(APPID, SECRET, api_base=sandbox.url, storage="memory").batchget_drafts()
    text = str(failed.value)
    assert "127.0.0.1 is not on the account's IP whitelist" in text and "IP白名单" in text


@pytest.mark.parametrize(("errcode", "field"), [(45003, "title"), (45110, "author"), (45004, "digest")])
def test_a_refused_length_names_the_field_its_lengths_and_the_kept_uploads(errcode: int, field: str) -> None:
    error = translate(errcode, "size out of limit hint: [x]", "draft/add", [{field: "标题" * 20}])
    assert f"the {field} '{'标题' * 20}'" in str(error)
    assert "40 characters, 120 bytes" in str(error)
    assert "uploads are kept" in str(error)


def test_content_too_long_names_both_measures() -> None:
    error = translate(45002, "content size out of limit", "draft/add", [{"content": "文" * 20_001}])
    assert "20001 characters, 60003 bytes" in str(error) and "uploads are kept" in str(error)


def test_unknown_errcode_keeps_the_message_without_tokens() -> None:
    error = translate(61234, "odd thing access_token=abcdef123456 hint: [x]", "draft/add")
    assert "odd thing" in str(error) and "abcdef123456" not in str(error)


def test_connection_errors_show_neither_token_nor_secret(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    client = WeChat(APPID, SECRET, api_base=sandbox.url, storage="memory", retry=RetryPolicy(tries=2, sleep=lambda s: None))
    caplog.set_level(logging.DEBUG)
    client.batchget_drafts()
    token = client._client.access_token
    sandbox.inject("drop-before", "draft/batchget", times=5)
    with pytest.raises(WeChatError) as failed:
        client.batchget_drafts()
    seen = str(failed.value) + repr(failed.value) + str(failed.value.to_dict()) + caplog.text
    assert "lost the connection" in str(failed.value)
    assert token not in seen and SECRET not in seen
    assert "access_token=" in caplog.text  # urllib3 did log the URL: redacted
    assert failed.value.__cause__ is None and failed.value.__context__ is None  # no chain back to requests


def test_redact_removes_tokens_from_urls_and_json() -> None:
    assert redact("GET /cgi-bin/x?access_token=abc.DEF-123&type=image") == "GET /cgi-bin/x?access_token=***&type=image"
    assert redact('{"access_token": "abcDEF"}') == '{"access_token": "***"}'


@pytest.mark.parametrize(
    "base, message",
    [
        ("http://relay.example.com/", "plain http"),
        ("https://user:pw@relay.example.com/", "user name or password"),
        ("ftp://x/", r"not an http\(s\) URL"),
    ],
)
def test_an_api_base_that_would_expose_the_secret_is_refused(base: str, message: str) -> None:
    from wxpub.errors import ConfigError
    from wxpub.wechat import normalize_base

    with pytest.raises(ConfigError, match=message):
        normalize_base(base)
    assert normalize_base("http://127.0.0.1:8765") == "http://127.0.0.1:8765/"
    assert normalize_base("https://relay.example.com/cgi-bin/") == "https://relay.example.com/"
