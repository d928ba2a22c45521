"""The online pipeline: posts -> checked -> images uploaded -> articles -> one draft -> (submit, preview).

`publish()` reads like the recipe; each stage is a function below it. Nothing is uploaded for a post
that fails its checks, every call that succeeds is written to the ledger at once, and a rerun of an
unchanged post makes no uploads and no changes (one draft/get to see that its draft still exists).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from .errors import ConfigError, ImageError, PostError, UsageError, WeChatError, WxpubError
from .post import front_matter_line

if TYPE_CHECKING:
    from .convert import Converted
    from .images import PreparedImage, PreparedImages
    from .ledger import Ledger
    from .wechat import WeChat

Progress = Callable[[str], None]

COMMENTS = {"open": (1, 0), "fans-only": (1, 1), "closed": (0, 0)}
# draft/update fields we send; anything else WeChat returns (url, thumb_url ...) is read-only.


class PublishRefused(WxpubError):
    """One or more posts fail their checks; nothing was uploaded. `problems` holds each one."""

    def __init__(self, problems: Sequence[WxpubError]) -> None:
        self.problems = tuple(problems)
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        first = problems[0]
        super().__init__(first.message + more, path=first.path, line=first.line, hint=first.hint)

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "problems": [p.to_dict() for p in self.problems]}


# --- settings and credentials ---------------------------------------------------------------------
@dataclass(frozen=True)
class PublishSettings:
    """`[publish]` in wxpub.toml (or [tool.wxpub.publish]); the environment wins where it has a say."""

    ledger: Path
    api_base: str | None = None  # WXPUB_API_BASE only: a project file must not decide where the secret goes
    token_store: str | None = None  # WXPUB_TOKEN_STORE: memory, file, file:DIR, redis://...
    secret_file: Path | None = None  # a file holding the AppSecret, outside the project
    concurrency: int = 4
    poll_interval: float = 5.0  # seconds before the first freepublish/get, doubled after each
    poll_max: int = 8  # freepublish/get allows 100 calls a day
    source: Path | None = None

    @classmethod
    def find(cls, start: str | Path) -> PublishSettings:
        from .config import find_settings
        from .post import find_project_root

        settings, source = find_settings(start)
        table = settings.get("publish", {})
        if not isinstance(table, dict):
            raise ConfigError("'publish' must be a table", path=source, hint="write [publish] (or [tool.wxpub.publish])")
        if {"secret", "appsecret"} & (set(table) | set(settings)):
            raise ConfigError("the AppSecret must not be in a config file", path=source, hint="set WXPUB_SECRET, or secret_file = a path outside the project")
        if "api_base" in table:
            raise ConfigError(
                "[publish] api_base is not read from a project file: it would decide where your AppSecret is sent",
                path=source,
                hint="set WXPUB_API_BASE in your environment instead",
            )
        known = {"ledger", "token_store", "secret_file", "concurrency", "poll_interval", "poll_max"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"[publish] has unknown keys: {', '.join(unknown)}", path=source, hint=f"known: {', '.join(sorted(known))}")
        root = source.parent if source is not None else find_project_root(start)

        def path(key: str) -> Path | None:
            value = table.get(key)
            if value is None:
                return None
            if not isinstance(value, str):
                raise ConfigError(f"[publish] {key} must be a path", path=source)
            found = Path(value).expanduser()
            return found if found.is_absolute() else root / found

        def number(key: str, kind: type, default: Any, low: float) -> Any:
            value = table.get(key, default)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < low:
                raise ConfigError(f"[publish] {key} must be a number of at least {low}", path=source)
            return kind(value)

        from .ledger import LEDGER_FILE

        return cls(
            ledger=path("ledger") or root / LEDGER_FILE,
            api_base=os.environ.get("WXPUB_API_BASE"),
            token_store=os.environ.get("WXPUB_TOKEN_STORE") or table.get("token_store"),
            secret_file=path("secret_file"),
            concurrency=number("concurrency", int, cls.concurrency, 1),
            poll_interval=number("poll_interval", float, cls.poll_interval, 0),
            poll_max=number("poll_max", int, cls.poll_max, 0),
            source=source,
        )


@dataclass(frozen=True)
class Credentials:
    """The account's AppID and AppSecret, from WXPUB_APPID and WXPUB_SECRET (or secret_file)."""

    appid: str
    secret: str = field(repr=False)

    @classmethod
    def from_environment(cls, settings: PublishSettings) -> Credentials:
        appid = os.environ.get("WXPUB_APPID", "").strip()
        secret = os.environ.get("WXPUB_SECRET", "").strip()
        if not secret and settings.secret_file is not None:
            try:
                secret = settings.secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read secret_file: {exc.strerror}", path=settings.secret_file) from None
        if not appid:
            raise ConfigError("WXPUB_APPID is not set", hint="export WXPUB_APPID=wx... (设置与开发 → 基本配置); or try --sandbox first")
        if not secret:
            raise ConfigError("WXPUB_SECRET is not set", hint="export WXPUB_SECRET=..., or name a file with secret_file in [publish]")
        return cls(appid, secret)


