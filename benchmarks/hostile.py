"""Hostile and huge posts against every command: each must end within its budget or refuse in one line.

    python benchmarks/hostile.py [--case NAME ...] [--command check ...] [--time-cap 30] [--keep DIR]

Builds each case in a temporary project (a post, a small cover, and for the remote cases a web
server on 127.0.0.1 that the project's wxpub.toml allows), then runs `python -m wxpub COMMAND
post.md` for check, convert, images and publish --dry-run, each as a fresh process with its
address space capped (--mem-cap, MB) and killed at --time-cap seconds. It prints one row per
case and command: wall seconds, peak resident memory (MB, from the kernel's rusage of that
process), the exit code, and the first line of stderr. A row is marked FAIL when it took over
--budget-seconds (10), used over --budget-mb (500), or died of a signal or a crash (exit 123).
Exit status: 0 when every row is within budget, 1 otherwise.
"""

from __future__ import annotations

import argparse
import http.server
import io
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
COMMANDS: dict[str, list[str]] = {
    "check": ["check"],
    "convert": ["convert"],
    "images": ["images", "--no-cache"],
    "publish --dry-run": ["publish", "--dry-run"],
}
FRONT = "---\ntitle: Hostile\ncover: cover.png\n---\n\n"


@dataclass(frozen=True)
class Case:
    """One hostile input: a name, what it is, and how to write its post into a project folder."""

    name: str
    about: str
    write: Callable[[Path, str], None]  # (project folder, base URL of the local server)


def _post(body: Callable[[], str]) -> Callable[[Path, str], None]:
    def write(folder: Path, base: str) -> None:
        (folder / "post.md").write_text(FRONT + body(), "utf-8")

    return write


def _with_file(name: str, data: Callable[[], bytes], body: str) -> Callable[[Path, str], None]:
    def write(folder: Path, base: str) -> None:
        (folder / name).write_bytes(data())
        (folder / "post.md").write_text(FRONT + body, "utf-8")

    return write


def _remote(path: str) -> Callable[[Path, str], None]:
    def write(folder: Path, base: str) -> None:
        (folder / "post.md").write_text(FRONT + f"![remote]({base}{path})\n", "utf-8")

    return write


def _svg_bomb() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg" width="30000" height="30000"><rect width="9" height="9"/></svg>'


def _png_bomb() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")  # 400 million pixels in a few dozen KB
    return out.getvalue()


def _bracket_paragraphs() -> str:
    # Paragraphs of unmatched brackets, as many as the bracket budget lets through.
    return "\n\n".join(["[a " * 400] * 30)


CASES = [
    Case("bracket-bomb", "'['*100000+'x'+']('*50000", _post(lambda: "[" * 100_000 + "x" + "](" * 50_000)),
    Case("nested-list", "10,000 nested list items", _post(lambda: "".join("  " * i + "- item\n" for i in range(10_000)))),
    Case("emphasis-bomb", "'*_'*100000", _post(lambda: "*_" * 100_000)),
    Case("footnotes", "20,000 footnotes", _post(lambda: "".join(f"a[^{i}]\n" for i in range(20_000)) + "\n"
                                                + "".join(f"[^{i}]: note {i}\n" for i in range(20_000)))),
    Case("links", "50,000 links", _post(lambda: "".join(f"[l{i}](https://example.com/{i}) " for i in range(50_000)))),
    Case("line-20mb", "one 20 MB line", _post(lambda: "a" * 20_000_000)),
    Case("post-50mb", "a 50 MB post", _post(lambda: ("Lorem ipsum dolor sit amet, 中文段落。\n\n" * 1_200_000)[:50_000_000])),
    Case("svg-bomb", "120-byte SVG declaring 30000x30000", _with_file("bomb.svg", _svg_bomb, "![bomb](bomb.svg)\n")),
    Case("png-bomb", "PNG of 20000x20000 pixels", _with_file("bomb.png", _png_bomb, "![bomb](bomb.png)\n")),
    Case("remote-drip", "remote image, 1 byte every 2 s", _remote("/drip.png")),
    Case("remote-slow-headers", "remote image, headers 1 byte every 2 s", _remote("/slow-headers")),
    Case("remote-to-loopback", "redirect to a loopback port not allowed", _remote("/to-loopback")),
    Case("remote-private", "image at 10.0.0.5 (refused, never reached)", _post(lambda: "![x](http://10.0.0.5/x.png)\n")),
    # Just under the limits: these are parsed, and must still be quick.
    Case("emphasis-budget", "95 paragraphs of 1,000 '*_' (under every limit)", _post(lambda: "\n\n".join(["*_" * 500] * 95))),
    Case("brackets-budget", "30 paragraphs of 400 unmatched brackets", _post(_bracket_paragraphs)),
    Case("links-1999", "1,999 links", _post(lambda: "".join(f"[l{i}](https://example.com/{i}) " for i in range(1_999)))),
    Case("footnotes-999", "999 footnotes", _post(lambda: "".join(f"a[^{i}]\n" for i in range(999)) + "\n"
                                               + "".join(f"[^{i}]: note {i}\n" for i in range(999)))),
    Case("paragraphs-99k", "9,000 short paragraphs", _post(lambda: "word word\n\n" * 9_000)),
    Case("nested-10", "lists 10 deep, repeated", _post(lambda: ("".join("  " * i + f"- item {i}\n" for i in range(10)) + "\n") * 400)),
    Case("quote-bomb", "'>'*100000", _post(lambda: ">" * 100_000 + " x\n")),
    Case("html-nesting", "<div> nested 8,000 deep", _post(lambda: "<div>" * 8_000 + "x" + "</div>" * 8_000 + "\n")),
    Case("html-elements", "9,000 raw <p> elements", _post(lambda: "<p>a</p>\n" * 9_000)),
    Case("html-one-line", "11,000 raw <p> elements on one line", _post(lambda: "<p>a</p>" * 11_000 + "\n")),
    Case("backticks", "'`'*30000+'a'+'``'*30000", _post(lambda: "`" * 30_000 + "a" + "``" * 30_000)),
    Case("table-2000", "a table of 2,000 rows", _post(lambda: "| a | b |\n|---|---|\n" + "| [x] | *y* |\n" * 2_000)),
]


