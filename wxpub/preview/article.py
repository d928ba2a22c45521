"""What the live preview shows for one post: the article as publish would send it, in both modes.

`build_article()` runs the same conversion and image preparation as `wxpub publish` (without the
network), recolours the fragment for dark mode, and gathers what WeChat shows around the article:
the chrome above it, the cover crops in the feed and in a share card, and the content budget.
`find_problems()` asks `wxpub check` for the post's problems. Neither prints; the server
(preview_server.py) turns their results into JSON.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import UsageError, WxpubError
from ..limits import CONTENT_MAX_CHARS, content_left

if TYPE_CHECKING:
    from ..convert import Converted
    from ..images import Downloads, PreparedImages

# WeChat's share card shows a title of two lines and a digest of about three; the feed one line
# under the cover. The page clamps lines with CSS; these bound the text first, as WeChat does.
SHARE_TITLE_CHARS = 64


@dataclass(frozen=True)
class Choices:
    """What the page's controls chose over the post and its config (None: as the post says)."""

    theme: str | None = None
    color: str | None = None
    font_size: float | None = None

    def convert_options(self) -> dict[str, Any]:
        """The choices made, as convert_file's options (what is not chosen is as the post says)."""
        chosen = {"theme": self.theme, "color": self.color, "font_size": self.font_size}
        return {key: value for key, value in chosen.items() if value is not None}

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Choices:
        """The choices a page's query makes; UsageError (one line) for a value its controls never send."""
        from ..themes import check_color, check_font_size, list_themes

        for key in ("theme", "color", "font_size"):
            if not (query.get(key) or "").isprintable():
                raise UsageError(f"{key} {query[key]!r} is not a value the page sends")
        theme, color, size = (query.get(key) or None for key in ("theme", "color", "font_size"))
        known = [t.name for t in list_themes()]
        if theme is not None and theme not in known:
            # Only the built-in themes are offered: a path here would read any CSS file on the machine.
            raise UsageError(f"theme '{theme}' is not a built-in theme", hint=f"built-in themes: {', '.join(known)}")
        check_color(color)
        try:
            font_size = float(size) if size is not None else None
        except ValueError:
            raise UsageError(f"font_size '{size}' is not a number", hint="give a size in px between 10 and 28") from None
        check_font_size(font_size)
        return cls(theme, color, font_size)

    def permanent(self) -> dict[str, list[str]]:
        """The front matter and wxpub.toml lines that would make these choices stick."""
        front, toml = [], []
        if self.theme:
            front.append(f"theme: {self.theme}")
            toml.append(f'theme = "{self.theme}"')
        if self.color:
            front.append(f"color: '{self.color}'")
            toml.append(f'color = "{self.color}"')
        if self.font_size:
            front.append(f"font_size: {self.font_size:g}")
            toml.append(f"font_size = {self.font_size:g}")
        return {"front_matter": front, "wxpub_toml": ["[convert]", *toml] if toml else []}


@dataclass(frozen=True)
class Cover:
    """The cover image as prepared for upload, and WeChat's two crops of it (fractions x1_y1_x2_y2)."""

    sha256: str
    crop_235_1: tuple[float, float, float, float]
    crop_1_1: tuple[float, float, float, float]


@dataclass(frozen=True)
class Article:
    """One post as the preview page shows it."""

    path: Path
    title: str
    author: str
    account: str
    date: str
    digest: str
    theme: str
    color: str  # the theme's primary colour as used: the one chosen, the post's, or the theme's own
    light: str  # the fragment as publish sends it, images pointing at the preview server
    dark: str  # the same, recoloured as WeChat does in dark mode
    length: int  # characters WeChat counts (with the image URLs WeChat will give)
    cover: Cover | None
    warnings: tuple[str, ...]
    choices: Choices
    images: Mapping[str, tuple[bytes, str]] = field(repr=False, default_factory=dict)  # sha256 -> (bytes, mime)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "title": self.title,
            "author": self.author,
            "account": self.account,
            "date": self.date,
            "digest": self.digest,
            "theme": self.theme,
            "color": self.color,
            "light": self.light,
            "dark": self.dark,
            "length": self.length,
            "limit": CONTENT_MAX_CHARS,
            "left": content_left(self.length),  # WeChat takes fewer than `limit`: 0 left at 19,999, -1 at 20,000
            "cover": None if self.cover is None else {
                "url": f"/img/{self.cover.sha256}", "crop_235_1": self.cover.crop_235_1, "crop_1_1": self.cover.crop_1_1,
            },
            "share_title": self.title[:SHARE_TITLE_CHARS],
            "warnings": list(self.warnings),
            "permanent": self.choices.permanent(),
        }


def prepare(path: Path, choices: Choices = Choices(), downloads: Downloads | None = None) -> tuple[Converted, PreparedImages]:
    """The post converted and its images prepared as `wxpub publish` would: what the page shows, or
    the WxpubError that keeps the page from showing it (the index says the same)."""
    from ..convert import convert_file
    from ..images import prepare_images

    converted = convert_file(path, **choices.convert_options())
    return converted, prepare_images(converted.images, path, meta=converted.meta, downloads=downloads)