# --- options and results ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PublishOptions:
    """What to do beyond saving the draft; flags are turned into this once, in the CLI."""

    submit: bool = False
    preview_to: str | None = None
    dry_run: bool = False
    concurrency: int | None = None  # None: from [publish] concurrency (default 4)
    poll_interval: float | None = None  # None: from [publish] (default 5 s, doubled after each check)
    poll_max: int | None = None  # None: from [publish] (default 8 checks)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def settled(self, settings: PublishSettings | None = None) -> PublishOptions:
        """These options with every unset value taken from `settings` (or their defaults), once."""
        settings = settings or PublishSettings(ledger=Path("wxpub-ledger.json"))
        return replace(
            self,
            concurrency=settings.concurrency if self.concurrency is None else self.concurrency,
            poll_interval=settings.poll_interval if self.poll_interval is None else self.poll_interval,
            poll_max=settings.poll_max if self.poll_max is None else self.poll_max,
        )


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


@dataclass(frozen=True)
class PostResult:
    """What happened to one post."""

    path: str
    title: str
    index: int  # its place in the draft, 0-based
    action: str  # added | updated | unchanged (dry run: would-add | would-update | would-check)
    uploaded: int
    reused: int
    content_chars: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublishResult:
    """What one `wxpub publish` did: the draft, each post, and the publish and preview outcomes."""

    media_id: str | None
    action: str
    posts: tuple[PostResult, ...]
    notes: tuple[str, ...] = ()
    publish_id: str | None = None
    publish_status: int | None = None
    publish_words: str | None = None
    article_urls: tuple[str, ...] = ()
    preview_msg_id: str | None = None
    calls: int = 0
    plan: tuple[dict[str, Any], ...] = ()  # dry run: the calls that would be made

    @property
    def uploaded(self) -> int:
        return sum(p.uploaded for p in self.posts)

    @property
    def reused(self) -> int:
        return sum(p.reused for p in self.posts)

    def to_json(self) -> dict[str, Any]:
        return {
            "media_id": self.media_id,
            "action": self.action,
            "posts": [
                {
                    "path": p.path,
                    "title": p.title,
                    "index": p.index,
                    "media_id": self.media_id,
                    "action": p.action,
                    "uploaded": p.uploaded,
                    "reused": p.reused,
                    "content_chars": p.content_chars,
                    "publish_status": self.publish_words,
                    "warnings": list(p.warnings),
                }
                for p in self.posts
            ],
            "notes": list(self.notes),
            "publish_id": self.publish_id,
            "publish_status": self.publish_status,
            "publish_words": self.publish_words,
            "article_urls": list(self.article_urls),
            "preview_msg_id": self.preview_msg_id,
            "calls": self.calls,
            **({"plan": list(self.plan)} if self.plan else {}),
        }


@dataclass(frozen=True)
class _Prepared:
    """A post converted and its images prepared: everything needed offline."""

    path: Path
    converted: Converted
    images: PreparedImages


