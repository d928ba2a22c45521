"""The offline pipeline: Markdown (with front matter) -> Converted, the WeChat-safe fragment.

`convert_text` does no I/O; `convert_file` adds reading the file and finding a theme next to it.
"""

from __future__ import annotations

import functools
import html as html_lib
import os
import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .errors import ConfigError, Notice, PostError, UsageError
from .limits import CONTENT_MAX_CHARS, IMAGE_URL_CHARS, content_left
from .post import Post, parse_post, read_post
from .render import ImageRef, LinkRef, RenderOptions, render

if TYPE_CHECKING:
    from .config import Account
    from .fit import Outlook
    from .themes import ResolvedTheme



@dataclass(frozen=True)
class Converted:
    """A converted post: the fragment to send as `content`, and what the later steps need."""

    html: str
    title: str
    meta: Mapping[str, Any]
    images: tuple[ImageRef, ...]
    links: tuple[LinkRef, ...]
    warnings: tuple[Notice, ...]
    post: Post = field(repr=False)
    theme: str = "default"
    stock_colours: bool = field(default=False, compare=False)  # a built-in theme's own colours (themes.py)
    # The options it was converted with (those of `plan`) and whether `--fit` was asked for, so
    # that the verdict on its size can say what `--fit` would do with the same choices.
    options: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    fit: bool = field(default=False, compare=False)
    # What `--fit` gave up for it (fit.STEPS' gives_up, of the steps that changed it), in order.
    gave_up: tuple[str, ...] = field(default=(), compare=False)

    @functools.cached_property
    def sent_html(self) -> str:
        """The HTML as publish sends it, but for the image URLs: each image's source as long as
        the URL WeChat gives an upload (the real URLs are known only once uploaded)."""
        if not self.images:
            return self.html
        typical = "http://mmbiz.qpic.cn/".ljust(IMAGE_URL_CHARS, "0")
        return rewrite_sources(self.html, {image.src: typical for image in self.images})

    @property
    def content_length(self) -> int:
        """Characters WeChat counts against its content limit: the HTML as publish will send it."""
        return len(self.sent_html)

    @property
    def content_bytes(self) -> int:
        """UTF-8 bytes of the HTML as publish will send it (WeChat's other limit is 1 MB)."""
        return len(self.sent_html.encode("utf-8"))

    @functools.cached_property
    def digest(self) -> str:
        """The digest publish sends and the preview shows (digest.py): the front matter's `digest`,
        else an excerpt of the post's own text, not of its blocks."""
        from .digest import digest

        return digest(self)

    @property
    def budget_left(self) -> int:
        """Characters the content may still grow by: WeChat takes fewer than 20,000, so 0 at 19,999
        and -1 (one over) at 20,000 (limits.content_left)."""
        return content_left(self.content_length)


def convert_post(post: Post, *, fit: bool = False, **options: Any) -> Converted:
    """Convert a parsed post; `options` (those of `plan`) win over the post's front matter.

    `fit`: when the post is over WeChat's 20,000 characters, use the cheaper renderings of
    fit.STEPS, in their order, until it fits; `fit` notices say what was given up.
    """
    from . import fit as fitting

    converted, taken = _fitted(post, fit, **options)
    gave_up = tuple(fitting.STEPS[index].gives_up for index in taken)
    converted = replace(converted, options=dict(options), fit=fit, gave_up=gave_up)
    if not taken and (not fit or fitting.fits(converted)):
        return converted
    return replace(converted, warnings=converted.warnings + fitting.fit_notices(taken, converted))


def fit_outlook(post: Post, *, plain: Converted | None = None, **options: Any) -> Outlook:
    """How far over WeChat's limit the post is, and whether `fit=True` would make it fit (and how).

    `plain`: the post already converted with these options and no fit, so it is not converted again."""
    from . import fit as fitting

    converted = plain if plain is not None else _fitted(post, False, **options)[0]
    if fitting.fits(converted):
        return fitting.Outlook(fitting.publish_length(converted), CONTENT_MAX_CHARS, True, ())
    # What a post that cannot fit would give up is not asked: naming it costs renders (fit.steps_that_change)
    # that check, on every post over the limit, would pay for a list it does not show.
    fitted, taken = _fitted(post, True, converted, name_hopeless=False, **options)
    gives_up = tuple(fitting.STEPS[index].gives_up for index in taken)
    return fitting.Outlook(fitting.publish_length(converted), CONTENT_MAX_CHARS, fitting.fits(fitted), gives_up)


