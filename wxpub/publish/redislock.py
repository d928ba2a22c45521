"""One publisher per account at a time, held in Redis when the token store is Redis.

Runners that share tokens through Redis (CI jobs on different machines) share this lock too, so
two of them never publish into one account at once: each would update the same drafts and, with
its own ledger, could add a second draft for one post. With any other token store there is no
Redis to share and this holds nothing. redis-py's Lock does the work (a key set only if absent,
with an expiry so a killed runner cannot hold it forever, released only by its owner).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from ..errors import WxpubError

LOCK_SECONDS = 600  # longer than any publish; a killed runner's lock is gone after this
WAIT_SECONDS = 300.0


class PublishBusy(WxpubError):
    """Another runner is publishing into this account and did not finish in time."""

    exit_code = 75  # EX_TEMPFAIL: try again later


@contextlib.contextmanager
def publish_lock(
    token_store: str | None,
    appid: str,
    *,
    wait: float | None = None,
    redis_from_url: Callable[[str], Any] | None = None,
) -> Iterator[None]:
    """Hold the account's publish lock in Redis for the duration, when `token_store` is a Redis URL."""
    if not token_store or not token_store.startswith(("redis://", "rediss://", "unix://")):
        yield
        return
    if redis_from_url is None:
        import redis

        redis_from_url = redis.Redis.from_url
    wait = WAIT_SECONDS if wait is None else wait
    lock = redis_from_url(token_store).lock(f"wxpub:publish:{appid}", timeout=LOCK_SECONDS, blocking_timeout=wait)
    if not lock.acquire():
        raise PublishBusy(
            f"another runner has been publishing into {appid} for over {wait:.0f} s",
            hint="run again when it has finished; its lock expires by itself after 10 minutes",
        )
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # expired meanwhile: nothing of ours left to release
            lock.release()
