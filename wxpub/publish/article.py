"""The draft article of a post: its fields, its content with the uploaded image URLs, its digest (digest.py)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..convert import rewrite_sources
from ..validate import COMMENTS
from .model import PreparedPost

if TYPE_CHECKING:
    from ..images import PreparedImage
    from ..ledger import Ledger

@dataclass(frozen=True)
class Article:
    """One article of a draft, as sent to draft/add and draft/update."""

    title: str
    content: str
    thumb_media_id: str
    author: str = ""
    digest: str = ""
    content_source_url: str = ""
    need_open_comment: int = 0
    only_fans_can_comment: int = 0
    pic_crop_235_1: str | None = None
    pic_crop_1_1: str | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "title": self.title,
            "author": self.author,
            "digest": self.digest,
            "content": self.content,
            "content_source_url": self.content_source_url,
            "thumb_media_id": self.thumb_media_id,
            "need_open_comment": self.need_open_comment,
            "only_fans_can_comment": self.only_fans_can_comment,
        }
        for key in ("pic_crop_235_1", "pic_crop_1_1"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data

    def fingerprint(self) -> str:
        text = json.dumps(self.payload(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_article(post: PreparedPost, url_of: Callable[[PreparedImage], str], thumb_media_id: str) -> Article:
    """The draft article of a post, each image's src swapped for `url_of(image)`."""
    meta, cover = post.converted.meta, post.images.cover
    assert cover is not None  # checked before anything was prepared
    open_comment, fans_only = COMMENTS[meta.get("comments", "closed")]
    return Article(
        title=post.converted.title.strip(),
        author=_text(meta.get("author")),
        digest=post.converted.digest,
        content=rewrite_sources(post.converted.html, {image.source: url_of(image) for image in post.images.images}),
        content_source_url=_text(meta.get("source_url")),
        thumb_media_id=thumb_media_id,
        need_open_comment=open_comment,
        only_fans_can_comment=fans_only,
        pic_crop_235_1=cover.pic_crop_235_1,
        pic_crop_1_1=cover.pic_crop_1_1,
    )


def known_article(post: PreparedPost, ledger: Ledger | None, missing: Callable[[PreparedImage], str]) -> Article:
    """The article with the URLs and the cover's media_id the ledger holds for its images; `missing(image)`
    stands for one it does not hold (a dry run's placeholder; verify raises)."""

    def known(image: PreparedImage, field: str) -> str:
        record = ledger.upload(image.sha256, image.route) if ledger is not None else None
        return str(getattr(record, field, None) or "") or missing(image)

    cover = post.images.cover
    assert cover is not None
    return build_article(post, lambda image: known(image, "url"), known(cover, "media_id"))


def uploaded_article(post: PreparedPost, uploaded: Mapping[tuple[str, str], Any]) -> Article:
    """The article with the URLs and the cover's media_id that the uploads gave (`{(sha256, route): UploadRecord}`)."""
    cover = post.images.cover
    assert cover is not None
    return build_article(post, lambda image: uploaded[(image.sha256, image.route)].url, uploaded[(cover.sha256, cover.route)].media_id)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()
