"""Uploads: each prepared image goes up once per account, as soon as it is ready, a few at a time."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import WeChatError
from .model import PreparedPost, Progress

if TYPE_CHECKING:
    from ..images import PreparedImage
    from ..ledger import Ledger
    from ..wechat import WeChat


class Uploads:
    """Uploads images as they are handed over, `concurrency` at a time; each is in the ledger once it is up.

    An image already on the account (by sha256 and route) is reused, and one that a run hands over
    twice goes up once. On an error, or when the block is left early, nothing more starts and what
    is running finishes, so the ledger holds every upload that happened.
    """

    def __init__(self, client: WeChat, ledger: Ledger, concurrency: int, say: Progress, *, token: Future[Any]) -> None:
        self.client, self.ledger, self.concurrency, self.say, self.token = client, ledger, concurrency, say, token
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="wxpub-upload")
        self.futures: dict[Future[Any], tuple[tuple[str, str], PreparedImage]] = {}
        self.records: dict[tuple[str, str], Any] = {}  # (sha256, route) -> UploadRecord, reused or made now
        self.made: set[tuple[str, str]] = set()
        self.seen: set[tuple[str, str]] = set()

    def __enter__(self) -> Uploads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def offer(self, image: PreparedImage) -> None:
        key = (image.sha256, image.route)
        if key in self.seen:
            return
        self.seen.add(key)
        record = self.ledger.upload(*key)
        if record is not None:
            self.records[key] = record
            return
        if not self.futures:
            self.say(f"uploading images as they are ready ({self.concurrency} at a time)")
        self.futures[self.pool.submit(self._upload, image)] = (key, image)

    def _upload(self, image: PreparedImage) -> Any:
        self.token.result()
        if image.route == "uploadimg":
            got = self.client.upload_image(image.data, image.filename, image.mime)
            return self.ledger.record_upload(image.sha256, "uploadimg", got.url)
        got = self.client.add_image_material(image.data, image.filename, image.mime)
        return self.ledger.record_upload(image.sha256, "material", got.url, got.media_id)

    def finish(self, posts: Sequence[PreparedPost]) -> tuple[dict[tuple[str, str], Any], list[tuple[int, int]]]:
        """Wait for every upload; {(sha256, route): UploadRecord} and, per post, (uploaded, reused)."""
        self.token.result()  # a wrong secret or a refused IP is said even when nothing is to upload
        total, finished = len(self.futures), 0
        pending = set(self.futures)
        while pending:
            finished_now, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished_now:
                key, image = self.futures[future]
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    if isinstance(error, WeChatError):
                        raise WeChatError(
                            f"image '{image.source}': {error.message}",
                            errcode=error.errcode,
                            endpoint=error.endpoint,
                            path=_path_of(image, posts),
                            line=image.line,
                            hint=error.hint,
                        ) from None
                    raise error
                self.records[key] = future.result()
                self.made.add(key)
                finished += 1
                self.say(f"  uploaded {finished}/{total}: {label(image)}")
        counts: list[tuple[int, int]] = []
        counted: set[tuple[str, str]] = set()
        for post in posts:
            uploaded = reused = 0
            for image in post.all_images():
                key = (image.sha256, image.route)
                if key not in counted:  # the same image again in this run: counted once
                    counted.add(key)
                    uploaded, reused = (uploaded + 1, reused) if key in self.made else (uploaded, reused + 1)
            counts.append((uploaded, reused))
        return self.records, counts


def _path_of(image: PreparedImage, posts: Sequence[PreparedPost]) -> Path | None:
    return next((post.path for post in posts if image in post.all_images()), None)


def label(image: PreparedImage) -> str:
    return f"cover ({image.source})" if image.role == "cover" else image.source
