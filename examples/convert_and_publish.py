"""Using wxpub from a script: convert a post, look at its images, then publish it into the sandbox.

    python examples/convert_and_publish.py

Nothing here needs a WeChat account: the sandbox is a local server that speaks the official API.
"""

from __future__ import annotations

from pathlib import Path

import wxpub
from wxpub.images import prepare_images
from wxpub.sandbox import publish_to_sandbox

POST = Path(__file__).parent / "posts" / "python-async.md"

converted = wxpub.convert_file(POST)
print(f"{converted.title}: {converted.content_length:,} characters of HTML, {converted.budget_left:,} left")
for link in converted.links:
    print(f"  reference [{link.number}] {link.url} (line {link.line})")
for notice in converted.warnings:
    print(f"  warning: {notice.one_line(POST)}")

prepared = prepare_images(converted.images, POST, meta=converted.meta)
for image in prepared.images:
    print(f"  image {image.source}: {image.format} {image.width}x{image.height}, {len(image.data):,} bytes")
if prepared.cover:
    print(f"  cover crops: {prepared.cover.pic_crop_235_1} / {prepared.cover.pic_crop_1_1}")

result, api_base, server = publish_to_sandbox([POST])
try:
    for post in result.posts:
        print(f"{post.action}: {post.title} -> draft {result.media_id} ({post.uploaded} uploaded, {post.reused} reused)")
    print(f"the sandbox shows the draft at {api_base}drafts/{result.media_id}")
finally:
    if server is not None:  # None when a sandbox was already running on the port
        server.stop()
