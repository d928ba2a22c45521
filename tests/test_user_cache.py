"""What wxpub keeps in the per-user cache: highlighted code, and how the cache stays small."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from wxpub.cachefiles import DiskCache, prune
from wxpub.mdext import codeblocks

POST = Path(__file__).parents[1] / "examples" / "posts" / "python-async.md"


def test_a_later_process_reuses_highlighted_code_without_lexing(tmp_path: Path) -> None:
    script = (
        "import sys, wxpub; html = wxpub.convert_file(sys.argv[1]).html;"
        "print('pygments.lexers.python' in sys.modules, len(html), hash(html))"
    )
    env = {**os.environ, "WXPUB_CACHE_DIR": str(tmp_path / "cache"), "PYTHONHASHSEED": "0"}
    first, second = (
        subprocess.run([sys.executable, "-c", script, str(POST)], env=env, capture_output=True, text=True, check=True).stdout.split()
        for _ in range(2)
    )
    assert first[0] == "True" and second[0] == "False"
    assert first[1:] == second[1:]


def test_a_missing_entry_is_highlighted_again_and_stored(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "code", keep=10)
    code = f"print('{time.time_ns()}')"
    expected = codeblocks.highlight(code, "python", cache=cache)
    codeblocks._remembered.cache_clear()
    [entry] = [p for p in (tmp_path / "code").rglob("*") if p.is_file()]
    entry.unlink()
    assert codeblocks.highlight(code, "python", cache=cache) == expected
    assert entry.exists(), "recomputed and stored again"


def test_the_highlighter_needs_no_cache_at_all() -> None:
    code = f"print('{time.time_ns()}')"
    assert "print" in codeblocks.highlight(code, "python")


def test_prune_drops_the_oldest_entries_and_stale_versions(tmp_path: Path) -> None:
    current, stale, recent = tmp_path / "v2", tmp_path / "v1", tmp_path / "other"
    for folder in (current, stale, recent):
        folder.mkdir()
    for number in range(10):
        entry = current / f"entry-{number}"
        entry.write_text("x")
        os.utime(entry, (1_000_000 + number, 1_000_000 + number))
    month_and_a_day = time.time() - 31 * 24 * 3600
    os.utime(stale, (month_and_a_day, month_and_a_day))
    prune(current, keep=8)
    assert sorted(p.name for p in current.iterdir()) == [f"entry-{n}" for n in range(4, 10)]
    assert not stale.exists() and recent.exists()
