"""What WeChat accepts: lengths and sizes, counted the way wxpub holds WeChat to them.

Standard library only, so `wxpub check` (a pre-commit hook) and a dry run can use them without
loading the API client.
"""

from __future__ import annotations

from .profile import REMOVED_WITH_CONTENT

# The draft_add page counts title, author and digest in "字", which we count as characters (code
# points): articles with 22-character Chinese titles are published every day, so counting a CJK
# character twice would refuse real posts. Only what WeChat surely refuses is refused (a title over
# the older documented 64 characters, which is also what the editor's title box takes); past the
# current documented figures wxpub warns that WeChat may refuse it. Content is counted in
# characters of the final HTML, inline styles and image URLs included.
TITLE_MAX = 64  # characters; 45003 above
TITLE_DOCUMENTED = 32  # characters; WeChat may refuse more (45003)
AUTHOR_MAX = 16  # characters, documented; WeChat may refuse more (45110)
DIGEST_MAX = 128  # characters, documented; WeChat may refuse more (45004)
# The content "必须少于2万字符" (draft_add): fewer than 20,000 characters, so 19,999 is the most
# WeChat takes and 20,000 is one too many. content_left() is the one place that says so.
CONTENT_MAX_CHARS = 20_000  # WeChat's figure; the content must be shorter than this (45002)
CONTENT_MAX_BYTES = 1_000_000  # must be less than this; 45002
SOURCE_URL_MAX_BYTES = 1024  # 45005
ARTICLES_MAX = 8  # per draft; 45008
UPLOADIMG_MAX_BYTES = 1024 * 1024  # jpg/png "under 1 MB"; 40009
MATERIAL_IMAGE_MAX_BYTES = 10 * 1024 * 1024  # 40009
# Before upload, the HTML holds the Markdown's image paths; each becomes a WeChat image URL
# ("http://mmbiz.qpic.cn/mmbiz_png/<id>/0?wx_fmt=png"), about this long.
IMAGE_URL_CHARS = 140


def content_left(chars: int) -> int:
    """Characters the content may still grow by before WeChat refuses it (45002): 0 at 19,999, -1
    at 20,000. Negative: that many over. Every figure about the limit (budget, over by, fits,
    check's WX301, publish's refusal, the preview's bar, the sandbox) comes from here."""
    return CONTENT_MAX_CHARS - 1 - chars


def content_over(chars: int) -> int:
    """Characters to lose before WeChat takes the content (0 when it does)."""
    return max(0, -content_left(chars))


def url_size(url: str) -> int:
    """A URL's size as sent, percent-encoded (the larger of the readings of "at most 1 KB")."""
    from urllib.parse import quote

    return len(quote(url, safe=":/?#[]@!$&'()*+,;=%~"))


def wechat_length(text: str) -> int:
    """A title's, author's or digest's length as the docs count "字": characters (code points)."""
    return len(text)


def lengths(text: str) -> str:
    """`text`'s length in characters and in UTF-8 bytes, in words, for messages about a limit."""
    return f"{len(text)} characters, {len(text.encode('utf-8'))} bytes"

# Tags removed from an article with their content (what else is outside the WeChat profile loses
# only its tag). The converter's sanitiser removes them and `wxpub check` reports them.
DROPPED_TAGS = REMOVED_WITH_CONTENT
