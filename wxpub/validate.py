"""Whether a post can be published, and why not: the one verdict that check, publish, its dry run
and the preview all ask.

Each rule below looks at what the converter made of the post (a Converted: the post with the line
of each front matter key, the HTML, the images and links it met, its notices) and yields Findings:
a stable code from codes.py, a message, the line and column in the post file, and a hint. A
finding whose code is an error makes publish refuse the post before anything is uploaded; check
reports every finding under its code. Nothing here reads the network: a remote image is judged
when it is downloaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from .codes import RULES, Severity
from .errors import ImageError, PostError, WxpubError
from .limits import (
    AUTHOR_MAX,
    CONTENT_MAX_BYTES,
    CONTENT_MAX_CHARS,
    DIGEST_MAX,
    SOURCE_URL_MAX_BYTES,
    TITLE_DOCUMENTED,
    TITLE_MAX,
    content_over,
    lengths,
    url_size,
)
from .urls import WEB_URL_RE

if TYPE_CHECKING:
    from .convert import Converted
    from .post import Post

COMMENTS = {"open": (1, 0), "fans-only": (1, 1), "closed": (0, 0)}  # need_open_comment, only_fans_can_comment
_REMOTE = re.compile(r"(?i)^(https?:)?//")


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a post, at its place in the file; its code decides how bad it is."""

    code: str
    message: str
    line: int | None = None
    col: int | None = None
    hint: str | None = None

    @property
    def severity(self) -> Severity:
        return RULES[self.code].severity

    @property
    def refuses(self) -> bool:
        """Whether publish refuses a post with this finding."""
        return self.severity is Severity.ERROR

    def sentence(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def as_error(self, path: str | Path | None) -> WxpubError:
        """The error publish raises for it: an ImageError for image codes, else a PostError."""
        kind = ImageError if self.code.startswith("WX2") else PostError
        return kind(self.message, path=path, line=self.line, hint=self.hint)


def validate(converted: Converted) -> list[Finding]:
    """Every finding about a converted post: front matter, images, content, readability, in that order."""
    return [
        *front_matter(converted.post, converted.meta, converted.title),
        *images(converted),
        *content(converted),
        *readability(converted),
    ]


def refusals(findings: Iterable[Finding], path: str | Path | None) -> list[WxpubError]:
    """The findings that stop a publish, as errors naming the post."""
    return [finding.as_error(path) for finding in findings if finding.refuses]


# --- front matter ---------------------------------------------------------------------------------


def front_matter(post: Post, meta: Mapping[str, Any], title: str | None) -> Iterator[Finding]:
    """Keys, title, author, digest, source_url, comments, cover and cover_focus, measured as WeChat measures them.

    `meta` is the front matter with the project's defaults under it; `title` the one the converter
    found (the front matter's, else a leading `# H1`), or None when the post was not converted.
    """
    for notice in post.notices:
        if notice.code == "unknown-key":
            yield Finding("WX103", notice.message.removeprefix("front matter: "), notice.line or 1, 1)
    converted = title is not None
    title = (title if title is not None else _text(meta.get("title"))).strip()
    if not title:
        if converted:  # unconverted, a title may still come from a leading heading
            yield Finding("WX102", "the post has no title", 1, 1, "add 'title: …' to the front matter, or start the post with a '# heading'")
    elif len(title) > TITLE_MAX:
        yield _at(post, "title", Finding(
            "WX104",
            f"the title is {lengths(title)}; WeChat refuses titles over {TITLE_MAX} characters",
            hint=f"shorten it by {len(title) - TITLE_MAX} characters; wxpub truncates nothing",
        ))
    elif len(title) > TITLE_DOCUMENTED:
        yield _at(post, "title", Finding(
            "WX113",
            f"the title is {lengths(title)}; WeChat documents at most {TITLE_DOCUMENTED} and may refuse it",
            hint="if WeChat refuses it (45003), shorten it; the uploads are kept for the rerun",
        ))
    for key, code, limit in (("author", "WX105", AUTHOR_MAX), ("digest", "WX106", DIGEST_MAX)):
        value = _text(meta.get(key))
        if len(value) > limit:
            yield _at(post, key, Finding(
                code,
                f"{key} is {lengths(value)}; WeChat documents at most {limit} characters and may refuse it",
                hint=f"shorten it by {len(value) - limit} characters to be sure",
            ))
    for key in ("title", "author", "digest", "source_url"):
        raw = meta.get(key)
        if raw is not None and not isinstance(raw, str):
            yield _at(post, key, Finding(
                "WX108", f"{key} should be text, but YAML reads it as {type(raw).__name__}", hint="quote it"
            ))
    source_url = _text(meta.get("source_url"))
    if source_url and not WEB_URL_RE.match(source_url):
        yield _at(post, "source_url", Finding(
            "WX109", f"source_url {source_url!r} is not an http(s) address", hint="write the full address, https://…"
        ))
    elif url_size(source_url) > SOURCE_URL_MAX_BYTES:
        yield _at(post, "source_url", Finding(
            "WX107",
            f"source_url is {url_size(source_url)} bytes percent-encoded; WeChat takes at most {SOURCE_URL_MAX_BYTES}",
            hint="use a shorter link",
        ))
    comments = meta.get("comments", "closed")
    if comments not in COMMENTS:
        yield _at(post, "comments", Finding(
            "WX114", f"comments must be one of {', '.join(COMMENTS)}, not {comments!r}", hint="write e.g. 'comments: open'"
        ))
    cover = meta.get("cover")
    if cover not in (None, "") and not isinstance(cover, str):
        yield _at(post, "cover", Finding("WX116", "cover must be a path or URL", hint="write e.g. 'cover: images/cover.jpg'"))
    if meta.get("cover_focus") not in (None, ""):
        from .images.cover import parse_focus

        try:
            parse_focus(meta["cover_focus"])
        except ImageError as error:
            yield _at(post, "cover_focus", Finding("WX115", error.message.removeprefix("front matter: "), hint=error.hint))


def _at(post: Post, key: str, finding: Finding) -> Finding:
    """The finding placed at the value of `key` in the front matter."""
    line = post.line_of(key)
    if line is None:
        return Finding(finding.code, f"{key}: {finding.message}" if not finding.message.startswith(key) else finding.message, 1, 1, finding.hint)
    text = post.source_line(line)
    found = re.match(rf"\s*['\"]?{re.escape(key)}['\"]?\s*:\s*", text)
    return Finding(finding.code, finding.message, line, found.end() + 1 if found else 1, finding.hint)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# --- images ---------------------------------------------------------------------------------------

_IMAGE_KINDS = {"missing": "WX201", "outside": "WX204", "unsupported": "WX203"}


def images(converted: Converted) -> Iterator[Finding]:
    """A cover exists, and every image file is found, inside the project, and readable by its header;
    the cover is wide enough to crop, and to look sharp.

    Only headers are read (no pixel is decoded), which keeps a pre-commit hook fast on posts full
    of photos; remote images are judged when publish downloads them.
    """
    post, meta = converted.post, converted.meta
    cover = meta.get("cover")
    refs: list[tuple[str, int | None, int | None, str]] = []
    if cover not in (None, "") and isinstance(cover, str):
        line = post.line_of("cover")
        refs.append((cover, line, _col(post, line, cover), "cover"))
    elif not converted.images:
        yield Finding("WX206", "the post has no cover: no 'cover:' in the front matter and no image in the post", 1, 1,
                      "add 'cover: path/to/image.jpg' to the front matter")
    refs += [(ref.src, ref.line, _col(post, ref.line, ref.src), "image") for ref in converted.images]
    # Without a `cover:` the first image is the cover too, and must be large enough to crop.
    first_is_cover = len(refs) > 0 and refs[0][3] == "image"
    seen: set[tuple[str, str]] = set()
    for src, line, col, what in refs:
        if (src, what) in seen:
            continue
        seen.add((src, what))
        if _REMOTE.match(src):
            yield Finding("WX205", f"remote {what} {src} is downloaded and uploaded when publishing", line, col)
            continue
        for code, message, hint in _probe(src, post, line, cover=what == "cover" or (first_is_cover and src == refs[0][0])):
            yield Finding(code, f"{what} '{src}': {message}", line, col, hint)


# Warnings that preparing an image gives as well, from its pixels: publish says the prepared
# image's (it knows them for a remote image too), and check says these, from the header.
PREPARED_SAY = frozenset({"WX207", "WX208"})


def _probe(src: str, post: Post, line: int | None, *, cover: bool) -> list[tuple[str, str, str | None]]:
    """Ask the image package about one local source: what is wrong with it as (code, why, hint),
    an error, or the warnings preparing it would give that its header already tells."""
    from . import images as images_package
    from .config import find_project_root
    from .images.cover import COVER_GOOD_WIDTH, blurry_cover, check_cover_size

    if post.path is None:
        return []
    try:
        source = images_package.resolve_source(src, post.path, find_project_root(post.path), line=line)
        probed = images_package.probe(source)
        if cover and probed is not None:
            check_cover_size(*probed.size, source)
    except ImageError as error:
        return [(_IMAGE_KINDS.get(error.kind, "WX202"), error.reason, error.hint)]
    if probed is None:
        return []
    moving = None if cover else "save it as a GIF to keep it moving, or as a still picture"  # a cover never moves
    found: list[tuple[str, str, str | None]] = [("WX208", warning, moving) for warning in probed.warnings]
    blurry = blurry_cover(probed.width) if cover else None
    if blurry is not None:
        found.append(("WX207", blurry, f"use a picture at least {COVER_GOOD_WIDTH} px wide"))
    return found


# --- content --------------------------------------------------------------------------------------

# Converter notices that belong to another finding, or to none.
_NOTICE_CODES: dict[str, str | None] = {
    "raw-html": "WX303",
    "unknown-key": None,
    "foreign-image": "WX307",
    "block-missing": "WX309",
    "block-variable": "WX310",
    "block-loop": "WX311",
    "empty": "WX312",
    "yes-no-text": "WX117",
}
_NOTICE_HINTS = {
    "WX307": "write the image as ![alt](path) so wxpub uploads it",
    "WX309": "create the file (paths are relative to the project root), or write 'none' to go without",
    "WX310": "set the key in the post's front matter (a key a block uses is a known key), or take the variable out of the block; "
    "account.name and account.author come from the account in wxpub.toml",
    "WX311": "remove one of the includes",
    # WeChat refuses empty content (44004); with a header or footer it would take those alone.
    "WX312": "write the article below the front matter",
}


def content(converted: Converted) -> Iterator[Finding]:
    """The content as publish will send it (its size with WeChat's image URLs), what the converter
    removed or changed, links that become references, and images WeChat would filter out (the
    sanitiser names each <img> that is not a Markdown image)."""
    post = converted.post
    yield from size(converted.content_length, converted.content_bytes, fit=fit_advice(converted))
    for notice in converted.warnings:
        code = _NOTICE_CODES.get(notice.code, "WX305")
        if code is None:
            continue
        message = f"{notice.message} [{notice.code}]" if code == "WX305" else notice.message
        yield Finding(code, message, notice.line or 1, notice.col or 1, notice.hint or _NOTICE_HINTS.get(code))
    for link in converted.links:
        yield Finding(
            "WX304",
            f"the link to {link.url} becomes reference [{link.number}] (WeChat allows no outbound links)",
            link.line or 1,
            _col(post, link.line, link.url),
        )


def readability(converted: Converted) -> Iterator[Finding]:
    """Text whose contrast with its background is below 4.5:1 (WCAG 2.1) in light mode or in dark
    mode as WeChat recolours it (darkmode.py), at the first line that holds it."""
    from .darkmode import contrast_problems

    post = converted.post
    if converted.stock_colours and "style=" not in post.body:
        return  # the theme's own colours and no colour of the post's: measured once, in the tests
    for found in contrast_problems(converted.html):
        line = next((post.find_line(needle) for needle in (found.sample[:12], found.sample.split(" ")[0][:12]) if needle and post.find_line(needle)), None)
        yield Finding("WX308", f"{found.message()}; theme '{converted.theme}'", line or post.body_line, _col(post, line, found.sample[:12]) if line else 1)


def fit_advice(converted: Converted) -> str | None:
    """For a post over WeChat's character limit, what `--fit` would do about it (None when it fits).

    Converts the post again with the same choices, adding fit.STEPS one by one, only when it is over.
    """
    if not content_over(converted.content_length):
        return None
    if converted.fit:
        return "--fit is not enough even with every cheaper rendering: shorten the post or split it"
    from .convert import fit_outlook

    outlook = fit_outlook(converted.post, **converted.options)
    if outlook.fits_with_fit:
        return f"--fit would make it fit, giving up: {'; '.join(outlook.gives_up)}"
    return "--fit would not be enough: shorten the post or split it"


def size(chars: int, size_bytes: int, *, exact: bool = False, fit: str | None = None) -> Iterator[Finding]:
    """WeChat's limit on the whole `content`: fewer than 20,000 characters and less than 1 MB.

    Before the uploads the image URLs are counted at the length WeChat's have; after them (`exact`)
    at their real length. `fit` says what `--fit` would do for a post over the character limit
    (fit_advice); the refusal passes it on.
    """
    hint = fit or "split the post, use a lighter theme, or convert with --fit; wxpub truncates nothing"
    with_urls = "with the uploaded image URLs" if exact else "with WeChat's image URLs"
    over = content_over(chars)
    if over:
        yield Finding(
            "WX301",
            f"the content is {chars:,} characters of HTML {with_urls}, {over:,} over WeChat's limit "
            f"(fewer than {CONTENT_MAX_CHARS:,}; inline styles count too)",
            1, 1, hint,
        )
    if size_bytes >= CONTENT_MAX_BYTES:
        yield Finding("WX302", f"the content is {size_bytes:,} bytes; WeChat takes less than 1 MB", 1, 1, hint)


def foreign_images(html: str, ours: set[str]) -> Iterator[Finding]:
    """Images WeChat would silently filter out of the content as sent: any <img> whose source is
    not the URL of one of its uploads (a last look, after the uploads, at what goes out)."""
    from .convert import image_sources

    for src in dict.fromkeys(image_sources(html)):
        if src not in ours:
            yield Finding(
                "WX307",
                f"image '{src}' would be dropped by WeChat: only images wxpub uploads may appear in an article",
                1,
                1,
                _NOTICE_HINTS["WX307"],
            )


def _col(post: Post, line: int | None, needle: str) -> int:
    if line is None:
        return 1
    found = post.source_line(line).find(needle)
    return found + 1 if found >= 0 else 1


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(finding.refuses for finding in findings)
