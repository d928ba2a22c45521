"""The command line: each command parses its options, calls one API function, prints, maps errors.

Heavy modules are imported inside the command that needs them, so `wxpub check` starts fast.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, NoReturn

import click

from .errors import WxpubError


def _fail(error: WxpubError, as_json: bool = False) -> NoReturn:
    if as_json:  # a script asked for JSON: it gets the error as JSON on stdout, and the exit code
        click.echo(json.dumps(error.to_dict(), ensure_ascii=False, indent=2))
    for warning in error.warnings:
        click.echo(f"warning: {warning}", err=True)
    for note in error.notes:
        click.echo(f"note: {note}", err=True)
    problems = getattr(error, "problems", None)  # an error that gathers several (publish refusing to start)
    for problem in problems or (error,):
        click.echo(f"error: {problem.one_line()}", err=True)
    if problems:
        click.echo(f"nothing was uploaded: {len(problems)} problem{'s' if len(problems) != 1 else ''} to fix first", err=True)
    sys.exit(error.exit_code)


def _run(call: Callable[[], Any], as_json: bool = False) -> Any:
    """Run an API call; a WxpubError becomes its one line on stderr and its exit code, never a traceback
    (with `as_json`, also its `to_dict()` on stdout, so that a script asking for JSON always gets some).

    Anything else is a bug in wxpub: one line too (tokens and secrets redacted), and the traceback
    only when WXPUB_DEBUG is set.
    """
    try:
        return call()
    except WxpubError as error:
        _fail(error, as_json)
    except Exception as error:  # noqa: BLE001 - the last line of defence for people, not scripts
        import os

        if os.environ.get("WXPUB_DEBUG"):
            raise
        message = f"{type(error).__name__}: {error}"
        if "wxpub.wechat" in sys.modules:
            message = sys.modules["wxpub.wechat"].redact(message)
        if as_json:
            click.echo(json.dumps({"error": "InternalError", "message": message}, ensure_ascii=False, indent=2))
        click.echo(f"error: internal error, {message} (please report it; WXPUB_DEBUG=1 shows the traceback)", err=True)
        sys.exit(70)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wxpub")
def main() -> None:
    """Markdown posts to WeChat Official Account drafts."""


# --- convert ------------------------------------------------------------------------------------


@main.command("convert")
@click.argument("post", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write here instead of stdout.")
@click.option("--theme", metavar="NAME|PATH", help="A built-in theme (see 'wxpub themes') or a CSS file.")
@click.option("--color", metavar="HEX", help="Primary colour of the theme, e.g. '#c33'.")
@click.option("--font-size", type=float, metavar="PX", help="Base font size in px (default: the theme's).")
@click.option("--line-numbers/--no-line-numbers", default=None, help="Number the lines of code blocks.")
@click.option("--page", is_flag=True, help="Write a standalone page showing the article in a 375 px phone column.")
@click.option("--json", "as_json", is_flag=True, help="Print title, HTML, images, links and warnings as JSON.")
@click.option("--fit", is_flag=True, help="Over WeChat's 20,000 characters? Use cheaper renderings until the post fits.")
def convert_command(
    post: Path,
    output: Path | None,
    theme: str | None,
    color: str | None,
    font_size: float | None,
    line_numbers: bool | None,
    page: bool,
    as_json: bool,
    fit: bool,
) -> None:
    """Convert POST (Markdown with front matter) to HTML that survives the WeChat editor."""
    from .convert import convert_file, fit_outlook
    from .fit import fits
    from .limits import content_over

    options: dict[str, Any] = dict(theme=theme, color=color, font_size=font_size, line_numbers=line_numbers)
    converted = _run(lambda: convert_file(post, fit=fit, **options), as_json)
    for notice in converted.warnings:
        click.echo(f"warning: {notice.one_line(post)}", err=True)
    # Without --fit, how far over the post is and what --fit would do; with it, what was printed
    # is the figure, and what was given up for it (the fit notices say the same).
    outlook = None if fit or fits(converted) else _run(lambda: fit_outlook(converted.post, plain=converted, **options), as_json)
    if outlook is not None and not fit:
        advice = (
            f"--fit would make it fit ({'; '.join(outlook.gives_up)})"
            if outlook.fits_with_fit
            else "--fit would not be enough: shorten the post or split it"
        )
        click.echo(f"warning: {post}: {outlook.over_by:,} characters over WeChat's {outlook.limit:,}; {advice}", err=True)
    if as_json:
        data = _converted_json(converted)
        if outlook is not None:
            data["over_by"] = outlook.over_by
            data["fit"] = {"fits": outlook.fits_with_fit, "gives_up": list(outlook.gives_up)}
        elif fit and (converted.gave_up or not fits(converted)):  # it was over: --fit tried
            data["over_by"] = content_over(converted.content_length)
            data["fit"] = {"fits": fits(converted), "gives_up": list(converted.gave_up)}
        text = json.dumps(data, ensure_ascii=False, indent=2)
    elif page:
        from .preview.phone import phone_page

        text = phone_page(converted)
    else:
        text = converted.html
    if output:
        _run(lambda: _write(output, text + "\n"))
        left = converted.budget_left
        budget = f"{left:,} left of WeChat's 20,000" if left >= 0 else f"{-left:,} over WeChat's limit (fewer than 20,000)"
        click.echo(f"wrote {output} ({converted.content_length:,} characters, {budget})", err=True)
    else:
        click.echo(text)


def _write(path: Path, text: str) -> None:
    from .errors import UsageError

    try:
        path.write_text(text, encoding="utf-8")
    except IsADirectoryError:
        raise UsageError("is a folder", path=path, hint="name a file to write, e.g. -o article.html") from None
    except FileNotFoundError:
        raise UsageError(f"no folder {path.parent}", path=path, hint="create it first, or write somewhere else") from None
    except OSError as exc:
        raise UsageError(f"cannot write: {exc.strerror}", path=path) from None


def _converted_json(converted: Any) -> dict[str, Any]:
    return {
        "path": str(converted.post.path),
        "title": converted.title,
        "theme": converted.theme,
        "content_length": converted.content_length,
        "budget_left": converted.budget_left,
        "images": [{"src": i.src, "line": i.line, "alt": i.alt, "title": i.title} for i in converted.images],
        "links": [{"number": l.number, "url": l.url, "text": l.text, "line": l.line} for l in converted.links],
        "warnings": [
            {"code": n.code, "message": n.message, "line": n.line, "col": n.col} for n in converted.warnings
        ],
        "meta": {k: str(v) if not isinstance(v, (str, int, float, bool, type(None), list)) else v for k, v in converted.meta.items()},
        "html": converted.html,
    }


@main.command("themes")
def themes_command() -> None:
    """List the built-in themes."""
    from .themes import list_themes

    for theme in list_themes():
        first = theme.css.lstrip().splitlines()[0] if theme.css.strip() else ""
        about = first.removeprefix("/*").removesuffix("*/").strip()
        about = about.split(":", 1)[1].strip() if ":" in about else about
        click.echo(f"{theme.name:<10} {about}")


# --- images -------------------------------------------------------------------------------------


@main.command("images")
@click.argument("post", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Write the prepared images here.")
@click.option("--max-width", type=click.IntRange(16, 10_000), default=1080, show_default=True, help="Widest image, px.")
@click.option("--background", default="#ffffff", show_default=True, metavar="HEX", help="What transparency is flattened onto.")
@click.option("--no-cache", is_flag=True, help="Prepare everything again instead of reusing the prepared images in the user cache.")
@click.option("--json", "as_json", is_flag=True, help="Print the images as one JSON array, for scripts.")
def images_command(post: Path, out: Path | None, max_width: int, background: str, no_cache: bool, as_json: bool) -> None:
    """Prepare the images of POST as WeChat will get them, without an account: a table, or files with --out."""
    from . import images
    from .config import shown
    from .convert import convert_file

    converted = _run(lambda: convert_file(post), as_json)
    options = images.ImageOptions(max_width=max_width, background=background)

    def progress(done: int, total: int, src: str) -> None:
        if sys.stderr.isatty():  # one line redrawn in place
            click.echo(f"\r[{done}/{total}] {src[:60]:<60}", err=True, nl=done == total)
        else:  # a log (CI, a pre-commit hook): plain lines, no carriage returns
            click.echo(f"[{done}/{total}] {src}", err=True)

    result = _run(
        lambda: images.prepare_images(
            converted.images, post, meta=converted.meta, key_lines=converted.post.key_lines, options=options,
            cache_dir=None if no_cache else "default", progress=progress,
        ),
        as_json,
    )
    written = _run(lambda: images.write_prepared(result, out), as_json) if out else []
    rows = [*result.images, *([result.cover] if result.cover else [])]
    if as_json:
        click.echo(json.dumps([_image_json(image) for image in rows], ensure_ascii=False, indent=2))
    else:
        _image_table(rows)
    if result.cover is None:
        click.echo(f"warning: {post}: {images.NO_COVER} ({images.NO_COVER_HINT})", err=True)
    if out:
        click.echo(f"wrote {len(written)} files to {shown(out)}", err=True)


def _image_json(image: Any) -> dict[str, Any]:
    return {
        "source": image.source, "line": image.line, "role": image.role, "route": image.route,
        "format": image.format, "width": image.width, "height": image.height, "bytes": len(image.data),
        "sha256": image.sha256, "original_format": image.original_format,
        "original_width": image.original_width, "original_height": image.original_height,
        "original_bytes": image.original_bytes, "warnings": list(image.warnings),
        "pic_crop_235_1": image.pic_crop_235_1, "pic_crop_1_1": image.pic_crop_1_1,
    }


def _image_table(rows: list[Any]) -> None:
    from .images.sources import human_size as size

    table = [("source", "format", "pixels", "bytes", "warnings")]
    for image in rows:
        name = ("cover: " if image.role == "cover" else "") + (image.source if len(image.source) <= 40 else image.source[:39] + "…")
        table.append((
            name,
            f"{image.original_format.lower()} → {image.format}",
            f"{image.original_width}×{image.original_height} → {image.width}×{image.height}",
            f"{size(image.original_bytes)} → {size(len(image.data))}",
            "; ".join(image.warnings) or "-",
        ))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    for image in rows:
        if image.role == "cover":
            click.echo(f"cover crops: pic_crop_235_1={image.pic_crop_235_1}  pic_crop_1_1={image.pic_crop_1_1}")


# --- publish / sandbox --------------------------------------------------------------------------


@main.command("publish")
@click.argument("posts", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--submit", is_flag=True, help="Publish the draft (freepublish/submit) and report its status.")
@click.option("--preview-to", metavar="WXNAME", help="Send a preview of the draft to this WeChat ID.")
@click.option("--dry-run", is_flag=True, help="Do everything that needs no network; show what would be sent.")
@click.option("--sandbox", "use_sandbox", is_flag=True, help="Publish into a local sandbox (started if none runs).")
@click.option("--verify", is_flag=True, help="Read the draft back and say what WeChat changed (exit 1 if text or images were lost).")
@click.option("--fit", is_flag=True, help="Over WeChat's 20,000 characters? Use cheaper renderings until the post fits.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("--account", metavar="NAME", help="The [accounts.NAME] of wxpub.toml (default: the post's 'account:', else the project's).")
@click.option("--changed", is_flag=True, help="Only the posts (files or folders) whose article differs from the ledger; each into its own draft and account.")
def publish_command(
    posts: tuple[Path, ...], submit: bool, preview_to: str | None, dry_run: bool, use_sandbox: bool, verify: bool, fit: bool, as_json: bool,
    account: str | None, changed: bool,
) -> None:
    """Save POSTS as one draft (one article each) in their account ([accounts.NAME], else WXPUB_APPID / WXPUB_SECRET).

    Images are uploaded once per account (the ledger, wxpub-ledger.json, remembers them); a rerun
    updates the same draft. With --changed, each post that changed gets its own draft, and the
    others are left alone. Progress goes to stderr.
    """
    from .publish import PublishOptions, publish_paths

    if changed:
        _publish_changed(posts, PublishOptions(submit=submit, preview_to=preview_to, dry_run=dry_run, account=account), use_sandbox, as_json)
        return

    if verify and submit:
        from .errors import UsageError

        # A published draft leaves the draft box, so there would be nothing left to read back.
        _fail(UsageError("--verify reads the draft back, which leaves the draft box once --submit publishes it", hint="publish --verify first, then publish --submit"), as_json)
    options = PublishOptions(submit=submit, preview_to=preview_to, dry_run=dry_run, account=account, fit=fit)

    def progress(message: str) -> None:
        click.echo(message, err=True)

    joined = None
    if use_sandbox:
        from .sandbox import join_sandbox

        joined = _run(join_sandbox, as_json)
    target = joined.target() if joined is not None else {}
    try:
        result = _run(lambda: publish_paths(posts, options, progress=progress, **target), as_json)
        report = None
        if verify and result.media_id and not dry_run:
            from .verify import verify_paths

            report = _run(lambda: verify_paths(posts, media_id=result.media_id, **target), as_json)
        _publish_notes(result)
        draft = joined.draft(result.media_id) if joined is not None and result.media_id and not dry_run else None
        if draft is not None and result.published:  # a published draft has left the box: its page is gone
            draft = replace(draft, url=f"{draft.drafts}s/{result.article_id}" if result.article_id else draft.drafts)
        if as_json:
            extra: dict[str, Any] = {"verify": report.to_json()} if report else {}
            if draft is not None:
                extra["sandbox"] = draft.to_json()
            click.echo(json.dumps({**result.to_json(), **extra}, ensure_ascii=False, indent=2))
        else:
            _publish_summary(result)
        if report is not None:
            for line in report.lines():
                click.echo(line, err=True)
        # A sandbox started here serves only while this command runs: in a terminal it waits for
        # Ctrl-C, otherwise the page is there once `wxpub sandbox` serves the same state again.
        stays = joined is not None and joined.server is not None and sys.stdin.isatty() and not as_json
        what = "the published article" if result.published else "the draft"
        if draft is not None and (draft.serve is None or stays):
            click.echo(f"see {what} at {draft.url} (all drafts: {draft.drafts})", err=True)
        elif draft is not None:
            click.echo(f"see {what}: run `{draft.serve}`, then open {draft.url} (the sandbox this command started stops with it)", err=True)
        if stays:
            later = f"; later, `{draft.serve}` serves it again" if draft is not None else ""
            click.echo(f"the sandbox keeps running so you can look; Ctrl-C stops it{later}", err=True)
            _until_interrupted()
    finally:
        if joined is not None:
            joined.stop()
    if report is not None:
        sys.exit(report.exit_code)


def _publish_changed(posts: tuple[Path, ...], options: Any, use_sandbox: bool, as_json: bool) -> None:
    from .publish.changed import publish_changed

    joined = None
    if use_sandbox:
        from .sandbox import join_sandbox

        joined = _run(join_sandbox, as_json)
    try:
        target = joined.target() if joined is not None else {}
        result = _run(lambda: publish_changed(posts, options, progress=lambda message: click.echo(message, err=True), **target), as_json)
    finally:
        if joined is not None:
            joined.stop()
    for post in result.posts:
        _publish_notes(post.result)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        for line in result.lines():
            click.echo(line)
    click.echo(f"{result.published} of {len(result.posts)} post{'s' if len(result.posts) != 1 else ''} published", err=True)


@main.command("accounts")
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON on stdout (where each secret comes from, never the secret).")
def accounts_command(as_json: bool) -> None:
    """List the accounts of this project ([accounts.NAME] in wxpub.toml); secrets are never shown."""
    from .config import project_accounts

    found = _run(lambda: project_accounts(Path.cwd()), as_json)
    if as_json:
        listed = [account.to_json(default=account.key == found.default) for account in found.accounts.values()]
        click.echo(json.dumps({"accounts": listed, "default": found.default}, ensure_ascii=False, indent=2))
    if not found.accounts:
        click.echo("no [accounts.NAME] in wxpub.toml: publishing uses WXPUB_APPID and WXPUB_SECRET", err=True)
        return
    if as_json:
        return
    for account in found.accounts.values():
        default = " (default)" if account.key == found.default else ""
        parts = [f"appid {account.appid}", f"name {account.name or '-'}", f"author {account.author or '-'}",
                 f"theme {account.theme or '-'}", f"header {account.header or '-'}", f"footer {account.footer or '-'}",
                 f"secret {account.secret_source()}"]
        click.echo(f"{account.key}{default}: " + ", ".join(parts))


@main.command("doctor")
@click.option("--account", metavar="NAME", help="Check only this account (default: every account of the project).")
@click.option("--sandbox", "use_sandbox", is_flag=True, help="Ask the local sandbox instead of WeChat, with its account.")
def doctor_command(account: str | None, use_sandbox: bool) -> None:
    """Check each account for real: its token (the AppSecret, the IP whitelist), the API base, today's quota.

    One line each; exit code 1 when one is not fine.
    """
    from .doctor import doctor

    joined = None
    if use_sandbox:
        from .sandbox import join_sandbox

        joined = _run(join_sandbox)
    try:
        target = joined.target() if joined is not None else {}
        report = _run(lambda: doctor(Path.cwd(), account, api_base=target.get("api_base"), credentials=target.get("credentials")))
    finally:
        if joined is not None:
            joined.stop()
    for line in report.lines():
        click.echo(line)
    sys.exit(report.exit_code)


@main.command("init")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--account", default="main", show_default=True, help="The account's name in wxpub.toml.")
@click.option("--appid", default="wx0000000000sandbox", show_default=True, help="The account's AppID (the default is the sandbox's).")
def init_command(folder: Path, account: str, appid: str) -> None:
    """Create a posts repository in FOLDER: wxpub.toml, a footer block, a first post, a pre-commit hook, CI."""
    from .config import shown
    from .init import init_project

    made = _run(lambda: init_project(folder, account=account, appid=appid))
    for name in made.files:
        click.echo(f"wrote {folder / name}", err=True)
    there = shown(folder)
    go = "" if Path(there).resolve() == Path.cwd().resolve() else f"cd {there} && "
    click.echo(f"next: {go}wxpub check posts/ && wxpub publish --sandbox posts/hello.md", err=True)


@main.command("verify")
@click.argument("posts", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--sandbox", "use_sandbox", is_flag=True, help="Read the drafts from the local sandbox (started if none runs).")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON on stdout.")
def verify_command(posts: tuple[Path, ...], use_sandbox: bool, as_json: bool) -> None:
    """Read back the drafts POSTS became (draft/get; once published, freepublish/getarticle) and say what WeChat changed.

    Compares the visible text, the images (count and order), the links and the styles with what
    was sent. Exit code 1 when text, images or links were lost; 0 when nothing was (what did
    change, such as styles, is listed); 2 when a post cannot be verified (never published, edited
    since: publish it first, or its draft deleted); 4 when it was published and what was published
    cannot be read back.
    """
    from .verify import verify_paths

    joined = None
    if use_sandbox:
        from .sandbox import join_sandbox

        joined = _run(join_sandbox, as_json)
    try:
        report = _run(lambda: verify_paths(posts, **(joined.target() if joined is not None else {})), as_json)
    finally:
        if joined is not None:
            joined.stop()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    for line in report.lines():
        click.echo(line, err=True)
    sys.exit(report.exit_code)


def _until_interrupted() -> None:
    """Wait until Ctrl-C, for the commands that keep a server running for a person to look at."""
    import time

    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _publish_notes(result: Any) -> None:
    """The warnings about each post and the notes about the run: on stderr, once."""
    for post in result.posts:
        for warning in post.warnings:
            click.echo(f"warning: {warning}", err=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)


def _publish_summary(result: Any) -> None:
    if result.plan:
        for step in result.plan:
            body = step.get("body")
            if body is None:
                click.echo(f"would call {step['call']}: " + ", ".join(f"{k}={v}" for k, v in step.items() if k != "call"))
                continue
            articles = body["articles"] if isinstance(body["articles"], list) else [body["articles"]]
            click.echo(f"would call {step['call']}" + (f" (draft {body['media_id']}, index {body['index']})" if "media_id" in body else ""))
            for article in articles:
                shown = {k: v for k, v in article.items() if k != "content"}
                click.echo(f"  {json.dumps(shown, ensure_ascii=False)}")
                click.echo(f"  content: {len(article['content']):,} characters: {article['content'][:160]}…")
        return
    for post in result.posts:
        # Unchanged since it was published: what it became is a published article, no longer a draft.
        where = "published" if result.published and post.action == "unchanged" else f"draft {result.media_id}"
        click.echo(f"{post.action}: {post.path} -> {where} article {post.index + 1} ({post.uploaded} uploaded, {post.reused} reused)")
    if result.preview_msg_id:
        click.echo(f"preview sent (msg_id {result.preview_msg_id})")
    if result.publish_id or result.publish_words:
        article = f" (article_id {result.article_id})" if result.article_id else ""
        click.echo(f"publish {result.publish_id or '(found published)'}: {result.publish_words}{article}")
        for url in result.article_urls:
            click.echo(f"  {url}")


@main.command("sandbox")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, envvar="WXPUB_SANDBOX_PORT",
    help="Port on 127.0.0.1 (0: any free one); WXPUB_SANDBOX_PORT, where publish --sandbox looks, sets it too.",
)
@click.option("--state", type=click.Path(path_type=Path, file_okay=False), help="Folder for its state (default: in the user cache).")
@click.option("--strict", is_flag=True, help="An element holding one declaration outside the WeChat profile loses its whole style.")
def sandbox_command(port: int, state: Path | None, strict: bool) -> None:
    """Run a local stand-in for the WeChat API on 127.0.0.1 until Ctrl-C.

    It keeps of each article what WeChat would (no script, class, id or handlers, only its own
    images, only mp.weixin.qq.com links, CSS inside the WeChat profile), keeps drafts and images in
    --state and shows them at its address. Faults are injected with
    POST /sandbox/faults, e.g. {"kind": "errcode", "endpoint": "draft/add", "errcode": 45009},
    {"kind": "supersede-token"}, {"kind": "http", "status": 500}, {"kind": "drop-after"},
    {"kind": "latency", "seconds": 0.1} (every call), {"kind": "latency", "endpoint": "media/uploadimg",
    "seconds": 31} (acts, then answers late); DELETE /sandbox/faults clears them.
    """
    from .errors import UsageError
    from .sandbox import SANDBOX_APPID, SANDBOX_SECRET, Sandbox, owner_key, sandbox_port, sandbox_state_dir

    import signal

    # Stopped by kill (a service manager, a test) as by Ctrl-C: the state folder is given back and
    # the address it announced there is removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    # Refused (one line) when another sandbox runs over the same state folder.
    server = _run(lambda: Sandbox(state or sandbox_state_dir(), port=port, key=owner_key(), strict=strict))
    try:
        try:
            server.bind()
        except OSError as exc:
            _fail(UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", hint="choose another --port, or 0 for any free one"))
        click.echo(f"wxpub sandbox on {server.url} (state: {server.state_dir}){' strict' if strict else ''}", err=True)
        click.echo(f"  drafts: {server.url}", err=True)
        # The sandbox takes every account's own AppID with its one secret (publish --sandbox sends that,
        # never WXPUB_SECRET_<NAME>); a project without [accounts] uses the sandbox's AppID.
        click.echo(f"  use it (a project without [accounts]): WXPUB_API_BASE={server.url} WXPUB_APPID={SANDBOX_APPID} WXPUB_SECRET={SANDBOX_SECRET}", err=True)
        click.echo(f"  (with [accounts]: WXPUB_API_BASE={server.url} and WXPUB_SECRET_<NAME>={SANDBOX_SECRET} for each account)", err=True)
        if state is None or server.port == sandbox_port():  # where publish --sandbox looks for it
            click.echo("  or simply: wxpub publish --sandbox POST.md", err=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


# --- preview ------------------------------------------------------------------------------------


@main.command("preview")
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port on 127.0.0.1 (0: any free one).")
@click.option("--no-open", is_flag=True, help="Do not open a browser.")
def preview_command(target: Path, port: int, no_open: bool) -> None:
    """Show TARGET (a post, or a folder of posts) as readers will see it, light and dark, updated on every save.

    Serves a page on 127.0.0.1 until Ctrl-C: the article as publish would send it, the cover in
    the feed and in a share card, the character budget and what 'wxpub check' finds.
    """

    from .config import shown
    from .errors import UsageError
    from .preview.server import PreviewServer, Target

    server = PreviewServer(_run(lambda: Target.of(target)), port=port)
    try:
        server.bind()
    except OSError as exc:
        _fail(UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", hint="choose another --port, or 0 for any free one"))
    url = server.start()
    click.echo(f"wxpub preview of {shown(target)} on {url} (Ctrl-C stops it)", err=True)
    click.echo(url)
    if not no_open:
        import webbrowser

        webbrowser.open(url)
    try:
        _until_interrupted()
    finally:
        server.stop()


# --- check --------------------------------------------------------------------------------------


@main.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--fix", is_flag=True, help="Rewrite what can be fixed safely (typography, front matter formatting) in place.")
@click.option("--diff", is_flag=True, help="Show the fixes as a unified diff; write nothing.")
@click.option("--select", metavar="CODES", help="Run only these codes or prefixes, e.g. 'WX1,WX401'.")
@click.option("--ignore", metavar="CODES", help="Skip these codes or prefixes (added to the config's).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: the CPU count).")
@click.option("--codes", "list_codes", is_flag=True, help="List every code with its severity and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as one JSON list on stdout.")
def check_command(
    paths: tuple[Path, ...],
    fix: bool,
    diff: bool,
    select: str | None,
    ignore: str | None,
    jobs: int | None,
    list_codes: bool,
    as_json: bool,
) -> None:
    """Check posts (Markdown files, or folders of them) before they are published.

    Prints one 'path:line:col: CODE message' line per problem on stdout and a summary on stderr.
    Exit status: 0 clean (notes allowed), 1 problems found, 2 usage error, 123 a file could not be checked.
    Silence one line with '<!-- wxpub: ignore WX401 -->' at its end or on the line before.
    """
    from .check import RULES, Mode, Selection, check_paths

    if list_codes:
        for rule in RULES.values():
            fixable = " (fixable)" if rule.fixable else ""
            click.echo(f"{rule.code}  {rule.severity.value:<7}  {rule.summary}{fixable}")
        return
    if not paths:
        raise click.UsageError("give at least one post or folder")
    mode = _run(lambda: Mode.from_flags(fix=fix, diff=diff), as_json)
    selection = _run(lambda: Selection.from_options(select, ignore), as_json)
    report = _run(lambda: check_paths(paths, mode=mode, selection=selection, jobs=jobs), as_json)
    if as_json:
        click.echo(json.dumps([problem.to_dict() for problem in report.problems], ensure_ascii=False, indent=2))
    else:
        for line in report.lines():
            click.echo(line)
    for line in report.crash_lines():
        click.echo(line, err=True)
    click.echo(report.summary(), err=True)
    sys.exit(report.exit_code)
