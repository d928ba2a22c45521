"""How fast and how compact conversion is.

    python benchmarks/bench_convert.py [--repeat 30]

Prints, for benchmarks/posts/tech-8k.md (about 8,000 characters, seven code blocks, a table):

* warm in-process time of `wxpub.convert_text` (median; caches warm, as in an editor's preview),
  the same with every code block new each time (no highlight cache), and a bare
  `markdown.markdown()` of the same text, timed in turns with it;
* wall time of a `wxpub convert` process against a process that only imports markdown and parses
  (best of --repeat / 3 runs each), with wxpub's bytecode compiled as pip would have it: after an
  earlier run (compiled theme and highlighted code in the user cache), and as the first run on a
  machine (empty user cache: premailer compiles the theme, Pygments lexes every block);
* peak memory (max RSS) of a `wxpub convert` process on a 60,000-character post;
* output characters per visible character, for the prose article and the technical posts, per
  theme (bench_size.py, which prints only that).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TECH = ROOT / "benchmarks" / "posts" / "tech-8k.md"


def interleaved(function, baseline, inputs) -> tuple[float, float, float]:
    """Median ms of `function` and of `baseline`, and the median of their ratio, timed in turns.

    Timing them in turns, each on the same input, lets both see the same machine: on a shared
    virtual machine the speed drifts by half from one second to the next.
    """
    ours, theirs, ratios = [], [], []
    for item in inputs:
        start = time.perf_counter()
        baseline(item)
        middle = time.perf_counter()
        function(item)
        end = time.perf_counter()
        theirs.append(middle - start)
        ours.append(end - middle)
        ratios.append((end - middle) / (middle - start))
    return statistics.median(ours) * 1000, statistics.median(theirs) * 1000, statistics.median(ratios)


def best_walls(command: list[str], baseline: list[str], runs: int, fresh_cache: bool = False) -> tuple[float, float]:
    """Best wall time of each command over `runs`, the two run in turns.

    `fresh_cache`: every run of `command` gets an empty user cache, as on a machine where wxpub
    has never run (no compiled theme, no highlighted code yet).
    """
    best = [float("inf"), float("inf")]
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "WXPUB_CACHE_DIR": cache} if fresh_cache else None
            for index, argv in enumerate((command, baseline)):
                start = time.perf_counter()
                subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
                best[index] = min(best[index], time.perf_counter() - start)
    return best[0], best[1]


def compile_bytecode() -> None:
    """Compile wxpub's bytecode, as pip does when it installs a package.

    Python-Markdown, the baseline, is timed with its installed bytecode; an editable checkout run
    with PYTHONDONTWRITEBYTECODE would instead compile every wxpub module from source on every run.
    """
    import compileall

    import wxpub

    compileall.compile_dir(Path(wxpub.__file__).parent, quiet=1)


def peak_rss_mb(command: list[str]) -> float:
    # ru_maxrss of the children is the largest of them: run the one command in a fresh helper.
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *command], check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    import markdown

    import wxpub

    text = TECH.read_text(encoding="utf-8")
    print(f"post: {TECH.relative_to(ROOT)} ({len(text):,} characters)")

    wxpub.convert_text(text)  # warm: imports, theme, lexers, caches
    same = [text] * args.repeat
    # Code never seen before, not in memory nor in the user cache (hence the time in it).
    fresh = [text.replace("```python\n", f"```python\n# run {time.time_ns()} {n}\n") for n in range(args.repeat)]
    warm, bare, warm_ratio = interleaved(wxpub.convert_text, markdown.markdown, same)
    cold_code, bare_fresh, cold_ratio = interleaved(wxpub.convert_text, markdown.markdown, fresh)
    print(f"convert_text, warm:                    {warm:7.1f} ms  ({warm_ratio:.1f}x bare; target <= 3x)")
    print(f"convert_text, every code block new:    {cold_code:7.1f} ms  ({cold_ratio:.1f}x bare)")
    print(f"markdown.markdown (bare parse):        {bare:7.1f} ms")

    runs = max(3, args.repeat // 3)
    compile_bytecode()
    wxpub_cmd = [sys.executable, "-m", "wxpub", "convert", str(TECH)]
    bare_cmd = [sys.executable, "-c", f"import markdown; markdown.markdown(open({str(TECH)!r}, encoding='utf-8').read())"]
    subprocess.run(wxpub_cmd, check=True, stdout=subprocess.DEVNULL)  # the user cache, as after any earlier run
    process, process_bare = best_walls(wxpub_cmd, bare_cmd, runs)
    first, first_bare = best_walls(wxpub_cmd, bare_cmd, runs, fresh_cache=True)
    print(f"wxpub convert process:                 {process * 1000:7.0f} ms  ({process / process_bare:.1f}x; target <= 4x)")
    print(f"  the same, first run on the machine:  {first * 1000:7.0f} ms  ({first / first_bare:.1f}x; empty user cache)")
    print(f"python -c 'import markdown; parse':    {process_bare * 1000:7.0f} ms")

    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "big.md"
        body = text.split("---\n", 2)[2]
        copies = []
        while sum(len(c) for c in copies) < 60_000:
            copies.append(body)
        big.write_text("---\ntitle: 六万字符\n---\n" + "\n".join(copies), encoding="utf-8")
        size = len(big.read_text(encoding="utf-8"))
        rss = peak_rss_mb([sys.executable, "-m", "wxpub", "convert", str(big)])
        print(f"peak memory, {size:,}-character post:  {rss:7.1f} MB  (target <= 60 MB)")

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_size import size_table

    print("output characters per visible character:")
    print("\n".join(size_table()))


if __name__ == "__main__":
    main()
