"""Hostile posts are refused in one line before parsing, and image downloads reach only what they may."""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

import imagegen as gen
from PIL import Image
from wxpub.check import check_text
from wxpub.cli import main
from wxpub.convert import convert_text
from wxpub.errors import ImageError, PostError
from wxpub.images import ImageOptions, prepare_image, prepare_images, resolve_source
from wxpub.render import ImageRef

FRONT = "---\ntitle: T\n---\n\n"


# --- sources the converter refuses before parsing ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says", "line"),
    [
        ("[" * 90_000 + "x" + "](" * 10_000, "110,00[0-9] characters of Markdown, more than the 100,000", 4),
        ("a" * 300_000, "300,00[0-9] characters of Markdown", 4),
        ("*_" * 1500, "over 2,000 emphasis markers", 5),
        ("".join(f"[l{i}](https://e.com/{i}) " for i in range(2500)), "2,500 links, images and footnotes", 4),
        ("".join("  " * i + "- item\n" for i in range(30)), "nested 11 deep here, more than the 10", 15),
        ("> " * 12 + "deep\n", "nested 12 deep", 5),
        ("text\n\n" + "[a " * 3000, "too many square brackets", 7),
        ("<div>" * 500 + "x" + "</div>" * 500, "raw HTML is nested 101 deep here", 5),
    ],
    ids=["bracket-bomb", "huge", "emphasis", "references", "nested-list", "nested-quote", "brackets", "html-nesting"],
)
def test_hostile_sources_are_refused_at_their_line(body: str, says: str, line: int) -> None:
    started = time.monotonic()
    with pytest.raises(PostError, match=says) as caught:
        convert_text(FRONT + body)
    assert caught.value.line == line
    problems = check_text(FRONT + body, "p.md")
    assert [(p.code, p.line) for p in problems] == [("WX306", line)]
    assert time.monotonic() - started < 5


def test_the_cli_refuses_a_bracket_bomb_in_one_line(tmp_path: Path) -> None:
    post = tmp_path / "p.md"
    post.write_text(FRONT + "[" * 100_000 + "x" + "](" * 50_000, "utf-8")
    for command in (["convert"], ["check"], ["images"], ["publish", "--dry-run"]):
        result = CliRunner().invoke(main, [*command, str(post)])
        assert result.exit_code != 0, command
        assert "Traceback" not in result.output
        assert "more than the 100,000 any WeChat article could come from" in result.output, command


def test_what_real_posts_do_is_not_refused() -> None:
    nested = "".join("  " * i + f"- level {i}\n" for i in range(10))
    quoted = "> " * 10 + "ten deep\n"
    links = " ".join(f"[link {i}](https://example.com/{i})" for i in range(300))
    escaped = "\\[" * 5000
    code = "```\n" + "[" * 20_000 + "\n```\n"
    html = "<div>" * 20 + "twenty deep" + "</div>" * 20 + "\n\nwrite `<div>` " * 200
    bold = "- **bold item**\n" * 1000  # each item's markers are counted apart
    converted = convert_text(FRONT + "\n\n".join([nested, quoted, links, escaped, code, html, bold]))
    assert "level 9" in converted.html and "ten deep" in converted.html and "twenty deep" in converted.html


def test_thousands_of_raw_html_elements_take_linear_time() -> None:
    started = time.monotonic()
    convert_text(FRONT + "<p>a</p>\n" * 6000)
    convert_text(FRONT + "<p>a</p>" * 6000 + "\n")
    assert time.monotonic() - started < 6


def test_an_svg_is_refused_by_its_declared_size_before_it_is_drawn(tmp_path: Path) -> None:
    pytest.importorskip("cairosvg")
    (tmp_path / "wxpub.toml").write_text("")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="30000" height="30000"><rect width="1" height="1"/></svg>'
    (tmp_path / "bomb.svg").write_bytes(svg)
    started = time.monotonic()
    with pytest.raises(ImageError, match=r"900 million pixels\), the limit is 100 million"):
        prepare_image(resolve_source("bomb.svg", tmp_path / "p.md", tmp_path))
    assert time.monotonic() - started < 3
    (tmp_path / "small.svg").write_bytes(svg.replace(b"30000", b"30"))
    small = prepare_image(resolve_source("small.svg", tmp_path / "p.md", tmp_path))
    assert (small.width, small.height) == (60, 60)


