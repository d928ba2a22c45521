"""The recipe: posts -> judged -> images uploaded -> articles -> one draft -> (submit, preview).

`publish()` reads like the recipe; each stage lives in a module of this package. Nothing is
uploaded for a post that fails its checks (validate.py, the verdict check shares), every call that
succeeds is written to the ledger at once, and a rerun of an unchanged post makes no uploads and
no changes (one draft/get to see that its draft still exists).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .. import validate
from ..codes import Severity
from ..config import (
    Account,
    Credentials,
    PublishSettings,
    StandIn,
    appid_of,
    credentials_of,
    shown,
)
from ..errors import (
    ImageError,
    PostError,
    ThemeError,
    UsageError,
    WeChatError,
    WxpubError,
)
from .article import Article, known_article, uploaded_article
from .drafts import save_draft, settle_lost_submit, submit, submitted_before, wrap
from .model import (
    PostResult,
    PreparedPost,
    Progress,
    PublishOptions,
    PublishRefused,
    PublishResult,
)
from .redislock import publish_lock
from .uploads import Uploads, counts, label

if TYPE_CHECKING:
    from ..convert import Converted
    from ..images import Downloads, PreparedImage
    from ..ledger import Ledger
    from ..post import Paths
    from ..wechat import WeChat


def publish(
    paths: Paths,
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
    converted = _convert_all(paths, options)
    # The front matter first: with a title, digest or comments that would be refused no call is
    # made at all. Otherwise the token comes while the images and the content are judged (a token
    # changes nothing on the account). Every problem of every post is said before refusing.
    findings = [list(validate.front_matter(c.post, c.meta, c.title)) for c in converted]
    fine = not any(validate.has_errors(found) for found in findings)
    token = _background(client.ensure_token) if online and client is not None and fine else None
    findings = [found + list(validate.images(c)) + list(validate.content(c)) for found, c in zip(findings, converted)]
    _refuse(paths, findings)
    if token is None or client is None or ledger is None:
        from ..images import Downloads

        downloads = Downloads()
        return _dry_run([_prepare(path, c, found, downloads=downloads) for path, c, found in zip(paths, converted, findings)], ledger)
    # One publish at a time per account and ledger: a second run waits here, then finds done
    # (in the ledger, read again) whatever the first one did.
    with ledger.publish_lock(on_wait=say):
        ledger.reload()
        prepared: list[PreparedPost] = []
        notes: list[str] = []
        try:
            return _online(paths, converted, findings, client, ledger, token, options, say, calls_before, prepared, notes)
        except WxpubError as error:
            # A later step failed: what is known about the posts by now is still to be said, with the error.
            error.warnings = tuple(warning for post in prepared for warning in post.warnings)
            error.notes = tuple(notes)
            raise


def _online(
    paths: Sequence[Path],
    converted: Sequence[Converted],
    findings: Sequence[Sequence[validate.Finding]],
    client: WeChat,
    ledger: Ledger,
    token: Future[Any],
    options: PublishOptions,
    say: Progress,
    calls_before: int,
    prepared: list[PreparedPost],
    notes: list[str],
) -> PublishResult:
    """Upload, save the draft, then submit or preview: the part of `publish` that changes the account.

    The posts, once prepared, go into `prepared`, and the notes of the run into `notes`, so that a
    failure can still say them."""
    # Each image is uploaded as soon as it is ready, while the others are still being made.
    with Uploads(client, ledger, options.concurrency or 1, say, token=token) as uploads:
        from ..images import Downloads

        downloads = Downloads()  # a URL that several posts of the draft use is fetched once
        posts = [
            _prepare(path, c, found, on_ready=uploads.offer, downloads=downloads) for path, c, found in zip(paths, converted, findings)
        ]
        prepared.extend(posts)
        uploaded, _ = uploads.finish(posts)
    notes.extend(uploads.notes)
    made = set(uploads.made)
    keys = [ledger.key(p.path) for p in posts]
    for attempt in (1, 2):
        articles = [uploaded_article(post, uploaded) for post in posts]
        # Measured again with the real URLs: the figure WeChat will count.
        ours = {record.url for record in uploaded.values() if record.url}
        _refuse(
            paths,
            [
                [*validate.size(len(a.content), len(a.content.encode("utf-8")), exact=True), *validate.foreign_images(a.content, ours)]
                for a in articles
            ],
        )
        failed: WeChatError | None = None
        try:
            saved = save_draft(client, ledger, keys, [shown(p.path) for p in posts], articles, say, notes)
            break
        except WeChatError as error:
            if error.errcode != 40007 or attempt == 2:
                raise
            failed = error
        # 40007: a media_id the draft names is not on the account. When it is a material the ledger
        # lists (deleted on the website, or a ledger of another account's uploads), it is uploaded
        # again instead of failing every run.
        again = _reupload_gone(client, ledger, posts, uploaded, made, options, say, token, notes)
        if not again:
            raise failed
        uploaded = {**uploaded, **again}
        made |= set(again)
    media_id, actions = saved.media_id, saved.actions
    counted = counts(posts, made)
    result = PublishResult(
        media_id=media_id,
        action=_overall(actions),
        posts=tuple(
            PostResult(shown(p.path), a.title, place, act, up, re_, len(a.content), p.warnings)
            for p, a, place, act, (up, re_) in zip(posts, articles, saved.places, actions, counted)
        ),
        notes=tuple(notes),
    )
    if saved.published is not None:
        # Published before and unchanged since: there is no draft to show, only what was published.
        before = saved.published
        words = "published before this run; nothing changed since"
        result = replace(result, published=True, publish_id=before.publish_id, article_id=before.article_id, publish_words=words)
    elif options.submit and saved.others:
        # Submitting publishes the whole draft: the posts not named would be published too.
        named = ", ".join(shown(p.path) for p in posts)
        raise UsageError(
            f"{'it is' if len(posts) == 1 else 'they are'} in draft {media_id} with {', '.join(saved.others)} "
            f"({_overall(actions)} there), which --submit would publish too; not submitted",
            path=named,
            hint=f"to publish the whole draft, name all its posts: wxpub publish --submit {' '.join([named, *saved.others])}",
        )
    record = next((r for r in ledger.drafts() if r.media_id == media_id), None)
    if options.submit and record is not None and record.submitting and not record.published:
        # Its draft is still in the box: the lost submit is found published, or is sent again.
        payloads = {key: article.payload() for key, article in zip(keys, articles)}
        settle_lost_submit(client, ledger, record, [payloads[post] for post in record.posts], notes)
        result = replace(result, notes=tuple(notes))
    submitted = submitted_before(client, ledger, media_id, actions) if options.submit or options.preview_to else None
    if options.preview_to and not (submitted and submitted[1] == 0):  # a published draft has left the box
        msg_id = _draft_kept(lambda: client.preview(options.preview_to or "", media_id), media_id, "; not submitted" if options.submit else "")
        say(f"preview sent to {options.preview_to}")
        result = replace(result, preview_msg_id=msg_id)
    elif options.preview_to:
        notes.append(f"no preview sent to {options.preview_to}: the draft was published and has left the draft box")
        result = replace(result, notes=tuple(notes))
    if options.submit and submitted and submitted[1] in (0, 1):
        # Submitting again would publish the same articles twice.
        publish_id, status, words = submitted
        say(f"not submitted again: {f'publish {publish_id}' if publish_id else 'it'} is {words}, and nothing changed since")
        result = replace(
            result, publish_id=publish_id, publish_status=status, publish_words=f"{words} (submitted before; nothing changed since)",
            published=result.published or status == 0,
        )
    elif options.submit:
        # A submit whose answer was lost may have published the draft, which then left the box.
        result = _draft_kept(lambda: submit(client, ledger, result, options, say), media_id, lost_too=False)
    return replace(result, calls=_calls(client) - calls_before)


def _draft_kept(call: Callable[[], Any], media_id: str, also: str = "", *, lost_too: bool = True) -> Any:
    """Run a step that comes after the draft was saved; its error says that the draft is there, untouched
    (`lost_too`: also when the answer was lost), and `also` what was left undone because of it."""
    try:
        return call()
    except WeChatError as error:
        if error.maybe_done and not lost_too:
            raise
        failed = error
    # Raised outside the except clause, so the new error keeps no chain.
    raise failed.restated(f"{failed.message}; draft {media_id} is saved, and this failure did not change it{also}")


def _reupload_gone(
    client: WeChat,
    ledger: Ledger,
    posts: Sequence[PreparedPost],
    uploaded: dict[tuple[str, str], Any],
    made: set[tuple[str, str]],
    options: PublishOptions,
    say: Progress,
    token: Future[Any],
    notes: list[str],
) -> dict[tuple[str, str], Any]:
    """The materials the ledger lists that the account no longer has, dropped and uploaded again."""
    images: dict[tuple[str, str], PreparedImage] = {(image.sha256, image.route): image for post in posts for image in post.all_images()}
    gone = [
        key
        for key, record in uploaded.items()
        if key[1] == "material" and key not in made and record.media_id and not wrap(lambda: client.material_exists(record.media_id), None)
    ]
    if not gone:
        return {}
    with Uploads(client, ledger, options.concurrency or 1, say, token=token) as uploads:
        for key in gone:
            ledger.forget_upload(*key)
            notes.append(
                f"{label(images[key])} (material {uploaded[key].media_id}) is in the ledger but no longer on the account "
                "(deleted on the website, or the ledger holds another account's uploads); uploaded it again"
            )
            uploads.offer(images[key])
        records, _ = uploads.finish(posts)
    return {key: records[key] for key in gone}


def publish_paths(
    paths: Paths,
    options: PublishOptions = PublishOptions(),
    *,
    api_base: str | None = None,
    credentials: Credentials | StandIn | None = None,
    ledger_path: Path | None = None,
    token_store: str | None = None,
    progress: Progress | None = None,
) -> PublishResult:
    """`publish()` with settings, credentials, client and ledger found the usual way (what the CLI calls).

    `credentials` are the account's own, or a stand-in's (the sandbox) for each account's AppID. A dry
    run needs no credentials: with an AppID known it also tells which images are already up."""
    from ..ledger import Ledger
    from ..wechat import RetryPolicy, WeChat

    paths = _distinct(paths)  # a post named wrongly is said before anything about credentials
    settings = PublishSettings.find(paths[0])
    options = options.settled(settings)
    account = account_of(paths, options.account)
    if options.dry_run:
        appid = appid_of(account, credentials)
        ledger = Ledger(ledger_path or settings.ledger, appid) if appid else None
        return _named(publish(paths, client=None, ledger=ledger, options=options, progress=progress), account, appid)
    credentials = credentials_of(account, settings, credentials)
    client = WeChat(
        credentials.appid,
        credentials.secret,
        api_base=api_base or settings.api_base,
        storage=token_store or settings.token_store,
        retry=RetryPolicy(sleep=options.sleep, settle=options.settle),
        on_wait=progress,
        secret_from=credentials.secret_from,
        appid_from=credentials.appid_from,
    )
    ledger = Ledger(ledger_path or settings.ledger, credentials.appid)
    with publish_lock(token_store or settings.token_store, credentials.appid):
        return _named(publish(paths, client=client, ledger=ledger, options=options, progress=progress), account, credentials.appid)


def _named(result: PublishResult, account: Account | None, appid: str) -> PublishResult:
    """The result with the account it went to: the [accounts.NAME] key, else the AppID (None when unknown)."""
    return replace(result, account=account.key if account is not None else appid or None)


def account_of(paths: Paths, name: str | None) -> Account | None:
    """The one account these posts go to: `name`, else each post's `account:`, else the project's default.

    One draft lives in one account, so posts of two accounts are refused together."""
    from ..config import project_accounts
    from ..convert import post_account
    from ..post import path_list, read_post

    found: dict[str, list[str]] = {}
    chosen: Account | None = None
    for path in path_list(paths):
        try:
            post = read_post(path)
        except WxpubError:  # the conversion reports it, at its line
            account = project_accounts(path).choose(name)
        else:
            account = post_account(post, name)
        if account is not None:
            found.setdefault(account.key, []).append(shown(path))
            chosen = account
    if len(found) > 1:
        groups = "; ".join(f"{key}: {', '.join(names)}" for key, names in found.items())
        raise UsageError(f"these posts belong to {len(found)} accounts ({groups}); one draft lives in one account",
                         hint="publish each account's posts separately, or use --changed, which gives each post its own draft")
    return chosen


def sent_article(path: str | Path, ledger: Ledger, missing: Callable[[PreparedImage], str]) -> Article:
    """The article publishing sends for this post now, with the uploads the ledger holds (`missing(image)`
    for one it does not hold): what verify compares with WeChat's copy, once its fingerprint says it
    is the one that was sent.

    A post over WeChat's limit as written was published with `--fit` (publish refuses it without),
    so it is rendered as `--fit` renders it; `--fit` leaves a post that fits as it is."""
    from ..convert import convert_file

    path = Path(path)
    converted = convert_file(path, fit=True)
    return known_article(_prepare(path, converted, ()), ledger, missing)


# --- stage 1: convert, judge, prepare the images ----------------------------------------------------
def _distinct(paths: Paths) -> list[Path]:
    from ..limits import ARTICLES_MAX
    from ..post import named_posts

    resolved = named_posts(paths)
    if not resolved:
        raise UsageError("no post given", hint="wxpub publish POST.md [POST.md ...]")
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


# What can be wrong with one post that stops it being converted or prepared: gathered, so that
# one broken post does not hide what is wrong with the others.
POST_ERRORS = (PostError, ImageError, ThemeError)


def _convert_all(paths: Sequence[Path], options: PublishOptions) -> list[Converted]:
    """Every post converted; when one cannot be, the others are judged all the same and the run
    is refused with every problem of every post."""
    from ..convert import convert_file

    converted: list[Converted | WxpubError] = []
    for path in paths:
        try:
            converted.append(convert_file(path, account=options.account, fit=options.fit))
        except POST_ERRORS as error:
            converted.append(error)
    if any(isinstance(c, WxpubError) for c in converted):
        raise PublishRefused([
            problem
            for path, c in zip(paths, converted)
            for problem in ([c] if isinstance(c, WxpubError) else validate.refusals(validate.validate(c), shown(path)))
        ])
    return [c for c in converted if not isinstance(c, WxpubError)]


def _refuse(paths: Sequence[Path], findings: Sequence[Sequence[validate.Finding]]) -> None:
    """Stop before any upload when a post has a finding that WeChat would refuse (or lose)."""
    problems: list[WxpubError] = [
        error for path, found in zip(paths, findings) for error in validate.refusals(found, shown(path))
    ]
    if problems:
        raise PublishRefused(problems)


def _prepare(
    path: Path,
    converted: Converted,
    findings: Sequence[validate.Finding],
    on_ready: Callable[[PreparedImage], None] | None = None,
    downloads: Downloads | None = None,
) -> PreparedPost:
    from ..images import prepare_images

    images = prepare_images(
        converted.images, path, meta=converted.meta, key_lines=converted.post.key_lines, on_ready=on_ready, downloads=downloads
    )
    name = shown(path)
    # Warnings only: notes (a link that becomes a reference, a remote image) are check's to say,
    # and what the prepared images say themselves is said once, below.
    warnings = [
        f"{name}:{f.line}: {f.sentence()}" if f.line else f"{name}: {f.sentence()}"
        for f in findings
        if f.severity is Severity.WARNING and f.code not in validate.PREPARED_SAY
    ]
    warnings += [
        f"{name}:{image.line}: image '{image.source}': {warning}" if image.line else f"{name}: image '{image.source}': {warning}"
        for image in [*images.images, *([images.cover] if images.cover else [])]
        for warning in image.warnings
    ]
    return PreparedPost(path, converted, images, tuple(dict.fromkeys(warnings)))


def _background(call: Callable[[], Any]) -> Future[Any]:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wxpub-token")
    future = pool.submit(call)
    pool.shutdown(wait=False)
    return future


# --- dry run -----------------------------------------------------------------------------------------
def _dry_run(posts: Sequence[PreparedPost], ledger: Ledger | None) -> PublishResult:
    """What would be sent, without touching the network: uploads needed, and the draft payload."""
    from .uploads import label

    plan: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    results, payloads = [], []
    for index, post in enumerate(posts):
        uploaded = reused = 0
        for image in post.all_images():
            key = (image.sha256, image.route)
            if key in seen:
                continue
            seen.add(key)
            if ledger is not None and ledger.upload(*key) is not None:
                reused += 1
                continue
            uploaded += 1
            endpoint = "media/uploadimg" if image.route == "uploadimg" else "material/add_material?type=image"
            plan.append({"call": endpoint, "image": label(image), "bytes": len(image.data), "format": image.format, "sha256": image.sha256})

        article = known_article(post, ledger, lambda image: f"<upload of {image.source}>")
        payloads.append(article.payload())
        results.append(PostResult(shown(post.path), article.title, index, "would-send", uploaded, reused, post.converted.content_length, post.warnings))
    keys = [ledger.key(p.path) for p in posts] if ledger else []
    draft = ledger.draft_holding(keys) if ledger else None
    if draft is not None:
        places = [draft.posts.index(key) for key in keys]
        plan.append({"call": "draft/get", "media_id": draft.media_id})
        plan.extend({"call": "draft/update", "body": {"media_id": draft.media_id, "index": i, "articles": p}} for i, p in zip(places, payloads))
        results = [replace(r, index=i) for r, i in zip(results, places)]
        action = "would-update"
    else:
        plan.append({"call": "draft/add", "body": {"articles": payloads}})
        action = "would-add"
    return PublishResult(media_id=draft.media_id if draft else None, action=action, posts=tuple(replace(r, action=action) for r in results), plan=tuple(plan))


def _calls(client: WeChat | None) -> int:
    return getattr(client, "calls", 0)


def _overall(actions: Sequence[str]) -> str:
    if "added" in actions:
        return "added"
    return "updated" if "updated" in actions else "unchanged"
