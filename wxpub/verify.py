"""The round trip: read each draft back with draft/get and compare it with what was sent.

`compare()` is pure, over two HTML strings: the visible text (whitespace normalised), the images
(count and order), the links, and the styles lost, by element kind. `verify_paths()` finds each
post's draft in the ledger, reads it back (once published, the published article, with
freepublish/getarticle), and compares it with what was sent: the post's content as publish sends
it, when its fingerprint is the one the ledger recorded. Against the real API this is how a writer
learns what WeChat changed; a report owns the exit code: 1 when text, images or links were lost, 0
(with notes) when only styles or markup changed. A post that cannot be verified is an error: exit 2
(never published, edited since, its draft deleted), or 4 (published, and what was published cannot
be read back).
"""

from __future__ import annotations

import difflib
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

from .errors import WxpubError
from .profile import declarations

if TYPE_CHECKING:
    from .config import Credentials, StandIn
    from .images import PreparedImage
    from .ledger import DraftRecord, Ledger
    from .post import Paths
    from .wechat import WeChat

# Elements whose content a browser does not show as text.
_HIDDEN = frozenset("script style template noscript title head iframe object video audio annotation annotation-xml desc metadata defs".split())
# Elements that start a new block of text: a difference is looked for block by block first.
_BLOCKS = frozenset("p section div article header footer aside nav h1 h2 h3 h4 h5 h6 ul ol li dl dt dd pre blockquote table caption thead tbody tfoot tr td th figure figcaption hr".split())
_TOKEN = re.compile(r"[A-Za-z0-9_]+|\S| ")  # a word of ASCII letters, any other single character (CJK), a space
_CONTEXT = 3  # tokens shown either side of a change that is only a space
_SHOWN = 5  # text differences named per article, at most
_CHARS_MAX = 4000  # characters of a block compared word by word, at most
_LOOKAHEAD = 40  # elements looked ahead when aligning what was sent with what was kept


class VerifyError(WxpubError):
    """A post cannot be verified: never published to this account, edited since, or its draft is gone."""

    exit_code = 2  # not 1, which says that WeChat lost something


class PublishedError(VerifyError):
    """A post was published (it is no longer a draft), and its published article cannot be read back."""

    exit_code = 4  # not 2: there is nothing to publish again


# --- the comparison -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Element:
    """One element as the comparison sees it: its tag and inline style declarations."""

    tag: str
    style: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Facts:
    """What a reader gets from a fragment: text by block, images, links, and the styled elements in order."""

    blocks: tuple[str, ...]  # the visible text of each block (paragraph, cell, item ...), whitespace normalised
    images: tuple[str, ...]
    links: tuple[str, ...]
    elements: tuple[Element, ...]

    @property
    def text(self) -> str:
        return " ".join(self.blocks)