def _fitted(
    post: Post, fit: bool, plain: Converted | None = None, *, name_hopeless: bool = True, **options: Any
) -> tuple[Converted, tuple[int, ...]]:
    """The post converted, with as many fit steps as it needs when `fit`, and which of those steps
    took something away (a step for code blocks gives up nothing in a post without code, and is
    not reported, in a post that fits with them as in one that does not);
    `plain` is the post already converted without fit steps, if it was; without `name_hopeless`, a
    post that every step cannot bring under the limit is said to have taken none."""
    from . import fit as fitting

    resolved, render_options = plan(post, **options)
    converted = plain if plain is not None else _convert(post, resolved, render_options)
    if not fit or fitting.fits(converted):
        return converted, ()
    # Every step at once first: a post far over the limit then costs one more conversion, not one per step.
    every = len(fitting.STEPS)
    everything = _convert(post, *fitting.fitted_plan(resolved, render_options, every))
    if not fitting.fits(everything):
        return everything, fitting.steps_that_change(post, resolved, render_options) if name_hopeless else ()
    taken: list[int] = []
    for steps in range(1, every + 1):
        with_steps = everything if steps == every else _convert(post, *fitting.fitted_plan(resolved, render_options, steps))
        before, converted = converted, with_steps
        if converted.html != before.html:
            taken.append(steps - 1)
        if fitting.fits(converted):
            break
    return converted, tuple(taken)


def _convert(post: Post, resolved: ResolvedTheme, render_options: RenderOptions) -> Converted:
    from .inline import inline

    meta = post.meta
    rendered = render(post, render_options)
    html, removed = inline(rendered.html, resolved, frozenset(i.src for i in rendered.images))
    title = str(meta.get("title") or rendered.title or "")
    # Lines counted in the expanded body (blocks.py) go back to the file's: a block's line is the
    # line that names it.
    here = post.file_line
    empty = () if _has_text(post, title) else (
        # At the front matter's closing fence, where the text should have begun.
        Notice("empty", "the post has no text to publish", max(post.body_line - 1, 1), 1),
    )
    return Converted(
        html=html,
        title=title,
        meta=dict(meta),
        images=tuple(replace(i, line=here(i.line)) if i.line else i for i in rendered.images),
        links=tuple(replace(l, line=here(l.line)) if l.line else l for l in rendered.links),
        warnings=post.notices + resolved.notices + empty + tuple(
            replace(n, line=here(n.line)) if n.line else n for n in (*rendered.notices, *removed)
        ),
        post=post,
        theme=resolved.name,
        stock_colours=resolved.stock_colours,
    )


_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# A blank line, or a rule: three or more of one of - * _ (`*_*_*_` is text, as Markdown reads it).
_NOT_TEXT = re.compile(r"^[ \t]*(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})?$")
_ATX_H1 = re.compile(r"^[ \t]{0,3}#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*(?:\{[^{}]*\})?[ \t]*$")


def _has_text(post: Post, title: str) -> bool:
    """Whether the post's own text (not its blocks) holds anything to read: something besides
    comments and rules, and besides a leading `# heading` that became the title.

    A post of front matter alone would be published as an article holding nothing, or only its
    header and footer. An include counts as text: what it brings is the post's to choose."""
    from .blocks import INCLUDE

    own = post.file_body if post.file_body is not None else post.body
    kept = _COMMENT.sub(lambda m: m.group(0) if INCLUDE.match(m.group(0)) else "", own)
    lines = [line for line in kept.split("\n") if not _NOT_TEXT.match(line)]
    heading = _ATX_H1.match(lines[0]) if lines else None
    if heading is not None and heading.group(1).strip() == title.strip():
        lines = lines[1:]  # the converter takes it out of the body
    return bool(lines)


