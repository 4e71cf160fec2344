"""LSOA polygons simplified at `gapmap data build` (issue 21 item 1): kept beside the full ones, one
valid coverage per level (neighbours share one border), within the level's tolerance of the full
polygons; maps read them (nothing simplified at query time), exports keep the full polygons."""
import shutil

import numpy as np
import pytest
import shapely

from geo.build.simplified import SIMPLIFY_DEGREES
from geo.store.folder import SIMPLIFIED_LEVELS, Store, simplified_table_name
from geo.views import analysis, map_table


@pytest.mark.parametrize("level", SIMPLIFIED_LEVELS)
def test_build_keeps_a_valid_coverage_per_level_within_its_tolerance(fixture_store, level):
    full = fixture_store.lsoas(columns=["lsoa21cd"], geometry=True).sort_values("lsoa21cd").reset_index(drop=True)
    kept = fixture_store.simplified_lsoas(level)
    assert list(kept["lsoa21cd"]) == list(full["lsoa21cd"])  # every LSOA, in code order
    simple = np.asarray(kept.geometry.values, dtype=object)
    assert shapely.is_valid(simple).all() and shapely.coverage_is_valid(simple)  # no gaps, no overlaps
    distance = shapely.hausdorff_distance(simple, np.asarray(full.geometry.values, dtype=object))
    assert distance.max() <= SIMPLIFY_DEGREES[level] * 1.000001
    # the same as shapely's coverage simplification of the whole build at that tolerance
    reference = shapely.coverage_simplify(np.asarray(full.geometry.values, dtype=object), SIMPLIFY_DEGREES[level])
    assert shapely.equals_exact(simple, reference, tolerance=1e-12).all()
    one = fixture_store.simplified_lsoas(level, icb="E54000001")
    assert set(one["lsoa21cd"]) == set(fixture_store.lsoas(icb="E54000001", columns=["lsoa21cd"],
                                                           geometry=False)["lsoa21cd"])


def test_maps_read_the_kept_polygons_and_exports_the_full_ones(fixture_store, monkeypatch):
    from geo.build import simplified
    from geo.views import map_geometry

    map_table.GEOMETRY_CACHE.clear()

    def refuse(*args):
        raise AssertionError("simplified at query time")

    monkeypatch.setattr(simplified, "coverage_simplify", refuse)
    monkeypatch.setattr(map_geometry, "coverage_simplify", refuse)
    extent = analysis.Extent("icb", "E54000001")
    shown = map_table.lsoa_geometry(fixture_store, extent, simplified=True)
    kept = fixture_store.simplified_lsoas("icb", icb="E54000001")
    assert shapely.equals_exact(shown.geometry.values, kept.geometry.values, tolerance=0).all()
    assert shown.attrs["decimals"] == 4
    map_table.GEOMETRY_CACHE.clear()  # nothing of this test's is kept for the next
    full = map_table.lsoa_geometry(fixture_store, extent, simplified=False)
    stored = fixture_store.lsoas(icb="E54000001", columns=["lsoa21cd"]).sort_values("lsoa21cd")
    assert shapely.equals_exact(full.geometry.values, stored.geometry.values, tolerance=0).all()


def test_a_build_without_them_simplifies_at_query_time(fixture_store, tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(fixture_store.root, copy, symlinks=True)
    old = Store(copy)
    for level in SIMPLIFIED_LEVELS:
        (old.path / f"{simplified_table_name(level)}.parquet").unlink()
    assert old.simplified_lsoas("icb") is None
    map_table.GEOMETRY_CACHE.clear()
    shown = map_table.lsoa_geometry(old, analysis.Extent("icb", "E54000001"), simplified=True)
    kept = fixture_store.simplified_lsoas("icb", icb="E54000001")
    assert len(shown) == len(kept) and shapely.is_valid(shown.geometry.values).all()
    with pytest.raises(Exception, match="no simplified LSOAs"):
        old.simplified_lsoas("region")
