"""Checking posts before they are published: problems as `path:line:col: CODE message`, --fix, a report.

`wxpub check` runs in a pre-commit hook on every commit, so the package imports only the post
reader at the top; the converter comes in when a post's content is checked, and the publishing
stack (wechatpy, requests) never. Whether a post may be published is decided by validate.py, the
verdict publish asks too: check reports each of its findings under its code (codes.py), next to
what only check looks at, the front matter's formatting and CJK typography, which --fix repairs.

Layers, from pure string to files: `check_text()` / `fix_text()` work on a string and do no I/O,
`check_file()` reads and (for --fix) writes one file, `check_paths()` walks folders and fans the
files out over the CPU cores, and `Report` collects what happened. One module per concern:
`problems` (Problem, Edit, Selection, Mode, inline silencing), `frontmatter`, `typography`,
`content` (through the converter and validate.py), `report`.
"""

from __future__ import annotations

import difflib
import os
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ..codes import RULES, Rule, Severity
from ..errors import PostError, UsageError, WxpubError
from ..post import Paths, Post, parse_post, path_list
from .content import content_problems, front_matter_problems
from .frontmatter import Layout, formatting_problems
from .problems import (
    Edit,
    Mode,
    Problem,
    Selection,
    apply_edits,
    applied_edits,
    is_silenced,
    silenced_lines,
)
from .report import FileResult, Report
from .typography import typography_problems

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd"})


def check_text(
    text: str,
    path: str | Path | None = None,
    *,
    selection: Selection = Selection(),
    content: bool = True,
    convert_options: Mapping[str, Any] | None = None,
    block: bool = False,
) -> list[Problem]:
    """Every problem in a post's text that the selection allows and no inline comment silences, in order.

    `convert_options` (theme, color, font_size) convert it as chosen over the post and its config,
    as the preview's controls do. A `block` (a header, a footer, an include) is a part of posts: its
    typography is checked, and the rest where the posts that hold it are."""
    name = str(path) if path is not None else "<text>"
    file_path = Path(path) if path is not None else None
    beyond = _beyond_bounds(text, file_path)
    if beyond is not None:
        # Every other rule would scan a source built to be slow to scan: this one problem is the verdict.
        return [Problem(name, beyond.line or 1, 1, "WX306", _sentence(beyond))] if selection.allows("WX306") else []
    layout = Layout.of(text.removeprefix("\ufeff"))
    problems = typography_problems(layout, name) if block else _post_problems(layout, name, file_path, selection, content, convert_options)
    silenced = silenced_lines(layout.lines)
    kept = [p for p in problems if selection.allows(p.code) and not is_silenced(p, silenced)]
    return sorted(set(kept), key=lambda p: (p.line, p.col, p.code, p.message))


def _post_problems(
    layout: Layout, name: str, file_path: Path | None, selection: Selection, content: bool, convert_options: Mapping[str, Any] | None
) -> list[Problem]:
    """A post's problems: its front matter's formatting and values, its typography, and (with
    `content`) everything its conversion finds."""
    problems = formatting_problems(layout, name)
    # Parse what --fix would write, so one formatting slip does not hide every other rule.
    parsed_text = apply_edits("\n".join(layout.lines), [p.edit for p in problems if p.edit])
    try:
        post = parse_post(parsed_text, file_path)
    except PostError as error:
        post = None
        problems.append(Problem(name, error.line or 1, 1, "WX101", _sentence(error)))
    problems.extend(typography_problems(layout, name))
    if content and any(selection.allows(code) for code in RULES if code.startswith(("WX1", "WX2", "WX3"))):
        problems.extend(content_problems(post, layout, file_path, name, convert_options or {}))
    elif post is not None:
        problems.extend(front_matter_problems(post, name))
    return problems


def _beyond_bounds(text: str, path: Path | None) -> PostError | None:
    """The converter's refusal of a source too large or too deeply nested to parse, if it refuses it."""
    from ..bounds import check_bounds
    from ..post import body_of

    body, body_line = body_of(text)  # as parse_post splits it, so that the line is the converter's
    try:
        check_bounds(Post(meta={}, body=body, path=path, body_line=body_line))
    except PostError as error:
        return error
    return None


