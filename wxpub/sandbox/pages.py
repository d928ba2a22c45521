"""The sandbox's pages: the list of drafts, each draft and published article as a reader sees it, the images.

Everything shown is escaped; an article's content is shown as WeChat kept it, passed through the
editor once more (a state folder written by an older sandbox may hold content that was never
filtered), and every page is served with a policy that runs no script at all.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import profile
from .api import MIME, UPLOAD_PATH
from .editor import keep

if TYPE_CHECKING:
    from .api import Api

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
_HTML = "text/html; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"


def page(api: Api, path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) for the browser: the index, a draft, a published article, an image."""
    match = UPLOAD_PATH.match(path)
    with api._lock:
        if match:
            entry = api.state["uploads"].get(match.group(2))
            if entry is None:
                return 404, _TEXT, b"no such image"
            return 200, MIME[entry["format"]], (api.media_dir / entry["file"]).read_bytes()
        if path in ("/", "/index.html"):
            return 200, _HTML, _index_page(api).encode("utf-8")
        if path.startswith("/drafts/"):
            draft = api.state["drafts"].get(path[len("/drafts/") :])
            if draft is not None:
                return 200, _HTML, _articles_page(api, "Draft", draft["articles"]).encode("utf-8")
        if path.startswith("/s/"):
            published = api.state["published"].get(path[len("/s/") :])
            if published is not None:
                return 200, _HTML, _articles_page(api, "Published", published["articles"]).encode("utf-8")
    return 404, _TEXT, b"not found"


def _index_page(api: Api) -> str:
    e = html.escape
    rows = []
    for media_id, draft in sorted(api.state["drafts"].items(), key=lambda kv: kv[1]["update_time"], reverse=True):
        titles = " / ".join(e(a["title"]) for a in draft["articles"])
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(draft["update_time"]))
        rows.append(f'<li><a href="/drafts/{e(media_id)}">{titles}</a> <small>{when} · {e(draft["appid"])} · {e(media_id)}</small></li>')
    pubs = [f'<li><a href="/s/{e(aid)}">{" / ".join(e(a["title"]) for a in p["articles"])}</a></li>' for aid, p in api.state["published"].items()]
    return _PAGE.format(
        title="wxpub sandbox",
        body=f"<h1>wxpub sandbox</h1><p>API base: <code>{e(api.url)}</code>{' (strict)' if api.strict else ''}</p>"
        f"<h2>Drafts ({len(rows)})</h2><ul>{''.join(rows) or '<li>none yet</li>'}</ul>"
        f"<h2>Published ({len(pubs)})</h2><ul>{''.join(pubs) or '<li>none yet</li>'}</ul>",
    )


def _articles_page(api: Api, kind: str, articles: list[dict[str, Any]]) -> str:
    e = html.escape
    parts = ['<p><a href="/">← all drafts</a></p>']
    for article in articles:
        cover = api._material_any(article["thumb_media_id"])
        parts.append('<article class="wx">')
        if cover:
            parts.append(f'<img class="cover" src="{e(cover["path"])}" alt="cover">')
        parts.append(f"<h1>{e(article['title'])}</h1>")
        parts.append(f"<p class=meta>{e(article['author'])} {e(article['digest'])}</p>")
        changes = _changes(article)
        if changes:
            parts.append(f"<p class=warn>WeChat's editor changed this article: {e('; '.join(changes))}</p>")
        # Images by path: the state outlives a run, and the port its URLs name may have changed.
        content = keep(article["content"], own_image=api._own_upload, strict=api.strict, image_src=_path).content
        parts.append(f"<div class=content>{content}</div>")
        source = article.get("content_source_url") or ""
        if profile.url_scheme(source) in ("http", "https"):
            parts.append(f'<p><a href="{e(source, quote=True)}" rel="noopener noreferrer">阅读原文</a></p>')
        parts.append("</article>")
    return _PAGE.format(title=f"{e(kind)}: {e(articles[0]['title']) if articles else ''}", body="".join(parts))


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _changes(article: dict[str, Any]) -> list[str]:
    changes = []
    if article.get("filtered_images"):
        changes.append(f"{len(article['filtered_images'])} image(s) filtered out (their src was not an upload URL)")
    if article.get("removed_links"):
        changes.append(f"{len(article['removed_links'])} link(s) removed, their text kept (only mp.weixin.qq.com may be linked)")
    if article.get("dropped_styles"):
        changes.append(f"{len(article['dropped_styles'])} style declaration(s) dropped: {', '.join(dict.fromkeys(article['dropped_styles']))}")
    return changes


_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{max-width:680px;margin:2em auto;padding:0 1em;font-family:-apple-system,"PingFang SC",sans-serif}}
article.wx{{border:1px solid #ddd;border-radius:8px;padding:1em;margin:1em 0}} img{{max-width:100%}}
img.cover{{width:100%;aspect-ratio:2.35/1;object-fit:cover}} .meta{{color:#888}} .warn{{color:#b00}}</style>
</head><body>{body}</body></html>"""
