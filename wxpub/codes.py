"""Every problem code wxpub reports, with its severity: one table for check, publish and the preview.

The codes are a public interface (configs, inline comments and scripts name them): never reuse or
renumber one. WX0xx the file, WX1xx front matter, WX2xx images, WX3xx content, WX4xx typography.
An error stops a publish; a warning says WeChat may change or refuse something; a note informs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Mapping


class Severity(enum.Enum):
    """How bad a problem is: errors and warnings fail the check, notes only inform; publish refuses errors."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Rule:
    """One check: a stable code, its severity, what it looks for, and whether --fix can repair it."""

    code: str
    severity: Severity
    summary: str
    fixable: bool = False


_E, _W, _N = Severity.ERROR, Severity.WARNING, Severity.NOTE

RULES: Mapping[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("WX001", _E, "the file is not UTF-8 text"),
        Rule("WX002", _E, "the file cannot be read"),
        Rule("WX101", _E, "the front matter is not valid YAML"),
        Rule("WX102", _E, "the post has no title"),
        Rule("WX103", _W, "an unknown front matter key"),
        Rule("WX104", _E, "the title is longer than WeChat accepts (64 characters)"),
        Rule("WX105", _W, "the author is longer than WeChat's documented 16 characters"),
        Rule("WX106", _W, "the digest is longer than WeChat's documented 128 characters"),
        Rule("WX107", _E, "source_url is longer than WeChat accepts (1 KB)"),
        Rule("WX108", _W, "a front matter value is not text"),
        Rule("WX109", _E, "source_url is not an http(s) address"),
        Rule("WX110", _W, "a front matter key is not followed by ': '", fixable=True),
        Rule("WX111", _W, "trailing whitespace in the front matter", fixable=True),
        Rule("WX112", _W, "a front matter fence is not exactly '---'", fixable=True),
        Rule("WX113", _W, "the title is longer than WeChat's documented 32 characters"),
        Rule("WX114", _E, "comments is not open, fans-only or closed"),
        Rule("WX115", _E, "cover_focus is not two numbers from 0 to 1"),
        Rule("WX116", _E, "cover is not a path or URL"),
        Rule("WX117", _W, "a yes/no value written as text ('false' in quotes), read as what it says"),
        Rule("WX201", _E, "an image file is missing"),
        Rule("WX202", _E, "an image file cannot be read or is not an image"),
        Rule("WX203", _E, "an image format that cannot be published"),
        Rule("WX204", _E, "an image outside the project root"),
        Rule("WX205", _N, "a remote image, downloaded when publishing"),
        Rule("WX206", _E, "no cover: no 'cover' key and no image in the post"),
        Rule("WX207", _W, "the cover is narrower than 900 px and looks blurry in the feed"),
        Rule("WX208", _W, "an animated PNG or WebP, of which only the first frame is kept"),
        Rule("WX301", _E, "the converted content is not under 20,000 characters"),
        Rule("WX302", _E, "the converted content is over 1 MB"),
        Rule("WX303", _W, "raw HTML that WeChat removes"),
        Rule("WX304", _N, "an external link that becomes a numbered reference"),
        Rule("WX305", _W, "the converter changed or dropped something"),
        Rule("WX306", _E, "the post cannot be converted (unknown theme, bad option)"),
        Rule("WX307", _E, "an image WeChat would filter out (raw HTML, not uploaded)"),
        Rule("WX308", _W, "text contrast below 4.5:1 in light or dark mode (WCAG 2.1)"),
        Rule("WX309", _E, "a block (header, footer or include) that does not exist"),
        Rule("WX310", _E, "a block names a variable that has no value"),
        Rule("WX311", _E, "blocks that include each other in a loop"),
        Rule("WX312", _E, "the post has no text of its own (only front matter)"),
        Rule("WX401", _W, "a missing space between CJK and Latin letters or digits", fixable=True),
        Rule("WX402", _W, "half-width punctuation in CJK text", fixable=True),
        Rule("WX403", _W, "a space that CJK typography does not want", fixable=True),
        Rule("WX404", _W, "full-width letters or digits", fixable=True),
        Rule("WX409", _W, "another CJK typography rule of autocorrect", fixable=True),
    )
}
