"""Images: what WeChat gets from the files writers use, and what is refused."""

from __future__ import annotations

import base64
import functools
import http.server
import io
import os
import threading
from pathlib import Path

import pytest
from PIL import Image

import imagegen as gen
from wxpub.errors import ImageError
from wxpub.images import (
    ImageOptions,
    PreparedImage,
    choose_cover,
    cover_crops,
    find_project_root,
    parse_focus,
    prepare_image,
    prepare_images,
    resolve_source,
    write_prepared,
)
from wxpub.render import ImageRef

LIMIT = 1_000_000


@pytest.fixture(scope="session")
def photo_bytes() -> bytes:
    """A 12-megapixel phone photo turned by EXIF (orientation 6) and carrying GPS: made once."""
    return gen.photo((4000, 3000), orientation=6, gps=True)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "blog"
    (root / "posts").mkdir(parents=True)
    (root / "wxpub.toml").write_text("")
    return root


def post_in(project: Path, text: str = "# Post\n") -> Path:
    post = project / "posts" / "post.md"
    post.write_text(text, "utf-8")
    return post


def prepare(project: Path, name: str, data: bytes, *, role: str = "content", **options: object) -> PreparedImage:
    gen.write(project / "posts", name, data)
    source = resolve_source(name, project / "posts" / "post.md", project, line=3)
    return prepare_image(source, role=role, options=ImageOptions(**options))  # type: ignore[arg-type]


def opened(image: PreparedImage) -> Image.Image:
    picture = Image.open(io.BytesIO(image.data))
    picture.load()
    return picture


def assert_uploadable(image: PreparedImage) -> None:
    assert image.format in ("jpeg", "png")
    assert image.route == "uploadimg"
    assert len(image.data) < LIMIT
    assert image.width <= 1080
    picture = opened(image)
    assert picture.format == image.format.upper()
    assert picture.size == (image.width, image.height)


def assert_no_metadata(data: bytes) -> None:
    picture = Image.open(io.BytesIO(data))
    assert not picture.getexif()
    for marker in (b"Exif", b"GPS", b"PhoneMaker", b"http://ns.adobe.com/xap", b"ICC_PROFILE", b"iCCP", b"eXIf"):
        assert marker not in data


# --- photos -----------------------------------------------------------------------------------------


def test_phone_photo_is_turned_upright_shrunk_and_stripped(project: Path, photo_bytes: bytes) -> None:
    assert b"GPS" in photo_bytes or b"\x88\x25" in photo_bytes  # the source really carries a location
    image = prepare(project, "IMG_0001.jpg", photo_bytes)
    assert_uploadable(image)
    assert_no_metadata(image.data)
    assert (image.format, image.width, image.height) == ("jpeg", 1080, 1440)  # portrait now
    assert (image.original_width, image.original_height) == (4000, 3000)
    assert image.original_bytes == len(photo_bytes) > 3_000_000
    picture = opened(image).convert("RGB")
    left = picture.crop((50, 600, 400, 800)).resize((1, 1)).getpixel((0, 0))
    right = picture.crop((680, 600, 1030, 800)).resize((1, 1)).getpixel((0, 0))
    assert left[2] > left[0] + 80  # blue on the left: the stored top (red) was turned to the right
    assert right[0] > right[2] + 80
    assert image.warnings == ()


def test_same_source_gives_same_bytes_and_hash(project: Path, photo_bytes: bytes) -> None:
    first = prepare(project, "a.jpg", photo_bytes)
    second = prepare(project, "b.jpg", photo_bytes)
    assert first.data == second.data
    import hashlib

    assert first.sha256 == second.sha256 == hashlib.sha256(first.data).hexdigest()


def test_quality_is_lowered_before_pixels_then_pixels(project: Path) -> None:
    data = gen.encode(gen.noise((1080, 1400)), "JPEG", quality=95)
    normal = prepare(project, "noisy.jpg", data, max_bytes=10_000_000)
    assert (normal.width, normal.height) == (1080, 1400) and normal.warnings == ()
    squeezed = prepare(project, "noisy.jpg", data, max_bytes=150_000)
    assert len(squeezed.data) < 150_000
    assert squeezed.width < 1080
    assert any("reduced to" in w for w in squeezed.warnings)
    # at the lowest quality a 1080-wide noise image is still too big, so pixels had to go
    medium = prepare(project, "noisy.jpg", data, max_bytes=len(normal.data) - 1)
    assert (medium.width, medium.height) == (1080, 1400)  # a lower quality was enough