# --- the recipe ---------------------------------------------------------------------------------------
def publish(
    paths: Sequence[str | Path],
    *,
    client: WeChat | None,
    ledger: Ledger | None,
    options: PublishOptions = PublishOptions(),
    progress: Progress | None = None,
) -> PublishResult:
    """Publish posts as one draft (one article each, at most 8); with `dry_run`, only show what would be sent."""
    say = progress or (lambda message: None)
    options = options.settled()  # a no-op when publish_paths settled them from the project's config
    paths = _distinct(paths)
    online = not options.dry_run and client is not None and ledger is not None
    calls_before = _calls(client) if client else 0
    converted = [_convert(path) for path in paths]
    # Everything that can be judged before any work: front matter, image files (found, inside the
    # project, readable headers), a cover, and the content's size with typical image URLs.
    problems = [problem for c in converted for problem in _meta_problems(c)]
    # The token comes while the images are checked and the first ones prepared (a token changes
    # nothing on the account, but a post with bad front matter is refused without any call).
    token = _background(client.ensure_token) if online and client is not None and not problems else None
    problems += [problem for path, c in zip(paths, converted) for problem in _preflight(path, c)]
    _refuse(problems)
    if token is None or client is None or ledger is None:
        return _dry_run([_prepare_images(path, post) for path, post in zip(paths, converted)], ledger)
    # Each image is uploaded as soon as it is ready, while the others are still being made.
    with _Uploads(client, ledger, options.concurrency or 1, say, token=token) as uploads:
        posts = [_prepare_images(path, post, on_ready=uploads.offer) for path, post in zip(paths, converted)]
        uploaded, counts = uploads.finish(posts)
    articles = [_uploaded_article(post, uploaded) for post in posts]
    _refuse(
        [problem for post, article in zip(posts, articles) for problem in _content_problems(post.path, article.content, exact=True)]
        + [problem for post, article in zip(posts, articles) for problem in _foreign_images(post.path, article.content, {r.url for r in uploaded.values() if r.url})]
    )
    media_id, actions, notes = _save_draft(client, ledger, [ledger.key(p.path) for p in posts], articles, say)
    result = PublishResult(
        media_id=media_id,
        action=_overall(actions),
        posts=tuple(
            PostResult(str(p.path), a.title, i, act, up, re_, len(a.content), _warnings(p))
            for i, (p, a, act, (up, re_)) in enumerate(zip(posts, articles, actions, counts))
        ),
        notes=tuple(notes),
    )
    submitted = _submitted_before(client, ledger, media_id, actions) if options.submit or options.preview_to else None
    if options.preview_to and not (submitted and submitted[1] == 0):  # a published draft has left the box
        msg_id = _wrap(lambda: client.preview(options.preview_to or "", media_id), None)
        say(f"preview sent to {options.preview_to}")
        result = replace(result, preview_msg_id=msg_id)
    if options.submit and submitted and submitted[1] in (0, 1):
        # Submitting again would publish the same articles twice.
        publish_id, status, words = submitted
        say(f"not submitted again: publish {publish_id} is {words}, and nothing changed since")
        result = replace(result, publish_id=publish_id, publish_status=status, publish_words=f"{words} (submitted before; nothing changed since)")
    elif options.submit:
        result = _submit(client, ledger, result, options, say)
    return replace(result, calls=_calls(client) - calls_before)


def publish_paths(
    paths: Sequence[str | Path],
    options: PublishOptions = PublishOptions(),
    *,
    api_base: str | None = None,
    credentials: Credentials | None = None,
    ledger_path: Path | None = None,
    token_store: str | None = None,
    progress: Progress | None = None,
) -> PublishResult:
    """`publish()` with settings, credentials, client and ledger found the usual way (what the CLI calls).

    A dry run needs no credentials: with WXPUB_APPID set it also tells which images are already up."""
    from .ledger import Ledger
    from .wechat import RetryPolicy, WeChat

    if not paths:
        raise UsageError("no post given", hint="wxpub publish POST.md [POST.md ...]")
    settings = PublishSettings.find(paths[0])
    options = options.settled(settings)
    if options.dry_run:
        appid = credentials.appid if credentials else os.environ.get("WXPUB_APPID", "").strip()
        ledger = Ledger(ledger_path or settings.ledger, appid) if appid else None
        return publish(paths, client=None, ledger=ledger, options=options, progress=progress)
    credentials = credentials or Credentials.from_environment(settings)
    client = WeChat(
        credentials.appid,
        credentials.secret,
        api_base=api_base or settings.api_base,
        storage=token_store or settings.token_store,
        retry=RetryPolicy(sleep=options.sleep),
    )
    ledger = Ledger(ledger_path or settings.ledger, credentials.appid)
    return publish(paths, client=client, ledger=ledger, options=options, progress=progress)


# --- stage 1: convert, prepare images, check --------------------------------------------------------
def _distinct(paths: Sequence[str | Path]) -> list[Path]:
    from .limits import ARTICLES_MAX

    if not paths:
        raise UsageError("no post given", hint="wxpub publish POST.md [POST.md ...]")
    resolved = [Path(p) for p in paths]
    seen: set[Path] = set()
    for path in resolved:
        if path.resolve() in seen:
            raise UsageError(f"{path} is given twice", hint="name each post once")
        seen.add(path.resolve())
    if len(resolved) > ARTICLES_MAX:
        raise UsageError(
            f"{len(resolved)} posts: a draft takes at most {ARTICLES_MAX} articles",
            hint=f"publish them in groups of at most {ARTICLES_MAX}",
        )
    return resolved


