"""Image sources -> PreparedImage: bytes WeChat accepts, their sha256, and the cover's crop boxes.

WeChat takes article images only from its own servers: content images go up through
`media/uploadimg` (JPEG or PNG, under 1 MB), animated GIFs and the cover as permanent image
materials (up to 10 MB). This module turns whatever a writer drops into a post (phone photos,
screenshots, WebP, transparent logos, GIFs, SVG drawings, `data:` URIs, remote URLs) into such
bytes, with orientation applied and every piece of metadata (EXIF, GPS, XMP, ICC) removed.

It never talks to WeChat. The only network use is downloading an image a post links to.

Decisions a writer may want to know:

* SVG is rasterised to PNG (at twice its own size, at most `max_width` wide) with CairoSVG when it
  is installed, because WeChat keeps only `<img>` sources it hosts and those must be JPEG or PNG.
  External references inside an SVG are never fetched.
* Only GIF stays animated; animated WebP/PNG keep their first frame (with a warning).
* Transparent images stay PNG when they fit; otherwise they are flattened on the theme background.
* The same source with the same options always gives the same bytes, so `sha256` can key uploads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import re
import threading
import time
import warnings
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence
from urllib.parse import unquote, urlsplit

from PIL import Image, ImageCms, ImageColor, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

from .cachefiles import write_atomic
from .errors import ImageError
from .post import find_project_root, front_matter_line
from .render import ImageRef

Role = Literal["content", "cover"]
Route = Literal["uploadimg", "material"]

# Bump when the processing changes, so cached results made by older code are not reused.
_ALGORITHM = "2"
CACHE_SUBDIR = Path(".wxpub-cache") / "images"

# Formats we let Pillow open. Pillow knows more (EPS would run Ghostscript, PSD, FITS ...);
# a post has no business shipping those, and every extra decoder is extra attack surface.
_OPENABLE = ["JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "DIB", "TIFF", "ICO", "AVIF", "HEIF"]
# Sources that are usually drawings or screenshots: try lossless PNG before JPEG.
_LOSSLESS_SOURCES = {"PNG", "GIF", "BMP", "DIB", "TIFF", "ICO", "SVG"}
# 2.35:1 as whole pixels is 47:20.
_RATIO_235 = (47, 20)


@dataclass(frozen=True)
class ImageOptions:
    """How images are prepared; the defaults follow WeChat's limits with a margin."""

    max_width: int = 1080
    max_bytes: int = 1_000_000  # uploadimg takes "under 1 MB": 10^6 satisfies either reading of MB
    cover_max_bytes: int = 5_000_000  # materials may be 10 MB; a cover never needs half of that
    gif_max_bytes: int = 10_000_000  # an animated GIF goes up as a material (10 MB)
    gif_max_frames: int = 300  # the WeChat editor refuses GIFs of more frames
    max_pixels: int = 100_000_000  # larger images are refused as decompression bombs
    max_source_bytes: int = 50_000_000  # for files and downloads alike
    background: str = "#ffffff"  # what transparency is flattened onto: the theme's background
    quality: int = 85  # the first JPEG quality tried ...
    min_quality: int = 60  # ... lowered in steps down to this before pixels are reduced
    quality_step: int = 5
    timeout: float = 15.0  # seconds for a whole download

    def output_key(self) -> str:
        """The options that change output bytes (timeouts and source caps do not)."""
        keep = ("max_width", "max_bytes", "cover_max_bytes", "gif_max_bytes", "gif_max_frames",
                "background", "quality", "min_quality", "quality_step")
        return json.dumps({k: getattr(self, k) for k in keep}, sort_keys=True)


@dataclass(frozen=True)
class ImageSource:
    """Where an image comes from, checked: a file inside the project, an http(s) URL or a data: URI."""

    src: str  # as written in the post
    kind: Literal["file", "url", "data"]
    location: str  # the resolved file path, the URL, or the data: URI itself
    post: Path | None = None  # for error messages
    line: int | None = None

    def fail(self, message: str, hint: str | None = None, kind: str = "unusable") -> ImageError:
        return ImageError(f"image '{_short(self.src)}': {message}", path=self.post, line=self.line, hint=hint, kind=kind)


@dataclass(frozen=True)
class PreparedImage:
    """One image ready to upload: bytes, their sha256, how it goes up, and what was changed on the way."""

    source: str  # as written in the post
    data: bytes = field(repr=False)
    sha256: str
    format: Literal["jpeg", "png", "gif"]
    width: int
    height: int
    original_bytes: int
    original_format: str  # as Pillow names it: "JPEG", "WEBP", ... or "SVG"
    original_width: int
    original_height: int
    role: Role
    route: Route  # "uploadimg" (content JPEG/PNG) or "material" (animated GIF, the cover)
    warnings: tuple[str, ...] = ()
    line: int | None = None
    pic_crop_235_1: str | None = None  # cover only: X1_Y1_X2_Y2 in 0..1
    pic_crop_1_1: str | None = None
    cached: bool = field(default=False, compare=False)

    @property
    def mime(self) -> str:
        return f"image/{self.format}"

    @property
    def filename(self) -> str:
        """A stable upload file name: WeChat guesses the type from the extension."""
        ext = "jpg" if self.format == "jpeg" else self.format
        return f"{self.sha256[:16]}.{ext}"


