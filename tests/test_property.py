"""Random Markdown never crashes the converter and always keeps the output contract."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wxpub
from contract import assert_contract

PIECES = [
    "# 标题", "## 二级", "段落", "中文和 English 混排", "**粗体**", "*斜体*", "~~删除~~", "`code <&>`",
    "[链接](https://example.com)", "[公众号](https://mp.weixin.qq.com/s/x)", "<https://a.b>",
    "![图](a.png \"题\")", "- 项", "  - 子项", "    - 四格", "1. 一", "3. 三", "- [ ] 待办", "- [x] 完成",
    "> 引用", "> [!NOTE]", "> [!警告]", "```python", "```", "    缩进代码", "| a | b |", "|:-|-:|", "| 1 | 2 |",
    "$x^2$", "$$", "\\frac{1}{2}", "$$E=mc^2$$", "[^1]", "[^1]: 脚注", "---", "<b>粗</b>", "<script>x</script>",
    "<div onclick='x()'>d</div>", "<style>p{}</style>", "</section>", "<section>", "</body>", "&amp;", "&nbsp;", "\t制表", "  ", "", "<!-- 注释 -->",
    "$5 和 $10", '<p style="text-align: center; COLOR:Red">居中</p>', '<span style="font-weight:bold">粗</span>', "***", "\\$", "<iframe src=x>", "<a href='https://x.y'>a</a>", "全角，标点。", "😀",
]

lines = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), max_size=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines)
def test_random_markdown_keeps_the_contract(parts: list[str]) -> None:
    text = "\n".join(parts)
    try:
        converted = wxpub.convert_text(text)
    except wxpub.PostError as error:  # broken front matter is reported, with its line
        assert error.line is not None and text.startswith("---")
        return
    assert_contract(converted.html)
    assert converted.html == wxpub.convert_text(text).html