def _sentence(error: PostError) -> str:
    return f"{error.message}; {error.hint}" if error.hint else error.message


def fix_text(
    text: str,
    path: str | Path | None = None,
    *,
    selection: Selection = Selection(),
    block: bool = False,
) -> tuple[str, list[Problem]]:
    """The text with every safe fix applied, and the problems that were fixed. Idempotent."""
    fixed: list[Problem] = []
    for _ in range(4):  # an edit skipped as overlapping another is made on the next pass
        problems = check_text(text, path, selection=selection, content=False, block=block)
        new, applied = applied_edits(text, [p.edit for p in problems if p.edit is not None])
        if new == text:
            break
        made = set(applied)
        fixed.extend(p for p in problems if p.edit in made)
        text = new
    return text, fixed


def _decode(data: bytes, path: Path, name: str) -> tuple[str | None, Problem | None]:
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"not UTF-8 (byte 0x{data[exc.start]:02x})"
        try:
            from ..post import read_post

            read_post(path)
        except PostError as error:
            message = _sentence(error)
        return None, Problem(name, line, col, "WX001", message)


def check_file(
    path: str | Path,
    mode: Mode = Mode.CHECK,
    selection: Selection | None = None,
    *,
    convert_options: Mapping[str, Any] | None = None,
    block: bool = False,
) -> FileResult:
    """Check one file; for FIX rewrite it in place (keeping its BOM and line endings), for DIFF describe the fixes.

    A `block` is checked as a part of posts (check_text)."""
    path = Path(path)
    name = str(path)
    try:
        if selection is None:
            selection = selection_for(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            return FileResult(name, (Problem(name, 1, 1, "WX002", f"cannot read: {exc.strerror}"),))
        text, problem = _decode(data, path, name)
        if text is None:
            return FileResult(name, (problem,) if problem and selection.allows(problem.code) else ())
        bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
        crlf = "\r\n" in text
        written = bom + text
        text = text.replace("\r\n", "\n")
        fixed_count, diff = 0, ""
        if mode is not Mode.CHECK:
            new, fixed = fix_text(text, name, selection=selection, block=block)
            fixed_count = len(fixed)
            if new != text:
                out = bom + (new.replace("\n", "\r\n") if crlf else new)
                if mode is Mode.FIX:
                    path.write_bytes(out.encode("utf-8"))
                else:
                    diff = _unified_diff(written, out, name)
                text = new
        problems = check_text(text, name, selection=selection, convert_options=convert_options, block=block)
        return FileResult(name, tuple(problems), fixed_count, diff)
    except Exception as exc:  # one bad file must not stop the others: it is reported as a crash
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return FileResult(name, crash=detail)


def _unified_diff(before: str, after: str, name: str) -> str:
    """The diff from the file as it is to what --fix writes, byte for byte (its BOM, its CRLF), so
    that `git apply` and `patch -p1` take it (named a/… and b/…, as git names them)."""
    shown = Path(name).as_posix().lstrip("/")
    lines = difflib.unified_diff(_file_lines(before), _file_lines(after), fromfile=f"a/{shown}", tofile=f"b/{shown}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _file_lines(text: str) -> list[str]:
    """Lines as patch counts them: ended by LF only (str.splitlines also ends one at U+2028, a form feed, a lone CR)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


@lru_cache(maxsize=256)
def _selection_in(folder: Path) -> Selection:
    from ..config import check_options

    options = check_options(folder)
    return Selection.from_options(options.select, options.ignore, origin=str(options.source or folder))


def selection_for(path: Path) -> Selection:
    """The selection from the nearest wxpub.toml [check] or pyproject.toml [tool.wxpub.check] above `path`."""
    return _selection_in(path.resolve().parent)


def iter_posts(paths: Paths) -> Iterator[Path]:
    """The posts among `paths` (one path, or several): each file named, and the Markdown files of
    each folder, walked in sorted order.

    A folder's walk skips hidden folders and `node_modules`. The project's blocks are parts of
    posts, not posts: they are left out (see `markdown_files`). A folder holding no post is a
    UsageError."""
    return (path for path, block in _walk(path_list(paths), posts=True) if not block)


def markdown_files(paths: Paths) -> Iterator[tuple[Path, bool]]:
    """Every file named among `paths` (one path, or several) and every Markdown file in its
    folders, each with whether it is one of the project's blocks (its `blocks/` folder, an
    account's header or footer).

    A folder holding no Markdown file is a UsageError: a mistyped folder in CI must not pass as
    a clean one."""
    return _walk(path_list(paths), posts=False)


def _walk(paths: list[Path], *, posts: bool) -> Iterator[tuple[Path, bool]]:
    """markdown_files; with `posts`, a folder must hold a post, not only blocks."""
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            blocks = _blocks_of(path)
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in MARKDOWN_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") or part == "node_modules" for part in p.relative_to(path).parts[:-1])
            )
        elif path.exists():
            # A file named is a post whatever its name ends with, as convert and publish take it
            # (the pre-commit hook names Markdown files only): only a folder's walk picks by name.
            blocks = _blocks_of(path.parent)
            found = [path]
        else:
            raise UsageError("no such file or folder", path=path)
        marked = [(file, _is_block(file.resolve(), blocks)) for file in found]
        empty = all(block for _, block in marked) if posts else not marked
        if empty and path.is_dir():
            raise _no_posts(path, only_blocks=bool(marked))
        for file, block in marked:
            if file not in seen:
                seen.add(file)
                yield file, block


def _no_posts(folder: Path, *, only_blocks: bool) -> UsageError:
    from ..config import shown

    if only_blocks:
        return UsageError(
            "no posts in this folder, only blocks (headers, footers, includes: parts of posts)",
            path=shown(folder),
            hint="name the folder of the posts",
        )
    return UsageError(
        "no Markdown files in this folder (.md, .markdown, .mdown, .mkd; hidden folders and node_modules are skipped)",
        path=shown(folder),
        hint="check the folder's name",
    )


def _blocks_of(folder: Path) -> tuple[Path, ...]:
    """The project's blocks seen from `folder`: its root's `blocks/` folder and each account's header and footer."""
    from ..config import find_project_root, project_accounts

    root = find_project_root(folder / "_")
    named = [root / "blocks"]
    try:
        accounts = list(project_accounts(folder).accounts.values())
    except WxpubError:
        accounts = []  # a broken config is reported when the posts are checked
    named += [root / block for account in accounts for block in (account.header, account.footer) if block]
    return tuple(p.resolve() for p in named)


def _is_block(path: Path, blocks: tuple[Path, ...]) -> bool:
    return any(path == block or block in path.parents for block in blocks)


def _check_one(job: tuple[Path, Mode, Selection | None, bool]) -> FileResult:
    path, mode, override, block = job
    selection = selection_for(path)  # a broken config is a usage error (exit 2) for the whole run
    if override is not None:
        selection = override.over(selection)
    return check_file(path, mode, selection, block=block)


def check_paths(
    paths: Paths,
    mode: Mode = Mode.CHECK,
    selection: Selection | None = None,
    jobs: int | None = None,
) -> Report:
    """Check every Markdown post and block under `paths` (one path, or several) and return the report;
    `selection` overrides the config's."""
    report = Report(mode)
    work = [(file, mode, selection, block) for file, block in markdown_files(paths)]
    workers = min(jobs or _usable_cores(), len(work))
    if workers > 1 and len(work) >= 8:
        # The first post is checked here, before the workers fork: they inherit every module and
        # cache it warmed up (Markdown, the theme, autocorrect) instead of building their own.
        report.add(_check_one(work[0]))
        results: Iterable[FileResult] = _in_parallel(work[1:], workers)
    else:
        results = map(_check_one, work)
    for result in results:
        report.add(result)
    return report


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _in_parallel(work: list[tuple[Path, Mode, Selection | None, bool]], workers: int) -> list[FileResult]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork shares the warm modules with the workers; where there is no fork (macOS, Windows
    # default to spawn) they import them again, which is slower but still right.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    chunk = max(1, len(work) // (workers * 4))
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(_check_one, work, chunksize=chunk))


__all__ = [
    "RULES",
    "Rule",
    "Edit",
    "FileResult",
    "Mode",
    "Problem",
    "Report",
    "Selection",
    "Severity",
    "check_file",
    "check_paths",
    "check_text",
    "fix_text",
    "iter_posts",
    "markdown_files",
    "selection_for",
]