@dataclass(frozen=True)
class PreparedImages:
    """The images of one post: one entry per reference, in post order, and the cover."""

    images: tuple[PreparedImage, ...]
    cover: PreparedImage | None


# --- where images come from ---------------------------------------------------------------------


def resolve_source(
    src: str, post_path: str | Path | None, root: str | Path, *, line: int | None = None
) -> ImageSource:
    """Check where `src` points without reading it; files must lie inside `root`, symlinks included."""
    post = Path(post_path) if post_path is not None else None
    text = src.strip()
    probe = ImageSource(src, "file", text, post, line)
    if not text:
        raise probe.fail("the image has no source", hint="write ![alt](path/to/image.jpg)")
    lowered = text.lower()
    if lowered.startswith("data:"):
        return ImageSource(src, "data", text, post, line)
    if lowered.startswith("//"):
        text, lowered = "https:" + text, "https:" + lowered
    if lowered.startswith(("http://", "https://")):
        return ImageSource(src, "url", text, post, line)
    if re.match(r"^[a-z][a-z0-9+.-]+:", lowered):
        raise probe.fail(
            f"'{text.split(':', 1)[0]}:' sources are not supported",
            hint="use a path inside the project, an http(s) URL or a data: URI",
        )
    root_dir = Path(root).resolve()
    base = post.resolve().parent if post is not None else root_dir
    path = _find_file(text, base, root_dir)
    if path is None:
        raise probe.fail("no such file", hint=f"paths are relative to {_display(base)}", kind="missing")
    real = path.resolve()
    if not real.is_relative_to(root_dir):
        raise probe.fail(
            f"is outside the project folder {_display(root_dir)}",
            hint="only images inside the project are read; copy the image into it",
            kind="outside",
        )
    if not real.is_file():
        raise probe.fail("is not a file")
    return ImageSource(src, "file", str(real), post, line)


def _find_file(text: str, base: Path, root: Path) -> Path | None:
    candidates = [text]
    without_suffix = text.split("#", 1)[0].split("?", 1)[0]
    for variant in (unquote(text), without_suffix, unquote(without_suffix)):
        if variant not in candidates:
            candidates.append(variant)
    for candidate in candidates:
        path = Path(candidate).expanduser() if candidate.startswith("~") else Path(candidate)
        if path.is_absolute():
            if path.exists():
                return path
            # Site generators write /images/x.png for "from the site root": try the project root.
            rooted = root / candidate.lstrip("/\\")
            if rooted.exists():
                return rooted
        elif (base / path).exists():
            return base / path
    return None


def load_source(source: ImageSource, options: ImageOptions = ImageOptions()) -> bytes:
    """The raw bytes of a source: read, decoded from the data: URI, or downloaded (size cap, timeout)."""
    if source.kind == "file":
        try:
            size = os.stat(source.location).st_size
            if size > options.max_source_bytes:
                raise source.fail(f"is {_human(size)}, more than the {_human(options.max_source_bytes)} allowed")
            return Path(source.location).read_bytes()
        except OSError as exc:
            raise source.fail(f"cannot be read: {exc.strerror}") from None
    if source.kind == "data":
        return _decode_data_uri(source, options)
    return _download(source, options)


def _decode_data_uri(source: ImageSource, options: ImageOptions) -> bytes:
    import base64
    import binascii

    header, comma, payload = source.location.partition(",")
    if not comma:
        raise source.fail("the data: URI has no ',' before its data")
    params = header[5:].split(";")
    mediatype = params[0].strip().lower()
    if mediatype and not mediatype.startswith("image/"):
        raise source.fail(f"the data: URI holds {mediatype}, not an image")
    if "base64" in (p.strip().lower() for p in params[1:]):
        try:
            data = base64.b64decode(re.sub(r"\s+", "", payload), validate=True)
        except (binascii.Error, ValueError):
            raise source.fail("the data: URI is not valid base64") from None
    else:
        data = unquote(payload).encode("latin-1", "replace")
    if len(data) > options.max_source_bytes:
        raise source.fail(f"the data: URI holds more than {_human(options.max_source_bytes)}")
    return data


