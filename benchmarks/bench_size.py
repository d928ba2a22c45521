"""How compact the output is: characters WeChat counts per character a reader sees, in every theme.

    python benchmarks/bench_size.py

For the prose article, the code-heavy post and the 6,000-character technical post in
benchmarks/posts/, prints per built-in theme the output characters per visible character and the
length publish would send (Converted.content_length: image URLs counted at their uploaded length,
IMAGE_URL_CHARS), against the targets (prose <= 1.8, code-heavy <= 3.0) and WeChat's
20,000-character limit; and, for a post over that limit, what `--fit` gives up to bring it under.
Then the same ratio for the real-post test set (tests/realposts/*.md, in the theme each post
asks for), with its median (target <= 3.0) and its worst, and what `--fit` brings those over 20,000 to.
"""

from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTS: dict[str, float | None] = {
    "prose.md": 1.8,  # target: output characters per visible character
    "tech-8k.md": 3.0,
    "tech-6k.md": None,  # target: under WeChat's 20,000 characters
}


def visible(html: str) -> int:
    """Characters a reader sees: the text, without whitespace (code indentation included)."""
    import lxml.html

    return len(re.sub(r"\s", "", "".join(lxml.html.fragment_fromstring(html).itertext())))


def size_table() -> list[str]:
    import wxpub
    from wxpub.fit import fits, publish_length
    from wxpub.themes import list_themes

    themes = [theme.name for theme in list_themes()]
    lines = [f"{'post':<12} {'target':>6}  " + "  ".join(f"{name:>16}" for name in themes)]
    notes = []
    for name, target in POSTS.items():
        path = ROOT / "benchmarks" / "posts" / name
        cells = []
        for theme in themes:
            converted = wxpub.convert_file(path, theme=theme)
            length = publish_length(converted)
            ratio = length / visible(converted.html)
            flag = "" if (target is None or ratio <= target) and fits(converted) else "!"
            cells.append(f"{ratio:5.2f} ({length:>6,}){flag:1}")
            if not fits(converted):
                fitted = wxpub.convert_file(path, theme=theme, fit=True)
                gave_up = "; ".join(n.message.split(" characters, ", 1)[1] for n in fitted.warnings if n.code == "fit" and n.message.startswith("to fit"))
                notes.append(f"  {name} in {theme}: over by {length - 19_999:,}; --fit: {publish_length(fitted):,} ({gave_up})")
        goal = f"{target:.1f}" if target else "fits"
        lines.append(f"{name:<12} {goal:>6}  " + "  ".join(f"{cell:>16}" for cell in cells))
    lines.append("ratio (length): output characters per visible character; ! misses the target or the 20,000 limit")
    return lines + notes


def realposts_table() -> list[str]:
    import wxpub
    from wxpub.themes import list_themes

    themes = [theme.name for theme in list_themes()]
    lines = [f"{'real post':<14} {'visible':>8}  " + "  ".join(f"{name:>15}" for name in themes)]
    ratios: dict[str, dict[str, float]] = {name: {} for name in themes}
    fitted: list[str] = []
    for path in sorted((ROOT / "tests" / "realposts").glob("*.md")):
        cells, with_fit = [], []
        for theme in themes:
            converted = wxpub.convert_file(path, theme=theme)
            seen = visible(converted.html)
            ratios[theme][path.name] = converted.content_length / seen
            cells.append(f"{ratios[theme][path.name]:5.2f} ({converted.content_length:>6,})")
            if converted.content_length >= 20_000:
                with_fit.append(f"{theme} {wxpub.convert_file(path, theme=theme, fit=True).content_length:,}")
        lines.append(f"{path.name:<14} {seen:>8,}  " + "  ".join(f"{cell:>15}" for cell in cells))
        if with_fit:
            fitted.append(f"  {path.name} with --fit: " + ", ".join(with_fit))
    for theme in themes:
        worst = max(ratios[theme], key=ratios[theme].__getitem__)
        median = statistics.median(ratios[theme].values())
        flag = "" if median <= 3.0 else "  ! misses the target (3.0)"
        lines.append(f"{theme}: median {median:.2f}; worst {ratios[theme][worst]:.2f} ({worst}){flag}")
    return lines + ["over WeChat's 20,000 as written:"] + fitted if fitted else lines


def where_it_goes(html: str) -> dict[str, tuple[int, int]]:
    """Characters of the HTML by element kind: (how many, characters of their own markup).

    A formula's SVG is counted whole; every other element by its tags and attributes alone, the
    text between them under "text". The parts add up to the serialised HTML.
    """
    import lxml.etree
    import lxml.html

    kinds: dict[str, list[int]] = {}

    def add(kind: str, chars: int, count: int = 1) -> None:
        entry = kinds.setdefault(kind, [0, 0])
        entry[0] += count
        entry[1] += chars

    def walk(element: lxml.html.HtmlElement) -> None:
        whole = len(lxml.html.tostring(element, encoding="unicode", with_tail=False))
        if element.tag == "svg":
            add("svg (formula)", whole)
            return
        inner = 0
        if element.text:
            text = len(_escaped(element.text))
            add("text", text, 0)
            inner += text
        for child in element:
            if not isinstance(child.tag, str):
                continue
            inner += len(lxml.html.tostring(child, encoding="unicode", with_tail=False))
            walk(child)
            if child.tail:
                tail = len(_escaped(child.tail))
                add("text", tail, 0)
                inner += tail
        add(element.tag, whole - inner)

    walk(lxml.html.fragment_fromstring(html))
    return {kind: (count, chars) for kind, (count, chars) in kinds.items()}


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def breakdown_table(names: tuple[str, ...] = ("tutorial.md", "readme.md", "sample.md", "weekly.md")) -> list[str]:
    import wxpub

    lines = []
    for name in names:
        converted = wxpub.convert_file(ROOT / "tests" / "realposts" / name)
        parts = where_it_goes(converted.sent_html)
        total = sum(chars for _, chars in parts.values())
        lines.append(f"{name} (default theme): {converted.content_length:,} characters sent, {total:,} counted here")
        for kind, (count, chars) in sorted(parts.items(), key=lambda item: -item[1][1]):
            each = f"{chars / count:7.0f} each" if count else ""
            lines.append(f"  {kind:<14} {count:>5} {chars:>7,} {chars / total:6.1%} {each}")
    return lines


def main() -> None:
    sys.path.insert(0, str(ROOT))
    print("\n".join(size_table()))
    print()
    print("\n".join(realposts_table()))
    print()
    print("\n".join(breakdown_table()))


if __name__ == "__main__":
    main()
