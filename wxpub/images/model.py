"""What image preparation takes and gives: ImageOptions in, PreparedImage out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["content", "cover"]


Route = Literal["uploadimg", "material"]


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
    # Seconds for a whole download, headers included: a server that drips its answer cannot hold a
    # command past 10 s (a 5 MB photo needs only 5 Mbit/s to arrive in time).
    timeout: float = 8.0
    # Hosts or addresses (or networks, "10.0.0.0/8") off the public internet that downloads may
    # reach: [images] allow_private_hosts in wxpub.toml. Nothing else that is not public is reached.
    allow_private_hosts: tuple[str, ...] = ()

    def output_key(self) -> str:
        """The options that change output bytes (timeouts and source caps do not)."""
        keep = ("max_width", "max_bytes", "cover_max_bytes", "gif_max_bytes", "gif_max_frames",
                "background", "quality", "min_quality", "quality_step")
        return json.dumps({k: getattr(self, k) for k in keep}, sort_keys=True)


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
