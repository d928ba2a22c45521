"""wxpub: Markdown posts to WeChat Official Account drafts.

The public API. Attributes load lazily so that `import wxpub` (and the CLI in a pre-commit hook)
does not pay for Markdown, premailer or Pillow until they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__ as __version__

__all__ = [
    "Converted",
    "ImageError",
    "ImageRef",
    "LinkRef",
    "Notice",
    "Post",
    "PostError",
    "PublishOptions",
    "PublishRefused",
    "PublishResult",
    "UsageError",
    "VerifyReport",
    "WeChatError",
    "WxpubError",
    "check_paths",
    "convert_file",
    "convert_text",
    "prepare_images",
    "publish_paths",
    "read_post",
    "verify_paths",
]

_LAZY = {
    "Converted": "wxpub.convert",
    "convert_file": "wxpub.convert",
    "convert_text": "wxpub.convert",
    "ImageRef": "wxpub.render",
    "LinkRef": "wxpub.render",
    "Post": "wxpub.post",
    "read_post": "wxpub.post",
    "Notice": "wxpub.errors",
    "PostError": "wxpub.errors",
    "ImageError": "wxpub.errors",
    "WeChatError": "wxpub.errors",
    "WxpubError": "wxpub.errors",
    "prepare_images": "wxpub.images",
    "PublishOptions": "wxpub.publish",
    "PublishRefused": "wxpub.publish",
    "UsageError": "wxpub.errors",
    "PublishResult": "wxpub.publish",
    "publish_paths": "wxpub.publish",
    "check_paths": "wxpub.check",
    "VerifyReport": "wxpub.verify",
    "verify_paths": "wxpub.verify",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wxpub' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from .convert import Converted, convert_file, convert_text
    from .check import check_paths
    from .errors import ImageError, Notice, PostError, UsageError, WeChatError, WxpubError
    from .images import prepare_images
    from .post import Post, read_post
    from .publish import PublishOptions, PublishRefused, PublishResult, publish_paths
    from .render import ImageRef, LinkRef
    from .verify import VerifyReport, verify_paths