# --- downloads: closed to private addresses, once per URL, within the deadline -----------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves a PNG at /pic.png, redirects /to/<url>, and drips /slow-body and /slow-headers."""

    png = b""
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        type(self).hits.append(self.path)
        if self.path.startswith("/to/"):
            self.send_response(302)
            self.send_header("Location", self.path[4:])
            self.end_headers()
        elif self.path == "/slow-headers":
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
        elif self.path == "/slow-body":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            for byte in self.png:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
        else:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(self.png)))
            self.end_headers()
            self.wfile.write(self.png)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    _Handler.png = gen.encode(Image.new("RGB", (94, 40), (200, 30, 30)), "PNG")
    _Handler.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _fetch(url: str, tmp_path: Path, **options: object) -> object:
    return prepare_image(resolve_source(url, tmp_path / "p.md", tmp_path), options=ImageOptions(**options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/x.png", "http://10.0.0.5/x.png", "http://192.168.1.1/x.png", "http://172.16.0.1/x.png",
     "http://169.254.169.254/latest", "http://[::1]/x.png", "http://0.0.0.0/x.png", "http://localhost/x.png",
     "http://[::ffff:10.0.0.1]/x.png", "http://100.64.0.1/x.png"],
)
def test_private_addresses_are_refused_before_any_connection(url: str, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="refused: .* address, and images are downloaded only from public ones") as caught:
        _fetch(url, tmp_path)
    assert "allow_private_hosts" in str(caught.value)


def test_an_allowed_host_is_downloaded(site: str, tmp_path: Path) -> None:
    image = _fetch(f"{site}/pic.png", tmp_path, allow_private_hosts=("127.0.0.1",))
    assert (image.width, image.height) == (94, 40)  # type: ignore[attr-defined]


def test_a_redirect_to_an_address_not_allowed_is_refused(site: str, tmp_path: Path) -> None:
    port = site.rsplit(":", 1)[1]
    # localhost is allowed by name; where it redirects, 127.0.0.1 by address, is not.
    with pytest.raises(ImageError, match=r"refused: 127\.0\.0\.1 is a loopback address"):
        _fetch(f"http://localhost:{port}/to/http://127.0.0.1:{port}/pic.png", tmp_path, allow_private_hosts=("localhost",))
    with pytest.raises(ImageError, match=r"refused: 10\.0\.0\.5 is a private address"):
        _fetch(f"{site}/to/http://10.0.0.5/pic.png", tmp_path, allow_private_hosts=("127.0.0.1",))
    assert all(hit.startswith("/to/") for hit in _Handler.hits)  # the refused hop was never requested


@pytest.mark.parametrize("path", ["/slow-headers", "/slow-body"])
def test_a_slow_server_is_cut_at_the_deadline(site: str, path: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ImageError, match="took longer than 1 s|timed out after 1 s"):
        _fetch(f"{site}{path}", tmp_path, allow_private_hosts=("127.0.0.1",), timeout=1.0)
    assert time.monotonic() - started < 2.5


# --- the same over HTTPS: the certificate is checked for the name, the connection goes to the checked address