@dataclass(frozen=True)
class Comparison:
    """What an article lost between what was sent and what the draft holds."""

    text_changes: tuple[tuple[str, str], ...] = ()  # (passage sent, what it became; "" when it is gone)
    images_sent: int = 0
    images_lost: tuple[str, ...] = ()  # src of each image missing, in order
    links_lost: tuple[str, ...] = ()  # href of each link removed
    styles_lost: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # tag -> "prop:value" sent -> elements
    elements_lost: Mapping[str, int] = field(default_factory=dict)  # tag -> elements unwrapped or removed

    @property
    def text_lost(self) -> tuple[str, ...]:
        return tuple(before for before, _ in self.text_changes if before)

    @property
    def text_added(self) -> tuple[str, ...]:
        return tuple(after for _, after in self.text_changes if after)

    @property
    def lost(self) -> bool:
        """Whether the reader gets less than was sent: text (lost or changed), images or links."""
        return bool(self.text_lost or self.images_lost or self.links_lost)

    @property
    def changed(self) -> bool:
        return bool(self.text_changes or self.images_lost or self.links_lost or self.styles_lost or self.elements_lost)

    def words(self) -> list[str]:
        """The differences, one sentence each."""
        out = []
        for before, after in self.text_changes:
            if not after:
                out.append(f'text lost: "{_short(before)}"')
            elif not before:
                out.append(f'text added: "{_short(after)}"')
            else:
                out.append(f'text changed: "{_short(before)}" became "{_short(after)}"')
        if self.images_lost:
            out.append(f"images lost: {len(self.images_lost)} of {self.images_sent} ({', '.join(self.images_lost)})")
        if self.links_lost:
            out.append(f"links removed, their text kept: {', '.join(self.links_lost)}")
        if self.elements_lost:
            out.append("elements unwrapped or removed: " + ", ".join(f"<{tag}> ×{n}" for tag, n in sorted(self.elements_lost.items())))
        if self.styles_lost:
            kinds = [f"<{tag}> {', '.join(f'{prop} ×{n}' for prop, n in sorted(props.items()))}" for tag, props in sorted(self.styles_lost.items())]
            out.append("styles lost or changed: " + "; ".join(kinds))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "lost": self.lost,
            "text_changes": [{"sent": before, "kept": after} for before, after in self.text_changes],
            "images_sent": self.images_sent,
            "images_lost": list(self.images_lost),
            "links_lost": list(self.links_lost),
            "elements_lost": dict(self.elements_lost),
            "styles_lost": {tag: dict(props) for tag, props in self.styles_lost.items()},
        }


def facts(fragment: str) -> Facts:
    """The text, images, links and styled elements of an HTML fragment."""
    reader = _Reader()
    reader.feed(fragment)
    reader.close()
    reader.end_block()
    return Facts(tuple(reader.blocks), tuple(reader.images), tuple(reader.links), tuple(reader.elements))


def compare(sent: str, kept: str) -> Comparison:
    """What `kept` (the draft as WeChat holds it) lost of `sent` (the content as it was sent)."""
    before, after = facts(sent), facts(kept)
    text_changes = _text_changes(before.blocks, after.blocks)
    images_lost = _missing(before.images, after.images, key=_image_key)
    links_lost = _missing(before.links, after.links)
    styles_lost: dict[str, Counter[str]] = {}
    elements_lost: Counter[str] = Counter()
    for old, match in zip(before.elements, _align([e.tag for e in before.elements], [e.tag for e in after.elements])):
        if match is None:
            elements_lost[old.tag] += 1
            continue
        kept_style = {prop: _value(value) for prop, value in after.elements[match].style}
        for prop, value in old.style:
            if kept_style.get(prop) != _value(value):
                styles_lost.setdefault(old.tag, Counter())[f"{prop}:{value}"] += 1
    return Comparison(
        text_changes=text_changes,
        images_sent=len(before.images),
        images_lost=images_lost,
        links_lost=links_lost,
        styles_lost={tag: dict(counts) for tag, counts in styles_lost.items()},
        elements_lost=dict(elements_lost),
    )


def _text_changes(before: Sequence[str], after: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """(passage sent, what it became) for each difference: blocks first, then words within changed blocks."""
    changes: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, list(before), list(after), autojunk=False).get_opcodes():
        if op != "equal":
            changes.extend(_word_changes(" ".join(before[i1:i2]), " ".join(after[j1:j2])))
        if len(changes) >= _SHOWN:
            break
    return tuple(changes[:_SHOWN])