def _convert(path: Path) -> Converted:
    from .convert import convert_file

    return convert_file(path)


def _prepare_images(path: Path, converted: Converted, on_ready: Callable[[PreparedImage], None] | None = None) -> _Prepared:
    from .images import prepare_images

    return _Prepared(path, converted, prepare_images(converted.images, path, meta=converted.meta, on_ready=on_ready))


def _preflight(path: Path, converted: Converted) -> list[WxpubError]:
    """The image problems that need no preparing: a cover, and files found, inside the project, readable."""
    from .images import NO_COVER, NO_COVER_HINT, choose_cover, probe, resolve_source
    from .post import find_project_root

    problems: list[WxpubError] = []
    try:
        cover = choose_cover(converted.meta, converted.images, post_path=path)
    except ImageError as error:
        problems.append(error)
        cover = None
    else:
        if cover is None:
            problems.append(PostError(NO_COVER, path=path, hint=NO_COVER_HINT))
    root = find_project_root(path)
    seen: set[str] = set()
    for ref in [*converted.images, *([cover] if cover else [])]:
        if ref.src in seen:
            continue
        seen.add(ref.src)
        try:
            probe(resolve_source(ref.src, path, root, line=ref.line))
        except ImageError as error:
            problems.append(error)
    from .limits import IMAGE_URL_CHARS

    typical = {ref.src: "http://mmbiz.qpic.cn/".ljust(IMAGE_URL_CHARS, "0") for ref in converted.images}
    estimated = rewrite_sources(converted.html, typical)
    problems.extend(_content_problems(path, estimated, exact=False))
    problems.extend(_foreign_images(path, estimated, set(typical.values())))
    return problems


def _background(call: Callable[[], Any]) -> Future[Any]:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wxpub-token")
    future = pool.submit(call)
    pool.shutdown(wait=False)
    return future


def _meta_problems(post: Converted) -> list[WxpubError]:
    """The front matter's problems, measured as WeChat measures (title, author, digest, source_url)."""
    from .limits import AUTHOR_MAX, DIGEST_MAX, SOURCE_URL_MAX_BYTES, TITLE_MAX, url_size, wechat_length

    problems: list[WxpubError] = []
    meta, path = post.meta, post.post.path

    def fail(message: str, key: str | None = None, hint: str | None = None) -> None:
        problems.append(PostError(message, path=path, line=front_matter_line(path, key) if key and path else None, hint=hint))

    title = post.title.strip()
    if not title:
        fail("the post has no title", hint="add 'title: …' to the front matter, or start with a '# heading'")
    for key, value, limit in (("title", title, TITLE_MAX), ("author", _text(meta.get("author")), AUTHOR_MAX), ("digest", _text(meta.get("digest")), DIGEST_MAX)):
        units = wechat_length(value)
        if units > limit:
            over = units - limit
            fail(
                f"{key} is {units} units, {over} over WeChat's {limit} (ASCII counts 1, other characters 2)",
                key if key != "title" or "title" in meta else None,
                f"shorten it by {over} ASCII characters or {(over + 1) // 2} Chinese characters; wxpub truncates nothing",
            )
    source_url = _text(meta.get("source_url"))
    if source_url and not re.match(r"^https?://\S+$", source_url):
        fail(f"source_url {source_url!r} is not an http(s) URL", "source_url", "write the full address, https://…")
    elif url_size(source_url) > SOURCE_URL_MAX_BYTES:
        fail(f"source_url is {url_size(source_url)} bytes percent-encoded, over WeChat's {SOURCE_URL_MAX_BYTES}", "source_url", "use a shorter link")
    comments = meta.get("comments", "closed")
    if comments not in COMMENTS:
        fail(f"comments must be one of {', '.join(COMMENTS)}, not {comments!r}", "comments")
    return problems


def _content_problems(path: Path, content: str, *, exact: bool) -> list[WxpubError]:
    from .limits import CONTENT_MAX_BYTES, CONTENT_MAX_CHARS

    chars, size = len(content), len(content.encode("utf-8"))
    about = "" if exact else "about "
    hint = "split the post in two, or use a lighter theme: inline styles count too; wxpub truncates nothing"
    found: list[WxpubError] = []
    if chars >= CONTENT_MAX_CHARS:
        found.append(
            PostError(
                f"the content is {about}{chars:,} characters of HTML with image URLs, {chars - CONTENT_MAX_CHARS + 1:,} over WeChat's limit (less than {CONTENT_MAX_CHARS:,})",
                path=path,
                hint=hint,
            )
        )
    if size >= CONTENT_MAX_BYTES:
        found.append(PostError(f"the content is {about}{size:,} bytes, over WeChat's limit of 1 MB", path=path, hint=hint))
    return found


