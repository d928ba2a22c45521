"""`--fit`: cheaper renderings, tried in a fixed order, for a post over WeChat's 20,000 characters.

Each step gives up one piece of the theme's look for fewer characters, and the steps add up:

1. code blocks colour only keywords and comments (no strings, decorators…);
2. code blocks in one colour;
3. table cells without rules;
4. callouts and quotes without background or rounded corners;
5. list markers in the text colour, not bold;
6. inline code without background or padding;
7. reference and footnote marks as plain superscripts;
8. pictures with square corners and no frame;
9. captions as plain text under the picture;
10. bold text only bold, without a colour or background of its own;
11. simple inline formulas (letters, numbers, operators, sub- and superscripts) written as text,
    not drawn.

A post is converted as it is first; only when it is over the limit is the next step added, until
it fits or no step is left. What was given up is reported as `fit` notices, one per step that
changed the post (a post without code blocks gives up no code colours). Without `--fit`,
`outlook` says how far over a post is and whether (and with which steps) `--fit` would make it fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .errors import Notice
from .limits import CONTENT_MAX_CHARS, content_over

if TYPE_CHECKING:
    from .convert import Converted
    from .post import Post
    from .render import RenderOptions
    from .themes import ResolvedTheme


@dataclass(frozen=True)
class FitStep:
    """One cheaper rendering: its name, what the reader loses, and how it changes the plan."""

    name: str
    gives_up: str
    apply: Callable[[ResolvedTheme, RenderOptions], tuple[ResolvedTheme, RenderOptions]]


@dataclass(frozen=True)
class Outlook:
    """How a post measures against WeChat's limit, and what `--fit` would do about it."""

    length: int  # characters publish will send (image URLs at their uploaded length)
    limit: int
    fits_with_fit: bool  # whether --fit makes it fit (True when it fits already)
    gives_up: tuple[str, ...]  # what --fit would give up to fit (empty when it fits already, or cannot fit)

    @property
    def over_by(self) -> int:
        """Characters to lose before WeChat takes the post (0 when it fits)."""
        return content_over(self.length)


def publish_length(converted: Converted) -> int:
    """The characters publish sends: the one content measure (Converted.content_length)."""
    return converted.content_length


def fits(converted: Converted) -> bool:
    """Whether WeChat takes the post's content (it must be shorter than CONTENT_MAX_CHARS)."""
    return content_over(publish_length(converted)) == 0


def _code_colours(colours: str) -> Callable[[ResolvedTheme, RenderOptions], tuple[ResolvedTheme, RenderOptions]]:
    def apply(theme: ResolvedTheme, options: RenderOptions) -> tuple[ResolvedTheme, RenderOptions]:
        return theme, replace(options, code_colours=colours)

    return apply


def _math_as_text(theme: ResolvedTheme, options: RenderOptions) -> tuple[ResolvedTheme, RenderOptions]:
    return theme, replace(options, math_as_text=True)


def _drop(selector: re.Pattern[str], prop: re.Pattern[str]) -> Callable[[ResolvedTheme, RenderOptions], tuple[ResolvedTheme, RenderOptions]]:
    """A step that removes the declarations matching `prop` from the rules whose selector matches `selector`."""

    def apply(theme: ResolvedTheme, options: RenderOptions) -> tuple[ResolvedTheme, RenderOptions]:
        def rule(match: re.Match[str]) -> str:
            selectors, body = match.group(1), match.group(2)
            if not any(selector.search(s.strip()) for s in selectors.split(",")):
                return match.group(0)
            from .profile import declarations

            kept = [f"{p}: {v}" for p, v in declarations(body) if not prop.match(p)]
            return f"{selectors}{{{'; '.join(kept)}}}"

        return replace(theme, css=_RULE.sub(rule, theme.css)), options

    return apply


_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")