def _download(source: ImageSource, options: ImageOptions) -> bytes:
    import socket
    import urllib.error
    import urllib.request

    class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
            if urlsplit(newurl).scheme.lower() not in ("http", "https"):
                raise source.fail(f"the server redirected to a non-web address: {_short(newurl)}")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    from . import __version__

    opener = urllib.request.build_opener(_HttpOnlyRedirects())
    request = urllib.request.Request(
        source.location, headers={"User-Agent": f"wxpub/{__version__}", "Accept": "image/*"}
    )
    deadline = time.monotonic() + options.timeout
    cap = options.max_source_bytes
    try:
        with opener.open(request, timeout=options.timeout) as response:
            ctype = response.headers.get_content_type()
            if not (ctype.startswith("image/") or ctype in ("application/octet-stream", "binary/octet-stream")):
                raise source.fail(
                    f"the server sent {ctype}, not an image",
                    hint="link the image file itself, not the page that shows it",
                )
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > cap:
                raise source.fail(f"is {_human(int(declared))}, more than the {_human(cap)} allowed")
            chunks: list[bytes] = []
            total = 0
            while chunk := response.read(64 * 1024):
                total += len(chunk)
                if total > cap:
                    raise source.fail(f"is larger than the {_human(cap)} allowed")
                if time.monotonic() > deadline:
                    raise source.fail(f"download took longer than {options.timeout:g} s")
                chunks.append(chunk)
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise source.fail(f"download failed: HTTP {exc.code} {exc.reason}", hint="check the URL") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise source.fail(f"download timed out after {options.timeout:g} s") from None
        raise source.fail(f"cannot download: {reason}", hint="check the URL and the network") from None
    except (socket.timeout, TimeoutError):
        raise source.fail(f"download timed out after {options.timeout:g} s") from None
    except (OSError, ValueError) as exc:
        raise source.fail(f"cannot download: {exc}") from None


# --- preparing one image --------------------------------------------------------------------------


# A cover must hold a 47×20 (2.35:1) box to crop at all; below about 900 px wide it looks soft in the feed.
COVER_MIN_WIDTH, COVER_MIN_HEIGHT = 47, 20
COVER_GOOD_WIDTH = 900


def prepare_image(
    source: ImageSource,
    *,
    role: Role = "content",
    options: ImageOptions = ImageOptions(),
    cache_dir: Path | None = None,
    focus: tuple[float, float] = (0.5, 0.5),
    data: bytes | None = None,
) -> PreparedImage:
    """Prepare one image for WeChat (see the module docstring); raise ImageError naming the post line.

    `data` may hold the source bytes when the caller already read them. With `cache_dir`, results are
    kept there under a key of the source's sha256 and the options, and reused.
    """
    raw = data if data is not None else load_source(source, options)
    key = _cache_key(raw, role, options)
    prepared = _cache_get(cache_dir, key) if cache_dir is not None else None
    if prepared is None:
        prepared = _process(raw, source, role, options)
        if cache_dir is not None:
            _cache_put(cache_dir, key, prepared)
    return _finish(prepared, source, role, focus)


def _finish(prepared: PreparedImage, source: ImageSource, role: Role, focus: tuple[float, float]) -> PreparedImage:
    crops: dict[str, Any] = {}
    warnings = prepared.warnings
    if role == "cover":
        if prepared.width < COVER_MIN_WIDTH or prepared.height < COVER_MIN_HEIGHT:
            raise source.fail(
                f"the cover is {prepared.width}×{prepared.height} pixels, too small to crop for the feed",
                hint=f"use a picture at least {COVER_MIN_WIDTH}×{COVER_MIN_HEIGHT} (900×383 looks sharp)",
            )
        if prepared.width < COVER_GOOD_WIDTH:
            warnings += (f"the cover is only {prepared.width} px wide; it looks blurry in the feed below {COVER_GOOD_WIDTH} px",)
        crop_235, crop_11 = cover_crops(prepared.width, prepared.height, focus)
        crops = {"pic_crop_235_1": crop_235, "pic_crop_1_1": crop_11}
    return dataclasses.replace(prepared, source=source.src, line=source.line, warnings=warnings, **crops)


def _process(raw: bytes, source: ImageSource, role: Role, options: ImageOptions) -> PreparedImage:
    notes: list[str] = []
    if _looks_like_svg(raw):
        raw_png = _rasterise_svg(raw, source, options)
        image = _open(raw_png, source, options)
        original_format, original_size = "SVG", image.size
    else:
        image = _open(raw, source, options)
        original_format, original_size = image.format or "?", image.size

    if original_format == "GIF" and getattr(image, "n_frames", 1) > 1 and role == "content":
        animated = _animated_gif(image, source, options, notes)
        if animated is not None:
            data, size = animated
            return _result(raw, data, "gif", size, original_format, original_size, role, "material", notes)
    elif getattr(image, "n_frames", 1) > 1 and original_format in ("WEBP", "PNG", "AVIF"):
        notes.append(f"animated {original_format}: only the first frame is kept (WeChat animates only GIF)")

    _decode_reduced(image, options.max_width)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise source.fail(f"the image is damaged ({_reason(exc)})", hint="export or download it again") from None
    ImageOps.exif_transpose(image, in_place=True)  # in place: a copy of every photo costs 3 ms for nothing
    image = _to_display(image, options)
    image = _shrink(image, options.max_width)
    limit = options.cover_max_bytes if role == "cover" else options.max_bytes
    lossless_first = original_format in _LOSSLESS_SOURCES and role == "content"
    data, fmt = _encode(image, limit, lossless_first, options, source, notes)
    final = Image.open(io.BytesIO(data))
    route: Route = "material" if role == "cover" else "uploadimg"
    return _result(raw, data, fmt, final.size, original_format, original_size, role, route, notes)


