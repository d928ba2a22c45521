"""`publish --sandbox` joins only a sandbox that proves it is this user's; an impostor gets nothing."""

from __future__ import annotations

import http.server
import json
import os
import socket
import stat
import threading
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import pytest
from PIL import Image

from wxpub.errors import UsageError
from wxpub.sandbox import Sandbox, join_sandbox, owner_key, publish_to_sandbox, running_sandbox, sandbox_state_dir


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test has its own user cache, so its owner key is its own."""
    monkeypatch.setenv("WXPUB_CACHE_DIR", str(tmp_path / "cache"))


class Impostor:
    """A server of another user on 127.0.0.1 (port 0): answers /sandbox/info with `answer(query)` and records every request."""

    def __init__(self, answer: Callable[[str, int], dict]) -> None:
        self.requests: list[str] = []
        impostor = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                impostor.requests.append(self.path)
                body = json.dumps(answer(self.path.partition("?")[2], self.server.server_port)).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def impostors() -> Iterator[Callable[[Callable[[str, int], dict]], Impostor]]:
    made: list[Impostor] = []

    def make(answer: Callable[[str, int], dict]) -> Impostor:
        made.append(Impostor(answer))
        return made[-1]

    yield make
    for impostor in made:
        impostor.stop()


def info(sandbox: Sandbox, query: str = "") -> dict:
    with urllib.request.urlopen(f"{sandbox.url}sandbox/info?{query}", timeout=5) as answer:
        return json.loads(answer.read())


def post(tmp_path: Path) -> Path:
    project = tmp_path / "blog"
    (project / "img").mkdir(parents=True)
    Image.new("RGB", (320, 200), (30, 90, 200)).save(project / "img" / "a.png")
    path = project / "a.md"
    path.write_text("---\ntitle: 秘密\n---\n\n一段不给外人看的正文。\n\n![a](img/a.png)\n", encoding="utf-8")
    return path


def test_the_owner_key_is_made_once_and_readable_by_the_owner_only() -> None:
    key = owner_key()
    path = sandbox_state_dir() / "owner.key"
    assert key and owner_key() == key and owner_key(create=False) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)  # others could have read it: no longer a secret
    assert owner_key(create=False) is None
    fresh = owner_key()
    assert fresh and fresh != key and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_key_behind_a_link_is_not_trusted(tmp_path: Path) -> None:
    elsewhere = tmp_path / "planted.key"
    elsewhere.write_text("ab" * 32)
    os.chmod(elsewhere, 0o600)
    sandbox_state_dir().mkdir(parents=True)
    (sandbox_state_dir() / "owner.key").symlink_to(elsewhere)
    assert owner_key(create=False) is None
    key = owner_key()
    assert key and key != b"ab" * 32 and not (sandbox_state_dir() / "owner.key").is_symlink()


def test_joins_its_own_sandbox_which_proves_it_holds_the_key(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "mine", key=owner_key()) as mine:
        assert running_sandbox(mine.port) == (mine.url, mine.state_dir)
        assert "proof" not in info(mine)  # no challenge, no proof
        assert "proof" not in info(mine, "challenge=short")


def test_a_sandbox_holding_another_key_is_not_joined(tmp_path: Path) -> None:
    owner_key()
    with Sandbox(tmp_path / "theirs", key=b"0123456789abcdef" * 4) as theirs:
        assert running_sandbox(theirs.port) is None
    with Sandbox(tmp_path / "keyless") as keyless:
        assert running_sandbox(keyless.port) is None


def test_without_a_key_of_its_own_nothing_is_joined(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "mine", key=b"0123456789abcdef" * 4) as sandbox:
        assert running_sandbox(sandbox.port) is None
    assert not (sandbox_state_dir() / "owner.key").exists()  # looking does not make a key


def test_an_impostor_copying_a_real_sandboxs_info_is_not_joined(tmp_path: Path, impostors: Callable) -> None:
    """Another user's server that copies /sandbox/info, or relays the challenge to the real sandbox, cannot pass."""
    with Sandbox(tmp_path / "mine", key=owner_key()) as mine:
        copied = info(mine, "challenge=" + "ab" * 32)  # a real answer, with a real proof, to an old challenge
        static = impostors(lambda query, port: {**copied, "api_base": f"http://127.0.0.1:{port}/"})
        relay = impostors(lambda query, port: info(mine, query))  # asks the real sandbox, passes its answer on
        relabel = impostors(lambda query, port: {**info(mine, query), "api_base": f"http://127.0.0.1:{port}/"})
        for impostor in (static, relay, relabel):
            assert running_sandbox(impostor.port) is None
            assert impostor.requests and all(r.startswith("/sandbox/info?challenge=") for r in impostor.requests)
        assert running_sandbox(mine.port) == (mine.url, mine.state_dir)


