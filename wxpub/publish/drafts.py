"""The draft: added once or updated in place, submitted for publishing, its status polled sparingly."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..config import shown
from ..errors import WeChatError
from .article import Article
from .model import Progress, PublishOptions, PublishResult

if TYPE_CHECKING:
    from ..ledger import DraftRecord, Ledger
    from ..wechat import WeChat


@dataclass(frozen=True)
class Saved:
    """Where `save_draft` put the articles: the draft, each one's place in it, and what happened to it."""

    media_id: str
    actions: tuple[str, ...]  # added | updated | unchanged, one per article
    places: tuple[int, ...]  # each article's index in the draft, 0-based
    others: tuple[str, ...] = ()  # the draft's other posts, as shown: it holds more than the posts named
    published: DraftRecord | None = None  # the draft was published, and nothing named changed since


def save_draft(
    client: WeChat,
    ledger: Ledger,
    keys: list[str],
    names: list[str],
    articles: list[Article],
    say: Progress,
    notes: list[str] | None = None,
) -> Saved:
    """draft/update the draft these posts are in, if it still exists; else draft/add (at most once).

    The draft is the ledger's `draft_holding`: the one made of exactly these posts, else one that
    holds every one of them (posts published together, named now on their own), whose articles are
    updated in place. A draft that wxpub published and whose articles have not changed since is
    left alone: "unchanged". `keys` name the posts in the ledger, `names` as they are shown.
    Notes for the person (said once, by the caller) are added to `notes` when given, so that they
    outlive a failed attempt."""
    shown_as = dict(zip(keys, names))

    def _names(found: Sequence[str]) -> str:
        return ", ".join(shown_as.get(key) or shown(ledger.path_of(key)) for key in found)

    def _was(found: Sequence[str]) -> str:
        return "was" if len(found) == 1 else "were"

    payloads = [a.payload() for a in articles]
    fingerprints = [a.fingerprint() for a in articles]
    notes = [] if notes is None else notes
    record = ledger.draft_holding(keys)
    if record is not None:
        places = [record.posts.index(key) for key in keys]
        others = [post for post in record.posts if post not in keys]
        whole = not others  # these posts, and no others (perhaps named in another order)
        known = record.media_id
        existing = wrap(lambda: client.get_draft(known), None)
        if existing is None and whole and record.submitting and not record.published:
            # Gone from the box after a submit whose answer was lost: published, most likely.
            # (Only a whole draft's articles, in its order, can be looked for among what was published.)
            in_order = [payloads[keys.index(post)] for post in record.posts]
            record = settle_lost_submit(client, ledger, record, in_order, notes)
        sent = [record.fingerprints[place] if place < len(record.fingerprints) else "" for place in places]
        if existing is None and record.published and sent == fingerprints:
            which = ", ".join(f"{name} {value}" for name, value in (("publish_id", record.publish_id), ("article_id", record.article_id)) if value)
            has = "has" if len(keys) == 1 else "have"
            notes.append(f"{_names(keys)} {_was(keys)} published ({which}) and {has} not changed since: it is no longer a draft, and nothing was sent")
            return Saved(record.media_id, ("unchanged",) * len(articles), tuple(places), tuple(_names([o]) for o in others), published=record)
        if existing is None or len(existing) != len(record.posts):
            if existing is not None:
                gone = f"holds {len(existing)} articles, not the {len(record.posts)} the ledger lists"
            elif record.published:
                which = f"publish_id {record.publish_id}" if record.publish_id else f"article_id {record.article_id}"
                gone = f"was published ({which}), and a published article is not changed in place"
            else:
                gone = "no longer exists (deleted, or published)"
            if whole:
                ledger.forget_draft(record.media_id)
                notes.append(f"the draft {record.media_id} made from {_names(keys)} {gone}; adding a new one")
            else:
                # Its other posts still name it in the ledger, so its record stays.
                where = ", ".join(str(place + 1) for place in places)
                notes.append(
                    f"{_names(keys)} {_was(keys)} article{'s' if len(keys) != 1 else ''} {where} of draft {record.media_id} "
                    f"(with {_names(others)}), which {gone}; adding a new draft for {_names(keys)}"
                )
            record = None
    else:
        for other in ledger.drafts():
            shared = [key for key in keys if key in other.posts]
            if shared:
                notes.append(f"{_names(shared)} {_was(shared)} published before as draft {other.media_id}, which holds a different set of articles; adding a new draft for {_names(keys)} (that one is left as it is)")
                break
    recovered = False
    if record is None:
        places, others = list(range(len(keys))), []
        exclude = [r.media_id for r in ledger.drafts()]
        pending = ledger.pending(keys)
        # Look for the draft as that run sent it: the post may have been edited since.
        looked_for = list(pending.articles) if pending and pending.articles else payloads
        # A draft/add sent just before a kill may land late: look until it has had time to.
        found = wrap(lambda: client.settle(lambda: client.find_draft(looked_for, since=pending.since, exclude=exclude), pending.since, "a draft/add of an interrupted run"), None) if pending else None
        if found and pending:
            notes.append(f"found draft {found}, added by a run that was interrupted; not adding another")
            # It holds what that run sent: articles edited since then are updated below.
            record = ledger.record_draft(found, keys, pending.fingerprints or [""] * len(keys))
            recovered = True
        else:
            since = ledger.begin_add(keys, fingerprints, payloads)
            say(f"adding a draft with {len(articles)} article{'s' if len(articles) != 1 else ''}")
            try:
                media_id = wrap(lambda: client.add_draft(payloads, since=since, exclude=exclude), keys[0] if len(keys) == 1 else None)
            except WeChatError as error:
                if not error.maybe_done:  # refused outright: there is no draft to look for next time
                    ledger.clear_pending(keys)
                raise
            ledger.record_draft(media_id, keys, fingerprints)
            return Saved(media_id, ("added",) * len(articles), tuple(places))
    draft = record
    current = list(draft.fingerprints) + [""] * (len(draft.posts) - len(draft.fingerprints))
    actions = []
    for key, place, new, payload in zip(keys, places, fingerprints, payloads):
        if current[place] == new:
            actions.append("added" if recovered else "unchanged")
            continue
        say(f"updating article {place + 1} of draft {draft.media_id}")
        wrap(lambda: client.update_draft(draft.media_id, place, payload), key)  # noqa: B023 - called at once
        current[place] = new
        ledger.record_draft(draft.media_id, draft.posts, current)
        actions.append("updated")
    for key, place, action in zip(keys, places, actions) if others else ():
        done = "updated it there" if action == "updated" else "it is unchanged there"
        notes.append(f"{_names([key])} is article {place + 1} of draft {draft.media_id} (with {_names(others)}): {done}")
    return Saved(draft.media_id, tuple(actions), tuple(places), tuple(_names([o]) for o in others))


