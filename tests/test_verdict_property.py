"""Generated posts that mix every construct hold the two promises of `wxpub check`:

- check finds an error exactly when the dry run of `wxpub publish` refuses the post (no network
  is involved: every image is a local file);
- `check --fix` changes typography only: the fixed post converts to the same structure (the same
  elements in the same order, the same images and links) as the original.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import wxpub
from wxpub.check import check_file, fix_text
from wxpub.errors import WxpubError
from wxpub.publish import PublishOptions, publish_paths

FRONT = {
    "title": ["标题", "奔赴Web3，视频号熟人社交捧起新创作者经济", "长" * 40, "长" * 70, "''", "Python入门"],
    "author": ["张三", "作" * 20],
    "cover": ["cover.png", "missing.png", "tiny.png", "[1, 2]"],
    "cover_focus": ["0.5,0.3", "2,0", "left"],
    "comments": ["open", "fans-only", "maybe"],
    "source_url": ["https://example.com/a", "ftp://example.com/a", "'https://example.com/文'"],
    "digest": ["摘要abc,写给读者", "摘" * 130],
    "autor": ["拼错的键"],
    "theme": ["ink", "no-such-theme"],
}
BODY = [
    "中文和English混排，数字2024年。", "段落，写了一些话。", "# 一级标题", "## 二级标题abc",
    "> [!提示] 交通\n> 坐地铁2号线。", "> [!NOTE]\n> 说明abc。", "> [!警告]\n> 小心。", "> 引用abc",
    "见[文档abc](https://e.com/中文a)。", "[公众号](https://mp.weixin.qq.com/s/x)", "<https://a.b/c>",
    "![图abc](cover.png \"题注\")", "![缺](missing.png)", "![小](tiny.png)",
    "<img src=\"https://example.com/a.png\">", "<a href=\"https://example.com\">这里</a>", "<script>x</script>",
    "```python\nx = \"中文abc,没有空格\"\n```", "行内 `code中文abc` 不动。", "$x^2+中文$ 公式", "$$E=mc^2$$",
    "脚注[^注1]。\n\n[^注1]: 说明abc。", "- 列表abc\n  - 子项", "1. 一\n2. 二", "| 表abc | 格 |\n| --- | --- |\n| 1 | 2 |",
    "---", "**粗体,**后文", "全角ＡＢＣ１２３",
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verdict")
    (root / "wxpub.toml").write_text("", encoding="utf-8")
    Image.new("RGB", (940, 400), (40, 120, 200)).save(root / "cover.png")
    Image.new("RGB", (10, 10), (200, 40, 40)).save(root / "tiny.png")
    return root


posts = st.builds(
    lambda front, body, rule_first: (front, body, rule_first),
    st.dictionaries(st.sampled_from(sorted(FRONT)), st.integers(0, 5), max_size=6),
    st.lists(st.sampled_from(BODY), min_size=1, max_size=8),
    st.booleans(),
)


def _text(front: dict[str, int], body: list[str], rule_first: bool) -> str:
    lines = [f"{key}: {FRONT[key][index % len(FRONT[key])]}" for key, index in front.items()]
    head = "---\n" + "\n".join(lines) + "\n---\n\n" if lines else ("---\n" if rule_first else "")
    return head + "\n\n".join(body) + "\n"


def _refused(path: Path) -> bool:
    try:
        publish_paths([path], PublishOptions(dry_run=True))
    except WxpubError:
        return True
    return False


def _structure(text: str) -> tuple[object, ...]:
    import lxml.html

    converted = wxpub.convert_text(text)
    tags = [element.tag for element in lxml.html.fragment_fromstring(converted.html).iter() if isinstance(element.tag, str)]
    return tuple(tags), tuple(i.src for i in converted.images), tuple(link.url for link in converted.links), converted.title != ""


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(posts)
def test_check_errors_exactly_when_the_dry_run_refuses(project: Path, post: tuple[dict[str, int], list[str], bool]) -> None:
    os.environ.pop("WXPUB_APPID", None)
    text = _text(*post)
    path = project / "post.md"
    path.write_text(text, encoding="utf-8")
    errors = [p.one_line() for p in check_file(path).problems if p.severity.value == "error"]
    assert bool(errors) == _refused(path), (text, errors)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(posts)
def test_fix_changes_typography_and_nothing_else(post: tuple[dict[str, int], list[str], bool]) -> None:
    text = _text(*post)
    fixed, _ = fix_text(text)
    try:
        before = _structure(text)
    except WxpubError:
        return  # a post that does not convert is not for --fix to change
    assert _structure(fixed) == before, (text, fixed)