def _result(
    raw: bytes,
    data: bytes,
    fmt: Any,
    size: tuple[int, int],
    original_format: str,
    original_size: tuple[int, int],
    role: Role,
    route: Route,
    notes: list[str],
) -> PreparedImage:
    return PreparedImage(
        source="",
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        width=size[0],
        height=size[1],
        original_bytes=len(raw),
        original_format=original_format,
        original_width=original_size[0],
        original_height=original_size[1],
        role=role,
        route=route,
        warnings=tuple(notes),
    )


PROBE_BYTES = 64 * 1024


def probe(source: ImageSource, options: ImageOptions = ImageOptions()) -> None:
    """Raise the ImageError that preparing `source` would raise for its file, reading only its header.

    For a quick look before any work (a pre-commit hook, or a publish that must refuse to start):
    the file is found, its first bytes are read and its header parsed; no pixel is decoded.
    Remote and data: sources are left for preparation to judge.
    """
    if source.kind != "file":
        return
    location = Path(source.location)
    try:
        with location.open("rb") as handle:
            head = handle.read(PROBE_BYTES)
    except OSError as exc:
        raise source.fail(f"cannot be read: {exc.strerror}") from None
    if _looks_like_svg(head):
        _require_cairosvg(source)
        return
    try:
        _open(head, source, options)
    except ImageError as error:
        if "damaged" not in error.message or location.stat().st_size <= len(head):
            raise
        _open(location.read_bytes(), source, options)  # some formats keep their header at the end (TIFF)


def _open(raw: bytes, source: ImageSource, options: ImageOptions) -> ImageFile.ImageFile:
    _register_optional_openers()
    _register_heif_if_needed(raw)
    with warnings.catch_warnings():
        # We apply our own pixel limit below; Pillow's warning would only be noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(raw), formats=[f for f in _OPENABLE if f in Image.OPEN])
        except Image.DecompressionBombError as exc:
            claimed = re.search(r"\((\d+) pixels\)", str(exc))
            raise _bomb(source, int(claimed.group(1)) if claimed else None, options) from None
        except UnidentifiedImageError:
            what, kind = _what_is_it(raw)
            raise source.fail(what, hint="use a JPEG, PNG, GIF, WebP or SVG file", kind=kind) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise source.fail(f"the image is damaged ({_reason(exc)})", hint="export or download it again") from None
    width, height = image.size
    if width * height > options.max_pixels or width <= 0 or height <= 0:
        raise _bomb(source, width * height, options)
    return image


def _bomb(source: ImageSource, pixels: int | None, options: ImageOptions) -> ImageError:
    claimed = f" ({pixels / 1_000_000:,.0f} million pixels)" if pixels else ""
    return source.fail(
        f"refused: too many pixels{claimed}, the limit is {options.max_pixels / 1_000_000:,.0f} million; "
        "it may be a decompression bomb",
        hint="resize the image before adding it",
    )


def _what_is_it(raw: bytes) -> tuple[str, str]:
    """Why Pillow cannot open `raw`, in words, and the ImageError kind: unsupported, or unusable."""
    head = raw[:512].lstrip().lower()
    if not raw:
        return "the file is empty, not an image", "unusable"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "this is an HTML page, not an image", "unusable"
    if head.startswith(b"%pdf"):
        return "this is a PDF, not an image", "unusable"
    if raw[4:8] == b"ftyp" and raw[8:12] in _HEIF_BRANDS:
        return "HEIF/HEIC images need the optional pillow-heif package (pip install 'wxpub[heif]')", "unsupported"
    try:
        raw[:4096].decode("utf-8")
        return "this is a text file, not an image", "unusable"
    except UnicodeDecodeError:
        return "not an image that can be read (unknown or unsupported format)", "unsupported"


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:120]


_OPENERS_REGISTERED = False


def _register_optional_openers() -> None:
    global _OPENERS_REGISTERED
    if _OPENERS_REGISTERED:
        return
    # The plugins of the formats we open, and no others: Image.init() would load all forty of them
    # (PDF, PSD, …), which costs more than probing a dozen images.
    Image.preinit()  # BMP (and DIB), GIF, JPEG, PNG
    import importlib

    for plugin in ("MpoImagePlugin", "WebPImagePlugin", "TiffImagePlugin", "IcoImagePlugin", "AvifImagePlugin"):
        try:
            importlib.import_module(f"PIL.{plugin}")
        except ImportError:  # a Pillow built without it, or too old to have it
            pass
    _OPENERS_REGISTERED = True  # only once all are in: a thread that sees it may open any format


_HEIF_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"heim", b"heis")
_HEIF_LOCK = threading.Lock()


def _register_heif_if_needed(raw: bytes) -> None:
    """pillow-heif (optional) comes in only for an iPhone photo: importing it costs a probe of ten images."""
    if raw[4:8] != b"ftyp" or raw[8:12] not in _HEIF_BRANDS:
        return
    with _HEIF_LOCK:
        if "HEIF" in Image.OPEN:
            return
        try:
            import pillow_heif  # type: ignore[import-not-found]

            pillow_heif.register_heif_opener()
        except ImportError:
            pass  # _what_is_it says how to install it


