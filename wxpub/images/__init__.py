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

The package, one module per concern: `sources` (files, URLs, data: URIs), `decode` (bytes to a
Pillow image, SVG drawn), `encode` (an image to JPEG, PNG or GIF bytes under a limit), `cover`
(which picture, its focus and crops), `cache` (results kept in the user cache) and `prepare`
(one image, or every image of a post).
"""

from __future__ import annotations

from ..config import find_project_root
from .cover import NO_COVER, NO_COVER_HINT, choose_cover, cover_crops, parse_focus
from .decode import probe
from .model import ImageOptions, PreparedImage, PreparedImages
from .prepare import Downloads, prepare_image, prepare_images, write_prepared
from .sources import ImageSource, load_source, resolve_source

__all__ = [
    "Downloads",
    "NO_COVER",
    "NO_COVER_HINT",
    "ImageOptions",
    "ImageSource",
    "PreparedImage",
    "PreparedImages",
    "choose_cover",
    "cover_crops",
    "find_project_root",
    "load_source",
    "parse_focus",
    "prepare_image",
    "prepare_images",
    "probe",
    "resolve_source",
    "write_prepared",
]