class _Server(http.server.BaseHTTPRequestHandler):
    """Slow and redirecting answers on 127.0.0.1, for the remote cases."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        try:
            if self.path == "/drip.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                for _ in range(60):
                    self.wfile.write(b"\x89")
                    self.wfile.flush()
                    time.sleep(2)
            elif self.path == "/slow-headers":
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nX-Slow: 1234567890\r\n\r\n":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(2)
            elif self.path == "/to-loopback":
                port = self.server.server_address[1]
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.2:{port}/drip.png")
                self.end_headers()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


def _cover() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (900, 383), (40, 90, 160)).save(out, "PNG")
    return out.getvalue()


def run(command: list[str], folder: Path, env: dict[str, str], time_cap: float, mem_cap_mb: int) -> tuple[float, float, int, str]:
    """Run `python -m wxpub COMMAND post.md` in `folder`: (seconds, peak MB, exit code, first stderr line)."""

    def limits() -> None:
        cap = mem_cap_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        os.setsid()

    started = time.monotonic()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "wxpub", *command, "post.md"],
            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=limits,
        )
        status, usage = 0, None
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > time_cap:
                os.killpg(process.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        err.seek(0)
        lines = [line for line in err.read().decode("utf-8", "replace").splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if seconds > time_cap:
        first = f"KILLED after {time_cap:g} s"
    peak_mb = usage.ru_maxrss / 1024 if usage else 0.0  # kilobytes on Linux
    return seconds, peak_mb, process.returncode, first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", help="only this case (repeatable)")
    parser.add_argument("--command", action="append", choices=list(COMMANDS), help="only this command (repeatable)")
    parser.add_argument("--time-cap", type=float, default=30.0, help="kill a run after this many seconds")
    parser.add_argument("--mem-cap", type=int, default=2048, help="address-space cap of a run, MB")
    parser.add_argument("--budget-seconds", type=float, default=10.0)
    parser.add_argument("--budget-mb", type=float, default=500.0)
    parser.add_argument("--keep", type=Path, help="build the cases here and keep them")
    args = parser.parse_args()

    cases = [case for case in CASES if not args.case or case.name in args.case]
    commands = [name for name in COMMANDS if not args.command or name in args.command]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"

    work = args.keep or Path(tempfile.mkdtemp(prefix="wxpub-hostile-"))
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["WXPUB_CACHE_DIR"] = str(work / ".cache")
    env["PYTHONPATH"] = str(ROOT)
    cover = _cover()
    print(f"{'case':<20} {'command':<18} {'s':>6} {'MB':>6} {'exit':>4}  first line of stderr")
    failed = 0
    try:
        for case in cases:
            folder = work / case.name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "wxpub.toml").write_text('[images]\nallow_private_hosts = ["127.0.0.1"]\n')
            (folder / "cover.png").write_bytes(cover)
            case.write(folder, base)
            for name in commands:
                seconds, peak, code, first = run(COMMANDS[name], folder, env, args.time_cap, args.mem_cap)
                bad = seconds > args.budget_seconds or peak > args.budget_mb or code < 0 or code == 123
                failed += bad
                mark = "FAIL " if bad else ""
                shown = first if len(first) <= 110 else first[:107] + "..."
                print(f"{case.name:<20} {name:<18} {seconds:6.2f} {peak:6.0f} {code:>4}  {mark}{shown}", flush=True)
    finally:
        httpd.shutdown()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{len(cases) * len(commands) - failed} of {len(cases) * len(commands)} runs within "
          f"{args.budget_seconds:g} s and {args.budget_mb:g} MB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
