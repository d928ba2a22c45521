"""`publish --changed`: publish only the posts whose article differs from what the ledger recorded.

A post has changed when the article it would send now (its converted content with its blocks, its
images, its front matter) is not the one its draft was last given, or when one of its images is
not yet on its account. Nothing is read from git. Each changed post goes into the draft it became
before (or a draft of its own), in its own account, so one run can serve posts of several
accounts. Every post is judged before anything is uploaded: one refused post stops the run
before it starts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import PublishSettings, appid_of
from ..errors import UsageError, WxpubError
from .article import Article
from .model import PostResult, Progress, PublishOptions, PublishRefused, PublishResult
from .recipe import POST_ERRORS, account_of, publish_paths

if TYPE_CHECKING:
    from ..config import Credentials, StandIn
    from ..post import Paths


@dataclass(frozen=True)
class ChangedPost:
    """What `publish --changed` did with one post, and why: the result of publishing it alone (for a
    post left alone, what the dry run found), in its account."""

    why: str  # what differs from the ledger, or "" when nothing does
    result: PublishResult

    @property
    def post(self) -> PostResult:
        return self.result.posts[0]

    @property
    def path(self) -> str:
        return self.post.path

    @property
    def account(self) -> str:
        """The [accounts.NAME] key, else the AppID."""
        return self.result.account or ""

    @property
    def action(self) -> str:
        """added | updated | unchanged (a dry run: would-add | would-update | unchanged)."""
        return self.post.action

    @property
    def media_id(self) -> str | None:
        return self.result.media_id

    @property
    def uploaded(self) -> int:
        return self.post.uploaded

    @property
    def reused(self) -> int:
        return self.post.reused

    def line(self) -> str:
        if self.action == "unchanged":
            return f"unchanged: {self.path} ({self.account})"
        draft = f", draft {self.media_id}" if self.media_id else ""
        return f"{self.action}: {self.path} ({self.account}{draft}; {self.why}; {self.uploaded} uploaded, {self.reused} reused)"

    def to_json(self) -> dict[str, Any]:
        """The post as `publish --json` gives it, and why it was published or left alone."""
        return {**self.result.post_json(self.post), "why": self.why}


@dataclass(frozen=True)
class ChangedResult:
    """Every post given to `publish --changed`, in order, with what was done to it."""

    posts: tuple[ChangedPost, ...]

    def lines(self) -> list[str]:
        return [post.line() for post in self.posts]

    @property
    def published(self) -> int:
        return sum(1 for post in self.posts if post.action in ("added", "updated"))

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(note for post in self.posts for note in post.result.notes)

    def to_json(self) -> dict[str, Any]:
        """`publish --changed --json`: {"posts": [...], "notes": [...]}, each post as `publish --json` gives it, with "why"."""
        return {"posts": [post.to_json() for post in self.posts], "notes": list(self.notes)}


def publish_changed(
    paths: Paths,
    options: PublishOptions = PublishOptions(),
    *,
    api_base: str | None = None,
    credentials: Credentials | StandIn | None = None,
    ledger_path: Path | None = None,
    token_store: str | None = None,
    progress: Progress | None = None,
) -> ChangedResult:
    """Publish each post (files, or folders of posts) whose article differs from the ledger's record.

    `credentials` as publish_paths takes them: a stand-in's (the sandbox) keeps each post's account."""
    from ..check import iter_posts

    posts = list(iter_posts(paths))
    if not posts:
        raise UsageError("no post given", hint="wxpub publish --changed posts/")

    def send(path: Path, options: PublishOptions, progress: Progress | None = None) -> PublishResult:
        return publish_paths(
            [path], options, api_base=api_base, credentials=credentials, ledger_path=ledger_path, token_store=token_store, progress=progress
        )

    plans: list[tuple[Path, str | None, PublishResult, str]] = []  # path, account key, the dry run, why
    refused: list[WxpubError] = []
    for path in posts:
        # Every post is judged, so that one broken post does not hide what is wrong with the others.
        try:
            account = account_of([path], options.account)
            key = account.key if account is not None else None
            dry = send(path, replace(options, dry_run=True, account=key))
        except PublishRefused as error:
            refused.extend(error.problems)
            continue
        except POST_ERRORS as error:  # an unknown `account:` in the front matter, an image that cannot be prepared
            refused.append(error)
            continue
        plans.append((path, key, dry, _why(dry, path, appid_of(account, credentials), ledger_path)))
    if refused:
        raise PublishRefused(refused)
    done: list[ChangedPost] = []
    for path, key, dry, why in plans:
        if not why:
            # Left alone: what the dry run found (its draft, the images it would reuse), and nothing sent.
            left = replace(dry, action="unchanged", posts=tuple(replace(p, action="unchanged") for p in dry.posts), plan=())
            done.append(ChangedPost("", left))
            continue
        done.append(ChangedPost(why, send(path, replace(options, account=key), progress)))
    return ChangedResult(tuple(done))


def _why(dry: PublishResult, path: Path, appid: str, ledger_path: Path | None) -> str:
    """What differs between the article the post would send now and the ledger's record ("" when nothing)."""
    from ..ledger import Ledger

    if not appid:
        return "not published before"
    post = dry.posts[0]
    ledger = Ledger(ledger_path or PublishSettings.find(path).ledger, appid)
    record = ledger.draft_holding([ledger.key(path)])  # where the publish would put it, as the dry run said
    if record is None:
        return "not published before"
    if post.uploaded:
        return f"{post.uploaded} new image{'s' if post.uploaded != 1 else ''}"
    update = next((step for step in dry.plan if step.get("call") == "draft/update"), None)
    if update is None:
        return "not published before"
    fingerprint = Article(**update["body"]["articles"]).fingerprint()
    index = update["body"]["index"]
    return "" if index < len(record.fingerprints) and record.fingerprints[index] == fingerprint else "content or front matter changed"
