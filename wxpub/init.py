"""`wxpub init`: a posts repository that works at once, with one account, a footer block, a first
post with its cover, a pre-commit hook, the CI workflow and a .gitignore."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import shown
from .errors import UsageError

# The same workflow as examples/ci/wxpub.yml (a test keeps the two equal).
WORKFLOW = Path(__file__).parent / "init_workflow.yml"

CONFIG = """\
# wxpub settings for this repository. The AppSecret is never written here: export
# WXPUB_SECRET_{secret} (in CI: a repository secret of that name), or set secret_file.
[accounts.{key}]
appid = "{appid}"          # 设置与开发 → 基本配置 → AppID
name = "{name}"
author = "{author}"
footer = "blocks/footer.md"
# header = "blocks/header.md"

[convert]
theme = "default"
"""

FOOTER = """\
---

本文由 {{ author }} 为「{{ account.name }}」原创发布，未经许可，禁止转载。
"""

HELLO = """\
---
title: 你好，世界
digest: 用 wxpub 发布的第一篇文章。
cover: images/hello-cover.jpg
---

这是用 Markdown 写的第一篇文章。在 `posts/` 里写新文章，提交前 `wxpub check` 会检查它，
合并到 main 后 CI 会把改动过的文章发布为草稿。

## 接下来

1. 在 `wxpub.toml` 里填上公众号的 AppID；
2. 把 AppSecret 设为环境变量（见 `wxpub.toml` 里的说明）；
3. 运行 `wxpub doctor` 检查账号，再 `wxpub publish posts/hello.md`。

每篇文章的结尾都会加上 `blocks/footer.md`。
"""

PRE_COMMIT = """\
# Check posts before every commit (pre-commit install). The hook runs the wxpub installed here.
repos:
  - repo: local
    hooks:
      - id: wxpub-check
        name: wxpub check
        entry: wxpub check
        language: system
        types: [markdown]
        files: ^posts/
        require_serial: true  # wxpub check spreads the posts over the CPU cores itself
"""

GITIGNORE = """\
.venv/
__pycache__/
"""


@dataclass(frozen=True)
class Initialised:
    """What `wxpub init` wrote, relative to the folder."""

    folder: Path
    files: tuple[str, ...]


def init_project(
    folder: str | Path,
    *,
    account: str = "main",
    appid: str = "wx0000000000sandbox",
    name: str = "我的公众号",
    author: str = "作者",
) -> Initialised:
    """Write a new posts repository into `folder` (created if needed); nothing is overwritten."""
    from .images.starter import starter_cover

    folder = Path(folder)
    if not account.replace("_", "").replace("-", "").isalnum():
        raise UsageError(f"account name {account!r} must be letters, digits, '-' or '_'", hint="e.g. --account main")
    secret = "".join(c if c.isalnum() else "_" for c in account.upper())
    files: dict[str, str | bytes] = {
        "wxpub.toml": CONFIG.format(key=account, appid=appid, name=name, author=author, secret=secret),
        "blocks/footer.md": FOOTER,
        "posts/hello.md": HELLO,
        "posts/images/hello-cover.jpg": starter_cover(),
        ".pre-commit-config.yaml": PRE_COMMIT,
        ".github/workflows/wxpub.yml": WORKFLOW.read_text(encoding="utf-8").replace("WXPUB_SECRET_MAIN", f"WXPUB_SECRET_{secret}"),
        ".gitignore": GITIGNORE,
    }
    present = [path for path in files if (folder / path).exists()]
    if present:
        raise UsageError(f"already has {', '.join(present)}", path=shown(folder), hint="run wxpub init in an empty folder, or remove them")
    for path, content in files.items():
        target = folder / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}", path=folder, hint="give wxpub init a folder it can create and write in") from None
    return Initialised(folder, tuple(files))
