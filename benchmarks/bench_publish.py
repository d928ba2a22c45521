"""Publishing speed against the sandbox with 100 ms of latency on every call.

    python benchmarks/bench_publish.py [--images 12] [--latency 0.1]

A post with 12 photos (and its cover): the first publish should take at most 1 s of wall time (the
uploads run 4 at a time), and an unchanged rerun must make no upload and at most 2 calls. The first
publish is timed twice: with the images still to prepare (CPU work, before any upload), and on a
new account with the images already prepared, which isolates the network part.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from PIL import Image

from wxpub.publish import Credentials, PublishOptions, publish_paths
from wxpub.sandbox import SANDBOX_APPID, SANDBOX_SECRET, Sandbox


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="wxpub-bench-") as folder:
        post = make_post(Path(folder) / "blog", args.images)
        credentials = Credentials(SANDBOX_APPID, SANDBOX_SECRET)
        print(f"{args.images} images + cover, {args.latency * 1000:.0f} ms latency per call, {os.cpu_count()} CPUs")

        def run(label: str, sandbox: Sandbox, ledger: str, concurrency: int = 4) -> None:
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

        with Sandbox(Path(folder) / "sandbox-1", latency=args.latency) as sandbox:
            run("first publish (images not yet prepared)", sandbox, "ledger-1.json")
            run("unchanged rerun", sandbox, "ledger-1.json")
        # A new account: nothing uploaded yet, but the images are prepared (.wxpub-cache), as after
        # `wxpub check`, `wxpub images` or `--dry-run`; this isolates the network part.
        with Sandbox(Path(folder) / "sandbox-2", latency=args.latency) as sandbox:
            run("first publish (images prepared), 4 at a time", sandbox, "ledger-2.json")
        with Sandbox(Path(folder) / "sandbox-3", latency=args.latency) as sandbox:
            run("first publish (images prepared), 1 at a time", sandbox, "ledger-3.json", concurrency=1)

if __name__ == "__main__":
    main()