@pytest.fixture()
def tls_site(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The same server over TLS, its certificate for `localhost` from a test authority; (base URL, the authority's PEM)."""
    import ssl

    import trustme
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    pem = tmp_path / "authority.pem"
    authority.cert_pem.write_to_path(str(pem))
    _Handler.png = gen.encode(Image.new("RGB", (94, 40), (200, 30, 30)), "PNG")
    _Handler.hits = []

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def finish_request(self, request: Any, client_address: Any) -> None:
            try:  # the handshake in the request's own thread: a slow client holds up no one else
                request = server_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return  # the client refused our certificate
            super().finish_request(request, client_address)

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client cut off at its deadline: expected here

    httpd = Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"https://localhost:{httpd.server_address[1]}", pem
    httpd.shutdown()
    httpd.server_close()


def test_an_https_image_is_downloaded_with_its_certificate_checked(tls_site: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, authority = tls_site
    monkeypatch.setenv("SSL_CERT_FILE", str(authority))  # trust the test authority, as a machine trusts its CAs
    image = _fetch(f"{base}/pic.png", tmp_path, allow_private_hosts=("localhost",))
    assert (image.width, image.height) == (94, 40)  # type: ignore[attr-defined]
    assert _Handler.hits == ["/pic.png"]


def test_an_https_certificate_nobody_vouches_for_is_refused(tls_site: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = tls_site
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-authorities.pem"))
    with pytest.raises(ImageError, match="the server's HTTPS certificate is not valid: unable to get local issuer certificate"):
        _fetch(f"{base}/pic.png", tmp_path, allow_private_hosts=("localhost",))
    assert _Handler.hits == []


def test_an_https_certificate_for_another_name_is_refused(tls_site: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, authority = tls_site
    monkeypatch.setenv("SSL_CERT_FILE", str(authority))
    # The same server by its address: the certificate names localhost, not 127.0.0.1.
    with pytest.raises(ImageError, match="the server's HTTPS certificate is not valid: IP address mismatch"):
        _fetch(base.replace("localhost", "127.0.0.1") + "/pic.png", tmp_path, allow_private_hosts=("127.0.0.1",))
    assert _Handler.hits == []


@pytest.mark.parametrize("path", ["/slow-headers", "/slow-body"])
def test_a_slow_https_server_is_cut_at_the_deadline(tls_site: tuple[str, Path], path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, authority = tls_site
    monkeypatch.setenv("SSL_CERT_FILE", str(authority))
    started = time.monotonic()
    with pytest.raises(ImageError, match="took longer than 1 s|timed out after 1 s"):
        _fetch(f"{base}{path}", tmp_path, allow_private_hosts=("localhost",), timeout=1.0)
    assert time.monotonic() - started < 2.5


def test_a_cover_that_is_also_in_the_post_is_downloaded_once(site: str, tmp_path: Path) -> None:
    (tmp_path / "wxpub.toml").write_text('[images]\nallow_private_hosts = ["127.0.0.1"]\n')
    post = tmp_path / "p.md"
    url = f"{site}/pic.png"
    refs = [ImageRef(src=url, line=5), ImageRef(src=url, line=7)]
    result = prepare_images(refs, post, meta={"cover": url}, cache_dir=None)
    assert result.cover is not None and len(result.images) == 2
    assert _Handler.hits == ["/pic.png"]


def test_a_url_several_posts_of_one_draft_use_is_downloaded_once(site: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wxpub.publish import PublishOptions, publish_paths

    (tmp_path / "wxpub.toml").write_text('[images]\nallow_private_hosts = ["127.0.0.1"]\n')
    monkeypatch.delenv("WXPUB_APPID", raising=False)
    monkeypatch.setenv("WXPUB_CACHE_DIR", str(tmp_path / "cache"))  # nothing prepared before
    posts = []
    for name in ("a", "b"):
        post = tmp_path / f"{name}.md"
        post.write_text(f"---\ntitle: {name}\n---\n\n正文。\n\n![图]({site}/pic.png)\n", encoding="utf-8")
        posts.append(post)
    result = publish_paths(posts, PublishOptions(dry_run=True))
    assert len(result.posts) == 2
    assert _Handler.hits == ["/pic.png"]


def test_the_projects_config_is_what_allows_a_private_host(site: str, tmp_path: Path) -> None:
    (tmp_path / "wxpub.toml").write_text("")
    with pytest.raises(ImageError, match="refused"):
        prepare_images([ImageRef(src=f"{site}/pic.png", line=5)], tmp_path / "p.md", cover=False, cache_dir=None)
    assert _Handler.hits == []


def test_a_slow_name_lookup_is_cut_at_the_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def slow(*args: object, **kwargs: object) -> list[object]:
        time.sleep(3)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    started = time.monotonic()
    with pytest.raises(ImageError, match="looking up images.example took too long"):
        _fetch("http://images.example/x.png", tmp_path, timeout=0.5)
    assert time.monotonic() - started < 2