def _word_changes(before: str, after: str) -> list[tuple[str, str]]:
    if len(before) > _CHARS_MAX or len(after) > _CHARS_MAX:
        # A long block: what it shares at both ends is set aside first (a word diff is quadratic).
        head = len(os.path.commonprefix([before, after]))
        tail = len(os.path.commonprefix([before[head:][::-1], after[head:][::-1]]))
        while head and _in_word(before[head - 1]):
            head -= 1  # back to the start of a word
        while tail and _in_word(before[len(before) - tail]):
            tail -= 1
        before, after = before[head : len(before) - tail], after[head : len(after) - tail]
        if len(before) > _CHARS_MAX or len(after) > _CHARS_MAX:  # too different to say word by word
            return [(before, after)]
    old, new = list(_TOKEN.finditer(before)), list(_TOKEN.finditer(after))
    changes = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, [m.group() for m in old], [m.group() for m in new], autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if not (_span(before, old, i1, i2).strip() or _span(after, new, j1, j2).strip()):
            # Only a space came or went: show the words around it, on both sides.
            i1, i2, j1, j2 = max(0, i1 - _CONTEXT), min(len(old), i2 + _CONTEXT), max(0, j1 - _CONTEXT), min(len(new), j2 + _CONTEXT)
        changes.append((_span(before, old, i1, i2).strip(), _span(after, new, j1, j2).strip()))
    return changes


def _in_word(char: str) -> bool:
    """Whether a character belongs to a word of several (ASCII letters and digits: CJK counts alone)."""
    return char.isascii() and (char.isalnum() or char == "_")


def _span(text: str, tokens: Sequence[re.Match[str]], start: int, end: int) -> str:
    """The text of tokens[start:end] ("" when there are none)."""
    return text[tokens[start].start() : tokens[end - 1].end()] if end > start else ""


def _missing(before: Sequence[str], after: Sequence[str], key: Callable[[str], str] = str) -> tuple[str, ...]:
    """Items of `before` that `after` does not hold (compared by `key`), in order; a repeated item counts each time."""
    matches = _align([key(item) for item in before], [key(item) for item in after])
    return tuple(item for item, match in zip(before, matches) if match is None)


def _align(before: Sequence[str], after: Sequence[str]) -> list[int | None]:
    """For each item sent, the index of the item kept for it (None: it was removed or unwrapped).

    WeChat removes and unwraps far more than it adds, so the walk is linear: an item sent that is
    not next in what was kept is taken as lost, unless it comes a little later and what comes
    before it was added (a general diff of thousands of repetitive tags is quadratic).
    """
    matches: list[int | None] = []
    j = 0
    for i, item in enumerate(before):
        if j < len(after) and after[j] != item:
            added = next((k for k in range(j, min(len(after), j + _LOOKAHEAD)) if after[k] == item), None)
            lost = next((k for k in range(i, min(len(before), i + _LOOKAHEAD)) if before[k] == after[j]), None)
            if added is not None and (lost is None or added - j < lost - i):
                j = added
        if j < len(after) and after[j] == item:
            matches.append(j)
            j += 1
        else:
            matches.append(None)
    return matches


def _image_key(src: str) -> str:
    """An image address without its scheme and query: WeChat may serve the same upload over https, with other parameters."""
    parts = urlsplit(src.strip())
    return f"{parts.netloc}{parts.path}" if parts.netloc else src.strip()


