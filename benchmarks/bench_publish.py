"""Publishing speed against the sandbox with 100 ms of latency on every call.

    python benchmarks/bench_publish.py [--images 12] [--latency 0.1]

A post with 12 photos (and its cover): the first publish should take at most 1 s of wall time (the
uploads run 4 at a time), and an unchanged rerun must make no upload and at most 2 calls. The first
publish is timed twice: with the images still to prepare (CPU work, before any upload), and on a
new account with the images already prepared, which isolates the network part. The sandbox runs
in a process of its own, as the real API is a server elsewhere. A last line times the first
publish as a `wxpub publish` process, start-up and imports included.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image

from wxpub.config import Credentials
from wxpub.publish import PublishOptions, publish_paths
from wxpub.sandbox import SANDBOX_APPID, SANDBOX_SECRET


def make_post(root: Path, count: int) -> Path:
    (root / "img").mkdir(parents=True)
    (root / "wxpub.toml").write_text("", encoding="utf-8")
    lines = ["---", "title: 十二张图", "author: wxpub", "---", "", "一篇有很多图片的文章。", ""]
    for i in range(count):
        noise = Image.effect_noise((1200, 800), 40 + i).convert("RGB")
        tint = Image.new("RGB", (1200, 800), (30 + 15 * i, 120, 200 - 10 * i))
        Image.blend(noise, tint, 0.6).save(root / "img" / f"photo{i:02d}.jpg", quality=90)
        lines += [f"![照片 {i + 1}](img/photo{i:02d}.jpg)", ""]
    post = root / "post.md"
    post.write_text("\n".join(lines), encoding="utf-8")
    return post


class SandboxProcess:
    """`wxpub sandbox` in a process of its own, as the API is a server elsewhere, with latency on every call.

    In the publishing process it would take the interpreter lock away from the publisher's own
    threads to parse the uploads, which a real server does not do.
    """

    def __init__(self, state: Path, latency: float) -> None:
        self.state, self.latency = state, latency

    def __enter__(self) -> SandboxProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "wxpub", "sandbox", "--port", "0", "--state", str(self.state)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )
        assert self.process.stderr is not None
        first = self.process.stderr.readline()
        found = re.search(r"on (http://127\.0\.0\.1:\d+/)", first)
        if not found:
            self.process.kill()
            raise RuntimeError(f"the sandbox did not start: {first}")
        self.url = found.group(1)
        self._call("POST", "sandbox/faults", {"kind": "latency", "seconds": self.latency})
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait()

    def count(self) -> int:
        return len(self._call("GET", "sandbox/calls")["calls"])

    def _call(self, method: str, path: str, body: object = None) -> dict:  # type: ignore[type-arg]
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="wxpub-bench-") as folder:
        # A user cache of its own, so "images not yet prepared" means it.
        os.environ["WXPUB_CACHE_DIR"] = str(Path(folder) / "user-cache")
        post = make_post(Path(folder) / "blog", args.images)
        credentials = Credentials(SANDBOX_APPID, SANDBOX_SECRET)
        print(f"{args.images} images + cover, {args.latency * 1000:.0f} ms latency per call, {os.cpu_count()} CPUs")

        def run(label: str, sandbox: SandboxProcess, ledger: str, concurrency: int = 4) -> None:
            before = sandbox.count()
            start = time.perf_counter()
            result = publish_paths(
                [post],
                PublishOptions(concurrency=concurrency),
                api_base=sandbox.url,
                credentials=credentials,
                token_store="memory",
                ledger_path=Path(folder) / ledger,
            )
            wall = time.perf_counter() - start
            print(
                f"  {label:<44} {wall:5.2f} s   {result.action:<9}  uploads {result.uploaded:>2} made, "
                f"{result.reused:>2} reused   calls {sandbox.count() - before:>2}"
            )

        with SandboxProcess(Path(folder) / "sandbox-1", args.latency) as sandbox:
            run("first publish (images not yet prepared)", sandbox, "ledger-1.json")
            run("unchanged rerun", sandbox, "ledger-1.json")
        # A new account: nothing uploaded yet, but the images are prepared (in the user cache), as after
        # `wxpub check`, `wxpub images` or `--dry-run`; this isolates the network part.
        with SandboxProcess(Path(folder) / "sandbox-2", args.latency) as sandbox:
            run("first publish (images prepared), 4 at a time", sandbox, "ledger-2.json")
        with SandboxProcess(Path(folder) / "sandbox-3", args.latency) as sandbox:
            run("first publish (images prepared), 1 at a time", sandbox, "ledger-3.json", concurrency=1)
        # The same first publish as a command, its own start-up and imports included.
        shutil.rmtree(Path(folder) / "user-cache" / "images")
        with SandboxProcess(Path(folder) / "sandbox-4", args.latency) as sandbox:
            env = {
                **os.environ, "WXPUB_API_BASE": sandbox.url, "WXPUB_APPID": SANDBOX_APPID,
                "WXPUB_SECRET": SANDBOX_SECRET, "WXPUB_TOKEN_STORE": "memory",
            }
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "wxpub", "publish", str(post)], env=env, check=True, capture_output=True)
            print(f"  {'the first publish as a wxpub publish process':<44} {time.perf_counter() - start:5.2f} s")


if __name__ == "__main__":
    main()
