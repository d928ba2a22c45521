"""The hooks in .pre-commit-hooks.yaml, run by the real pre-commit through `pre-commit try-repo`.

pre-commit builds the hook's own virtualenv from a git repository, so the working tree (tracked
and new files, without ignored ones) is committed to a temporary repository first. Building that
virtualenv installs wxpub and its dependencies from the package index, which takes a while: the
whole module shares one built environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

pytestmark = [
    pytest.mark.index,  # pre-commit builds the hook's environment from the package index
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is not installed next to this Python"),
]

GOOD = """---
title: 一篇好文章
cover: cover.png
---

这是一篇 WeChat 文章，写于 2024 年。
"""

BAD_TYPOGRAPHY = """---
title: 排版有问题
cover: cover.png
---

这是一篇WeChat文章,写于2024年。
"""



def _git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree as a committed repository, for try-repo to clone."""
    repo = tmp_path_factory.mktemp("hook-repo")
    files = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_symlink():  # wxpub/styles: git keeps it as a link, so must the copy
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(source), repo / name)
        elif source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    readme = repo / "README.md"
    if not readme.exists():  # the package metadata names it; the build fails without one
        readme.write_text("# wxpub\n", encoding="utf-8")
    _git("init", "-q", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "-m", "snapshot", cwd=repo)
    return repo


@pytest.fixture()
def posts_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "blog"
    (repo / "posts").mkdir(parents=True)
    Image.new("RGB", (940, 400), (30, 120, 200)).save(repo / "posts" / "cover.png")  # holds both cover crops, sharp
    _git("init", "-q", cwd=repo)
    return repo


def _try_repo(hook_repo: Path, posts_repo: Path, hook: str, *files: str) -> subprocess.CompletedProcess[str]:
    _git("add", "-A", cwd=posts_repo)
    env = {**os.environ, "PRE_COMMIT_COLOR": "never", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)  # the hook must run from its own environment, not from this tree
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(hook_repo), hook, "--verbose", "--files", *files],
        cwd=posts_repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_check_hook_passes_a_good_post_and_fails_a_bad_one(hook_repo: Path, posts_repo: Path) -> None:
    (posts_repo / "posts" / "good.md").write_text(GOOD, encoding="utf-8")
    (posts_repo / "posts" / "bad.md").write_text(BAD_TYPOGRAPHY, encoding="utf-8")
    (posts_repo / "notes.txt").write_text("not a post", encoding="utf-8")

    good = _try_repo(hook_repo, posts_repo, "wxpub-check", "posts/good.md", "notes.txt")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout

    bad = _try_repo(hook_repo, posts_repo, "wxpub-check", "posts/good.md", "posts/bad.md")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "posts/bad.md:6:5: WX401" in bad.stdout
    assert "posts/bad.md:6:13: WX402" in bad.stdout
    assert "good.md:" not in bad.stdout


def test_fix_hook_rewrites_the_post(hook_repo: Path, posts_repo: Path) -> None:
    post = posts_repo / "posts" / "bad.md"
    post.write_text(BAD_TYPOGRAPHY, encoding="utf-8")

    first = _try_repo(hook_repo, posts_repo, "wxpub-fix", "posts/bad.md")
    assert first.returncode == 1, first.stdout + first.stderr  # pre-commit fails a hook that changed files
    assert "files were modified by this hook" in first.stdout
    assert "这是一篇 WeChat 文章，写于 2024 年。" in post.read_text(encoding="utf-8")

    second = _try_repo(hook_repo, posts_repo, "wxpub-fix", "posts/bad.md")
    assert second.returncode == 0, second.stdout + second.stderr


def test_the_example_config_works_as_written(posts_repo: Path) -> None:
    """examples/.pre-commit-config.yaml, copied as the README says, runs the installed wxpub."""
    shutil.copy(ROOT / "examples" / ".pre-commit-config.yaml", posts_repo / ".pre-commit-config.yaml")
    (posts_repo / "posts" / "good.md").write_text(GOOD, encoding="utf-8")
    (posts_repo / "posts" / "bad.md").write_text(BAD_TYPOGRAPHY, encoding="utf-8")
    _git("add", "-A", cwd=posts_repo)
    env = {**os.environ, "PRE_COMMIT_COLOR": "never", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(PRE_COMMIT), "run", "--all-files"], cwd=posts_repo, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "posts/bad.md:6:5: WX401" in done.stdout and "good.md:" not in done.stdout