def _looks_like_svg(raw: bytes) -> bool:
    head = raw[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<svg", b"<?xml", b"<!doctype svg", b"<!--")) and b"<svg" in raw[:65536].lower()


def _require_cairosvg(source: ImageSource) -> Any:
    try:
        import cairosvg  # type: ignore[import-untyped]
    except (ImportError, OSError):
        raise source.fail(
            "SVG images need CairoSVG to be turned into PNG",
            hint="pip install cairosvg, or export the drawing as PNG",
            kind="unsupported",
        ) from None
    return cairosvg


def _rasterise_svg(raw: bytes, source: ImageSource, options: ImageOptions) -> bytes:
    cairosvg = _require_cairosvg(source)
    try:
        # unsafe stays False: no XML entities, and href/url() references are never fetched.
        natural = cairosvg.svg2png(bytestring=raw)
        width, height = Image.open(io.BytesIO(natural)).size
        # Twice the drawing's own size keeps lines sharp on phone screens, within max_width.
        target = min(options.max_width, width * 2)
        if width * height * (target / width) ** 2 > options.max_pixels:
            raise _bomb(source, width * height, options)
        return cairosvg.svg2png(bytestring=raw, output_width=target, output_height=round(height * target / width))
    except ImageError:
        raise
    except Exception as exc:  # CairoSVG raises many kinds (XML, value, cairo errors) for bad input
        raise source.fail(f"the SVG cannot be drawn ({_reason(exc)})", hint="export the drawing as PNG") from None


def _decode_reduced(image: ImageFile.ImageFile, max_width: int) -> None:
    """Ask the JPEG decoder for a 1/2, 1/4 or 1/8 scale that is still wide enough: much faster."""
    if image.format not in ("JPEG", "MPO"):
        return
    width, height = image.size
    orientation = image.getexif().get(0x0112, 1)
    shown_width = height if orientation in (5, 6, 7, 8) else width
    if shown_width <= max_width:
        return
    scale = max_width / shown_width
    image.draft(image.mode, (math.ceil(width * scale), math.ceil(height * scale)))


def _to_display(image: Image.Image, options: ImageOptions) -> Image.Image:
    """Any Pillow mode -> L, RGB or RGBA in sRGB, with no metadata left in `info`."""
    icc = image.info.get("icc_profile")
    mode = image.mode
    if mode == "1":
        image = image.convert("L")
    elif mode == "P" or mode == "PA":
        image = image.convert("RGBA")
    elif mode in ("LA", "La", "RGBa"):
        image = image.convert("RGBA")
    elif mode.startswith("I") or mode == "F":
        image = _to_8bit(image)
    elif mode == "CMYK":
        image = _from_profile(image, icc, "RGB") or image.convert("RGB")
        icc = None
    elif mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in mode else "RGB")
    if icc and image.mode in ("RGB", "RGBA"):
        image = _from_profile(image, icc, image.mode) or image
    if image.mode == "RGBA" and image.getchannel("A").getextrema()[0] == 255:
        image = image.convert("RGB")  # an alpha channel that is fully opaque is just weight
    image.info = {}
    return image


def _to_8bit(image: Image.Image) -> Image.Image:
    if image.mode.startswith("I;16"):
        image = image.convert("I")
    low, high = image.getextrema()
    if 0 <= low and high <= 65535:
        # 16-bit data: keep the tones, just drop the low byte.
        return image.point(lambda v: v * (1 / 256) if high > 255 else v).convert("L")
    scale = 255 / (high - low) if high > low else 1
    return image.point(lambda v: (v - low) * scale).convert("L")


def _from_profile(image: Image.Image, icc: bytes | None, mode: str) -> Image.Image | None:
    """Convert colours to sRGB through the embedded ICC profile, so dropping the profile loses nothing."""
    if not icc:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if image.mode != "CMYK" and "srgb" in (ImageCms.getProfileDescription(profile) or "").lower():
            return None
        converted = ImageCms.profileToProfile(image, profile, ImageCms.createProfile("sRGB"), outputMode=mode)
        return converted if converted is not None else None
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # a broken profile: the plain conversion is the best guess


def _shrink(image: Image.Image, max_width: int) -> Image.Image:
    width, height = image.size
    if width <= max_width:
        return image
    new_size = (max_width, max(1, round(height * max_width / width)))
    # Lanczos where a picture shrinks a lot (its sharpness shows there); bicubic, a third cheaper
    # and indistinguishable, for the slight shrink of a picture just over the column's width.
    resample = Image.Resampling.LANCZOS if width >= 2 * max_width else Image.Resampling.BICUBIC
    return image.resize(new_size, resample, reducing_gap=3.0)


