"""Fixtures for tests that talk to the sandbox over real HTTP on 127.0.0.1 (import them by name)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image

from wxpub.sandbox import Sandbox
from wxpub.wechat import RetryPolicy, WeChat

APPID = "wx1234567890abcdef"
# Distinctive values, so that a test can grep every output for them.
SECRET = "S3CRET-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


class Sleeps:
    """An injectable sleep that only records: retries in tests do not wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sandbox-state", accounts={APPID: SECRET}) as running:
        yield running


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sandbox: Sandbox, sleeps: Sleeps) -> WeChat:
    return WeChat(APPID, SECRET, api_base=sandbox.url, storage="memory", retry=RetryPolicy(sleep=sleeps))


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()
