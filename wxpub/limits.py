"""What WeChat accepts: lengths and sizes, counted the way wxpub holds WeChat to them.

Standard library only, so `wxpub check` (a pre-commit hook) and a dry run can use them without
loading the API client.
"""

from __future__ import annotations

from .profile import REMOVED_WITH_CONTENT

# The draft_add page counts title, author and digest in "字" without saying what one is, and users
# report 45110/45003 at about half the nominal figures for Chinese text. We count what is surely
# enough: an ASCII character is 1 unit, any other (CJK, full-width punctuation, emoji) 2. Content is
# counted in characters (code points) of the final HTML, inline styles and image URLs included.
TITLE_MAX = 32  # units; 45003
AUTHOR_MAX = 16  # units; 45110
DIGEST_MAX = 128  # units; 45004
CONTENT_MAX_CHARS = 20_000  # must be less than this; 45002
CONTENT_MAX_BYTES = 1_000_000  # must be less than this; 45002
SOURCE_URL_MAX_BYTES = 1024  # 45005
ARTICLES_MAX = 8  # per draft; 45008
UPLOADIMG_MAX_BYTES = 1024 * 1024  # jpg/png "under 1 MB"; 40009
MATERIAL_IMAGE_MAX_BYTES = 10 * 1024 * 1024  # 40009
# Before upload, the HTML holds the Markdown's image paths; each becomes a WeChat image URL
# ("http://mmbiz.qpic.cn/mmbiz_png/<id>/0?wx_fmt=png"), about this long.
IMAGE_URL_CHARS = 140


def url_size(url: str) -> int:
    """A URL's size as sent, percent-encoded (the larger of the readings of "at most 1 KB")."""
    from urllib.parse import quote

    return len(quote(url, safe=":/?#[]@!$&'()*+,;=%~"))


def wechat_length(text: str) -> int:
    """Length in the units wxpub holds WeChat to: an ASCII character counts 1, any other 2."""
    return sum(1 if ord(ch) < 128 else 2 for ch in text)


def fit_units(text: str, limit: int) -> str:
    """The longest prefix of `text` that is at most `limit` units long."""
    total = 0
    for index, ch in enumerate(text):
        total += wechat_length(ch)
        if total > limit:
            return text[:index]
    return text

# Tags removed from an article with their content (what else is outside the WeChat profile loses
# only its tag). The converter's sanitiser removes them and `wxpub check` reports them.
DROPPED_TAGS = REMOVED_WITH_CONTENT
