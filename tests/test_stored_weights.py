"""Queen weights kept by `gapmap data build` (tables lsoa_centroids and weights_queen): what a query
reads from the store equals what is found in the polygons, by Gapmap and independently by libpysal,
for England and every extent; a build made before they were kept still works."""
import shutil

import numpy as np
import pytest

from geo.stats import weights as weights_module
from geo.store.folder import Store
from geo.views import extent_weights


def _extents(store):
    lsoas = store.lsoas(geometry=False, columns=["icb24cd", "lad24cd", "ward24cd"])
    return ([("england", None)] + [("icb", c) for c in sorted(lsoas["icb24cd"].unique())]
            + [("lad", c) for c in sorted(lsoas["lad24cd"].unique())]
            + [("ward", c) for c in sorted(lsoas["ward24cd"].unique())[:5]])


def _from_polygons(store, level, code):
    filters = {} if level == "england" else {level: code}
    lsoas = store.lsoas(columns=["lsoa21cd"], **filters).sort_values("lsoa21cd").reset_index(drop=True)
    return weights_module.build(lsoas, "queen")


def _same(a, b):
    assert a.ids == b.ids and a.kind == b.kind and a.islands_joined == b.islands_joined
    assert a.neighbours.shape == b.neighbours.shape and (a.neighbours != b.neighbours).nnz == 0


def test_the_build_keeps_queen_weights(folder_fixture_store):
    tables = folder_fixture_store.queen_links()
    assert tables is not None
    points, links = tables
    codes = folder_fixture_store.lsoas(geometry=False, columns=["lsoa21cd"])["lsoa21cd"]
    assert points["lsoa21cd"].tolist() == sorted(codes)
    assert np.isfinite(points[["x", "y"]].to_numpy()).all() and len(links) > 0
    pairs = set(zip(links["i"], links["j"]))
    assert all((j, i) in pairs for i, j in pairs) and all(i != j for i, j in pairs)  # symmetric, no self-links


def test_stored_weights_equal_weights_from_the_polygons(folder_fixture_store):
    store = folder_fixture_store
    extent_weights.WEIGHTS.clear()
    for level, code in _extents(store):
        _same(extent_weights.for_extent(store, level, code), _from_polygons(store, level, code))


def test_stored_weights_equal_libpysal_queen(folder_fixture_store):
    """The stored contiguity (before islands are joined) is libpysal's Queen, neighbour for neighbour."""
    libpysal = pytest.importorskip("libpysal")
    store = folder_fixture_store
    lsoas = store.lsoas(columns=["lsoa21cd"]).sort_values("lsoa21cd").reset_index(drop=True)
    theirs = libpysal.weights.Queen.from_dataframe(lsoas, ids=list(lsoas["lsoa21cd"]), silence_warnings=True)
    stored = extent_weights.stored_queen(store, store.build_id())
    m = stored.neighbours
    ours = {code: {stored.ids[j] for j in m.indices[m.indptr[i]:m.indptr[i + 1]]} for i, code in enumerate(stored.ids)}
    assert ours == {code: set(nb) for code, nb in theirs.neighbors.items()}
    assert sorted(extent_weights.for_extent(store).islands_joined) == sorted(theirs.islands)


def test_a_build_without_stored_weights_builds_them(folder_fixture_store, tmp_path):
    shutil.copytree(folder_fixture_store.root, tmp_path / "old", symlinks=True)
    old = Store(tmp_path / "old")
    for name in ("lsoa_centroids", "weights_queen"):
        (old.path / f"{name}.parquet").unlink()
    assert old.queen_links() is None
    extent_weights.WEIGHTS.clear()
    for level, code in _extents(old)[:3]:
        _same(extent_weights.for_extent(old, level, code), extent_weights.for_extent(folder_fixture_store, level, code))
    from geo.views.analysis import Extent, local_statistic

    assert len(local_statistic(old, "imd_score", Extent("icb", _extents(old)[1][1]), "local-moran")) > 0


def test_subsets_with_islands_equal_weights_from_their_polygons():
    """On a 12 x 10 grid with two offshore squares, in shuffled order: the stored form (through its
    tables' links and back) subset to random extents, which leave LSOAs with no neighbour in them,
    equals :func:`geo.stats.weights.build` on the extent's polygons, islands joined the same way."""
    import geopandas as gpd

    from tests import fixture_mirror as fx

    cells = [(x, y) for x in range(12) for y in range(10)] + [(15, 3), (-4, 8)]
    frame = gpd.GeoDataFrame({"lsoa21cd": [f"E01{n:06d}" for n in range(len(cells))]},
                             geometry=[fx.square(x, y) for x, y in cells], crs=27700).to_crs(4326)
    frame = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    stored = weights_module.StoredQueen.of(frame)
    i, j = stored.links()
    again = weights_module.StoredQueen.from_links(stored.ids, i, j, stored.centroids[:, 0], stored.centroids[:, 1])
    rng = np.random.default_rng(7)
    subsets = [None] + [np.sort(rng.choice(stored.ids, size=size, replace=False)) for size in (5, 20, 60, 100)]
    islands_seen = 0
    for codes in subsets:
        part = frame if codes is None else frame[frame["lsoa21cd"].isin(set(codes))]
        expected = weights_module.build(part.sort_values("lsoa21cd").reset_index(drop=True), "queen")
        _same(again.weights(codes), expected)
        islands_seen += len(expected.islands_joined)
    assert islands_seen > 2  # the offshore squares and LSOAs cut off by the subsets


def test_england_stored_weights_equal_weights_from_the_polygons(england_store):
    """All England (the real boundaries, when the mirror is there): the stored weights of England
    and of an ICB equal those found in the polygons."""
    extent_weights.WEIGHTS.clear()
    for level, code in (("england", None), ("icb", "E54000024")):
        _same(extent_weights.for_extent(england_store, level, code), _from_polygons(england_store, level, code))


def test_postgis_store_keeps_and_reads_the_same_weights(postgis_fixture_store, folder_fixture_store):
    assert postgis_fixture_store.queen_links() is not None
    extent_weights.WEIGHTS.clear()
    for level, code in _extents(folder_fixture_store)[:4]:
        _same(extent_weights.for_extent(postgis_fixture_store, level, code),
              extent_weights.for_extent(folder_fixture_store, level, code))
