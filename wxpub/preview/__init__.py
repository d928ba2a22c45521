"""Seeing the article as its readers will: a static phone page (`convert --page`) and the live
preview (`wxpub preview`).

`phone` writes the standalone page; `article` builds what the live page shows for one post (the
article as publish sends it, recoloured for dark mode, the cover crops, the budget, the problems
check finds); `server` serves it on 127.0.0.1 with `page.html` and pushes a new article on every
save.
"""