def plan(
    post: Post,
    *,
    theme: str | Path | None = None,
    color: str | None = None,
    font_size: float | None = None,
    line_numbers: bool | None = None,
    caption: str | None = None,
    code_style: str | None = None,
) -> tuple[ResolvedTheme, RenderOptions]:
    """The theme and render options a post is converted with: given options, else front matter, else defaults.

    `wxpub check` renders with the same plan, so what it measures is what would be published.
    """
    from . import themes

    meta = post.meta
    # A path given here (--theme, theme=) is the caller's, relative to the current folder; one in
    # the front matter is relative to the post (a [convert] one was made absolute by convert_defaults).
    base = post.path.parent if post.path and not theme else None
    with _from_front_matter(post, "theme", given=theme is not None):
        chosen = themes.load_theme(theme or meta.get("theme"), base=base)
    if not theme and chosen.path is not None and post.path is not None and not themes.is_builtin(chosen):
        _inside_project(chosen.path, post)
    chosen_color = color or _str(meta.get("color"))
    chosen_size = font_size if font_size is not None else meta.get("font_size")
    with _from_front_matter(post, "color", given=color is not None):
        themes.check_color(chosen_color)
    with _from_front_matter(post, "font_size", given=font_size is not None):
        themes.check_font_size(chosen_size)
    resolved = themes.resolve(chosen, color=chosen_color, font_size=chosen_size)
    numbered, said = _yes_no(post, "line_numbers", line_numbers)
    options = RenderOptions(
        code_style=code_style or _str(meta.get("code_style")) or resolved.code_style,
        line_numbers=numbered,
        caption=caption or str(meta.get("caption", "title-alt")),
        font_size=resolved.font_size,
    )
    _check_options(options, post, code_style_given=code_style is not None)
    # What reading the options noticed travels with the theme's notices into the Converted.
    return (replace(resolved, notices=resolved.notices + said) if said else resolved), options


def with_project_defaults(post: Post, account: str | None = None) -> Post:
    """The post as the project publishes it: `[convert]` from wxpub.toml (or [tool.wxpub.convert])
    and its account's author and theme under its front matter, and its blocks (header, includes,
    footer) in its body.

    The account is `account` (`--account`), else the front matter's `account:`, else the project's default.
    """
    from .blocks import expand
    from .bounds import check_size
    from .config import convert_defaults, find_project_root

    if post.path is None or post.line_map is not None:
        return post
    check_size(post)  # before its blocks are looked for, line by line
    chosen = post_account(post, account)
    under: dict[str, Any] = dict(convert_defaults(post.path))
    if chosen is not None:
        under.update({key: value for key, value in (("author", chosen.author), ("theme", chosen.theme)) if value})
    meta = {**under, **post.meta}
    if meta != dict(post.meta):
        post = replace(post, meta=meta)
    root = chosen.root if chosen is not None else find_project_root(post.path or ".")
    return expand(post, chosen, root)


def post_account(post: Post, account: str | None = None) -> Account | None:
    """The account a post goes to: `account`, else its front matter's `account:`, else the project's
    default (None when the project names no account). An unknown name in the front matter is an
    error at its line."""
    from .config import project_accounts

    if post.path is None:
        return None
    accounts = project_accounts(post.path)
    named = account or _str(post.meta.get("account"))
    try:
        return accounts.choose(named)
    except ConfigError as error:
        if account is not None or "account" not in post.meta:
            raise
        raise PostError(error.message, path=post.path, line=post.line_of("account"), hint=error.hint) from None


def convert_text(markdown: str, **options: Any) -> Converted:
    """Convert Markdown text (front matter allowed); no file is read or written."""
    return convert_post(parse_post(markdown), **options)


def convert_file(path: str | Path, *, account: str | None = None, **options: Any) -> Converted:
    """Read a post file (UTF-8) and convert it; a user theme path is relative to the post.

    `[convert]` in the project's wxpub.toml (or `[tool.wxpub.convert]`) gives defaults that the
    post's front matter and the options given here override.
    """
    return convert_post(with_project_defaults(read_post(path), account), **options)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _yes_no(post: Post, key: str, given: bool | None) -> tuple[bool, tuple[Notice, ...]]:
    """A yes/no option: given, else the front matter's or [convert]'s (post.yes_no: a boolean, or
    a word such as "false" in quotes, read as what it says and warned about), else no."""
    from .config import table_name
    from .post import yes_no

    if given is not None:
        return bool(given), ()
    if key not in post.meta:
        return False, ()
    value = post.meta[key]
    with _from_front_matter(post, key, given=False):
        try:
            flag, as_text = yes_no(value)
        except ValueError:
            raise UsageError(f"{key} must be true or false, not {value!r}", hint="write true or false, without quotes") from None
    if not as_text:
        return flag, ()
    word = str(flag).lower()
    line = post.line_of(key)
    if line is not None:
        at_value = re.match(rf"\s*['\"]?{re.escape(key)}['\"]?\s*:\s*", post.source_line(line))
        said = f"{key}: {value!r} is text, read as {word}; write {key}: {word}, without quotes"
        return flag, (Notice("yes-no-text", said, line, at_value.end() + 1 if at_value else 1),)
    source = _config_source(post, key)
    where = f"{table_name('convert', source)} in {source.name}" if source is not None else "the project's settings"
    return flag, (Notice("yes-no-text", f'{where}: {key} = "{value}" is text, read as {word}; write {key} = {word}, without quotes'),)