def _encode(
    image: Image.Image,
    limit: int,
    lossless_first: bool,
    options: ImageOptions,
    source: ImageSource,
    notes: list[str],
) -> tuple[bytes, Literal["jpeg", "png"]]:
    """PNG when it fits and suits the picture, else JPEG: quality first, then pixels, until under `limit`."""
    if image.mode == "RGBA":
        data = _save_png(image)
        if len(data) < limit:
            return data, "png"
        fewer = _save_png(image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE))
        if len(fewer) < limit:
            notes.append("reduced to 256 colours to stay a transparent PNG under the size limit")
            return fewer, "png"
        notes.append(f"transparency flattened onto {options.background} to fit under {_human(limit)}")
        image = _flatten(image, options.background)
    elif lossless_first:
        data = _save_png(image)
        if len(data) < limit:
            return data, "png"
    # Photos take 4:2:0 chroma well; drawings and screenshots keep coloured text sharp with 4:4:4.
    subsampling = 0 if lossless_first else 2
    quality = options.quality
    while True:
        data = _save_jpeg(image, quality, subsampling)
        if len(data) < limit:
            return data, "jpeg"
        if quality - options.quality_step < options.min_quality:
            break
        quality -= options.quality_step
    while len(data) >= limit:
        width, height = image.size
        factor = min(0.9, math.sqrt(limit / len(data)) * 0.95)
        new_size = (max(1, int(width * factor)), max(1, int(height * factor)))
        if new_size[0] < 16 or new_size[1] < 16:
            raise source.fail(f"cannot be made smaller than {_human(limit)}", hint="crop or split the image")
        image = image.resize(new_size, Image.Resampling.LANCZOS)
        data = _save_jpeg(image, quality, subsampling)
    notes.append(f"reduced to {image.size[0]}×{image.size[1]} pixels to fit under {_human(limit)}")
    return data, "jpeg"


def _save_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=9)
    return buffer.getvalue()


def _save_jpeg(image: Image.Image, quality: int, subsampling: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True, subsampling=subsampling)
    return buffer.getvalue()


def _flatten(image: Image.Image, background: str) -> Image.Image:
    try:
        colour = ImageColor.getrgb(background)[:3]
    except ValueError:
        colour = (255, 255, 255)
    base = Image.new("RGB", image.size, colour)
    base.paste(image, mask=image.getchannel("A"))
    return base


def _animated_gif(
    image: ImageFile.ImageFile, source: ImageSource, options: ImageOptions, notes: list[str]
) -> tuple[bytes, tuple[int, int]] | None:
    """Re-encode an animated GIF without metadata (scaled to max_width), or None to use its first frame."""
    frames_count = image.n_frames
    width, height = image.size
    if frames_count > options.gif_max_frames:
        notes.append(f"animated GIF has {frames_count} frames (WeChat allows {options.gif_max_frames}): only the first frame is kept")
        return None
    if width * height * frames_count > options.max_pixels * 4:
        notes.append("animated GIF is too large to keep animated: only the first frame is kept")
        return None
    size = (width, height)
    if width > options.max_width:
        size = (options.max_width, max(1, round(height * options.max_width / width)))
    frames: list[Image.Image] = []
    durations: list[int] = []
    try:
        for frame in ImageSequence.Iterator(image):
            durations.append(int(frame.info.get("duration", 100)) or 100)
            rgba = frame.convert("RGBA")
            rgba.info = {}  # comments and XMP application blocks stay behind
            frames.append(rgba if rgba.size == size else rgba.resize(size, Image.Resampling.LANCZOS))
        loop = image.info.get("loop", 0)
    except (OSError, SyntaxError, ValueError) as exc:
        raise source.fail(f"the GIF is damaged ({_reason(exc)})", hint="export or download it again") from None
    finally:
        image.seek(0)
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "GIF", save_all=True, append_images=frames[1:], duration=durations, loop=loop, disposal=2, optimize=False
    )
    data = buffer.getvalue()
    if len(data) > options.gif_max_bytes:
        notes.append(f"animated GIF is {_human(len(data))} (WeChat allows {_human(options.gif_max_bytes)}): only the first frame is kept")
        return None
    if size != (width, height):
        notes.append(f"animated GIF scaled to {size[0]}×{size[1]}")
    return data, size


# --- the cover ------------------------------------------------------------------------------------


def cover_crops(width: int, height: int, focus: tuple[float, float] = (0.5, 0.5)) -> tuple[str, str]:
    """(pic_crop_235_1, pic_crop_1_1) for an image of width×height, each centred on `focus` where it fits.

    Each box is the largest of exactly 47:20 (2.35:1) or 1:1 whole pixels, written `X1_Y1_X2_Y2` as
    fractions of the picture with at most six decimals.
    """
    return _crop(width, height, _RATIO_235, focus), _crop(width, height, (1, 1), focus)