def settle_lost_submit(client: WeChat, ledger: Ledger, record: DraftRecord, payloads: Sequence[Mapping[str, Any]], notes: list[str]) -> DraftRecord:
    """A freepublish/submit whose answer was lost: published after all (recorded, so it is not sent
    again), or not (cleared, so it is). Looks among what was published until the submit has had
    time to land, as a lost draft/add is looked for among drafts."""
    since = record.submitting or 0.0
    found = wrap(lambda: client.settle(lambda: client.find_published(payloads, since=since), since, "a freepublish/submit"), None)
    if found:
        ledger.record_published(record.media_id, found)
        notes.append(f"draft {record.media_id} was published by a run whose answer from WeChat was lost (article {found}); not submitting it again")
    else:
        ledger.clear_submit(record.media_id)
        notes.append(f"a submit of draft {record.media_id} whose answer was lost did not publish it")
    return next(r for r in ledger.drafts() if r.media_id == record.media_id)


def submitted_before(client: WeChat, ledger: Ledger, media_id: str, actions: Sequence[str]) -> tuple[str, int, str] | None:
    """(publish_id, status, words) of an earlier submit of this very draft, when nothing changed since.

    A draft found published after a lost answer has no publish_id: ("", 0, "published")."""
    from ..wechat import PUBLISH_STATUS

    record = next((r for r in ledger.drafts() if r.media_id == media_id), None)
    if record is None or not record.published or any(action != "unchanged" for action in actions):
        return None
    if not record.publish_id:
        return "", 0, PUBLISH_STATUS[0]
    try:
        status = int(client.publish_status(record.publish_id).get("publish_status", 1))
    except WeChatError:
        return None  # cannot tell: behave as before
    return record.publish_id, status, PUBLISH_STATUS.get(status, f"status {status}")


def submit(client: WeChat, ledger: Ledger, result: PublishResult, options: PublishOptions, say: Progress) -> PublishResult:
    """freepublish/submit, then freepublish/get sparingly (100 a day) until the job ends or patience does."""
    from ..wechat import PUBLISH_STATUS

    media_id = result.media_id or ""
    ledger.begin_submit(media_id)
    try:
        publish_id = wrap(lambda: client.submit(media_id), None)
    except WeChatError as error:
        if not error.maybe_done:  # refused outright: nothing to look for next time
            ledger.clear_submit(media_id)
        raise
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
    # A published draft leaves the draft box; its record stays, with the publish_id (and the
    # article_id, by which verify reads the published article back), so that a rerun of the
    # unchanged post neither adds a new draft nor publishes it twice.
    article_id = str(answer.get("article_id") or "") if status == 0 else ""
    if article_id:
        ledger.record_published(media_id, article_id)
    return replace(
        result, publish_id=publish_id, publish_status=status, publish_words=words, article_urls=urls,
        article_id=article_id or None, published=status == 0,
    )


# --- helpers ----------------------------------------------------------------------------------------
def wrap(call: Callable[[], Any], post: str | None) -> Any:
    """Run one API step; a WeChatError gains the post's path (its message is already a sentence)."""
    try:
        return call()
    except WeChatError as error:
        if post is None or error.path is not None:
            raise
        failed = error
    # Raised outside the except clause, so the new error keeps no chain.
    raise failed.restated(path=post, line=None)
