"""One image, or every image of a post, made into what WeChat accepts (in parallel, same bytes every run)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence
from urllib.parse import unquote, urlsplit

from PIL import Image, ImageOps

from ..cachefiles import DiskCache
from ..config import find_project_root, private_hosts_allowed
from ..render import ImageRef
from .cache import cache_at, cache_get, cache_key, cache_put, default_cache
from .cover import (
    blurry_cover,
    check_cover_size,
    choose_cover,
    cover_crops,
    parse_focus,
)
from .decode import (
    decode_reduced,
    first_frame_only,
    looks_like_svg,
    open_image,
    rasterise_svg,
    reason,
    register_openers,
    to_display,
)
from .encode import animated_gif, encode, shrink
from ..errors import ImageError
from .model import ImageOptions, PreparedImage, PreparedImages, Role, Route
from .sources import ImageSource, load_source, resolve_source

# Sources that are usually drawings or screenshots: try lossless PNG before JPEG.
_LOSSLESS_SOURCES = {"PNG", "GIF", "BMP", "DIB", "TIFF", "ICO", "SVG"}


def prepare_image(
    source: ImageSource,
    *,
    role: Role = "content",
    options: ImageOptions = ImageOptions(),
    cache: DiskCache | None = None,
    focus: tuple[float, float] = (0.5, 0.5),
    data: bytes | None = None,
) -> PreparedImage:
    """Prepare one image for WeChat (see the module docstring); raise ImageError naming the post line.

    `data` may hold the source bytes when the caller already read them. With `cache`, results are
    kept there under a key of the source's sha256 and the options, and reused.
    """
    raw = data if data is not None else load_source(source, options)
    key = cache_key(raw, role, options)
    prepared = cache_get(cache, key)
    if prepared is None:
        prepared = _process(raw, source, role, options)
        if cache is not None:
            cache_put(cache, key, prepared)
    return _finish(prepared, source, role, focus)


def _finish(prepared: PreparedImage, source: ImageSource, role: Role, focus: tuple[float, float]) -> PreparedImage:
    crops: dict[str, Any] = {}
    warnings = prepared.warnings
    if role == "cover":
        check_cover_size(prepared.width, prepared.height, source)
        blurry = blurry_cover(prepared.width)
        if blurry is not None:
            warnings += (blurry,)
        crop_235, crop_11 = cover_crops(prepared.width, prepared.height, focus)
        crops = {"pic_crop_235_1": crop_235, "pic_crop_1_1": crop_11}
    return dataclasses.replace(prepared, source=source.src, line=source.line, warnings=warnings, **crops)


def _process(raw: bytes, source: ImageSource, role: Role, options: ImageOptions) -> PreparedImage:
    notes: list[str] = []
    if looks_like_svg(raw):
        raw_png = rasterise_svg(raw, source, options)
        image = open_image(raw_png, source, options)
        original_format, original_size = "SVG", image.size
    else:
        image = open_image(raw, source, options)
        original_format, original_size = image.format or "?", image.size

    if original_format == "GIF" and getattr(image, "n_frames", 1) > 1 and role == "content":
        animated = animated_gif(image, source, options, notes)
        if animated is not None:
            data, size = animated
            return _result(raw, data, "gif", size, original_format, original_size, role, "material", notes)
    else:
        still = first_frame_only(image)
        if still is not None:
            notes.append(still)

    decode_reduced(image, options.max_width)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise source.fail(f"the image is damaged ({reason(exc)})", hint="export or download it again") from None
    ImageOps.exif_transpose(image, in_place=True)  # in place: a copy of every photo costs 3 ms for nothing
    picture = shrink(to_display(image, options), options.max_width)
    limit = options.cover_max_bytes if role == "cover" else options.max_bytes
    lossless_first = original_format in _LOSSLESS_SOURCES and role == "content"
    data, fmt = encode(picture, limit, lossless_first, options, source, notes)
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


@dataclass(frozen=True)
class _Job:
    """One image to prepare, in a worker thread."""

    source: ImageSource
    role: Role
    options: ImageOptions
    cache: DiskCache | None
    focus: tuple[float, float]
    data: bytes | None = field(default=None, repr=False)
    downloads: Downloads | None = field(default=None, repr=False, compare=False)


def _work(job: _Job) -> PreparedImage:
    data = job.data
    if data is None and job.downloads is not None:
        data = job.downloads.get(job.source, job.options)
    return prepare_image(job.source, role=job.role, options=job.options, cache=job.cache, focus=job.focus, data=data)


class Downloads:
    """Each URL downloaded once per run, whichever worker asks first (the cover is often also in the
    post, and the posts of one draft often share a logo): give one to every prepare_images of a run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[threading.Lock, list[bytes | ImageError]]] = {}

    def get(self, source: ImageSource, options: ImageOptions) -> bytes:
        with self._lock:
            lock, outcome = self._entries.setdefault(source.location, (threading.Lock(), []))
        with lock:  # a second asker waits for the first download instead of starting its own
            if not outcome:
                try:
                    outcome.append(load_source(source, options))
                except ImageError as error:
                    outcome.append(error)
        result = outcome[0]
        if isinstance(result, ImageError):
            raise source.fail(result.reason, hint=result.hint, kind=result.kind)
        return result