def test_publish_never_sends_the_post_to_an_impostor(tmp_path: Path, impostors: Callable) -> None:
    mine = Sandbox(tmp_path / "mine", key=owner_key()).start()
    try:
        impostor = impostors(lambda query, port: {**info(mine, query), "api_base": f"http://127.0.0.1:{port}/", "state_dir": str(tmp_path)})
        result, base, started = publish_to_sandbox([post(tmp_path)], port=impostor.port)
        try:
            assert started is not None and base == started.url != f"http://127.0.0.1:{impostor.port}/"
            assert result.action == "added" and len(started.drafts()) == 1
            assert not (tmp_path / "wxpub-ledger.json").exists()  # the ledger is not written where the impostor said
        finally:
            started.stop()
        assert [r for r in impostor.requests if not r.startswith("/sandbox/info?")] == []  # no token, no upload, no draft
    finally:
        mine.stop()


def test_join_sandbox_reuses_the_running_one(tmp_path: Path) -> None:
    first = join_sandbox(0)
    try:
        assert first.server is not None
        again = join_sandbox(first.server.port)
        assert again.server is None and (again.url, again.state_dir) == (first.url, first.state_dir)
    finally:
        first.stop()


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (nothing of this test's, and nothing of anyone's)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_second_sandbox_over_one_state_folder_is_refused(tmp_path: Path) -> None:
    """Each keeps the whole state and writes it back whole: two would erase each other's drafts."""
    state = tmp_path / "state"
    with Sandbox(state) as first:
        with pytest.raises(UsageError) as refused:
            Sandbox(state)
        line = refused.value.one_line()
        assert line.startswith(f"{state}: ") and first.url in line and "--state" in line
        assert first.drafts() == {}  # the first one is left as it was, and still serves
        assert info(first)["api_base"] == first.url
    with Sandbox(state) as again:  # given back when it stops
        assert again.url


def test_publish_joins_the_sandbox_holding_its_state_folder_on_any_port(tmp_path: Path) -> None:
    """A sandbox on port 0 over the user's sandbox folder: publish finds it there, not on the default port."""
    with Sandbox(sandbox_state_dir(), port=0, key=owner_key()) as running:
        result, base, started = publish_to_sandbox([post(tmp_path)], port=free_port())
        assert started is None and base == running.url
        assert list(running.drafts()) == [result.media_id]
        running.expire_tokens()  # the running sandbox writes its state again: the draft stays
        stored = json.loads((running.state_dir / "state.json").read_text(encoding="utf-8"))
        assert list(stored["drafts"]) == [result.media_id]
        assert (running.state_dir / "wxpub-ledger.json").exists()


def test_a_stale_address_in_the_state_folder_is_neither_trusted_nor_in_the_way(tmp_path: Path, impostors: Callable) -> None:
    impostor = impostors(lambda query, port: {"api_base": f"http://127.0.0.1:{port}/"})
    sandbox_state_dir().mkdir(parents=True)
    (sandbox_state_dir() / "sandbox.json").write_text(json.dumps({"api_base": f"http://127.0.0.1:{impostor.port}/", "pid": 1}))
    joined = join_sandbox(free_port())
    try:
        assert joined.server is not None and joined.state_dir == sandbox_state_dir()
        assert json.loads((sandbox_state_dir() / "sandbox.json").read_text())["api_base"] == joined.url  # its own now
    finally:
        joined.stop()
    assert impostor.requests == []
    assert not (sandbox_state_dir() / "sandbox.json").exists()  # a stopped sandbox says nothing


def test_a_state_folder_held_by_a_sandbox_that_is_not_provably_ours_is_not_shared(tmp_path: Path) -> None:
    owner_key()
    with Sandbox(sandbox_state_dir(), key=b"0123456789abcdef" * 4) as theirs:
        with pytest.raises(UsageError) as refused:
            publish_to_sandbox([post(tmp_path)], port=free_port())
        line = refused.value.one_line()
        assert line.startswith(f"{sandbox_state_dir()}: ") and theirs.url in line and "does not prove" in line
        assert theirs.drafts() == {} and theirs.count() == 0