def test_cmyk_jpeg_becomes_rgb(project: Path) -> None:
    cmyk = Image.new("CMYK", (600, 400), (0, 255, 255, 0))  # pure red in print colours
    image = prepare(project, "print.jpg", gen.encode(cmyk, "JPEG", quality=90))
    assert_uploadable(image)
    picture = opened(image)
    assert picture.mode == "RGB"
    red, green, blue = picture.getpixel((300, 200))
    assert red > 200 and green < 60 and blue < 60


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [("web.webp", "WEBP", "jpeg"), ("scan.tiff", "TIFF", "png"), ("old.bmp", "BMP", "png"), ("icon.ico", "ICO", "png")],
)
def test_other_formats_are_converted(project: Path, name: str, fmt: str, expected: str) -> None:
    size = (256, 256) if fmt == "ICO" else (1600, 900)
    picture = Image.new("RGB", size, (40, 120, 200))
    picture.paste((250, 250, 250), (10, 10, 100, 100))
    image = prepare(project, name, gen.encode(picture, fmt))
    assert_uploadable(image)
    assert image.format == expected
    assert image.original_format == fmt
    assert image.width == min(size[0], 1080)


def test_palette_and_16_bit_images(project: Path) -> None:
    palette = Image.new("RGB", (300, 200), (200, 40, 40)).quantize(16)
    assert prepare(project, "p.png", gen.encode(palette, "PNG")).format == "png"
    deep = Image.new("I;16", (300, 200), 40000)
    image = prepare(project, "deep.png", gen.encode(deep, "PNG"))
    assert_uploadable(image)
    assert opened(image).getpixel((10, 10)) in (156, 157, (156,) * 3, (157,) * 3)  # 40000 / 256


def test_heif_when_available(project: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    data = gen.encode(Image.new("RGB", (1500, 1000), (30, 160, 60)), "HEIF")
    image = prepare(project, "IMG_0002.HEIC", data)
    assert_uploadable(image)
    assert image.format == "jpeg" and image.width == 1080


# --- screenshots, logos, GIFs, SVG ---------------------------------------------------------------------


def test_huge_png_screenshot_stays_sharp_png_or_fits(project: Path) -> None:
    image = prepare(project, "long.png", gen.encode(gen.screenshot((2560, 8000)), "PNG", compress_level=1))
    assert_uploadable(image)
    assert image.width == 1080 and image.height == round(8000 * 1080 / 2560)
    assert image.format == "png"  # flat colours compress well: no JPEG smear on text


def test_transparent_logo_stays_transparent_png(project: Path) -> None:
    image = prepare(project, "logo.png", gen.encode(gen.logo(), "PNG"))
    assert_uploadable(image)
    assert image.format == "png"
    picture = opened(image)
    assert picture.mode == "RGBA"
    assert picture.getpixel((2, 2))[3] == 0 and picture.getpixel((200, 200))[3] == 255


def test_transparency_is_flattened_on_the_background_when_png_cannot_fit(project: Path) -> None:
    noisy = gen.noise((1080, 2000)).convert("RGBA")
    noisy.putalpha(Image.linear_gradient("L").resize((1080, 2000)))
    image = prepare(project, "glass.png", gen.encode(noisy, "PNG"), background="#102030")
    assert_uploadable(image)
    assert image.format == "jpeg"
    assert any("flattened onto #102030" in w for w in image.warnings)
    r, g, b = opened(image).crop((0, 0, 1080, 4)).resize((1, 1)).getpixel((0, 0))  # alpha 0 at the top
    assert abs(r - 0x10) < 12 and abs(g - 0x20) < 12 and abs(b - 0x30) < 12


def test_animated_gif_stays_animated_as_material(project: Path) -> None:
    source = gen.animated_gif(frames=10)
    image = prepare(project, "anim.gif", source)
    assert (image.format, image.route) == ("gif", "material")
    picture = opened(image)
    assert picture.n_frames == 10
    assert b"31.2N" not in image.data  # the comment block is gone
    picture.seek(4)
    assert picture.convert("RGB").getpixel((100, 100)) == (0, 0, 0)


def test_too_long_gif_becomes_its_first_frame_with_a_warning(project: Path) -> None:
    image = prepare(project, "long.gif", gen.animated_gif(frames=12, size=(40, 30)), gif_max_frames=5)
    assert_uploadable(image)
    assert any("12 frames" in w and "first frame" in w for w in image.warnings)
    assert opened(image).convert("RGB").getpixel((30, 25)) == (255, 0, 0)


def test_svg_is_rasterised_to_png(project: Path) -> None:
    pytest.importorskip("cairosvg")
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="100">'
        b'<rect width="300" height="100" fill="#07c160"/>'
        b'<image href="file:///etc/passwd" width="10" height="10"/></svg>'
    )
    image = prepare(project, "diagram.svg", svg)
    assert_uploadable(image)
    assert (image.format, image.original_format, image.width, image.height) == ("png", "SVG", 600, 200)
    assert opened(image).convert("RGB").getpixel((300, 100)) == (7, 193, 96)


