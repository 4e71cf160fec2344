import os
from pathlib import Path

import pytest

from geo.build import build
from geo.store import Store
from tests.fixture_mirror import write_mirror


@pytest.fixture(scope="session")
def fixture_mirror(tmp_path_factory) -> Path:
    return write_mirror(tmp_path_factory.mktemp("mirror"))


@pytest.fixture(scope="session")
def fixture_store(fixture_mirror, tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("store"))
    build(store, mirror=fixture_mirror)
    return store


@pytest.fixture(scope="session")
def real_mirror() -> Path:
    value = os.environ.get("GAPMAP_MIRROR", "").strip()
    if not value or not (Path(value) / "README.md").exists():
        pytest.skip("the real data mirror is not here: set GAPMAP_MIRROR=../shared/data to run this test")
    return Path(value).resolve()


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