def _refuse(problems: Sequence[WxpubError]) -> None:
    if problems:
        raise PublishRefused(problems)


# --- stage 2: upload ----------------------------------------------------------------------------------
class _Uploads:
    """Uploads images as they are handed over, `concurrency` at a time; each is in the ledger once it is up.

    An image already on the account (by sha256 and route) is reused, and one that a run hands over
    twice goes up once. On an error, or when the block is left early, nothing more starts and what
    is running finishes, so the ledger holds every upload that happened.
    """

    def __init__(self, client: WeChat, ledger: Ledger, concurrency: int, say: Progress, *, token: Future[Any]) -> None:
        self.client, self.ledger, self.concurrency, self.say, self.token = client, ledger, concurrency, say, token
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="wxpub-upload")
        self.futures: dict[Future[Any], tuple[tuple[str, str], PreparedImage]] = {}
        self.records: dict[tuple[str, str], Any] = {}  # (sha256, route) -> UploadRecord, reused or made now
        self.made: set[tuple[str, str]] = set()
        self.seen: set[tuple[str, str]] = set()

    def __enter__(self) -> _Uploads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def offer(self, image: PreparedImage) -> None:
        key = (image.sha256, image.route)
        if key in self.seen:
            return
        self.seen.add(key)
        record = self.ledger.upload(*key)
        if record is not None:
            self.records[key] = record
            return
        if not self.futures:
            self.say(f"uploading images as they are ready ({self.concurrency} at a time)")
        self.futures[self.pool.submit(self._upload, image)] = (key, image)

    def _upload(self, image: PreparedImage) -> Any:
        self.token.result()
        if image.route == "uploadimg":
            got = self.client.upload_image(image.data, image.filename, image.mime)
            return self.ledger.record_upload(image.sha256, "uploadimg", got.url)
        got = self.client.add_image_material(image.data, image.filename, image.mime)
        return self.ledger.record_upload(image.sha256, "material", got.url, got.media_id)

    def finish(self, posts: Sequence[_Prepared]) -> tuple[dict[tuple[str, str], Any], list[tuple[int, int]]]:
        """Wait for every upload; {(sha256, route): UploadRecord} and, per post, (uploaded, reused)."""
        self.token.result()  # a wrong secret or a refused IP is said even when nothing is to upload
        total, finished = len(self.futures), 0
        pending = set(self.futures)
        while pending:
            finished_now, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished_now:
                key, image = self.futures[future]
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    if isinstance(error, WeChatError):
                        raise WeChatError(
                            f"image '{image.source}': {error.message}",
                            errcode=error.errcode,
                            endpoint=error.endpoint,
                            path=_path_of(image, posts),
                            line=image.line,
                            hint=error.hint,
                        ) from None
                    raise error
                self.records[key] = future.result()
                self.made.add(key)
                finished += 1
                self.say(f"  uploaded {finished}/{total}: {_label(image)}")
        counts: list[tuple[int, int]] = []
        counted: set[tuple[str, str]] = set()
        for post in posts:
            uploaded = reused = 0
            for image in _images_of(post):
                key = (image.sha256, image.route)
                if key not in counted:  # the same image again in this run: counted once
                    counted.add(key)
                    uploaded, reused = (uploaded + 1, reused) if key in self.made else (uploaded, reused + 1)
            counts.append((uploaded, reused))
        return self.records, counts


def _path_of(image: PreparedImage, posts: Sequence[_Prepared]) -> Path | None:
    return next((post.path for post in posts if image in _images_of(post)), None)


def _label(image: PreparedImage) -> str:
    return f"cover ({image.source})" if image.role == "cover" else image.source


def _images_of(post: _Prepared) -> Iterator[PreparedImage]:
    yield from post.images.images
    if post.images.cover is not None:
        yield post.images.cover