def _crop(width: int, height: int, ratio: tuple[int, int], focus: tuple[float, float]) -> str:
    units = min(width // ratio[0], height // ratio[1])
    if units < 1:
        raise ValueError(f"an image of {width}×{height} pixels is too small for a {ratio[0]}:{ratio[1]} crop")
    crop_w, crop_h = ratio[0] * units, ratio[1] * units
    x1 = _place(focus[0] * width, crop_w, width)
    y1 = _place(focus[1] * height, crop_h, height)
    values = (x1 / width, y1 / height, (x1 + crop_w) / width, (y1 + crop_h) / height)
    return "_".join(_decimal(v) for v in values)


def _place(centre: float, size: int, total: int) -> int:
    return min(max(int(math.floor(centre - size / 2 + 0.5)), 0), total - size)


def _decimal(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def parse_focus(value: Any, *, path: str | Path | None = None, line: int | None = None) -> tuple[float, float]:
    """`cover_focus` as written ("0.5,0.3", "0.5 0.3" or [0.5, 0.3]) -> (x, y), each in 0..1."""
    if value is None or value == "":
        return (0.5, 0.5)
    parts: list[Any] = re.split(r"[,\s]+", value.strip()) if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else []
    try:
        x, y = (float(p) for p in parts)
        if 0 <= x <= 1 and 0 <= y <= 1:
            return (x, y)
    except (TypeError, ValueError):
        pass
    raise ImageError(
        f"front matter: cover_focus must be two numbers from 0 to 1, not {value!r}",
        path=path,
        line=line,
        hint="write e.g. 'cover_focus: 0.5,0.3' (x from the left, y from the top)",
    )


def choose_cover(meta: Mapping[str, Any], images: Sequence[ImageRef], *, post_path: str | Path | None = None) -> ImageRef | None:
    """The cover: front matter `cover:` (path or URL), else the post's first image, else None."""
    cover = meta.get("cover")
    if cover not in (None, ""):
        if not isinstance(cover, str):
            raise ImageError(
                "front matter: 'cover' must be a path or URL",
                path=post_path,
                line=front_matter_line(post_path, "cover"),
                hint="write e.g. 'cover: images/cover.jpg'",
            )
        return ImageRef(src=cover, line=front_matter_line(post_path, "cover"), alt="cover")
    return images[0] if images else None


NO_COVER = "the post has no cover: no 'cover:' in the front matter and no image in the post"
NO_COVER_HINT = "add 'cover: path/to/image.jpg' to the front matter"


# --- a whole post -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """One image to prepare, in a worker thread."""

    source: ImageSource
    role: Role
    options: ImageOptions
    cache_dir: Path | None
    focus: tuple[float, float]
    data: bytes | None = field(default=None, repr=False)


def _work(job: _Job) -> PreparedImage:
    return prepare_image(job.source, role=job.role, options=job.options, cache_dir=job.cache_dir, focus=job.focus, data=job.data)


def prepare_images(
    refs: Sequence[ImageRef],
    post_path: str | Path | None,
    *,
    meta: Mapping[str, Any] | None = None,
    cover: bool = True,
    options: ImageOptions = ImageOptions(),
    root: str | Path | None = None,
    cache_dir: Path | None | Literal["default"] = "default",
    jobs: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    on_ready: Callable[[PreparedImage], None] | None = None,
) -> PreparedImages:
    """Prepare every image of a post (and its cover, when `cover`), in parallel, the same bytes every run.

    `meta` is the front matter (for `cover` and `cover_focus`). The project root defaults to
    find_project_root(post_path); the cache to `.wxpub-cache/images` under it (None: no cache).
    `jobs` caps worker threads (default: the usable cores). `progress(done, total, src)` is
    called as images finish, and `on_ready(image)` with each distinct image as soon as it is
    ready, so that uploads can start while the rest are still being prepared. A post with no
    cover gives `cover=None`: publishing must refuse it.
    """
    meta = meta or {}
    post = Path(post_path) if post_path is not None else None
    root_dir = Path(root) if root is not None else (find_project_root(post) if post else Path.cwd())
    cache = root_dir / CACHE_SUBDIR if cache_dir == "default" else cache_dir

    wanted: list[tuple[ImageRef, Role]] = [(ref, "content") for ref in refs]
    focus = (0.5, 0.5)
    cover_ref = choose_cover(meta, refs, post_path=post) if cover else None
    if cover_ref is not None:
        # The cover first: it is the most work (crops, a larger size) and the draft needs it.
        wanted.insert(0, (cover_ref, "cover"))
        focus = parse_focus(meta.get("cover_focus"), path=post, line=front_matter_line(post, "cover_focus"))

    # Each distinct (source, role) is prepared once, however often the post uses it.
    unique: dict[tuple[str, Role], ImageSource] = {}
    for ref, role in wanted:
        if (ref.src, role) not in unique:
            unique[(ref.src, role)] = resolve_source(ref.src, post, root_dir, line=ref.line)

    done: dict[tuple[str, Role], PreparedImage] = {}
    pending: list[tuple[tuple[str, Role], _Job]] = []
    for key, source in unique.items():
        role = key[1]
        job_focus = focus if role == "cover" else (0.5, 0.5)
        data = None
        if source.kind != "url":
            # Local bytes are cheap to hash here; a cache hit then costs no worker at all.
            data = load_source(source, options)
            hit = _cache_get(cache, _cache_key(data, role, options)) if cache is not None else None
            if hit is not None:
                done[key] = _finish(hit, source, role, job_focus)
                continue
        pending.append((key, _Job(source, role, options, cache, job_focus, data)))

    total, finished = len(unique), 0
    for key, image in done.items():
        finished += 1
        if progress:
            progress(finished, total, key[0])
        if on_ready:
            on_ready(image)
    for key, outcome in _run_jobs([job for _, job in pending], jobs):
        done[pending[key][0]] = outcome
        finished += 1
        if progress:
            progress(finished, total, pending[key][0][0])
        if on_ready:
            on_ready(outcome)

    content = tuple(
        dataclasses.replace(done[(ref.src, "content")], line=ref.line) for ref in refs
    )
    cover_image = done[(cover_ref.src, "cover")] if cover_ref is not None else None
    return PreparedImages(images=content, cover=cover_image)


def _run_jobs(jobs_list: list[_Job], jobs: int | None):  # type: ignore[no-untyped-def]
    """Yield (index, outcome) as jobs finish: inline for one job, else on a pool of threads."""
    workers = min(jobs or _usable_cores(), len(jobs_list))
    if workers <= 1:
        for index, job in enumerate(jobs_list):
            yield index, _work(job)
        return
    from concurrent.futures import ThreadPoolExecutor, as_completed

    _register_optional_openers()  # every format plugin, before two threads race to register them

    # Threads, not processes: Pillow releases the GIL while it decodes, resamples and encodes, so
    # threads keep every core busy without pickling megabytes to workers, without worker start-up,
    # and without the `if __name__ == "__main__"` guard that process pools demand of scripts.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wxpub-image") as pool:
        futures: dict[Future[PreparedImage], int] = {
            pool.submit(_work, job): index for index, job in enumerate(jobs_list)
        }
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# --- the cache ----------------------------------------------------------------------------------------


def _cache_key(raw: bytes, role: Role, options: ImageOptions) -> str:
    from PIL import __version__ as pillow_version

    digest = hashlib.sha256()
    # Pillow's encoders may change between versions, and the promise is "same bytes every run".
    digest.update(f"wxpub-images/{_ALGORITHM}|pillow/{pillow_version}|{role}|{options.output_key()}|".encode())
    digest.update(hashlib.sha256(raw).digest())
    return digest.hexdigest()


def _cache_get(cache_dir: Path | None, key: str) -> PreparedImage | None:
    if cache_dir is None:
        return None
    folder = cache_dir / key[:2]
    try:
        meta = json.loads((folder / f"{key}.json").read_text("utf-8"))
        data = (folder / f"{key}.bin").read_bytes()
    except (OSError, ValueError):
        return None
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        return None  # a damaged or half-written entry: recompute it
    try:
        meta["warnings"] = tuple(meta["warnings"])
        return PreparedImage(source="", data=data, cached=True, **meta)
    except TypeError:
        return None


def _cache_put(cache_dir: Path, key: str, prepared: PreparedImage) -> None:
    folder = cache_dir / key[:2]
    meta = {
        f.name: getattr(prepared, f.name)
        for f in dataclasses.fields(prepared)
        if f.name not in ("source", "data", "line", "pic_crop_235_1", "pic_crop_1_1", "cached")
    }
    meta["warnings"] = list(prepared.warnings)
    try:
        # The data first and the JSON last: an entry counts only once its JSON exists.
        write_atomic(folder / f"{key}.bin", prepared.data)
        write_atomic(folder / f"{key}.json", json.dumps(meta, sort_keys=True).encode())
    except OSError:
        pass  # a cache that cannot be written only costs time


# --- looking at the result ----------------------------------------------------------------------------


def write_prepared(result: PreparedImages, out_dir: str | Path) -> list[Path]:
    """Write the prepared images to `out_dir` (NN-name.ext, cover.ext and previews of both cover crops)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    seen: set[str] = set()
    for number, image in enumerate(result.images, start=1):
        if image.sha256 in seen:
            continue
        seen.add(image.sha256)
        path = out / f"{number:02d}-{_stem(image.source)}.{_ext(image)}"
        path.write_bytes(image.data)
        written.append(path)
    cover = result.cover
    if cover is not None:
        path = out / f"cover.{_ext(cover)}"
        path.write_bytes(cover.data)
        written.append(path)
        picture = Image.open(io.BytesIO(cover.data))
        for name, crop in (("2.35x1", cover.pic_crop_235_1), ("1x1", cover.pic_crop_1_1)):
            if not crop:
                continue
            x1, y1, x2, y2 = (float(v) for v in crop.split("_"))
            box = (round(x1 * cover.width), round(y1 * cover.height), round(x2 * cover.width), round(y2 * cover.height))
            preview = out / f"cover-{name}.jpg"
            picture.crop(box).convert("RGB").save(preview, "JPEG", quality=90)
            written.append(preview)
    return written


def _ext(image: PreparedImage) -> str:
    return "jpg" if image.format == "jpeg" else image.format


def _stem(src: str) -> str:
    if src.lower().startswith("data:"):
        return "data"
    name = Path(urlsplit(src).path).stem if "://" in src else Path(src).stem
    name = re.sub(r"[^\w.-]+", "-", unquote(name)).strip("-.")
    return name[:40] or "image"


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:60] + "…" + text[-12:]


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _human(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1000:
        return f"{size / 1000:.0f} KB"
    return f"{size} B"
