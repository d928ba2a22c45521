"""The command line: each command parses its options, calls one API function, prints, maps errors.

Heavy modules are imported inside the command that needs them, so `wxpub check` starts fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn

import click

from .errors import WxpubError


def _fail(error: WxpubError) -> NoReturn:
    click.echo(f"error: {error.one_line()}", err=True)
    sys.exit(error.exit_code)


def _run(call: Callable[[], Any]) -> Any:
    """Run an API call; a WxpubError becomes its one line on stderr and its exit code, never a traceback."""
    try:
        return call()
    except WxpubError as error:
        _fail(error)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wxpub")
def main() -> None:
    """Markdown posts to WeChat Official Account drafts."""


# --- convert ------------------------------------------------------------------------------------
# (written next)

# --- images -------------------------------------------------------------------------------------

# --- publish / sandbox --------------------------------------------------------------------------

# --- check --------------------------------------------------------------------------------------
