"""Images made with Pillow at test time: the kinds of files writers drop into posts."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

RED = (220, 30, 30)
BLUE = (30, 30, 220)


def noise(size: tuple[int, int], seed_shift: int = 0) -> Image.Image:
    """Photo-like entropy, fast: three noise planes (JPEG cannot squeeze them much)."""
    planes = [Image.effect_noise(size, 48 + 7 * ((i + seed_shift) % 5)) for i in range(3)]
    return Image.merge("RGB", planes)


def photo(
    size: tuple[int, int] = (4000, 3000),
    *,
    orientation: int = 6,
    gps: bool = True,
    tint: int = 0,
) -> bytes:
    """A phone photo as stored by the camera: top half red, bottom half blue, plus noise and EXIF.

    With orientation 6 the viewer turns it 90° clockwise: red ends up on the right, blue on the left.
    """
    width, height = size
    base = Image.new("RGB", size, BLUE)
    base.paste(Image.new("RGB", (width, height // 2), RED), (0, 0))
    if tint:
        base.paste(Image.new("RGB", (width // 8, height // 8), (tint % 256, 200, 40)), (0, 0))
    picture = Image.blend(base, noise(size, tint), 0.25)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Phone 15 Pro"
    if gps:
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd.update({1: "N", 2: (31.0, 14.0, 7.5), 3: "E", 4: (121.0, 28.0, 3.25)})
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def screenshot(size: tuple[int, int] = (2560, 8000)) -> Image.Image:
    """A long screenshot: a white page with lines of grey 'text' and a coloured button."""
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for row, y in enumerate(range(40, size[1] - 40, 48)):
        length = size[0] - 160 - (row * 137) % (size[0] // 2)
        draw.rectangle((80, y, 80 + length, y + 22), fill=(60, 60, 60))
        if row % 25 == 0:
            draw.rectangle((80, y, 480, y + 40), fill=(7, 193, 96))
    return image


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def logo(size: int = 400) -> Image.Image:
    """A transparent logo: a green disc on nothing."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((20, 20, size - 20, size - 20), fill=(7, 193, 96, 255))
    return image


def animated_gif(frames: int = 10, size: tuple[int, int] = (200, 150)) -> bytes:
    colours = [(255, 0, 0), (0, 160, 0), (0, 0, 255), (240, 200, 0), (0, 0, 0)]
    images = [Image.new("RGB", size, colours[i % len(colours)]) for i in range(frames)]
    for i, image in enumerate(images):
        ImageDraw.Draw(image).rectangle((i * 3 % size[0], 10, i * 3 % size[0] + 20, 40), fill=(255, 255, 255))
    buffer = io.BytesIO()
    images[0].save(
        buffer, "GIF", save_all=True, append_images=images[1:], duration=80, loop=0, comment=b"made at 31.2N 121.4E"
    )
    return buffer.getvalue()


def bomb_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A tiny PNG whose header claims a huge size: opening it must be refused before decoding."""
    data = encode(Image.new("L", (8, 8)), "PNG")
    ihdr_at = data.index(b"IHDR")
    header = struct.pack(">II", width, height) + data[ihdr_at + 12 : ihdr_at + 17]
    chunk = b"IHDR" + header
    patched = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF)
    return data[: ihdr_at - 4] + patched + data[ihdr_at + 4 + len(header) + 4 :]


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
