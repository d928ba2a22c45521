"""URLs as wxpub reads them in text, and the links WeChat keeps: one pattern for the converter,
check and the sanitiser. Standard library only."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

WECHAT_HOSTS = frozenset({"mp.weixin.qq.com"})

# A URL written as text: ASCII only, so that CJK text and punctuation around it end it
# ("见https://a.b/c。"). What ends a sentence rather than the URL is trimmed by the caller.
TEXT_URL = r"(?<![A-Za-z0-9_/.@-])(?:https?://|ftp://|mailto:|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+"
TEXT_URL_RE = re.compile(TEXT_URL)
WEB_URL_RE = re.compile(r"^https?://\S+$", re.IGNORECASE)  # a whole value that is an http(s) address


def is_wechat_link(url: str) -> bool:
    """Whether WeChat keeps a link to `url` clickable in an article: only its own article pages."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and (parts.hostname or "") in WECHAT_HOSTS
