"""How fast images are prepared: 20 different 12-megapixel phone photos, cold on every core, then cached.

    python benchmarks/bench_images.py [--photos 20] [--jobs N]

Prints the time per photo cold (all cores), cold on one core, and the whole warm run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

import imagegen  # noqa: E402

from wxpub.images import prepare_images  # noqa: E402
from wxpub.render import ImageRef  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=None, help="worker threads (default: usable cores)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="wxpub-bench-"))
    try:
        (root / "wxpub.toml").write_text("")
        post = root / "post.md"
        post.write_text("# bench\n")
        started = time.perf_counter()
        refs = []
        total_bytes = 0
        for number in range(args.photos):
            data = imagegen.photo((4000, 3000), orientation=(1, 6, 3, 8)[number % 4], tint=number * 11)
            total_bytes += len(data)
            name = f"IMG_{number:04d}.jpg"
            (root / name).write_bytes(data)
            refs.append(ImageRef(name, number + 1))
        print(f"made {args.photos} photos of 4000×3000 ({total_bytes / args.photos / 1e6:.1f} MB each) "
              f"in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

        def run(label: str, jobs: int | None, cache: Path | None) -> float:
            began = time.perf_counter()
            result = prepare_images(refs, post, cover=False, jobs=jobs, cache_dir=cache)
            elapsed = time.perf_counter() - began
            sizes = [len(image.data) for image in result.images]
            print(f"{label:<34} {elapsed:6.2f} s total  {elapsed / len(refs) * 1000:7.1f} ms/photo  "
                  f"(output {min(sizes) / 1e3:.0f}-{max(sizes) / 1e3:.0f} KB, "
                  f"{sum(i.cached for i in result.images)} from cache)")
            return elapsed

        cache = root / "image-cache"
        print(f"Python {sys.version.split()[0]}, {cores} usable cores")
        run("cold, one core", 1, None)
        run(f"cold, {args.jobs or cores} workers (filling the cache)", args.jobs, cache)
        run("warm (all from the cache)", args.jobs, cache)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