def test_svg_without_cairosvg_says_what_to_do(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "cairosvg", None)
    with pytest.raises(ImageError, match="CairoSVG") as caught:
        prepare(project, "d.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="3" height="1"/>')
    assert "pip install cairosvg" in str(caught.value)


# --- sources ----------------------------------------------------------------------------------------------


def test_data_uri(project: Path) -> None:
    png = gen.encode(gen.logo(64), "PNG")
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    source = resolve_source(uri, post_in(project), project)
    assert source.kind == "data"
    image = prepare_image(source)
    assert image.format == "png" and image.width == 64 and image.source == uri


def test_project_root_is_found_from_markers(tmp_path: Path) -> None:
    (tmp_path / "site" / "a" / "b").mkdir(parents=True)
    (tmp_path / "site" / ".git").mkdir()
    assert find_project_root(tmp_path / "site" / "a" / "b" / "p.md") == (tmp_path / "site").resolve()
    (tmp_path / "lonely").mkdir()
    assert find_project_root(tmp_path / "lonely" / "p.md") == (tmp_path / "lonely").resolve()


def test_paths_outside_the_project_are_refused(project: Path, tmp_path: Path) -> None:
    secret = gen.write(tmp_path, ".ssh/id_rsa", b"-----BEGIN OPENSSH PRIVATE KEY-----\n")
    post = post_in(project)
    with pytest.raises(ImageError, match="outside the project") as caught:
        resolve_source("../../.ssh/id_rsa", post, project, line=4)
    assert str(caught.value).startswith(f"{post}:4: image '../../.ssh/id_rsa'")
    with pytest.raises(ImageError, match="outside the project"):
        resolve_source(str(secret), post, project)
    (project / "posts" / "innocent.jpg").symlink_to(secret)
    with pytest.raises(ImageError, match="outside the project"):
        resolve_source("innocent.jpg", post, project)


def test_missing_file_and_odd_schemes(project: Path) -> None:
    post = post_in(project)
    with pytest.raises(ImageError, match="no such file"):
        resolve_source("nope.png", post, project, line=2)
    with pytest.raises(ImageError, match="'file:' sources are not supported"):
        resolve_source("file:///etc/hosts", post, project)


def test_paths_may_be_escaped_or_rooted(project: Path) -> None:
    gen.write(project / "posts", "my photo.png", gen.encode(gen.logo(64), "PNG"))
    gen.write(project / "static", "img.png", gen.encode(gen.logo(64), "PNG"))
    post = post_in(project)
    assert resolve_source("my%20photo.png", post, project).location.endswith("my photo.png")
    assert resolve_source("/static/img.png", post, project).location == str((project / "static" / "img.png").resolve())


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.jpg", b"just some text\nnot a picture\n", "text file, not an image"),
        ("page.png", b"<!DOCTYPE html><html><body>login</body></html>", "HTML page"),
        ("empty.png", b"", "empty"),
        ("bomb.png", gen.bomb_png(), "decompression bomb"),
    ],
)
def test_non_images_and_bombs_are_refused(project: Path, name: str, data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message) as caught:
        prepare(project, name, data)
    assert caught.value.line == 3 and caught.value.path.endswith("post.md")


