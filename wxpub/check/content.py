"""What only the converter can see, judged by validate.py: the problems publish would refuse, and
those it would warn about, as check problems at their line and column."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import WxpubError
from ..post import Post
from .frontmatter import Layout
from .problems import Problem

if TYPE_CHECKING:
    from ..validate import Finding


def content_problems(post: Post | None, layout: Layout, path: Path | None, name: str, convert_options: Mapping[str, Any] | None = None) -> list[Problem]:
    """Convert the post as publish would and report every finding of validate.py.

    With front matter that cannot be read (`post` None) the body is still converted, alone, with its
    real line numbers, so one YAML slip does not hide the rest; the front matter's own findings then
    wait for the YAML to be fixed.
    """
    from .. import validate
    from ..convert import convert_post, with_project_defaults

    whole = post is not None
    if post is None:
        if layout.front is not None and not layout.closed:
            return []
        body = "\n".join(layout.lines[layout.body_line - 1 :])
        post = Post(meta={}, body=body, path=path, body_line=layout.body_line)
    try:
        converted = convert_post(with_project_defaults(post), **(convert_options or {}))
    except WxpubError as error:
        # A value from wxpub.toml is said with the file it is in; the post's own, at its line.
        elsewhere = f"{error.path}: " if error.path is not None and path is not None and Path(error.path) != path else ""
        return [Problem(name, 1 if elsewhere else error.line or 1, 1, "WX306", elsewhere + error.message + (f"; {error.hint}" if error.hint else ""))]
    findings: list[Finding] = validate.validate(converted)
    if not whole:  # the front matter, the cover among it, is judged once it can be read
        findings = [f for f in findings if not (f.code.startswith("WX1") or f.code == "WX206")]
    return [_problem(finding, name) for finding in findings]


def _problem(finding: Finding, name: str) -> Problem:
    return Problem(name, finding.line or 1, finding.col or 1, finding.code, finding.sentence())


def front_matter_problems(post: Post, name: str) -> list[Problem]:
    """The front matter's findings without converting the post (the title from a heading unknown)."""
    from .. import validate
    from ..convert import with_project_defaults

    # With its blocks: a key they use is a known key.
    post = with_project_defaults(post)
    return [_problem(finding, name) for finding in validate.front_matter(post, post.meta, None)]
