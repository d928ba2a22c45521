"""The data of publishing: the options it takes, what it returns, and a post ready to upload."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from ..config import LEDGER_FILE, PublishSettings, publish_number_problem
from ..errors import UsageError, WxpubError

if TYPE_CHECKING:
    from ..convert import Converted
    from ..images import PreparedImage, PreparedImages

Progress = Callable[[str], None]


class PublishRefused(WxpubError):
    """One or more posts fail their checks; nothing was uploaded. `problems` holds each one."""

    def __init__(self, problems: Sequence[WxpubError]) -> None:
        self.problems = tuple(problems)
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        first = problems[0]
        super().__init__(first.message + more, path=first.path, line=first.line, hint=first.hint)

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "problems": [p.to_dict() for p in self.problems]}


@dataclass(frozen=True)
class PublishOptions:
    """What to do beyond saving the draft; flags are turned into this once, in the CLI."""

    submit: bool = False
    preview_to: str | None = None
    dry_run: bool = False
    account: str | None = None  # [accounts.NAME]; None: each post's `account:`, else the project's default
    fit: bool = False  # over WeChat's 20,000 characters: convert with the cheaper renderings of fit.STEPS
    concurrency: int | None = None  # None: from [publish] concurrency (default 4)
    poll_interval: float | None = None  # None: from [publish] (default 5 s, doubled after each check)
    poll_max: int | None = None  # None: from [publish] (default 8 checks)
    # Seconds after sending within which a call whose answer was lost lands on the account, if it
    # ever does: how long a lost answer is looked for before the call counts as not done.
    settle: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def __post_init__(self) -> None:
        # The same bounds as [publish] in wxpub.toml: one rule, in config.PUBLISH_NUMBERS.
        for key in ("concurrency", "poll_interval", "poll_max", "settle"):
            value = getattr(self, key)
            problem = None if value is None else publish_number_problem(key, value)
            if problem is not None:
                raise UsageError(f"PublishOptions: {problem}", hint=f"leave {key} out for the default")

    def settled(self, settings: PublishSettings | None = None) -> PublishOptions:
        """These options with every unset value taken from `settings` (or their defaults), once."""
        settings = settings or PublishSettings(ledger=Path(LEDGER_FILE))
        return replace(
            self,
            concurrency=settings.concurrency if self.concurrency is None else self.concurrency,
            poll_interval=settings.poll_interval if self.poll_interval is None else self.poll_interval,
            poll_max=settings.poll_max if self.poll_max is None else self.poll_max,
        )


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
    article_id: str | None = None  # of the published articles, when known
    published: bool = False  # the draft was published and has left the draft box (media_id names what it was)
    preview_msg_id: str | None = None
    calls: int = 0
    plan: tuple[dict[str, Any], ...] = ()  # dry run: the calls that would be made
    account: str | None = None  # the [accounts.NAME] key it went to, else the AppID (None: unknown, a dry run without one)

    @property
    def uploaded(self) -> int:
        return sum(p.uploaded for p in self.posts)

    @property
    def reused(self) -> int:
        return sum(p.reused for p in self.posts)

    def post_json(self, post: PostResult) -> dict[str, Any]:
        """One post as `publish --json` and `publish --changed --json` give it (README: "JSON for scripts")."""
        return {
            "path": post.path,
            "title": post.title,
            "account": self.account,
            "media_id": self.media_id,
            "index": post.index,
            "action": post.action,
            "uploaded": post.uploaded,
            "reused": post.reused,
            "content_chars": post.content_chars,
            "publish_status": self.publish_words,
            "warnings": list(post.warnings),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "media_id": self.media_id,
            "action": self.action,
            "posts": [self.post_json(p) for p in self.posts],
            "notes": list(self.notes),
            "publish_id": self.publish_id,
            "publish_status": self.publish_status,
            "publish_words": self.publish_words,
            "article_urls": list(self.article_urls),
            "article_id": self.article_id,
            "published": self.published,
            "preview_msg_id": self.preview_msg_id,
            "calls": self.calls,
            **({"plan": list(self.plan)} if self.plan else {}),
        }


@dataclass(frozen=True)
class PreparedPost:
    """A post converted, judged and its images prepared: everything publishing needs offline."""

    path: Path
    converted: Converted
    images: PreparedImages
    warnings: tuple[str, ...] = ()  # one line each, the post's path relative to where wxpub runs

    def all_images(self) -> Iterator[PreparedImage]:
        """Its content images, then its cover."""
        yield from self.images.images
        if self.images.cover is not None:
            yield self.images.cover