def prepare_images(
    refs: Sequence[ImageRef],
    post_path: str | Path | None,
    *,
    meta: Mapping[str, Any] | None = None,
    key_lines: Mapping[str, int] | None = None,
    cover: bool = True,
    options: ImageOptions = ImageOptions(),
    root: str | Path | None = None,
    cache_dir: Path | None | Literal["default"] = "default",
    jobs: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    on_ready: Callable[[PreparedImage], None] | None = None,
    downloads: Downloads | None = None,
) -> PreparedImages:
    """Prepare every image of a post (and its cover, when `cover`), in parallel, the same bytes every run.

    `meta` is the front matter (for `cover` and `cover_focus`), `key_lines` the line of each of its
    keys (Post.key_lines, for errors). The project root defaults to
    find_project_root(post_path); the cache is `images/` in the user cache (a folder: there; None: none).
    `jobs` caps worker threads (default: the usable cores). `progress(done, total, src)` is
    called as images finish, and `on_ready(image)` with each distinct image as soon as it is
    ready, so that uploads can start while the rest are still being prepared. A post with no
    cover gives `cover=None`: publishing must refuse it. `downloads`, shared by the posts of a run,
    fetches each URL once for all of them.
    """
    meta = meta or {}
    post = Path(post_path) if post_path is not None else None
    root_dir = Path(root) if root is not None else (find_project_root(post) if post else Path.cwd())
    cache = default_cache() if cache_dir == "default" else cache_at(cache_dir) if cache_dir is not None else None
    if post is not None:
        allowed = private_hosts_allowed(post)
        if allowed:
            options = dataclasses.replace(options, allow_private_hosts=options.allow_private_hosts + allowed)
    downloads = downloads if downloads is not None else Downloads()

    wanted: list[tuple[ImageRef, Role]] = [(ref, "content") for ref in refs]
    focus = (0.5, 0.5)
    key_lines = key_lines or {}
    cover_ref = choose_cover(meta, refs, post_path=post, key_lines=key_lines) if cover else None
    if cover_ref is not None:
        # The cover first: it is the most work (crops, a larger size) and the draft needs it.
        wanted.insert(0, (cover_ref, "cover"))
        focus = parse_focus(meta.get("cover_focus"), path=post, line=key_lines.get("cover_focus"))

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
            hit = cache_get(cache, cache_key(data, role, options))
            if hit is not None:
                done[key] = _finish(hit, source, role, job_focus)
                continue
        pending.append((key, _Job(source, role, options, cache, job_focus, data, downloads)))

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

    register_openers()  # every format plugin, before two threads race to register them

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