# --- stage 3: the article ---------------------------------------------------------------------------
def _article(post: _Prepared, url_of: Callable[[PreparedImage], str], thumb_media_id: str) -> Article:
    """The draft article of a post, each image's src swapped for `url_of(image)`."""
    meta, cover = post.converted.meta, post.images.cover
    assert cover is not None  # checked before anything was prepared
    open_comment, fans_only = COMMENTS[meta.get("comments", "closed")]
    return Article(
        title=post.converted.title.strip(),
        author=_text(meta.get("author")),
        digest=_text(meta.get("digest")) or excerpt(post.converted.html),
        content=rewrite_sources(post.converted.html, {image.source: url_of(image) for image in post.images.images}),
        content_source_url=_text(meta.get("source_url")),
        thumb_media_id=thumb_media_id,
        need_open_comment=open_comment,
        only_fans_can_comment=fans_only,
        pic_crop_235_1=cover.pic_crop_235_1,
        pic_crop_1_1=cover.pic_crop_1_1,
    )


def _uploaded_article(post: _Prepared, uploaded: Mapping[tuple[str, str], Any]) -> Article:
    cover = post.images.cover
    assert cover is not None
    return _article(post, lambda image: uploaded[(image.sha256, image.route)].url, uploaded[(cover.sha256, cover.route)].media_id)


class _ImgFinder(HTMLParser):
    """Finds the exact span of each `src` attribute value of each <img> start tag."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text = text
        self.starts = [0]
        for line in text.split("\n"):
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.found: list[tuple[int, int, str]] = []  # (start, end) of the whole src="…" and its value

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "img":
            return
        line, col = self.getpos()
        start = self.starts[line - 1] + col
        tag_text = self.get_starttag_text() or ""
        match = re.search(r"""\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", tag_text, re.IGNORECASE)
        if match:
            value = next(group for group in match.groups() if group is not None)
            self.found.append((start + match.start() + 1, start + match.end(), html.unescape(value)))

    handle_startendtag = handle_starttag


def rewrite_sources(fragment: str, urls: Mapping[str, str]) -> str:
    """The fragment with the `src` of every <img> whose value is a key of `urls` replaced by its URL.

    The HTML is parsed to find each attribute; only those attribute values change, byte for byte."""
    finder = _ImgFinder(fragment)
    finder.feed(fragment)
    finder.close()
    out, last = [], 0
    for start, end, value in finder.found:
        if value in urls:
            out.append(fragment[last:start])
            out.append(f'src="{html.escape(urls[value], quote=True)}"')
            last = end
    out.append(fragment[last:])
    return "".join(out)


def image_sources(fragment: str) -> list[str]:
    """The `src` value of every <img> in the fragment, unescaped, in order."""
    finder = _ImgFinder(fragment)
    finder.feed(fragment)
    finder.close()
    return [value for _, _, value in finder.found]


def _foreign_images(path: Path, content: str, ours: set[str]) -> list[WxpubError]:
    """Images WeChat would silently filter out: any <img> whose src is not one of our uploads' URLs."""
    return [
        PostError(
            f"image '{src}' would be dropped by WeChat: its address is not an uploaded image",
            path=path,
            hint="write images as ![alt](path) so wxpub uploads them",
        )
        for src in dict.fromkeys(image_sources(content))
        if src not in ours
    ]