def _value(value: str) -> str:
    """A declaration's value, compared without case or spacing differences."""
    return re.sub(r"\s*([,()/])\s*", r"\1", " ".join(value.lower().split()))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Reader(HTMLParser):
    """Collects the visible text, the images, the links and the elements of a fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.text: list[str] = []  # of the block being read
        self.images: list[str] = []
        self.links: list[str] = []
        self.elements: list[Element] = []
        self.hidden: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.hidden:
            if tag == self.hidden[-1]:
                self.hidden.append(tag)
            return
        if tag in _HIDDEN:
            self.hidden.append(tag)
            return
        if tag in _BLOCKS:
            self.end_block()
        values = {name: value or "" for name, value in attrs}
        self.elements.append(Element(tag, tuple(declarations(values.get("style", "")))))
        if tag == "img":
            self.images.append(values.get("src") or values.get("data-src") or "")
        elif tag == "a" and (values.get("href") or values.get("xlink:href")):
            self.links.append(values.get("href") or values.get("xlink:href") or "")
        elif tag == "br":
            self.text.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.hidden and tag not in _HIDDEN:  # an empty element: nothing to hide, nothing to close
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.hidden:
            if tag == self.hidden[-1]:
                self.hidden.pop()
        elif tag in _BLOCKS:
            self.end_block()

    def end_block(self) -> None:
        text = " ".join("".join(self.text).replace("\xa0", " ").split())
        if text:
            self.blocks.append(text)
        self.text = []

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.text.append(data)


# --- against the account -------------------------------------------------------------------------
@dataclass(frozen=True)
class ArticleCheck:
    """One post's round trip: its draft (or what it was published as), its place in it, and what WeChat changed."""

    path: str
    media_id: str
    index: int  # 0-based
    comparison: Comparison
    notes: tuple[str, ...] = ()
    article_id: str | None = None  # read back from what was published: the draft has left the box

    def where(self) -> str:
        held = f"published {self.article_id}" if self.article_id else f"draft {self.media_id}"
        return f"{self.path}: {held} article {self.index + 1}"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "media_id": self.media_id,
            "index": self.index,
            "published": self.article_id is not None,
            "article_id": self.article_id,
            **self.comparison.to_json(),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class VerifyReport:
    """Every post's round trip; it owns the exit code (1 when text, images or links were lost)."""

    articles: tuple[ArticleCheck, ...]

    @property
    def exit_code(self) -> int:
        return 1 if any(a.comparison.lost for a in self.articles) else 0

    def lines(self) -> list[str]:
        """The report in words, for stderr."""
        out = []
        for check in self.articles:
            said = check.comparison.words()
            out.append(f"{check.where()}: {'WeChat kept it as sent' if not said else 'lost what was sent' if check.comparison.lost else 'nothing lost, but WeChat changed it'}")
            out.extend(f"  {line}" for line in [*said, *(f"note: {n}" for n in check.notes)])
        lost = sum(1 for a in self.articles if a.comparison.lost)
        changed = sum(1 for a in self.articles if a.comparison.changed and not a.comparison.lost)
        out.append(f"verified {len(self.articles)} article{'s' if len(self.articles) != 1 else ''}: {lost} lost text, images or links; {changed} changed without losing any")
        return out

    def to_json(self) -> dict[str, Any]:
        return {"articles": [a.to_json() for a in self.articles], "exit_code": self.exit_code}


def verify_paths(
    paths: Paths,
    *,
    media_id: str | None = None,
    api_base: str | None = None,
    credentials: Credentials | StandIn | None = None,
    ledger_path: Path | None = None,
    token_store: str | None = None,
) -> VerifyReport:
    """Read back what each post became (its draft in the ledger, or `media_id`; once published, the
    published article) and compare it with what was sent."""
    from .config import Credentials, PublishSettings, credentials_of
    from .errors import UsageError
    from .ledger import Ledger
    from .post import named_posts
    from .wechat import WeChat

    paths = named_posts(paths)
    if not paths:
        raise UsageError("no post given", hint="wxpub verify POST.md [POST.md ...]")
    settings = PublishSettings.find(paths[0])
    if not isinstance(credentials, Credentials):
        from .publish.recipe import account_of

        account = account_of(paths, None)  # the posts' account ([accounts.NAME]), when the project has them
        credentials = credentials_of(account, settings, credentials)
    client = WeChat(credentials.appid, credentials.secret, api_base=api_base or settings.api_base, storage=token_store or settings.token_store, secret_from=credentials.secret_from, appid_from=credentials.appid_from)
    ledger = Ledger(ledger_path or settings.ledger, credentials.appid)
    held: dict[str, tuple[list[dict[str, Any]], str | None]] = {}
    checks = []
    for path in dict.fromkeys(Path(p) for p in paths):
        key = ledger.key(path)
        # The draft a publish of this post would update (the same rule), or the one named.
        record = (
            ledger.draft_holding([key])
            if media_id is None
            else next((r for r in ledger.drafts() if key in r.posts and r.media_id == media_id), None)
        )
        if record is None:
            raise VerifyError(
                "not in the ledger: it was never published to this account" + (f" as draft {media_id}" if media_id else ""),
                path=path,
                hint="wxpub publish it first",
            )
        index = record.posts.index(key)
        fingerprint = record.fingerprints[index] if index < len(record.fingerprints) else ""
        # First, offline: what WeChat holds is compared with what was sent, never with a later edit.
        sent = sent_content(path, ledger, fingerprint)
        if record.media_id not in held:
            held[record.media_id] = _read_back(client, record, path)
        articles, article_id = held[record.media_id]
        if index >= len(articles):
            kind = f"what draft {record.media_id} was published as" if article_id else f"its draft {record.media_id}"
            raise VerifyError(f"{kind} holds {len(articles)} article(s), not the {index + 1} the ledger expects", path=path, hint="wxpub publish it again")
        if article_id and articles[index].get("is_deleted"):
            raise PublishedError(f"it was published ({article_id}, article {index + 1}) and that article has been deleted since", path=path)
        notes = () if fingerprint else ("the ledger does not say what was sent: the comparison is with the post as it is now",)
        content = str(articles[index].get("content") or "")
        checks.append(ArticleCheck(str(path), record.media_id, index, compare(sent, content), notes, article_id))
    return VerifyReport(tuple(checks))


