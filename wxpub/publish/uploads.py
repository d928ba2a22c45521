"""Uploads: each prepared image goes up once per account, as soon as it is ready, a few at a time."""

from __future__ import annotations

import threading
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
        self.notes: list[str] = []  # for the person: what was settled from the account, or sent again
        self._notes_lock = threading.Lock()

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

    def _upload(self, image: PreparedImage) -> tuple[Any, bool]:
        """Put one image on the account -> (its UploadRecord, whether this run uploaded it).

        The upload is noted in the ledger as pending before it is sent, so that an answer lost here
        or in a killed run is settled from the account (a material, by its name) rather than
        repeated blindly."""
        self.token.result()
        key = (image.sha256, image.route)
        pending = self.ledger.pending_upload(*key)
        try:
            if image.route == "uploadimg":
                return self._upload_content_image(image, lost_before=pending is not None), True
            name = material_name(image)
            if pending is not None:
                earlier = pending
                found = self.client.settle(
                    lambda: self.client.find_material(earlier.name or name, since=earlier.since), earlier.since, f"the upload of {label(image)} by an interrupted run"
                )
                if found is not None:
                    self.note(f"{label(image)} was found on the account, uploaded by a run that was interrupted; not uploading it again")
                    return self.ledger.record_upload(image.sha256, "material", found.url, found.media_id), False
            since = self.ledger.begin_upload(*key, name=name)
            got = self.client.add_image_material(image.data, name, image.mime, since=since)
            return self.ledger.record_upload(image.sha256, "material", got.url, got.media_id), True
        except WeChatError as error:
            # WeChat refused the upload itself: nothing was done, nothing to look for. (A failed look
            # for an earlier upload keeps it pending: the next run must look again.)
            if error.errcode is not None and error.endpoint in ("media/uploadimg", "material/add_material"):
                self.ledger.clear_pending_upload(*key)
            raise

    def _upload_content_image(self, image: PreparedImage, *, lost_before: bool) -> Any:
        # media/uploadimg cannot be listed: a lost answer is the one case where an image is sent
        # again, and that is said, since a copy that did land stays unused on the account.
        if lost_before:
            self.note(f"the answer to uploading {label(image)} was lost in an interrupted run; uploaded it again (content images cannot be listed, so a copy that landed then stays unused on the account)")
        self.ledger.begin_upload(image.sha256, "uploadimg")
        resent: list[bool] = []
        got = self.client.upload_image(image.data, image.filename, image.mime, on_resend=lambda: resent.append(True))
        if resent:
            self.note(f"the answer to uploading {label(image)} was lost; uploaded it again (content images cannot be listed, so a copy that landed stays unused on the account)")
        return self.ledger.record_upload(image.sha256, "uploadimg", got.url)

    def note(self, text: str) -> None:
        with self._notes_lock:
            self.notes.append(text)

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
                        raise error.restated(f"image '{image.source}': {error.message}", path=_path_of(image, posts), line=image.line)
                    raise error
                self.records[key], made = future.result()
                if made:
                    self.made.add(key)
                finished += 1
                self.say(f"  uploaded {finished}/{total}: {label(image)}")
        return self.records, counts(posts, self.made)


def counts(posts: Sequence[PreparedPost], made: set[tuple[str, str]]) -> list[tuple[int, int]]:
    """Per post, (uploaded, reused): `made` are the (sha256, route) this run uploaded."""
    result: list[tuple[int, int]] = []
    counted: set[tuple[str, str]] = set()
    for post in posts:
        uploaded = reused = 0
        for image in post.all_images():
            key = (image.sha256, image.route)
            if key not in counted:  # the same image again in this run: counted once
                counted.add(key)
                uploaded, reused = (uploaded + 1, reused) if key in made else (uploaded, reused + 1)
        result.append((uploaded, reused))
    return result


def _path_of(image: PreparedImage, posts: Sequence[PreparedPost]) -> Path | None:
    return next((post.path for post in posts if image in post.all_images()), None)


def material_name(image: PreparedImage) -> str:
    """The file name every permanent upload gets, from its sha256: how the account lists it
    (material/batchget_material `name`), and so how a material whose answer was lost is found."""
    ext = "jpg" if image.format == "jpeg" else image.format
    return f"wxpub-{image.sha256[:32]}.{ext}"


def label(image: PreparedImage) -> str:
    return f"cover ({image.source})" if image.role == "cover" else image.source
