"""Publishing: posts -> judged -> images uploaded -> articles -> one draft -> (submit, preview).

One module per stage: `recipe` (the orchestration, and the dry run), `uploads` (each image up
once per account), `article` (the draft payload of a post), `drafts` (add or update in place,
submit, poll), `model` (the options, results and data passed between them). What decides
whether a post may be published is validate.py, which `wxpub check` asks too.
"""

from __future__ import annotations

from ..convert import image_sources, rewrite_sources
from ..digest import excerpt
from .article import Article
from .model import PostResult, PreparedPost, PublishOptions, PublishRefused, PublishResult
from .recipe import publish, publish_paths

__all__ = [
    "Article",
    "PostResult",
    "PreparedPost",
    "PublishOptions",
    "PublishRefused",
    "PublishResult",
    "excerpt",
    "image_sources",
    "publish",
    "publish_paths",
    "rewrite_sources",
]