def test_a_bomb_within_pillows_limit_is_refused_by_ours(project: Path) -> None:
    with pytest.raises(ImageError, match=r"\(72 million pixels\), the limit is 50 million.*decompression bomb"):
        prepare(project, "big.png", gen.bomb_png(12_000, 6_000), max_pixels=50_000_000)


def test_corrupt_file_is_refused(project: Path, photo_bytes: bytes) -> None:
    with pytest.raises(ImageError, match="damaged") as caught:
        prepare(project, "cut.jpg", photo_bytes[: len(photo_bytes) // 3])
    assert "export or download it again" in str(caught.value)


# --- remote images ---------------------------------------------------------------------------------------


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A web server on 127.0.0.1 serving tmp_path/www (proxies off: nothing leaves the machine)."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_remote_image_is_downloaded_and_checked(project: Path, server) -> None:  # type: ignore[no-untyped-def]
    www, base = server
    gen.write(www, "pic.webp", gen.encode(Image.new("RGB", (2000, 1000), (10, 20, 200)), "WEBP"))
    gen.write(www, "fake.jpg", b"I am text pretending to be an image")
    gen.write(www, "page.html", b"<html><body>hello</body></html>")
    post = post_in(project)
    with pytest.raises(ImageError, match=r"refused: 127\.0\.0\.1 is a loopback address"):
        prepare_image(resolve_source(f"{base}/pic.webp", post, project))
    local = ImageOptions(allow_private_hosts=("127.0.0.1",))
    image = prepare_image(resolve_source(f"{base}/pic.webp", post, project), options=local)
    assert_uploadable(image)
    assert (image.width, image.height, image.original_format) == (1080, 540, "WEBP")
    with pytest.raises(ImageError, match="text file, not an image"):
        prepare_image(resolve_source(f"{base}/fake.jpg", post, project, line=9), options=local)
    with pytest.raises(ImageError, match="sent text/html, not an image"):
        prepare_image(resolve_source(f"{base}/page.html", post, project), options=local)
    with pytest.raises(ImageError, match="HTTP 404"):
        prepare_image(resolve_source(f"{base}/missing.png", post, project), options=local)
    with pytest.raises(ImageError, match="more than the 1 KB allowed|larger than the 1 KB"):
        prepare_image(resolve_source(f"{base}/pic.webp", post, project), options=ImageOptions(max_source_bytes=1000, allow_private_hosts=("127.0.0.1",)))


# --- the cover ---------------------------------------------------------------------------------------------


def crop_box(crop: str, width: int, height: int) -> tuple[int, int, int, int]:
    parts = crop.split("_")
    assert len(parts) == 4 and all(len(p.partition(".")[2]) <= 6 for p in parts)
    x1, y1, x2, y2 = (float(p) for p in parts)
    assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
    return round(x1 * width), round(y1 * height), round(x2 * width), round(y2 * height)


@pytest.mark.parametrize("size", [(1080, 720), (1080, 1440), (1080, 300), (997, 1013), (47, 20)])
@pytest.mark.parametrize("focus", [(0.5, 0.5), (0.0, 0.0), (1.0, 1.0), (0.3, 0.8)])
def test_cover_crops_have_exact_ratios(size: tuple[int, int], focus: tuple[float, float]) -> None:
    wide, square = cover_crops(*size, focus)
    x1, y1, x2, y2 = crop_box(wide, *size)
    assert (x2 - x1) * 20 == (y2 - y1) * 47
    assert x2 - x1 > size[0] - 47 or y2 - y1 > size[1] - 20  # as large as fits
    x1, y1, x2, y2 = crop_box(square, *size)
    assert x2 - x1 == y2 - y1 == min(size)


def test_cover_crop_follows_the_focus() -> None:
    wide, square = cover_crops(1000, 1000, (0.5, 0.3))
    assert wide == "0.007_0.09_0.994_0.51"  # 987×420 (21 × 47:20) centred on (500, 300)
    assert square == "0_0_1_1"
    assert cover_crops(2000, 1000, (0.0, 0.5))[1] == "0_0_0.5_1"
    assert cover_crops(2000, 1000, (1.0, 0.5))[1] == "0.5_0_1_1"


def test_cover_is_a_material_with_crops(project: Path, photo_bytes: bytes) -> None:
    gen.write(project / "posts", "IMG_0001.jpg", photo_bytes)
    source = resolve_source("IMG_0001.jpg", post_in(project), project)
    cover = prepare_image(source, role="cover", focus=(0.5, 0.2))
    assert (cover.role, cover.route, cover.format) == ("cover", "material", "jpeg")
    assert_no_metadata(cover.data)
    assert cover.pic_crop_235_1 == cover_crops(cover.width, cover.height, (0.5, 0.2))[0]
    assert cover.pic_crop_1_1 is not None


def test_choose_cover_and_focus(tmp_path: Path) -> None:
    refs = (ImageRef("a.png", 5), ImageRef("b.png", 9))
    assert choose_cover({"cover": "c.jpg"}, refs).src == "c.jpg"  # type: ignore[union-attr]
    assert choose_cover({}, refs) == refs[0]
    assert choose_cover({}, ()) is None
    assert parse_focus("0.5,0.3") == (0.5, 0.3)
    assert parse_focus([0.2, 1]) == (0.2, 1.0)
    assert parse_focus(None) == (0.5, 0.5)
    with pytest.raises(ImageError, match="cover_focus must be two numbers from 0 to 1"):
        parse_focus("1.5,0")
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: t\ncover: [1, 2]\n---\n")
    with pytest.raises(ImageError, match="'cover' must be a path or URL") as caught:
        choose_cover({"cover": [1, 2]}, refs, post_path=post, key_lines={"cover": 3})
    assert caught.value.line == 3


# --- a whole post, the cache ------------------------------------------------------------------------------


def test_prepare_images_in_parallel_keeps_order_and_caches(project: Path, photo_bytes: bytes) -> None:
    post = post_in(project, "---\ncover: cover.png\ncover_focus: 0.5,0.3\n---\n")
    gen.write(project / "posts", "one.jpg", photo_bytes)
    gen.write(project / "posts", "two.png", gen.encode(gen.logo(), "PNG"))
    gen.write(project / "posts", "cover.png", gen.encode(gen.screenshot((1600, 900)), "PNG"))
    refs = (ImageRef("one.jpg", 6), ImageRef("two.png", 8), ImageRef("one.jpg", 12))
    calls: list[tuple[int, int, str]] = []
    meta = {"cover": "cover.png", "cover_focus": "0.5,0.3"}
    result = prepare_images(refs, post, meta=meta, jobs=2, progress=lambda *a: calls.append(a))
    assert [i.source for i in result.images] == ["one.jpg", "two.png", "one.jpg"]
    assert [i.line for i in result.images] == [6, 8, 12]
    assert result.images[0].data == result.images[2].data
    assert result.cover is not None and result.cover.format == "jpeg"
    assert result.cover.pic_crop_235_1 == cover_crops(result.cover.width, result.cover.height, (0.5, 0.3))[0]
    assert len(calls) == 3 and calls[-1][:2] == (3, 3)
    from wxpub.images.cache import default_cache

    cache = default_cache().folder  # in the user cache, never in the project
    assert not (project / ".wxpub-cache").exists()
    assert len(list(cache.iterdir())) >= 3

    again = prepare_images(refs, post, meta=meta)
    assert all(i.cached for i in again.images) and again.cover is not None and again.cover.cached
    assert [i.data for i in again.images] == [i.data for i in result.images]
    assert again.cover.data == result.cover.data

    for entry in cache.iterdir():  # a damaged entry is recomputed, never trusted
        entry.write_bytes(entry.read_bytes()[:-1] + b"!")
    healed = prepare_images(refs, post, meta=meta, jobs=1)
    assert not healed.images[0].cached and healed.images[0].data == result.images[0].data


def test_prepare_images_reports_the_failing_line_from_a_worker(project: Path) -> None:
    post = post_in(project)
    gen.write(project / "posts", "ok.png", gen.encode(gen.logo(), "PNG"))
    gen.write(project / "posts", "bad.jpg", b"not an image at all")
    refs = (ImageRef("ok.png", 2), ImageRef("bad.jpg", 7))
    with pytest.raises(ImageError) as caught:
        prepare_images(refs, post, cache_dir=None, jobs=2)
    assert (caught.value.path, caught.value.line) == (str(post), 7)
    assert str(caught.value).startswith(f"{post}:7: image 'bad.jpg': this is a text file")


def test_post_without_cover_gives_none(project: Path) -> None:
    result = prepare_images((), post_in(project), cache_dir=None)
    assert result == type(result)(images=(), cover=None)


def test_write_prepared_writes_images_and_crop_previews(project: Path, tmp_path: Path) -> None:
    post = post_in(project)
    gen.write(project / "posts", "shot.png", gen.encode(gen.screenshot((1600, 900)), "PNG"))
    result = prepare_images((ImageRef("shot.png", 1),), post, cache_dir=None)
    written = write_prepared(result, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == ["01-shot.png", "cover-1x1.jpg", "cover-2.35x1.jpg", "cover.jpg"]
    with Image.open(tmp_path / "out" / "cover-2.35x1.jpg") as wide:
        assert wide.size[0] * 20 == wide.size[1] * 47
    with Image.open(tmp_path / "out" / "cover-1x1.jpg") as square:
        assert square.size[0] == square.size[1]
    assert os.path.getsize(tmp_path / "out" / "01-shot.png") == len(result.images[0].data)


# --- the command ------------------------------------------------------------------------------------------


def test_images_command_prints_a_table_and_writes_files(project: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wxpub.cli import main

    gen.write(project / "posts", "logo.png", gen.encode(gen.logo(), "PNG"))
    gen.write(project / "posts", "shot.png", gen.encode(gen.screenshot((1600, 900)), "PNG"))
    post = post_in(project, "---\ntitle: T\ncover: shot.png\n---\n\n# T\n\n![logo](logo.png)\n")
    result = CliRunner().invoke(main, ["images", str(post), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "logo.png" in result.stdout and "png → png" in result.stdout and "cover: shot.png" in result.stdout
    assert "pic_crop_235_1=" in result.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "01-logo.png", "cover-1x1.jpg", "cover-2.35x1.jpg", "cover.jpg"
    ]
    as_json = CliRunner().invoke(main, ["images", str(post), "--json"])
    import json

    rows = json.loads(as_json.stdout)
    assert [(r["source"], r["role"], r["line"]) for r in rows] == [("logo.png", "content", 8), ("shot.png", "cover", 3)]


def test_images_command_fails_in_one_line(project: Path) -> None:
    from click.testing import CliRunner

    from wxpub.cli import main

    post = post_in(project, "# T\n\n![gone](gone.png)\n")
    result = CliRunner().invoke(main, ["images", str(post)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {post}:3: image 'gone.png': no such file (paths are relative to {project / 'posts'})"


def test_a_tiny_cover_is_a_clear_error_and_a_small_one_a_warning(tmp_path: Path) -> None:
    from PIL import Image

    from wxpub.errors import ImageError
    from wxpub.images import prepare_images
    from wxpub.render import ImageRef

    (tmp_path / "wxpub.toml").write_text("")
    post = tmp_path / "post.md"
    post.write_text("![](tiny.png)\n")
    Image.new("RGB", (40, 30), "red").save(tmp_path / "tiny.png")
    with pytest.raises(ImageError, match=r"post.md:1: image 'tiny.png': the cover is 40×30 pixels, too small"):
        prepare_images([ImageRef("tiny.png", 1)], post, cache_dir=None)
    Image.new("RGB", (400, 200), "red").save(tmp_path / "small.png")
    result = prepare_images([ImageRef("small.png", 1)], post, cache_dir=None)
    assert result.cover is not None and any("blurry" in w for w in result.cover.warnings)
