"""The cover: which picture it is, where its focus lies, and its 2.35:1 and 1:1 crop boxes."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ImageError
from ..render import ImageRef
from .sources import ImageSource

# 2.35:1 as whole pixels is 47:20.
_RATIO_235 = (47, 20)


# A cover must hold a 47×20 (2.35:1) box to crop at all; below about 900 px wide it looks soft in the feed.
COVER_MIN_WIDTH, COVER_MIN_HEIGHT = 47, 20


COVER_GOOD_WIDTH = 900


def blurry_cover(width: int) -> str | None:
    """The warning for a cover `width` px wide as uploaded, when it looks blurry in the feed (None when sharp).

    Preparing the cover asks it with the picture's final width, `wxpub check` with the width its
    header gives (turned as the photo is shown): they agree, since publishing makes no picture
    wider and narrows one only down to 1080 px."""
    if width >= COVER_GOOD_WIDTH:
        return None
    return f"the cover is only {width} px wide; it looks blurry in the feed below {COVER_GOOD_WIDTH} px"


def check_cover_size(width: int, height: int, source: ImageSource) -> None:
    """A cover must hold a 2.35:1 box of whole pixels to be cropped for the feed at all."""
    if width < COVER_MIN_WIDTH or height < COVER_MIN_HEIGHT:
        raise source.fail(
            f"the cover is {width}×{height} pixels, too small to crop for the feed",
            hint=f"use a picture at least {COVER_MIN_WIDTH}×{COVER_MIN_HEIGHT} (900×383 looks sharp)",
        )


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


def choose_cover(
    meta: Mapping[str, Any],
    images: Sequence[ImageRef],
    *,
    post_path: str | Path | None = None,
    key_lines: Mapping[str, int] | None = None,
) -> ImageRef | None:
    """The cover: front matter `cover:` (path or URL), else the post's first image, else None.

    `key_lines` (Post.key_lines) places errors about the front matter at their line."""
    cover = meta.get("cover")
    line = (key_lines or {}).get("cover")
    if cover not in (None, ""):
        if not isinstance(cover, str):
            raise ImageError(
                "front matter: 'cover' must be a path or URL",
                path=post_path,
                line=line,
                hint="write e.g. 'cover: images/cover.jpg'",
            )
        return ImageRef(src=cover, line=line, alt="cover")
    return images[0] if images else None


NO_COVER = "the post has no cover: no 'cover:' in the front matter and no image in the post"


NO_COVER_HINT = "add 'cover: path/to/image.jpg' to the front matter"
