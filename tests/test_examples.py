"""The shipped examples work: every post converts cleanly, and the API script publishes into a sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import wxpub
from contract import assert_contract

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
POSTS = sorted((EXAMPLES / "posts").glob("*.md"))


@pytest.mark.parametrize("post", POSTS, ids=[p.stem for p in POSTS])
def test_example_post_converts_without_warnings(post: Path) -> None:
    converted = wxpub.convert_file(post)
    assert_contract(converted.html)
    assert converted.title
    assert converted.warnings == ()
    assert converted.budget_left > 0
    for image in converted.images:
        if "://" not in image.src:
            assert (post.parent / image.src).is_file(), image.src


def test_examples_use_every_feature() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in POSTS)
    features = (
        "```python", "|:--", "> [!TIP]", "> [!WARNING]", "> [!IMPORTANT]", "> [!提示]", "- [x]", "- [ ]", "[^",
        "$$", "$t_n", "](https://mp.weixin.qq.com", "<https://", "![", "  - ", "  1. ", "5. ", "~~", "`len(pages) <",
        "  \n", "\n---\n", "<p style=", "**",
    )
    for feature in features:
        assert feature in text, feature


def test_api_script_publishes_into_a_sandbox(tmp_path: Path) -> None:
    env = {**os.environ, "WXPUB_CACHE_DIR": str(tmp_path / "cache"), "WXPUB_SANDBOX_PORT": "0"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "convert_and_publish.py")],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "added: 用 asyncio 写一个不阻塞的下载器" in done.stdout
    assert "cover crops:" in done.stdout