def build_article(path: Path, choices: Choices = Choices(), account: str = "") -> Article:
    """Convert the post and prepare its images exactly as `wxpub publish` would; raises WxpubError."""
    from ..convert import plan
    from ..darkmode import recolour
    from ..digest import shown_digest
    from ..publish import rewrite_sources

    converted, prepared = prepare(path, choices)
    served: dict[str, tuple[bytes, str]] = {}
    urls: dict[str, str] = {}
    for image in prepared.images:
        served[image.sha256] = (image.data, f"image/{image.format}")
        urls[image.source] = f"/img/{image.sha256}"
    cover = None
    if prepared.cover is not None:
        served[prepared.cover.sha256] = (prepared.cover.data, f"image/{prepared.cover.format}")
        cover = Cover(prepared.cover.sha256, _crop(prepared.cover.pic_crop_235_1), _crop(prepared.cover.pic_crop_1_1))
    light = rewrite_sources(converted.html, urls)
    meta = converted.meta
    length = converted.content_length  # the one measure: image URLs already at their uploaded length
    return Article(
        path=path,
        title=converted.title,
        author=str(meta.get("author") or ""),
        account=account,
        date=_wechat_date(time.localtime()),
        digest=shown_digest(converted),  # what publish sends, else what WeChat makes of an empty one
        theme=converted.theme,
        color=plan(converted.post, **converted.options)[0].primary,  # the plan it was converted with
        light=light,
        dark=recolour(light),
        length=length,
        cover=cover,
        warnings=tuple(n.one_line() for n in converted.warnings),
        choices=choices,
        images=served,
    )


def _wechat_date(now: time.struct_time) -> str:
    """The date as WeChat writes it under the title: 2026年12月1日 09:05."""
    return f"{now.tm_year}年{now.tm_mon}月{now.tm_mday}日 {now.tm_hour:02d}:{now.tm_min:02d}"


def _crop(text: str | None) -> tuple[float, float, float, float]:
    try:
        x1, y1, x2, y2 = (float(v) for v in (text or "").split("_"))
    except ValueError:
        return (0.0, 0.0, 1.0, 1.0)
    return (x1, y1, x2, y2)


@dataclass(frozen=True)
class Problem:
    """One problem `wxpub check` reports, with a piece of its line's text to find it in the article."""

    line: int
    col: int
    code: str
    severity: str
    message: str
    needle: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "col": self.col, "code": self.code, "severity": self.severity, "message": self.message, "needle": self.needle}


def find_problems(path: Path, choices: Choices = Choices()) -> list[Problem]:
    """What `wxpub check` reports for the post, with the project's [check] settings, converted as the
    page's controls chose (a theme's colours and size are checked as they will be sent)."""
    from ..check import check_file

    result = check_file(path, convert_options=choices.convert_options())
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    found = [
        Problem(p.line, p.col, p.code, p.severity.value, p.message, _needle(lines[p.line - 1] if 0 < p.line <= len(lines) else "", p.col))
        for p in result.problems
    ]
    if result.crash:
        found.append(Problem(1, 1, "crash", "error", result.crash.strip().splitlines()[-1], ""))
    return found


_MARKUP = re.compile(r"!?\[([^\]]*)\]\([^)]*\)|[*_`#>~|]+|^\s*(?:[-+]|\d+\.)\s+|<[^>]+>|\$")


def _needle(line: str, col: int) -> str:
    """Plain text from a source line, near the problem's column, that the rendered article will contain."""
    start = max(0, col - 1)
    for chunk in (line[start:], line):
        plain = _MARKUP.sub(lambda m: m.group(1) or " ", chunk)
        words = [w for w in re.split(r"\s{2,}|[()（）:：]", plain) if len(w.strip()) >= 2]
        if words:
            return words[0].strip()[:16]
    return ""


@dataclass(frozen=True)
class IndexEntry:
    """One post of a folder, as the index lists it."""

    path: Path
    title: str
    length: int | None
    problems: int
    error: str | None
    changed: float

    def to_json(self, root: Path) -> dict[str, Any]:
        return {
            "path": self.path.relative_to(root).as_posix(),
            "title": self.title,
            "length": self.length,
            "limit": CONTENT_MAX_CHARS,
            "problems": self.problems,
            "error": self.error,
            "changed": time.strftime("%Y-%m-%d %H:%M", time.localtime(self.changed)),
        }


def index_entry(path: Path, downloads: Downloads | None = None) -> IndexEntry:
    """Title, budget, problem count and last change of one post; a post the page cannot show shows
    the page's error. `downloads`: shared by the posts of one index, so each URL is fetched once."""
    changed = path.stat().st_mtime
    problems = len(find_problems(path))
    try:
        converted, _ = prepare(path, downloads=downloads)
    except WxpubError as error:
        return IndexEntry(path, path.stem, None, problems, error.one_line(), changed)
    return IndexEntry(path, converted.title or path.stem, converted.content_length, problems, None, changed)
