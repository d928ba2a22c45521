"""Errors that wxpub reports to people: each builds its own one-line sentence and keeps its data.

Exit codes live here, once, on the classes; nothing in this module depends on click.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar


class WxpubError(Exception):
    """Base of every error wxpub raises on purpose; `str()` is the one line shown to people."""

    exit_code: ClassVar[int] = 1

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.hint = hint
        # What a command had to say before it failed (a post's warnings, notes on the run), said with the error.
        self.warnings: tuple[str, ...] = ()
        self.notes: tuple[str, ...] = ()
        super().__init__(self.one_line())

    def location(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}: " if self.line else f"{self.path}: "

    def one_line(self) -> str:
        text = f"{self.location()}{self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def to_dict(self) -> dict[str, object]:
        said = {key: list(value) for key, value in (("warnings", self.warnings), ("notes", self.notes)) if value}
        return {
            "error": type(self).__name__,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "hint": self.hint,
            **said,
        }


class UsageError(WxpubError):
    """The command was called wrongly (an unknown theme, a bad option value)."""

    exit_code = 2


class PostError(WxpubError):
    """A post cannot be read: not UTF-8, broken front matter, a value of the wrong type."""


class ThemeError(WxpubError):
    """A theme cannot be found or its CSS cannot be used."""


class ImageError(WxpubError):
    """An image cannot be read, is not an image, is outside the project, or cannot be made to fit.

    `kind` says which, for `wxpub check` to file it under a code: "missing", "outside" (the
    project), "unsupported" (a format wxpub cannot read here), or "unusable" (anything else).
    `reason` is the message without the image it is about, for lines that name the image themselves.
    """

    def __init__(self, message: str, *, kind: str = "unusable", reason: str | None = None, **where: Any) -> None:
        self.kind = kind
        self.reason = reason or message
        super().__init__(message, **where)


class ConfigError(WxpubError):
    """wxpub.toml / [tool.wxpub] / the environment hold something unusable."""

    exit_code = 2


@dataclass(frozen=True)
class Notice:
    """A warning met while converting: something was dropped, changed or looks wrong, but output exists.

    `code` is stable (scripts and `wxpub check` key on it); `line` is 1-based in the post file,
    `col` 1-based in that line (in characters), when known; `hint`, what to do when it differs
    from the code's usual advice.
    """

    code: str
    message: str
    line: int | None = None
    col: int | None = None
    hint: str | None = None

    def one_line(self, path: str | Path | None = None) -> str:
        place = f"{self.line}:{self.col}" if self.line and self.col else f"{self.line}"
        where = f"{path}:{place}: " if path and self.line else (f"{path}: " if path else "")
        return f"{where}{self.message}"


class WeChatError(WxpubError):
    """The WeChat API, or the way to it, refused or failed a call; the sentence says what it means.

    `errcode` is WeChat's code (None for network and HTTP failures), `endpoint` the call that failed
    (e.g. "draft/add"). `maybe_done` is true when the answer was lost after the request was sent, so
    the server may have acted. Messages never hold the access token or the AppSecret.
    """

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        errcode: int | None = None,
        endpoint: str | None = None,
        errmsg: str | None = None,
        maybe_done: bool = False,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.errcode = errcode
        self.endpoint = endpoint
        self.errmsg = errmsg
        self.maybe_done = maybe_done
        super().__init__(message, path=path, line=line, hint=hint)

    def restated(self, message: str | None = None, **changes: Any) -> WeChatError:
        """The same failure said again: another sentence, or the same one at another place (`changes`:
        path, line, hint), keeping its errcode, endpoint and whether the call may have been done. A
        new error, with no chain to this one (whose context may hold a request URL)."""
        kept: dict[str, Any] = dict(
            errcode=self.errcode, endpoint=self.endpoint, errmsg=self.errmsg, maybe_done=self.maybe_done,
            path=self.path, line=self.line, hint=self.hint,
        )
        return WeChatError(self.message if message is None else message, **{**kept, **changes})

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "errcode": self.errcode, "endpoint": self.endpoint}
