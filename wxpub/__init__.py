"""wxpub: Markdown posts to WeChat Official Account drafts.

The public API. Attributes load lazily so that `import wxpub` (and the CLI in a pre-commit hook)
does not pay for Markdown, premailer or Pillow until they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Converted",
    "ImageRef",
    "LinkRef",
    "Notice",
    "Post",
    "PostError",
    "WxpubError",
    "convert_file",
    "convert_text",
    "read_post",
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
    "WxpubError": "wxpub.errors",
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
    from .errors import Notice, PostError, WxpubError
    from .post import Post, read_post
    from .render import ImageRef, LinkRef
