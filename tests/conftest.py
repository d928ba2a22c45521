from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def user_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """wxpub's per-user cache (compiled themes, highlighted code, locks) goes to a temporary folder."""
    os.environ["WXPUB_CACHE_DIR"] = str(tmp_path_factory.mktemp("user-cache"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/*.html from the current output (review the diff with git)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
