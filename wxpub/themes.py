"""Themes: CSS files in `styles/` (or a user's CSS file) -> ResolvedTheme, CSS that can be inlined.

Only what premailer can write into `style=""` reaches the article: custom properties are resolved
here (`--primary` and `--font-size` can be overridden per post), and rules WeChat cannot keep
(`@media`, `:hover`, `::before`, …) are dropped with a notice that names them. So are the CSS
mistakes browsers pass over in silence (a brace too many or too few, `#zzz`, `16` without a unit, a
quoted colour, an undefined or circular var()), each at its line in the theme file.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Notice, ThemeError, UsageError

DEFAULT_THEME = "default"

_CUSTOM_PROPERTY = re.compile(r"(--[\w-]+)\s*:\s*([^;{}]+?)\s*(?:;|(?=}))")
_VAR = re.compile(r"var\(\s*(--[\w-]+)\s*(?:,\s*([^()]*(?:\([^()]*\)[^()]*)*))?\)")
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
# Pseudo-classes and -elements that describe states or generated boxes: nothing in a static
# article can carry them inline.
_UNINLINABLE = re.compile(
    r"::?(?:before|after|first-line|first-letter|marker|selection|placeholder|hover|focus"
    r"|focus-within|focus-visible|active|visited|link|target|checked|disabled)\b"
)


@dataclass(frozen=True)
class Theme:
    """A theme as written: its name and CSS text."""

    name: str
    css: str
    path: Path | None = None


@dataclass(frozen=True)
class ResolvedTheme:
    """Inlinable CSS with variables resolved, plus what the rest of the pipeline needs from it."""

    name: str
    css: str
    code_style: str
    background: str
    font_size: float
    notices: tuple[Notice, ...]
    # A built-in theme in its own colours: its contrast in light and dark mode is held to WCAG by
    # the test suite on every golden case, so it need not be measured again for each post.
    stock_colours: bool = False
    primary: str = ""  # --primary as resolved: the colour chosen for the post, else the theme's own


def _styles_dir() -> Path:
    # The themes live in the project's top-level styles/; wxpub/styles is a link to it in a
    # checkout and the folder itself in the wheel, so both find them the same way.
    return Path(__file__).resolve().parent / "styles"


def list_themes() -> list[Theme]:
    """The built-in themes, default first."""
    themes = [Theme(p.stem, p.read_text(encoding="utf-8"), p) for p in sorted(_styles_dir().glob("*.css"))]
    return sorted(themes, key=lambda t: (t.name != DEFAULT_THEME, t.name))


def is_builtin(theme: Theme) -> bool:
    """Whether `theme` is one of the themes shipped with wxpub."""
    return theme.path is not None and theme.path.resolve().parent == _styles_dir().resolve()


def load_theme(name_or_path: str | Path | None = None, *, base: Path | None = None) -> Theme:
    """A built-in theme by name, or a user theme by path to a CSS file (relative to `base`)."""
    name = str(name_or_path or DEFAULT_THEME)
    if name.endswith(".css") or "/" in name or "\\" in name:
        path = Path(name)
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            return Theme(path.stem, path.read_text(encoding="utf-8"), path)
        except UnicodeDecodeError:
            raise ThemeError(f"cannot read theme '{name}': it is not UTF-8 text", path=path, hint="save it as UTF-8") from None
        except OSError as exc:
            # In words, without "[Errno 2]" and the path again.
            reason = "no such file" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc)).lower()
            raise ThemeError(f"cannot read theme '{name}': {reason}", path=path, hint="give a path to a UTF-8 CSS file") from None
    path = _styles_dir() / f"{name}.css"
    if not path.is_file():
        known = ", ".join(t.name for t in list_themes())
        raise UsageError(f"unknown theme '{name}'", hint=f"built-in themes: {known}; or give a path to a .css file")
    return Theme(name, path.read_text(encoding="utf-8"), path)


def resolve(theme: Theme, *, color: str | None = None, font_size: float | None = None) -> ResolvedTheme:
    """Resolve `theme` with the per-post primary colour and base font size."""
    check_color(color)
    check_font_size(font_size)
    return _resolve(theme, color, float(font_size) if font_size is not None else None)


def check_color(color: str | None) -> None:
    """A primary colour must be a hex colour (#0f7b6c or #c33); None is the theme's own."""
    if color is not None and not _HEX.match(str(color)):
        raise UsageError(f"colour '{color}' is not a hex colour", hint="write it like #0f7b6c or #c33")


def check_font_size(font_size: Any) -> None:
    """A base font size must be a number of px from 10 to 28; None is the theme's own."""
    try:
        good = font_size is None or (not isinstance(font_size, bool) and 10 <= float(font_size) <= 28)
    except (TypeError, ValueError):
        good = False
    if not good:
        raise UsageError(f"font size {font_size!r} is not a size from 10 to 28 px", hint="give a size in px between 10 and 28")


@functools.lru_cache(maxsize=32)
def _resolve(theme: Theme, color: str | None, font_size: float | None) -> ResolvedTheme:
    css = _COMMENT.sub("", theme.css)
    variables = dict(_CUSTOM_PROPERTY.findall(css))
    if color:
        variables["--primary"] = color
    if font_size:
        variables["--font-size"] = f"{font_size:g}px"
    css = _CUSTOM_PROPERTY.sub("", css)
    # An undefined or circular var() stays as written, so that its declaration is dropped as a
    # browser would ignore it; _mistakes says why, at its line.
    css = _substitute(css, variables, undefined=None)
    mistakes = _mistakes(theme, variables)
    css, notices = _inlinable(css, theme.name)
    notices = mistakes + notices
    size = _substitute(variables.get("--font-size", "16px"), variables)
    return ResolvedTheme(
        name=theme.name,
        css=css,
        code_style=variables.get("--code-style", "wxpub-light").strip("\"'"),
        background=_substitute(variables.get("--background", "#fff"), variables),
        font_size=float(size.removesuffix("px")) if size.endswith("px") else 16.0,
        notices=tuple(notices),
        stock_colours=is_builtin(theme) and color is None,
        primary=_substitute(variables.get("--primary", ""), variables).strip(),
    )


def _substitute(text: str, variables: dict[str, str], undefined: str | None = "initial") -> str:
    def value(match: re.Match[str]) -> str:
        found = variables.get(match.group(1)) or (match.group(2) or "").strip() or undefined
        return match.group(0) if found is None else found

    for _ in range(10):  # variables may refer to variables; ten levels is more than any theme needs
        new = _VAR.sub(value, text)
        if new == text:
            break
        text = new
    return text


def _inlinable(css: str, theme_name: str) -> tuple[str, list[Notice]]:
    """Keep the style rules premailer can inline, and in them what the WeChat profile allows; name each thing dropped."""
    notices: list[Notice] = []
    kept: list[str] = []
    for block in _blocks(css):
        head, _, body = block.partition("{")
        head = head.strip()
        if head.startswith("@"):
            notices.append(Notice("theme-rule", f"theme {theme_name}: dropped '{head}' (WeChat keeps only inline styles)"))
            continue
        selectors = [s.strip() for s in head.split(",") if s.strip()]
        good = [s for s in selectors if not _UNINLINABLE.search(s)]
        for bad in dict.fromkeys(selector for selector in selectors if selector not in good):  # in order, every run
            notices.append(Notice("theme-rule", f"theme {theme_name}: dropped '{bad}' (pseudo-classes and ::before/::after cannot be inlined)"))
        # Selectors whose declarations the profile treats alike stay together, in their order.
        groups: dict[str, list[str]] = {}
        for selector in good:
            declarations = _in_profile(selector, body.strip(" \n\t}"), theme_name, notices)
            if declarations:
                groups.setdefault(declarations, []).append(selector)
        for declarations, group in groups.items():
            kept.append(f"{','.join(group)}{{{declarations}}}")
    return "\n".join(kept), notices


_LAST_TAG = re.compile(r"(?:^|[\s>+~])([a-zA-Z][\w-]*)[^\s>+~]*$")


def _in_profile(selector: str, body: str, theme_name: str, notices: list[Notice]) -> str:
    """The declarations of `body` that the WeChat profile allows on what `selector` selects."""
    import tinycss2

    from . import profile

    match = _LAST_TAG.search(selector.strip())
    tag = match.group(1).lower() if match else ""
    kept = []
    for prop, value in profile.declarations(body):
        if "var(" in value.lower() or _value_problem(prop, tinycss2.parse_component_value_list(value), profile):
            continue  # an undefined or circular var(), or a value browsers ignore: _mistakes has named it
        # premailer strips !important when it inlines (WeChat's dark mode would be defeated by it).
        plain = re.sub(r"\s*!\s*important\s*$", "", value, flags=re.IGNORECASE)
        cleaned, removed = profile.clean_style(tag, f"{prop}:{plain}")
        if removed:
            reason = removed[0].rsplit(" (", 1)[1].rstrip(")")
            notices.append(Notice("theme-css", f"theme {theme_name}: dropped '{prop}: {value}' from '{selector}' ({reason})"))
            continue
        if cleaned != f"{prop}:{plain}":
            notices.append(
                Notice("theme-css", f"theme {theme_name}: '{prop}: {value}' in '{selector}' is now {profile.NEAR_BLACK} (the WeChat editor swallows pure black)")
            )
            value = cleaned.partition(":")[2] + value[len(plain) :]
        kept.append(f"{prop}: {value}")
    return "; ".join(kept)


def _blocks(css: str) -> list[str]:
    """Top-level `selector { … }` and `@rule { … { … } }` blocks, braces balanced."""
    blocks, depth, start = [], 0, 0
    for index, char in enumerate(css):
        if char == "{":
            depth += 1
        elif char == "}" and depth == 0:  # a stray brace (named by _mistakes): the rules after it stay
            start = index + 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                blocks.append(css[start : index + 1].strip())
                start = index + 1
        elif char == ";" and depth == 0:  # @import …; and similar one-line at-rules
            blocks.append(css[start : index + 1].strip())
            start = index + 1
    if depth > 0 and css[start:].strip():  # closed at the end of the file, as browsers do (_mistakes names it)
        blocks.append(css[start:].strip() + "}" * depth)
    return [b for b in blocks if b]


# Mistakes in a theme's CSS that browsers and premailer pass over in silence. Found on the file as
# written, so that each is named at its line: braces, colours, lengths and var().
_TOKENS = re.compile(r"/\*.*?(?:\*/|$)|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|[{}]", re.DOTALL)
_HEX_DIGITS = re.compile(r"^(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
# Properties whose values are lengths (or keywords, or %): a bare number other than 0 is no length.
_LENGTHS = frozenset(
    "font-size letter-spacing word-spacing text-indent width height min-width max-width min-height max-height "
    "margin margin-top margin-right margin-bottom margin-left padding padding-top padding-right padding-bottom "
    "padding-left border-radius border-top-left-radius border-top-right-radius border-bottom-left-radius "
    "border-bottom-right-radius border-width border-top-width border-right-width border-bottom-width "
    "border-left-width border border-top border-right border-bottom border-left border-spacing".split()
)


def _mistakes(theme: Theme, defined: dict[str, str]) -> list[Notice]:
    """Each mistake in `theme`'s CSS, at its line in the theme file, with what to do about it."""
    import tinycss2

    from . import profile

    where = theme.name if is_builtin(theme) or theme.path is None else str(theme.path)
    css = theme.css
    notices: list[Notice] = []

    def say(code: str, line: int, message: str) -> None:
        notices.append(Notice(code, f"theme {where}:{line}: {message}"))

    def line_at(index: int) -> int:
        return css.count("\n", 0, index) + 1

    opened: list[int] = []
    last_end = 0
    for token in _TOKENS.finditer(css):
        if token.group(0) == "{":
            opened.append(token.start())
        elif token.group(0) == "}":
            if opened:
                opened.pop()
                last_end = token.end()
            else:
                say("theme-rule", line_at(token.start()), "a '}' closes no rule; wxpub ignores it: remove it")
                last_end = token.end()
    if opened:
        head = _COMMENT.sub("", css[last_end : opened[0]]).strip().rsplit(";", 1)[-1].strip()
        say("theme-rule", line_at(opened[0]), f"the rule '{head}' is not closed; wxpub closes it at the end of the file: add the missing '}}'")

    variables: dict[str, tuple[int, set[str]]] = {}  # custom property -> (line, the properties it refers to)
    uses: list[tuple[int, str, str, list[str]]] = []  # (line, declaration, selector, the names it gives no fallback for)
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type != "qualified-rule":
            continue
        selector = tinycss2.serialize(rule.prelude).strip()
        for node in tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True):
            if node.type == "error":
                message = f"in '{selector}', something is no 'property: value' declaration; browsers skip it: look for a missing ':' or ';'"
                say("theme-css", node.source_line, message)
                continue
            if node.type != "declaration":
                continue
            value = tinycss2.serialize(node.value).strip()
            shown = f"{node.name}: {value}"
            names = _var_names(node.value)
            if node.name.startswith("--"):
                variables[node.name] = (node.source_line, {name for name, _ in names})
                continue
            if names:
                uses.append((node.source_line, shown, selector, [name for name, fallback in names if not fallback]))
                # What a browser would see once the custom properties are put in.
                tokens = tinycss2.parse_component_value_list(_substitute(value, defined, undefined=None))
            else:
                tokens = node.value
            problem = _value_problem(node.lower_name, tokens, profile)
            if problem:
                say("theme-css", node.source_line, f"'{shown}' in '{selector}' {problem}")
    circular = _circular(variables)
    for name in (name for name in variables if name in circular):  # in the file's order
        say("theme-css", variables[name][0], f"custom property '{name}' refers to itself through var(); it has no value: give it a plain one")
    known = set(defined) | set(variables)
    for line, shown, selector, without_fallback in uses:
        missing = [name for name in without_fallback if name not in known]
        if missing:
            say("theme-css", line, f"'{shown}' in '{selector}' uses {', '.join(missing)}, which the theme does not define; the declaration is dropped: define it (in :root) or give var() a fallback")
        elif any(name in circular for name in without_fallback):
            say("theme-css", line, f"'{shown}' in '{selector}' has no value, for its custom property refers to itself; the declaration is dropped")
    return notices


def _var_names(tokens: list[Any]) -> list[tuple[str, bool]]:
    """The custom properties the var()s in `tokens` name, each with whether it has a fallback."""
    found = []
    for token in tokens:
        if token.type == "function" and token.lower_name == "var":
            arguments = [t for t in token.arguments if t.type not in ("whitespace", "comment")]
            if arguments and arguments[0].type == "ident":
                found.append((arguments[0].value, any(t.type == "literal" and t.value == "," for t in arguments)))
        if token.type in ("function", "() block", "[] block", "{} block"):
            found += _var_names(token.arguments if token.type == "function" else token.content)
    return found


def _circular(variables: dict[str, tuple[int, set[str]]]) -> set[str]:
    """The custom properties whose values lead back to themselves."""
    circular = set()
    for start in variables:
        seen, todo = set(), list(variables[start][1])
        while todo:
            name = todo.pop()
            if name == start:
                circular.add(start)
                break
            if name in seen or name not in variables:
                continue
            seen.add(name)
            todo += variables[name][1]
    return circular


def _value_problem(prop: str, tokens: list[Any], profile: Any) -> str | None:
    """Why the value `tokens` of `prop` is no valid CSS that browsers would apply, or None."""
    parts = [t for t in tokens if t.type not in ("whitespace", "comment")]
    if prop in profile.COLOR_PROPERTIES:
        for token in parts:
            if token.type == "hash" and not _HEX_DIGITS.match(token.value):
                return f"has '#{token.value}', which is no colour; browsers ignore the declaration: write a hex colour like #0f7b6c"
            if token.type == "string":
                return "has a quoted colour, which browsers ignore: write it without quotes"
    if prop in _LENGTHS:
        for token in parts:
            if token.type == "number" and token.value != 0:
                return f"has the number {token.representation} without a unit, which browsers ignore: write {token.representation}px (or em)"
    return None
