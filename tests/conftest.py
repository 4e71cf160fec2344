import os
from pathlib import Path

import pytest

from geo.build.pipeline import build
from geo.store.folder import Store
from tests.fixture_mirror import write_mirror


@pytest.fixture(scope="session")
def fixture_mirror(tmp_path_factory) -> Path:
    return write_mirror(tmp_path_factory.mktemp("mirror"))


@pytest.fixture(scope="session")
def fixture_store(fixture_mirror, tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("store"))
    build(store, mirror=fixture_mirror)
    return store


# read once, before any test can change the environment
MIRROR = os.environ.get("GAPMAP_MIRROR", "").strip()
REQUIRE_MIRROR = os.environ.get("GAPMAP_REQUIRE_MIRROR", "") == "1"


@pytest.fixture(scope="session")
def real_mirror() -> Path:
    if not MIRROR or not (Path(MIRROR) / "README.md").exists():
        message = "the real data mirror is not here: set GAPMAP_MIRROR=../shared/data to run this test"
        if REQUIRE_MIRROR:
            pytest.fail(message + " (GAPMAP_REQUIRE_MIRROR=1 makes this an error)")
        pytest.skip(message)
    return Path(MIRROR).resolve()


@pytest.fixture(scope="session")
def england_store(real_mirror, tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("england"))
    build(store, mirror=real_mirror)
    return store


@pytest.fixture(autouse=True)
def _no_ambient_store(monkeypatch, tmp_path):
    """Tests never touch the developer's own store or downloads."""
    monkeypatch.setenv("GAPMAP_STORE", str(tmp_path / "ambient-store"))
    monkeypatch.setenv("GAPMAP_DOWNLOADS", str(tmp_path / "ambient-downloads"))
    monkeypatch.delenv("GAPMAP_MIRROR", raising=False)  # tests pass the mirror they mean explicitly
