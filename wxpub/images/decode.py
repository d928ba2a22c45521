"""Bytes -> a Pillow image in sRGB: only the formats we allow, bombs refused, SVG drawn with CairoSVG."""

from __future__ import annotations

import io
import math
import re
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from ..errors import ImageError
from .model import ImageOptions
from .sources import ImageSource

# Formats we let Pillow open. Pillow knows more (EPS would run Ghostscript, PSD, FITS ...);
# a post has no business shipping those, and every extra decoder is extra attack surface.
_OPENABLE = ["JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "DIB", "TIFF", "ICO", "AVIF", "HEIF"]


PROBE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Probed:
    """What an image file's header tells: its size as shown, and what preparing it will warn of
    whatever its role (a cover's width is the cover's to judge)."""

    width: int
    height: int
    warnings: tuple[str, ...] = ()

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def probe(source: ImageSource, options: ImageOptions = ImageOptions()) -> Probed | None:
    """Raise the ImageError that preparing `source` would raise for its file, reading only its header;
    return its size in pixels as shown (a phone photo turned upright) and the warnings its header
    already tells, when it tells them (None for SVG and for remote and data: sources).

    For a quick look before any work (a pre-commit hook, or a publish that must refuse to start):
    the file is found, its first bytes are read and its header parsed; no pixel is decoded.
    Remote and data: sources are left for preparation to judge.
    """
    if source.kind != "file":
        return None
    location = Path(source.location)
    try:
        with location.open("rb") as handle:
            head = handle.read(PROBE_BYTES)
    except OSError as exc:
        raise source.fail(f"cannot be read: {exc.strerror}") from None
    if looks_like_svg(head):
        require_cairosvg(source)
        check_svg_size(head, source, options)
        return None
    try:
        image = open_image(head, source, options)
    except ImageError as error:
        if "damaged" not in error.message or location.stat().st_size <= len(head):
            raise
        image = open_image(location.read_bytes(), source, options)  # some formats keep their header at the end (TIFF)
    still = first_frame_only(image)
    return Probed(*shown_size(image), (still,) if still else ())


def first_frame_only(image: ImageFile.ImageFile) -> str | None:
    """The warning for an animation that becomes a still: WeChat animates only GIF (the frame count
    of an animated PNG or WebP is in its header)."""
    if image.format in ("WEBP", "PNG", "AVIF") and getattr(image, "n_frames", 1) > 1:
        return f"animated {image.format}: only the first frame is kept (WeChat animates only GIF)"
    return None


def shown_size(image: ImageFile.ImageFile) -> tuple[int, int]:
    """The size of `image` once turned upright, as preparing it turns it (a JPEG's EXIF orientation,
    read from its header; other formats are taken as stored, since their EXIF may sit after the pixels)."""
    width, height = image.size
    if image.format not in ("JPEG", "MPO"):
        return width, height
    return (height, width) if image.getexif().get(0x0112, 1) in (5, 6, 7, 8) else (width, height)


def open_image(raw: bytes, source: ImageSource, options: ImageOptions) -> ImageFile.ImageFile:
    register_openers()
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
            raise source.fail(f"the image is damaged ({reason(exc)})", hint="export or download it again") from None
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


def reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:120]


_OPENERS_REGISTERED = False


def register_openers() -> None:
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
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError:
            pass  # _what_is_it says how to install it


def looks_like_svg(raw: bytes) -> bool:
    head = raw[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<svg", b"<?xml", b"<!doctype svg", b"<!--")) and b"<svg" in raw[:65536].lower()


def require_cairosvg(source: ImageSource) -> Any:
    try:
        import cairosvg
    except (ImportError, OSError):
        raise source.fail(
            "SVG images need CairoSVG to be turned into PNG",
            hint="pip install cairosvg, or export the drawing as PNG",
            kind="unsupported",
        ) from None
    return cairosvg


_SVG_TAG = re.compile(rb"<svg\b([^>]*)>", re.IGNORECASE)
_SVG_ATTR = re.compile(rb"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_LENGTH = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-z%]*)\s*$", re.IGNORECASE)
# CSS pixels per unit, as CairoSVG draws them (96 per inch).
_UNITS = {"": 1.0, "px": 1.0, "pt": 96 / 72, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0, "em": 16.0, "ex": 8.0}


def svg_declared_size(raw: bytes) -> tuple[float, float] | None:
    """The size the root <svg> declares (width and height, else its viewBox), in px; None if it says none.

    Read from the start tag's attributes with a regular expression, not an XML parser: nothing is
    expanded or fetched, and a drawing that declares 30,000 px is refused before CairoSVG allocates it.
    """
    tag = _SVG_TAG.search(raw[:PROBE_BYTES])
    if tag is None:
        return None
    attrs = {m.group(1).decode("latin-1").lower(): (m.group(2) if m.group(2) is not None else m.group(3) or b"").decode("latin-1")
             for m in _SVG_ATTR.finditer(tag.group(1))}
    box: list[float] = []
    try:
        box = [float(v) for v in re.split(r"[\s,]+", attrs.get("viewbox", "").strip()) if v]
    except ValueError:
        box = []
    box_size = (box[2], box[3]) if len(box) == 4 else None

    def length(name: str, index: int) -> float | None:
        match = _LENGTH.match(attrs.get(name, ""))
        if not match:
            return None
        number, unit = float(match.group(1)), match.group(2).lower()
        if unit == "%":
            return box_size[index] * number / 100 if box_size else None
        return number * _UNITS[unit] if unit in _UNITS else None

    width, height = length("width", 0), length("height", 1)
    if box_size and box_size[0] > 0 and box_size[1] > 0:
        ratio = box_size[1] / box_size[0]
        if width is None and height is None:
            width, height = box_size
        elif height is None and width is not None:
            height = width * ratio
        elif width is None and height is not None:
            width = height / ratio
    if width is None or height is None:
        return None
    return width, height


def check_svg_size(raw: bytes, source: ImageSource, options: ImageOptions) -> tuple[float, float] | None:
    """Refuse an SVG whose declared size would take more pixels to draw than any image may have."""
    declared = svg_declared_size(raw)
    if declared is None:
        return None
    width, height = declared
    if not (0 < width < 1e7 and 0 < height < 1e7):
        raise source.fail(f"the SVG declares a size of {width:g} × {height:g} px", hint="give the <svg> a positive width and height")
    if width * height > options.max_pixels:
        raise _bomb(source, round(width * height), options)
    return declared


def rasterise_svg(raw: bytes, source: ImageSource, options: ImageOptions) -> bytes:
    cairosvg = require_cairosvg(source)
    check_svg_size(raw, source, options)  # before CairoSVG allocates the whole surface
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
        raise source.fail(f"the SVG cannot be drawn ({reason(exc)})", hint="export the drawing as PNG") from None


def decode_reduced(image: ImageFile.ImageFile, max_width: int) -> None:
    """Ask the JPEG decoder for a 1/2, 1/4 or 1/8 scale that is still wide enough: much faster."""
    if image.format not in ("JPEG", "MPO"):
        return
    width, height = image.size
    shown_width = shown_size(image)[0]
    if shown_width <= max_width:
        return
    scale = max_width / shown_width
    image.draft(image.mode, (math.ceil(width * scale), math.ceil(height * scale)))


def to_display(image: Image.Image, options: ImageOptions) -> Image.Image:
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
    low, high = image.getextrema()  # one band: two numbers
    assert isinstance(low, (int, float)) and isinstance(high, (int, float))
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
