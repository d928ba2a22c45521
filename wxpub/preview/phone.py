"""A standalone page that shows a converted article in a 375 px phone column, for checking by eye."""

from __future__ import annotations

import html as html_lib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..convert import Converted


def phone_page(converted: "Converted") -> str:
    """A complete HTML page: the title and author as WeChat shows them, then the fragment."""
    author = converted.meta.get("author") or ""
    body = _local_images_as_files(converted)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html_lib.escape(converted.title)}</title></head>
<body style="margin:0;background:#ededed">
<main style="box-sizing:border-box;width:375px;margin:0 auto;background:#fff;padding:20px 16px 40px;min-height:100vh">
<h1 style="font-size:22px;line-height:1.4;margin:0 0 12px;font-weight:bold;color:#222">{html_lib.escape(converted.title)}</h1>
<p style="margin:0 0 20px;font-size:15px;color:#576b95">{html_lib.escape(str(author))}</p>
{body}
</main></body></html>
"""


def _local_images_as_files(converted: "Converted") -> str:
    """Point relative image paths at the files, so the page shows them from wherever it is saved."""
    post_path = converted.post.path
    if post_path is None or not converted.images:
        return converted.html
    import lxml.html

    root = lxml.html.fragment_fromstring(converted.html)
    for img in root.iter("img"):
        src = img.get("src", "")
        if src and "://" not in src and not src.startswith("data:"):
            img.set("src", (post_path.parent / src).resolve().as_uri())
    return lxml.html.tostring(root, encoding="unicode")
