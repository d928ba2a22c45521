"""A cover for a new project (`wxpub init`): drawn here so the first post publishes at once."""

from __future__ import annotations

import io


def starter_cover(width: int = 1080, height: int = 608, color: tuple[int, int, int] = (7, 193, 96)) -> bytes:
    """A JPEG cover: a vertical gradient from `color` to a darker shade, with a light band where
    both crops (2.35:1 and 1:1, centred) show it."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        shade = 1 - 0.45 * y / height
        draw.line([(0, y), (width, y)], fill=tuple(int(c * shade) for c in color))
    band = height // 10
    draw.rectangle([width // 2 - 3 * band, height // 2 - band // 2, width // 2 + 3 * band, height // 2 + band // 2], fill=(250, 250, 250))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()