class _Text(HTMLParser):
    """The text of paragraphs, for an excerpt."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.sections = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.sections += 1  # the outer one wraps the article; inner ones are asides and references
        elif tag == "p" and self.sections <= 1:
            self.depth += 1
        elif tag in ("sup", "figcaption", "code", "pre") and self.depth:
            self.depth += 100  # footnote marks and code do not belong in a digest

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.sections -= 1
        elif tag == "p" and self.depth:
            self.depth -= 1
            self.parts.append(" ")
        elif tag in ("sup", "figcaption", "code", "pre") and self.depth >= 100:
            self.depth -= 100

    def handle_data(self, data: str) -> None:
        if 0 < self.depth < 100:
            self.parts.append(data)


def excerpt(fragment: str) -> str:
    """A digest from the post's first paragraphs: plain text, whole characters, within WeChat's limit."""
    from .limits import DIGEST_MAX, fit_units

    parser = _Text()
    parser.feed(fragment)
    parser.close()
    text = re.sub(r"\s+", " ", "".join(parser.parts)).strip()
    limit = min(DIGEST_MAX, 108)  # WeChat itself shows about 54 Chinese characters
    cut = fit_units(text, limit)
    if cut == text:
        return text
    cut = fit_units(text, limit - 2)  # room for the ellipsis
    sentence = max(cut.rfind(mark) for mark in "。！？.!?")
    if sentence >= len(cut) // 2:
        return cut[: sentence + 1]
    return cut.rstrip(" ,，、;；:：") + "…"


# --- stage 4: the draft -------------------------------------------------------------------------------
def _save_draft(client: WeChat, ledger: Ledger, keys: list[str], articles: list[Article], say: Progress) -> tuple[str, list[str], list[str]]:
    """draft/update the draft these posts became, if it still exists; else draft/add (at most once).

    A draft that wxpub published and that has not changed since is left alone: "unchanged"."""
    payloads = [a.payload() for a in articles]
    fingerprints = [a.fingerprint() for a in articles]
    notes: list[str] = []
    record = ledger.draft_of(keys)
    if record is not None:
        existing = _wrap(lambda: client.get_draft(record.media_id), None)
        if existing is None and record.publish_id and list(record.fingerprints) == fingerprints:
            notes.append(f"{_names(keys)} {'was' if len(keys) == 1 else 'were'} published (publish_id {record.publish_id}) and {'has' if len(keys) == 1 else 'have'} not changed since")
            say(notes[-1])
            return record.media_id, ["unchanged"] * len(articles), notes
        if existing is None or len(existing) != len(articles):
            ledger.forget_draft(record.media_id)
            notes.append(f"the draft {record.media_id} made from {_names(keys)} no longer exists (deleted, or published); adding a new one")
            say(notes[-1])
            record = None
    else:
        for other in ledger.drafts():
            shared = [key for key in keys if key in other.posts]
            if shared:
                notes.append(f"{_names(shared)} {'was' if len(shared) == 1 else 'were'} published before as draft {other.media_id}, which holds a different set of articles; adding a new draft for {_names(keys)} (that one is left as it is)")
                say(notes[-1])
                break
    recovered = False
    if record is None:
        exclude = [r.media_id for r in ledger.drafts()]
        pending = ledger.pending(keys)
        # Look for the draft as that run sent it: the post may have been edited since.
        sent = list(pending.articles) if pending and pending.articles else payloads
        found = _wrap(lambda: client.find_draft(sent, since=pending.since, exclude=exclude), None) if pending else None
        if found and pending:
            notes.append(f"found draft {found}, added by a run that was interrupted; not adding another")
            say(notes[-1])
            # It holds what that run sent: articles edited since then are updated below.
            record = ledger.record_draft(found, keys, pending.fingerprints or [""] * len(keys))
            recovered = True
        else:
            since = ledger.begin_add(keys, fingerprints, payloads)
            say(f"adding a draft with {len(articles)} article{'s' if len(articles) != 1 else ''}")
            try:
                media_id = _wrap(lambda: client.add_draft(payloads, since=since), keys[0] if len(keys) == 1 else None)
            except WeChatError as error:
                if not error.maybe_done:  # refused outright: there is no draft to look for next time
                    ledger.clear_pending(keys)
                raise
            ledger.record_draft(media_id, keys, fingerprints)
            return media_id, ["added"] * len(articles), notes
    current = list(record.fingerprints)
    actions = []
    for index, (old, new) in enumerate(zip(record.fingerprints, fingerprints)):
        if old == new:
            actions.append("added" if recovered else "unchanged")
            continue
        say(f"updating article {index + 1} of draft {record.media_id}")
        _wrap(lambda: client.update_draft(record.media_id, index, payloads[index]), keys[index])
        current[index] = new
        ledger.record_draft(record.media_id, keys, current)
        actions.append("updated")
    return record.media_id, actions, notes


# --- stage 5: submit and preview ------------------------------------------------------------------
def _submitted_before(client: WeChat, ledger: Ledger, media_id: str, actions: Sequence[str]) -> tuple[str, int, str] | None:
    """(publish_id, status, words) of an earlier submit of this very draft, when nothing changed since."""
    from .wechat import PUBLISH_STATUS

    record = next((r for r in ledger.drafts() if r.media_id == media_id), None)
    if record is None or not record.publish_id or any(action != "unchanged" for action in actions):
        return None
    try:
        status = int(client.publish_status(record.publish_id).get("publish_status", 1))
    except WeChatError:
        return None  # cannot tell: behave as before
    return record.publish_id, status, PUBLISH_STATUS.get(status, f"status {status}")


def _submit(client: WeChat, ledger: Ledger, result: PublishResult, options: PublishOptions, say: Progress) -> PublishResult:
    """freepublish/submit, then freepublish/get sparingly (100 a day) until the job ends or patience does."""
    from .wechat import PUBLISH_STATUS

    media_id = result.media_id or ""
    publish_id = _wrap(lambda: client.submit(media_id), None)
    ledger.record_publish(media_id, publish_id)
    say(f"submitted for publishing (publish_id {publish_id})")
    status, answer = 1, {}
    delay, checks = options.poll_interval or 0.0, options.poll_max or 0
    for _ in range(checks):
        options.sleep(delay)
        delay = min(delay * 2, 60.0)
        try:
            answer = client.publish_status(publish_id)
        except WeChatError as error:
            # The submit went through: a failed look at its progress (100 a day) must not hide that.
            say(f"cannot see the publish status now: {error.message}")
            words = f"submitted; status unknown ({error.message}); see 发表记录 on mp.weixin.qq.com"
            return replace(result, publish_id=publish_id, publish_status=None, publish_words=words)
        status = int(answer.get("publish_status", 1))
        words = PUBLISH_STATUS.get(status, f"status {status}")
        if status in (2, 4) and answer.get("fail_idx"):
            words += f" (article {', '.join(str(i) for i in answer['fail_idx'])})"
        say(f"publish status: {words}")
        if status != 1:
            break
    words = PUBLISH_STATUS.get(status, f"status {status}")
    if status == 1:
        words = f"still publishing after {checks} checks; see 发表记录 on mp.weixin.qq.com"
    urls = tuple(item.get("article_url", "") for item in (answer.get("article_detail") or {}).get("item", []))
    # A published draft leaves the draft box; its record stays, with the publish_id, so that a rerun
    # of the unchanged post neither adds a new draft nor publishes it twice.
    return replace(result, publish_id=publish_id, publish_status=status, publish_words=words, article_urls=urls)


# --- dry run -----------------------------------------------------------------------------------------
def _dry_run(posts: Sequence[_Prepared], ledger: Ledger | None) -> PublishResult:
    """What would be sent, without touching the network: uploads needed, and the draft payload."""
    plan: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    results, payloads = [], []
    for index, post in enumerate(posts):
        uploaded = reused = 0
        for image in _images_of(post):
            key = (image.sha256, image.route)
            if key in seen:
                continue
            seen.add(key)
            if ledger is not None and ledger.upload(*key) is not None:
                reused += 1
                continue
            uploaded += 1
            endpoint = "media/uploadimg" if image.route == "uploadimg" else "material/add_material?type=image"
            plan.append({"call": endpoint, "image": _label(image), "bytes": len(image.data), "format": image.format, "sha256": image.sha256})
        def planned(image: PreparedImage) -> str:
            known = ledger.upload(image.sha256, image.route) if ledger else None
            return known.url if known and known.url else f"<upload of {image.source}>"

        cover = post.images.cover
        assert cover is not None
        record = ledger.upload(cover.sha256, cover.route) if ledger else None
        article = _article(post, planned, record.media_id if record and record.media_id else f"<upload of {cover.source}>")
        payloads.append(article.payload())
        results.append(PostResult(str(post.path), article.title, index, "would-send", uploaded, reused, len(article.content), _warnings(post)))
    keys = [ledger.key(p.path) for p in posts] if ledger else []
    record = ledger.draft_of(keys) if ledger else None
    if record is not None:
        plan.append({"call": "draft/get", "media_id": record.media_id})
        plan.extend({"call": "draft/update", "body": {"media_id": record.media_id, "index": i, "articles": p}} for i, p in enumerate(payloads))
        action = "would-update"
    else:
        plan.append({"call": "draft/add", "body": {"articles": payloads}})
        action = "would-add"
    return PublishResult(media_id=record.media_id if record else None, action=action, posts=tuple(replace(r, action=action) for r in results), plan=tuple(plan))


# --- helpers ----------------------------------------------------------------------------------------
def _wrap(call: Callable[[], Any], post: str | None) -> Any:
    """Run one API step; a WeChatError gains the post's path (its message is already a sentence)."""
    try:
        return call()
    except WeChatError as error:
        if post is None or error.path is not None:
            raise
        raise WeChatError(error.message, errcode=error.errcode, endpoint=error.endpoint, errmsg=error.errmsg, maybe_done=error.maybe_done, path=post, hint=error.hint) from None


def _calls(client: WeChat) -> int:
    return getattr(client, "calls", 0)


def _overall(actions: Sequence[str]) -> str:
    if "added" in actions:
        return "added"
    return "updated" if "updated" in actions else "unchanged"


def _names(keys: Sequence[str]) -> str:
    return ", ".join(keys)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _warnings(post: _Prepared) -> tuple[str, ...]:
    notes = [w.one_line(post.path) for w in post.converted.warnings]
    notes += [f"{post.path}: image '{i.source}': {w}" for i in _images_of(post) for w in i.warnings]
    return tuple(dict.fromkeys(notes))