def sent_content(path: Path, ledger: Ledger, fingerprint: str = "") -> str:
    """The content that was sent for this post: its article as publish sends it now (publish's own
    `sent_article`), provided that its fingerprint is the one the ledger recorded when it was sent.

    The ledger keeps what was sent only as that fingerprint, so a post edited since (its text, its
    front matter, its images, its blocks or theme) cannot be compared: VerifyError, not a loss to
    blame on WeChat. With no fingerprint, the post as it is now is all there is."""
    from .publish.recipe import sent_article

    hint = "wxpub publish it first, then verify"

    def missing(image: PreparedImage) -> str:
        raise VerifyError(f"image '{image.source}' is not on the account: the post changed since it was published", path=path, line=image.line, hint=hint)

    article = sent_article(path, ledger, missing)
    if fingerprint and article.fingerprint() != fingerprint:
        raise VerifyError("the post was edited since it was published: WeChat's copy is of what was sent before", path=path, hint=hint)
    return article.content


def _read_back(client: WeChat, record: DraftRecord, path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """The articles WeChat holds for a draft, and the article_id when they are read from what it was
    published as: draft/get, else, once published, freepublish/getarticle (100 a day), by the
    article_id of the ledger or of freepublish/get."""
    from .errors import WeChatError
    from .wechat import PUBLISH_STATUS

    found = client.get_draft(record.media_id)
    if found is not None:
        return found, None
    if not record.published:
        if record.submitting:
            raise VerifyError(
                f"its draft {record.media_id} left the draft box after a submit whose answer was lost",
                path=path,
                hint="run wxpub publish on it: it finds out whether that submit published it",
            )
        raise VerifyError(f"its draft {record.media_id} is no longer in the draft box (deleted)", path=path, hint="wxpub publish it again")
    which = f"publish_id {record.publish_id}" if record.publish_id else f"article_id {record.article_id}"
    article_id, why = record.article_id or "", ""
    try:
        if not article_id and record.publish_id:
            answer = client.publish_status(record.publish_id)
            status = int(answer.get("publish_status", 1))
            article_id = str(answer.get("article_id") or "") if status == 0 else ""
            why = "" if article_id else f"its publish job is {PUBLISH_STATUS.get(status, f'status {status}')}"
        if article_id:
            return client.get_article(article_id), article_id
    except WeChatError as error:
        why = error.message
    # Raised outside the except clause, so that it keeps no chain.
    raise PublishedError(
        f"it was published ({which}) and is no longer a draft; what was published cannot be read back: {why or 'no article_id is known'}",
        path=path,
        hint="there is nothing to publish again; 发表记录 on mp.weixin.qq.com shows it",
    )
