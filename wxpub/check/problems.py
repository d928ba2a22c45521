"""What check reports: a Problem at a place in a post, the Edit that fixes it, and which codes run."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from ..codes import RULES, Rule, Severity
from ..errors import UsageError


@dataclass(frozen=True)
class Edit:
    """A safe replacement inside one line: `old` at 1-based (line, col), counted in characters."""

    line: int
    col: int
    old: str
    new: str


@dataclass(frozen=True)
class Problem:
    """One finding at a place in a post; `edit` is set when --fix can repair it."""

    path: str
    line: int
    col: int
    code: str
    message: str
    edit: Edit | None = None

    @property
    def rule(self) -> Rule:
        return RULES[self.code]

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    def one_line(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "fixable": self.edit is not None,
        }


def _parse_codes(value: str | Iterable[str] | None, origin: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = value.replace(",", " ").split() if isinstance(value, str) else [str(v) for v in value]
    codes = tuple(item.strip().upper() for item in items if item.strip())
    for code in codes:
        if code != "ALL" and not any(known.startswith(code) for known in RULES):
            raise UsageError(
                f"{origin}: unknown code '{code}'",
                hint="codes are WX001..WX409 or a prefix such as WX4; `wxpub check --help` lists them",
            )
    return codes


@dataclass(frozen=True)
class Selection:
    """Which codes run: `select` (None means all) minus `ignore`; prefixes such as 'WX4' match groups."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()

    @classmethod
    def from_options(
        cls,
        select: str | Iterable[str] | None = None,
        ignore: str | Iterable[str] | None = None,
        origin: str = "option",
    ) -> Selection:
        return cls(_parse_codes(select, f"{origin} select"), _parse_codes(ignore, f"{origin} ignore") or ())

    def over(self, base: Selection) -> Selection:
        """This selection given on the command line over `base` from a config file."""
        select = self.select if self.select is not None else base.select
        return Selection(select, base.ignore + self.ignore)

    def allows(self, code: str) -> bool:
        if self.select is not None and not any(code.startswith(s) or s == "ALL" for s in self.select):
            return False
        return not any(code.startswith(s) or s == "ALL" for s in self.ignore)


class Mode(enum.Enum):
    """What to do with fixable problems; the CLI turns its flags into one of these, once."""

    CHECK = "check"  # report only
    FIX = "fix"  # rewrite files in place, report what is left
    DIFF = "diff"  # show the fixes as a diff, write nothing

    @classmethod
    def from_flags(cls, *, fix: bool = False, diff: bool = False) -> Mode:
        if fix and diff:
            raise UsageError("--fix and --diff cannot be used together", hint="--diff shows what --fix would write")
        return cls.FIX if fix else cls.DIFF if diff else cls.CHECK


# `<!-- wxpub: ignore WX401 WX402 -->` in the body, `# wxpub: ignore WX104` in the front matter.
# At the end of a line it silences that line; alone on its line it silences the next line.
# Without codes it silences every rule.
_SILENCE = re.compile(r"(?:<!--|#)\s*wxpub:\s*ignore\b(?P<codes>[\sA-Za-z0-9,]*?)\s*(?:-->|$)")


def silenced_lines(lines: Sequence[str]) -> dict[int, tuple[str, ...]]:
    silenced: dict[int, tuple[str, ...]] = {}
    for number, text in enumerate(lines, start=1):
        if "wxpub:" not in text:
            continue
        for match in _SILENCE.finditer(text):
            codes = tuple(match.group("codes").replace(",", " ").upper().split()) or ("ALL",)
            alone = not text[: match.start()].strip()
            target = number + 1 if alone else number
            silenced[target] = silenced.get(target, ()) + codes
    return silenced


def is_silenced(problem: Problem, silenced: Mapping[int, tuple[str, ...]]) -> bool:
    codes = silenced.get(problem.line, ())
    return any(c == "ALL" or problem.code.startswith(c) for c in codes)


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply edits that still match; overlapping or stale ones are skipped (the next pass sees them)."""
    return applied_edits(text, edits)[0]


def applied_edits(text: str, edits: Iterable[Edit]) -> tuple[str, list[Edit]]:
    """apply_edits, and the edits it applied: only those count as fixed."""
    lines = text.split("\n")
    by_line: dict[int, list[Edit]] = {}
    applied: list[Edit] = []
    for edit in edits:
        by_line.setdefault(edit.line, []).append(edit)
    for number, line_edits in by_line.items():
        if not 1 <= number <= len(lines):
            continue
        current = lines[number - 1]
        floor = len(current) + 1
        for edit in sorted(line_edits, key=lambda e: (e.col, len(e.old)), reverse=True):
            start, end = edit.col - 1, edit.col - 1 + len(edit.old)
            if end > floor or current[start:end] != edit.old:
                continue
            current = current[:start] + edit.new + current[end:]
            floor = start
            applied.append(edit)
        lines[number - 1] = current
    return "\n".join(lines), applied