def _config_source(post: Post, key: str) -> Path | None:
    """The project file whose [convert] gives the post `key` (the front matter does not)."""
    from .config import convert_defaults, find_settings

    if post.path is None or post.line_of(key) is not None or key not in convert_defaults(post.path):
        return None
    return find_settings(post.path)[1]


class _from_front_matter:
    """Turn a UsageError about a value that came from the front matter into a PostError at its line,
    and one about a value of [convert] in wxpub.toml into a ConfigError naming that file."""

    def __init__(self, post: Post, key: str, *, given: bool) -> None:
        self.post, self.key, self.given = post, key, given

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, error: BaseException | None, traceback: Any) -> None:
        from .config import key_line, table_name

        if isinstance(error, UsageError) and not self.given and self.key in self.post.meta:
            source = _config_source(self.post, self.key)
            if source is not None:
                raise ConfigError(f"{table_name('convert', source)} {error.message}", path=source,
                                  line=key_line(source, "convert", self.key), hint=error.hint) from None
            raise PostError(error.message, path=self.post.path, line=self.post.line_of(self.key), hint=error.hint) from None


def _inside_project(path: Path, post: Post) -> None:
    """A theme named by the post (or its project's config) must be a file of the project."""
    from .config import find_project_root, key_line, shown, table_name

    assert post.path is not None
    root = find_project_root(post.path)
    target = path.resolve()
    if target.is_relative_to(root):
        return
    # A link inside the project to a file outside it: say so, or the name shown looks inside.
    reached = Path(os.path.abspath(path))
    if reached.is_relative_to(root):
        # Named as reached (shown() would follow the link): relative to the current folder when inside it.
        here = Path.cwd()
        named = reached.relative_to(here) if reached.is_relative_to(here) else reached
        what = f"theme '{named}' is a link to '{target}', outside"
    else:
        what = f"theme '{shown(path)}' is outside"
    message = f"{what} the project ({shown(root)})"
    hint = "keep theme files inside the project, or pass --theme on the command line"
    source = _config_source(post, "theme")
    if source is not None:
        raise ConfigError(f"{table_name('convert', source)} {message}", path=source,
                          line=key_line(source, "convert", "theme"), hint=hint)
    raise PostError(message, path=post.path, line=post.line_of("theme"), hint=hint)


def _check_options(options: RenderOptions, post: Post, *, code_style_given: bool) -> None:
    from .mdext.codeblocks import check_style
    from .mdext.figures import CAPTION_MODES

    with _from_front_matter(post, "code_style", given=code_style_given):
        check_style(options.code_style)
    if options.caption not in CAPTION_MODES:
        raise PostError(
            f"caption '{options.caption}' is not one of {', '.join(CAPTION_MODES)}",
            path=post.path,
            line=post.line_of("caption"),
            hint="set caption: title-alt (the default), title, alt or none",
        )


# --- the fragment's images -------------------------------------------------------------------------


class _ImgFinder(HTMLParser):
    """Finds the exact span of each `src` attribute value of each <img> start tag."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
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
            self.found.append((start + match.start() + 1, start + match.end(), html_lib.unescape(value)))

    handle_startendtag = handle_starttag


def _img_sources(fragment: str) -> list[tuple[int, int, str]]:
    finder = _ImgFinder(fragment)
    finder.feed(fragment)
    finder.close()
    return finder.found


def rewrite_sources(fragment: str, urls: Mapping[str, str]) -> str:
    """The fragment with the `src` of every <img> whose value is a key of `urls` replaced by its URL.

    The HTML is parsed to find each attribute; only those attribute values change, byte for byte."""
    out, last = [], 0
    for start, end, value in _img_sources(fragment):
        if value in urls:
            out.append(fragment[last:start])
            out.append(f'src="{html_lib.escape(urls[value], quote=True)}"')
            last = end
    out.append(fragment[last:])
    return "".join(out)


def image_sources(fragment: str) -> list[str]:
    """The `src` value of every <img> in the fragment, unescaped, in order."""
    return [value for _, _, value in _img_sources(fragment)]
