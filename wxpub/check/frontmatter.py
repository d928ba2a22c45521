"""The front matter as written: where it is, and the formatting --fix repairs without touching what values mean."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..post import KNOWN_KEYS, front_matter_fences
from .problems import Edit, Problem


@dataclass(frozen=True)
class Layout:
    """Where the front matter and the body are, found without parsing YAML (so broken YAML still has a body)."""

    lines: tuple[str, ...]
    front: tuple[int, int] | None  # 1-based lines of the opening and closing fence (closing 0: never closed)
    body_line: int

    @classmethod
    def of(cls, text: str) -> Layout:
        lines = tuple(text.split("\n"))
        fences = front_matter_fences(lines)  # the converter's own reading: a rule is not front matter
        if fences is None:
            return cls(lines, None, 1)
        if fences[1] is None:
            return cls(lines, (1, 0), len(lines) + 1)
        return cls(lines, (1, fences[1]), fences[1] + 1)

    @property
    def closed(self) -> bool:
        return self.front is None or self.front[1] > 0

    def front_lines(self) -> range:
        """1-based numbers of the YAML lines between the fences."""
        if self.front is None:
            return range(0)
        end = self.front[1] if self.front[1] else len(self.lines) + 1
        return range(2, end)

    def key_line(self, key: str) -> int | None:
        for number in self.front_lines():
            text = self.lines[number - 1]
            if re.match(rf"{re.escape(key)}\s*[:：]", text):
                return number
        return None


_KEY_COLON = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)(?P<sep>[ \t]*：[ \t]*|:(?=[^\s:/]))")


def formatting_problems(layout: Layout, path: str) -> list[Problem]:
    """Front matter formatting that --fix can repair without touching what the values mean."""
    problems: list[Problem] = []
    if layout.front is None:
        return problems
    fences = [layout.front[0]] + ([layout.front[1]] if layout.front[1] else [])
    for number in fences:
        text = layout.lines[number - 1]
        if text != "---":
            problems.append(
                Problem(path, number, 1, "WX112", f"write the fence as '---', not {text!r}", Edit(number, 1, text, "---"))
            )
    for number in layout.front_lines():
        text = layout.lines[number - 1]
        match = _KEY_COLON.match(text)
        if match and (match.group("key") in KNOWN_KEYS or "：" in match.group("sep")):
            sep = match.group("sep")
            col = match.end("key") + 1
            problems.append(
                Problem(
                    path,
                    number,
                    col,
                    "WX110",
                    f"write '{match.group('key')}: value' with an ASCII colon and a space, not {sep.strip()!r}",
                    Edit(number, col, sep, ": "),
                )
            )
        stripped = text.rstrip(" \t")
        if stripped != text:
            col = len(stripped) + 1
            problems.append(
                Problem(path, number, col, "WX111", "trailing whitespace", Edit(number, col, text[len(stripped) :], ""))
            )
    return problems
