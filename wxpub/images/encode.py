"""A display-ready image -> JPEG, PNG or GIF bytes under a size limit, without metadata."""

from __future__ import annotations

import io
import math
from typing import Literal

from PIL import Image, ImageColor, ImageFile, ImageSequence

from .decode import reason
from .model import ImageOptions
from .sources import ImageSource, human_size


def shrink(image: Image.Image, max_width: int) -> Image.Image:
    width, height = image.size
    if width <= max_width:
        return image
    new_size = (max_width, max(1, round(height * max_width / width)))
    # Lanczos where a picture shrinks a lot (its sharpness shows there); bicubic, a third cheaper
    # and indistinguishable, for the slight shrink of a picture just over the column's width.
    resample = Image.Resampling.LANCZOS if width >= 2 * max_width else Image.Resampling.BICUBIC
    return image.resize(new_size, resample, reducing_gap=3.0)


def encode(
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
        notes.append(f"transparency flattened onto {options.background} to fit under {human_size(limit)}")
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
            raise source.fail(f"cannot be made smaller than {human_size(limit)}", hint="crop or split the image")
        image = image.resize(new_size, Image.Resampling.LANCZOS)
        data = _save_jpeg(image, quality, subsampling)
    notes.append(f"reduced to {image.size[0]}×{image.size[1]} pixels to fit under {human_size(limit)}")
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


def animated_gif(
    image: ImageFile.ImageFile, source: ImageSource, options: ImageOptions, notes: list[str]
) -> tuple[bytes, tuple[int, int]] | None:
    """Re-encode an animated GIF without metadata (scaled to max_width), or None to use its first frame."""
    frames_count: int = getattr(image, "n_frames", 1)
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
        raise source.fail(f"the GIF is damaged ({reason(exc)})", hint="export or download it again") from None
    finally:
        image.seek(0)
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "GIF", save_all=True, append_images=frames[1:], duration=durations, loop=loop, disposal=2, optimize=False
    )
    data = buffer.getvalue()
    if len(data) > options.gif_max_bytes:
        notes.append(f"animated GIF is {human_size(len(data))} (WeChat allows {human_size(options.gif_max_bytes)}): only the first frame is kept")
        return None
    if size != (width, height):
        notes.append(f"animated GIF scaled to {size[0]}×{size[1]}")
    return data, size
