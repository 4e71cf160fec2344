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
def folder_fixture_store(fixture_mirror, tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("store"))
    build(store, mirror=fixture_mirror)
    return store


# the modules whose tests run against both backends (the folder store and PostGIS)
BOTH_BACKENDS = {"test_build_fixture", "test_ingest", "test_exports", "test_app", "test_analysis", "test_slides",
                 "test_populations"}
REQUIRE_POSTGRES = os.environ.get("GAPMAP_REQUIRE_POSTGRES", "") == "1"


def pytest_generate_tests(metafunc):
    if "fixture_store" in metafunc.fixturenames and metafunc.module.__name__.rsplit(".", 1)[-1] in BOTH_BACKENDS:
        metafunc.parametrize("fixture_store", ["folder", "postgis"], indirect=True, scope="session")


@pytest.fixture(scope="session")
def fixture_store(request):
    """The fixture store: the folder store, or (in BOTH_BACKENDS modules) the same build in PostGIS."""
    backend = getattr(request, "param", "folder")
    return request.getfixturevalue("postgis_fixture_store" if backend == "postgis" else "folder_fixture_store")


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster with PostGIS (see tests/pg_cluster.py), stopped at the end."""
    from tests.pg_cluster import Cluster, missing_reason

    reason = missing_reason()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(reason + " (GAPMAP_REQUIRE_POSTGRES=1 makes this an error)")
        pytest.skip(reason)
    cluster = Cluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def postgis_fixture_store(pg_cluster, fixture_mirror):
    from geo.store.postgis import PostgisStore

    store = PostgisStore(pg_cluster.new_database("fixture"))
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
    monkeypatch.delenv("GAPMAP_DATABASE_URL", raising=False)


@pytest.fixture
def exact_counts(monkeypatch):
    """Formula tests: the server's disclosure floor lowered to nothing and the perturbation of
    group totals off, so that published counts are the raw ones and every figure can be compared
    with an independent recomputation to 1e-9 (the disclosure tests check the published path)."""
    import numpy as np

    from geo.rates import disclosure
    from geo.views import map_table

    monkeypatch.setenv("GAPMAP_MIN_SUPPRESS", "0")
    monkeypatch.setenv("GAPMAP_MIN_ROUND", "1")
    monkeypatch.setattr(disclosure, "cell_noise", lambda keys, secret, scale=2.0: np.zeros(len(keys)))
    map_table.clear_caches()
    yield
    map_table.clear_caches()