STEPS: tuple[FitStep, ...] = (
    FitStep("code-colours-fewer", "code blocks colour only keywords and comments", _code_colours("fewer")),
    FitStep("code-colours-none", "code blocks are in one colour", _code_colours("none")),
    FitStep("table-rules", "table cells have no rules", _drop(re.compile(r"(?:^|[\s>+~])td\b[^\s>+~]*$|^th\s*$"), re.compile(r"border"))),
    FitStep(
        "callouts-plain",
        "callouts and quotes have no background or rounded corners",
        _drop(re.compile(r"\.callout|blockquote"), re.compile(r"background|border-radius")),
    ),
    FitStep("markers-plain", "list markers are in the text colour", _drop(re.compile(r"\.marker"), re.compile(r"color$|font-weight"))),
    FitStep(
        "inline-code-plain",
        "inline code has no background",
        _drop(re.compile(r"(?:^|[\s>+~])code$"), re.compile(r"background|padding|border-radius")),
    ),
    # For posts of many links and pictures: a newsletter pays for each mark and each figure.
    FitStep(
        "marks-plain",
        "reference and footnote marks are plain superscripts in the text colour",
        _drop(re.compile(r"^sup$|\.ref-mark|\.fn-mark"), re.compile(r"color$|font-size|line-height")),
    ),
    FitStep("pictures-plain", "pictures have square corners and no frame", _drop(re.compile(r"(?:^|[\s>+~])img$"), re.compile(r"border"))),
    FitStep(
        "captions-plain",
        "captions are plain text under the picture",
        _drop(re.compile(r"^figcaption$"), re.compile(r".")),
    ),
    FitStep(
        "bold-plain",
        "bold text is only bold: no colour or background of its own",
        _drop(re.compile(r"(?:^|[\s>+~])(?:strong|b)$"), re.compile(r"color$|background|padding|border")),
    ),
    # For posts of many formulas: a drawn one-letter formula costs about 280 characters, as text a dozen.
    FitStep("math-as-text", "simple inline formulas are written as text, not drawn", _math_as_text),
)


def fitted_plan(theme: ResolvedTheme, options: RenderOptions, steps: int) -> tuple[ResolvedTheme, RenderOptions]:
    """The plan with the first `steps` of STEPS applied."""
    for step in STEPS[:steps]:
        theme, options = step.apply(theme, options)
    return theme, options


def fit_notices(taken: Sequence[int], converted: Converted) -> tuple[Notice, ...]:
    """What `--fit` gave up, one notice per step that took something away (`taken`, indexes into
    STEPS), and whether the post fits now."""
    if fits(converted):
        return tuple(Notice("fit", f"to fit WeChat's {CONTENT_MAX_CHARS:,} characters, {STEPS[index].gives_up}") for index in taken)
    # The steps did not make it fit: they are named as what was tried, not as what fitting cost.
    over = content_over(publish_length(converted))
    still = f"still {over:,} characters over WeChat's {CONTENT_MAX_CHARS:,}"
    if taken:
        message = f"even with every cheaper rendering ({'; '.join(STEPS[index].gives_up for index in taken)}), {still}"
    else:
        message = f"{still}, and no cheaper rendering changes this post"
    return (Notice("fit", f"{message}: shorten the post or split it"),)


def steps_that_change(post: Post, theme: ResolvedTheme, options: RenderOptions) -> tuple[int, ...]:
    """Which of STEPS, applied in order from the plan (`theme`, `options`), change the post: for a
    post that every step cannot bring under the limit, so that only those are named.

    Without converting once per step: a step of render options changes the post when it renders
    differently with it, a step of theme rules when a rule it changes matches an element of the
    post as rendered. A post without code blocks or formulas renders the same whatever their
    options, so it is rendered once (a long post of prose costs one render, not four)."""
    from lxml.cssselect import CSSSelector, SelectorError

    from .inline import _parse
    from .profile import declarations
    from .render import render

    renders: dict[RenderOptions, tuple[str, Any]] = {}

    def rendered(opts: RenderOptions) -> tuple[str, Any]:
        if opts not in renders:
            html = render(post, opts).html
            renders[opts] = html, _parse(html)
        return renders[opts]

    plain = options
    first = rendered(plain)[1]
    has_code, has_math = first.find(".//pre") is not None, first.find(".//svg") is not None

    def same(opts: RenderOptions) -> RenderOptions:
        """The options that render this post as `opts` do and are rendered already, if any."""
        return replace(
            opts,
            code_colours=opts.code_colours if has_code else plain.code_colours,
            math_as_text=opts.math_as_text if has_math else plain.math_as_text,
        )

    def matches(selector: str, root: Any) -> bool:
        try:
            return bool(CSSSelector(selector)(root))
        except (SelectorError, ValueError):  # a selector lxml cannot read: say it applies
            return True

    taken = []
    for index, step in enumerate(STEPS):
        after_theme, after_options = step.apply(theme, options)
        if same(after_options) != same(options):
            if rendered(same(after_options))[0] != rendered(same(options))[0]:
                taken.append(index)
        elif after_theme.css != theme.css:
            root = rendered(same(options))[1]
            changed = [
                selectors
                for (selectors, before), (_, after) in zip(_RULE.findall(theme.css), _RULE.findall(after_theme.css))
                if declarations(before) != declarations(after)
            ]
            if any(matches(s.strip(), root) for selectors in changed for s in selectors.split(",")):
                taken.append(index)
        theme, options = after_theme, after_options
    return tuple(taken)
