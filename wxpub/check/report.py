"""What checking many files found: one FileResult each, and a Report that counts them and owns the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from ..codes import Severity
from .problems import Mode, Problem


@dataclass(frozen=True)
class FileResult:
    """What checking one file found: the problems left, how many were fixed, the diff, or a crash."""

    path: str
    problems: tuple[Problem, ...] = ()
    fixed: int = 0
    diff: str = ""
    crash: str | None = None


@dataclass
class Report:
    """Counts what checking found and owns the exit code: 0 clean (notes allowed), 1 problems, 123 a crash."""

    mode: Mode = Mode.CHECK
    results: list[FileResult] = field(default_factory=list)

    def add(self, result: FileResult) -> None:
        self.results.append(result)

    @property
    def problems(self) -> list[Problem]:
        return [p for r in self.results for p in r.problems]

    def count(self, severity: Severity) -> int:
        return sum(1 for p in self.problems if p.severity is severity)

    @property
    def crashed(self) -> list[FileResult]:
        return [r for r in self.results if r.crash is not None]

    @property
    def changed(self) -> int:
        return sum(1 for r in self.results if r.diff or (self.mode is Mode.FIX and r.fixed))

    @property
    def exit_code(self) -> int:
        if self.crashed:
            return 123
        if self.count(Severity.ERROR) or self.count(Severity.WARNING):
            return 1
        if self.mode is Mode.DIFF and self.changed:
            return 1
        return 0

    def lines(self) -> Iterator[str]:
        """What goes to stdout: the diff (for DIFF) and one line per problem."""
        for result in self.results:
            if result.diff:
                yield result.diff.rstrip("\n")
        for problem in self.problems:
            yield problem.one_line()

    def crash_lines(self) -> Iterator[str]:
        for result in self.crashed:
            yield f"error: cannot check {result.path}: {result.crash}"

    def summary(self) -> str:
        files = len(self.results)
        counts = [(self.count(s), s.value) for s in Severity]
        found = ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in counts if n)
        with_problems = sum(1 for r in self.results if r.problems)
        parts = []
        fixed = sum(r.fixed for r in self.results)
        if self.mode is Mode.FIX and fixed:
            parts.append(f"fixed {fixed} problem{'s' if fixed != 1 else ''} in {self.changed} file{'s' if self.changed != 1 else ''}")
        if self.mode is Mode.DIFF and fixed:
            parts.append(f"{fixed} problem{'s' if fixed != 1 else ''} in {self.changed} file{'s' if self.changed != 1 else ''} would be fixed")
        # After --fix or --diff the problems counted are those the fixes leave (or would leave).
        left = {Mode.FIX: " left", Mode.DIFF: " would be left"}.get(self.mode, "") if fixed else ""
        if found:
            fixable = sum(1 for p in self.problems if p.edit is not None)
            hint = f" ({fixable} fixable with --fix)" if fixable and self.mode is Mode.CHECK else ""
            parts.append(f"{found}{left} in {with_problems} of {files} file{'s' if files != 1 else ''}{hint}")
        else:
            parts.append(f"{files} file{'s' if files != 1 else ''} checked, no problems{left}")
        if self.crashed:
            parts.append(f"{len(self.crashed)} file{'s' if len(self.crashed) != 1 else ''} could not be checked")
        return "wxpub check: " + "; ".join(parts)
