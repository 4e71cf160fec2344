"""The whole build on the tiny fixture mirror: joins, derived columns, areas, points, reports."""
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.build.pipeline import BuildError, build
from geo.store.schema import TABLES
from geo.store.folder import Store, StoreError
from tests import fixture_mirror as fx


def test_only_english_lsoas_and_all_of_them(fixture_store):
    lsoas = fixture_store.lsoas()
    assert sorted(lsoas["lsoa21cd"]) == fx.LSOAS
    assert lsoas.crs.to_epsg() == 4326


def test_imd_columns_quintile_and_core20(fixture_store):
    t = fixture_store.lsoas(geometry=False).set_index("lsoa21cd")
    assert t.loc["E01000005", "imd_rank"] == 1 and t.loc["E01000005", "imd_decile"] == 2  # ceil(1*10/8)
    assert t.loc["E01000007", "imd_rank"] == 8 and t.loc["E01000007", "imd_decile"] == 10
    assert (t["imd_quintile"] == (t["imd_decile"] + 1) // 2).all()
    assert t["core20"].to_dict() == (t["imd_decile"] <= 2).to_dict()
    for domain in ("income", "employment", "education", "health", "crime", "barriers", "living_environment"):
        assert {f"{domain}_score", f"{domain}_rank", f"{domain}_decile"} <= set(t.columns)
    assert t.loc["E01000001", "acute_morbidity_indicator"] == pytest.approx(150.0)
    assert pd.isna(t.loc["E01000007", "idaci_numerator"])  # an empty cell stays missing, never zero


def test_geography_lookups_joined(fixture_store):
    t = fixture_store.lsoas(geometry=False).set_index("lsoa21cd")
    assert t.loc["E01000003", "ward24cd"] == "E05000002"
    assert t.loc["E01000007", "lad24cd"] == "E06000002"
    assert t.loc["E01000007", "icb24cd"] == "E54000002" and t.loc["E01000007", "icb24cdh"] == "QBB"
    assert t.loc["E01000008", "urban_rural"] == "Rural"


def test_area_in_square_km_from_british_national_grid(fixture_store):
    t = fixture_store.lsoas(geometry=False)
    assert t["area_km2"].to_numpy() == pytest.approx(np.ones(8), rel=1e-3)


def test_local_deciles_within_icb_and_lad(fixture_store):
    t = fixture_store.lsoas(geometry=False).set_index("lsoa21cd")
    # PHE's method: quantile = floor((q + 1) - ceil((n + 1 - rank) * q / n)), rank 1 = most deprived,
    # and no quantile at all where a group has fewer areas than quantiles.
    # ICB E54000001 holds LSOAs 1-6 with scores 45, 30, 12, 8, 60, 22, so ranks 2, 3, 5, 6, 1, 4;
    # quintiles (n = 6): 6 - ceil((7 - rank) * 5 / 6) = 1, 2, 4, 5, 1, 3
    icb1 = ["E01000001", "E01000002", "E01000003", "E01000004", "E01000005", "E01000006"]
    assert t.loc[icb1, "imd_quintile_in_icb"].tolist() == [1, 2, 4, 5, 1, 3]
    # LAD E06000001 has 4 LSOAs: fewer than 5 or 10, so no local quintile or decile
    lad1 = ["E01000001", "E01000002", "E01000003", "E01000004"]
    assert t.loc[lad1, "imd_quintile_in_lad"].isna().all()
    assert t["imd_decile_in_lad"].isna().all()


def test_census_age_groups_and_ethnic_shares(fixture_store):
    t = fixture_store.lsoas(geometry=False).set_index("lsoa21cd")
    assert t.loc["E01000008", "residents"] == pytest.approx(3000)
    assert t.loc["E01000008", "residents_65_plus"] == pytest.approx(450)
    shares = t[[c for c in t.columns if c.startswith("ethnic_") and c.endswith("_share")]]
    assert shares.sum(axis=1).to_numpy() == pytest.approx(np.ones(8))
    assert t.loc["E01000001", "ethnic_asian_share"] == pytest.approx(0.2)


def test_population_carried_from_2011(fixture_store):
    t = fixture_store.lsoas(geometry=False).set_index("lsoa21cd")
    pop = t["population_mid2020"]
    assert pop["E01000001"] == pytest.approx(1450)  # unchanged
    assert pop["E01000004"] == pytest.approx(800 + 1000)  # merged: summed
    # split 4000 by Census 2021 residents of the pieces (1000 and 3000)
    assert pop["E01000007"] == pytest.approx(1000) and pop["E01000008"] == pytest.approx(3000)
    # irregular: E01009004 (2100) shared by residents of 5 and 6 (1550, 1450), each age by the Census
    # 2021 residents of its age group (fx.age_counts: whole people, so the groups' shares differ
    # slightly from 1550/3000); E01009005 (900) all to 5
    per_age = [2100 // 91] * 91
    per_age[0] += 2100 - sum(per_age)
    groups = [0] * 16 + [1] * 9 + [2] * 10 + [3] * 15 + [4] * 15 + [5] * 26  # 0-15, 16-24, ... 65-90+
    five, six = fx.age_counts(1550), fx.age_counts(1450)
    to_five = sum(n * five[g] / (five[g] + six[g]) for n, g in zip(per_age, groups))
    assert pop["E01000005"] == pytest.approx(to_five + 900)
    assert pop["E01000006"] == pytest.approx(2100 - to_five)
    assert abs(to_five - 2100 * 1550 / 3000) > 0.01  # not the all-age share
    assert pop.sum() == pytest.approx(sum(fx.POP2020.values()))  # nothing lost, nothing invented
    ages = fixture_store.population_by_age()
    age_cols = [c for c in ages.columns if c.startswith("age_")]
    assert len(age_cols) == 91
    assert ages.set_index("lsoa21cd")[age_cols].sum(axis=1).to_numpy() == pytest.approx(
        pop.loc[ages["lsoa21cd"]].to_numpy())


def test_imd2019_carried_to_2021_codes(fixture_store):
    t = fixture_store.lsoas(geometry=False).set_index("lsoa21cd")
    # unchanged and split inherit rank and decile
    assert t.loc["E01000002", "imd2019_rank"] == 5
    assert t.loc["E01000007", "imd2019_rank"] == 7 and t.loc["E01000008", "imd2019_rank"] == 7
    assert t.loc["E01000007", "lsoa_change_2011"] == "split"
    # merged: mid-2015-population-weighted mean of ranks 1 (pop 900) and 4 (pop 1100)
    expected = (1 * 900 + 4 * 1100) / 2000
    assert t.loc["E01000004", "imd2019_rank"] == pytest.approx(expected)
    assert t.loc["E01000004", "imd2019_decile"] == int(np.ceil(expected * 10 / 8))
    assert t.loc["E01000004", "lsoa_change_2011"] == "merged"
    # irregular, weighted by the population each parent gives it
    w4 = 2000 * 1550 / 3000
    assert t.loc["E01000005", "imd2019_rank"] == pytest.approx((3 * w4 + 6 * 1000) / (w4 + 1000))
    assert t.loc["E01000005", "lsoa_change_2011"] == "irregular"
    gaps = fixture_store.report("join_gaps")
    assert set(gaps.loc[gaps["reason"].str.contains("irregular"), "code"]) == {"E01000005", "E01000006"}


def test_every_column_is_documented(fixture_store):
    assert set(fixture_store.columns("lsoas")) - {"bbox"} <= set(TABLES["lsoas"]())
    for level in ("ward", "lad", "icb"):
        assert set(fixture_store.columns(f"areas_{level}")) - {"bbox"} <= set(TABLES[level]())


def test_area_polygons_follow_their_lsoas_without_gaps(fixture_store):
    lsoas = fixture_store.lsoas().to_crs(27700)
    for level, code in (("ward", "ward24cd"), ("lad", "lad24cd"), ("icb", "icb24cd")):
        areas = fixture_store.areas(level, geometry=True).to_crs(27700)
        assert len(areas) == lsoas[code].nunique()
        for _, area in areas.iterrows():
            members = shapely.union_all(lsoas.loc[lsoas[code] == area[code], "geometry"].values)
            assert shapely.symmetric_difference(area.geometry, members).area < 1e-3
        # neighbours share borders: no overlaps, and together they cover exactly the LSOAs
        assert areas.geometry.area.sum() == pytest.approx(lsoas.geometry.area.sum())
        assert shapely.union_all(areas.geometry.values).area == pytest.approx(lsoas.geometry.area.sum())


def test_slivers_inside_areas_are_filled():
    from geo.build.area_polygons import fill_slivers
    outer = fx.square(0, 0).union(fx.square(1, 0))
    pinhole = shapely.box(fx.X0 + 500, fx.Y0 + 500, fx.X0 + 505, fx.Y0 + 505)  # 25 m2
    lake = shapely.box(fx.X0 + 1200, fx.Y0 + 200, fx.X0 + 1800, fx.Y0 + 800)  # 0.36 km2: a real hole
    geom = outer.difference(pinhole).difference(lake)
    filled = gpd.GeoSeries(fill_slivers(np.array([geom], dtype=object), 27700), crs=27700)
    assert shapely.get_num_interior_rings(filled[0]) == 1
    assert filled.area[0] == pytest.approx(2e6 - 0.36e6)


def test_area_summaries_present(fixture_store):
    lad = fixture_store.areas("lad").set_index("lad24cd")
    assert lad.loc["E06000001", "lsoas"] == 4
    assert lad.loc["E06000001", "population"] == pytest.approx(1500 + 1600 + 1400 + 1700)
    assert lad.loc["E06000001", "lad24nm"] == "Alphaton"
    icb = fixture_store.areas("icb").set_index("icb24cd")
    assert icb.loc["E54000001", "icb24cdh"] == "QAA"
    # an ICB filter gives the areas with LSOAs there: LAD 2 spans both ICBs
    assert set(fixture_store.areas("lad", icb="E54000002")["lad24cd"]) == {"E06000002"}
    assert set(fixture_store.areas("lad", icb="E54000001")["lad24cd"]) == {"E06000001", "E06000002"}


def test_schools_placed_and_every_row_accounted_for(fixture_store):
    schools = fixture_store.points("schools").set_index("urn")
    report = fixture_store.report("schools_located")
    report["urn"] = report["urn"].astype(int)
    assert schools.loc[1001, "lsoa21cd"] == "E01000001"
    assert schools.loc[1002, "lsoa21cd"] == "E01000006" and schools.loc[1002, "lsoa21cd_gias"] == "E01000002"
    reasons = report.set_index("urn")["reason"]
    assert "another LAD" in reasons[1002]
    assert "same LAD" in reasons[1006]
    assert reasons[1004] == "no coordinates in GIAS"
    assert "outside every English LSOA" in reasons[1005]
    assert 1001 not in reasons.index and 1003 not in reasons.index
    assert set(schools.index) | set(report["urn"]) == {1001, 1002, 1003, 1004, 1005, 1006}
    assert schools.crs.to_epsg() == 4326
    # the point for URN 1001 lies in the centre of LSOA 1's square
    x, y = gpd.GeoSeries([schools.loc[1001, "geometry"]], crs=4326).to_crs(27700).iloc[0].coords[0]
    assert (x, y) == pytest.approx(fx.centre(0, 0), abs=0.01)


def test_gp_practices_located_through_postcodes(fixture_store):
    gps = fixture_store.points("gp_practices").set_index("practice_code")
    assert set(gps.index) == {"A00001", "A00002"}
    assert gps.loc["A00002", "lsoa21cd"] == "E01000008"  # 'lu11ab' matched as LU1 1AB
    reasons = fixture_store.report("gp_practices_not_located").set_index("practice_code")["reason"]
    assert "ODS status C" in reasons["A00003"]
    assert "not in Code-Point Open" in reasons["A00004"]
    assert "postcode area BD not in the Code-Point Open files read" == reasons["A00005"]
    assert "prescribing setting 8" in reasons["A00006"]
    assert "A00007" in reasons.index  # Code-Point quality 90: no coordinates
    assert len(reasons) + len(gps) == 7


def test_hospitals_duplicates_and_outside(fixture_store):
    hospitals = fixture_store.points("hospitals")
    assert hospitals["name"].tolist() == ["Alpha General"]
    assert hospitals["lsoa21cd"].tolist() == ["E01000002"]
    reasons = fixture_store.report("hospitals_not_located")["reason"].tolist()
    assert sorted(reasons) == ["exact duplicate of an earlier row", "no coordinates", "outside every English LSOA"]


def test_manifest_has_attribution_sources_and_counts(fixture_store):
    manifest = fixture_store.manifest()
    assert "Open Government Licence" in manifest["attribution"]
    assert manifest["counts"]["lsoas"] == 8 and manifest["counts"]["wards"] == 4
    assert {s["id"] for s in manifest["sources"]} >= {"lsoa21_boundaries", "iod2025_file7", "codepoint_open"}


def test_restricted_build_keeps_national_figures(fixture_mirror, tmp_path):
    store = Store(tmp_path / "s")
    build(store, mirror=fixture_mirror, icb="QBB")  # the NHS code works as well as E54000002
    t = store.lsoas(geometry=False)
    assert sorted(t["lsoa21cd"]) == ["E01000007", "E01000008"]
    assert t.set_index("lsoa21cd").loc["E01000007", "imd_rank"] == 8  # national rank, not re-ranked
    assert store.manifest()["scope"] == {"icb": "QBB", "lad": None}
    assert set(store.areas("lad")["lad24cd"]) == {"E06000002"}
    # the LAD summary still describes the whole LAD, not the part inside the ICB
    assert store.areas("lad").set_index("lad24cd").loc["E06000002", "lsoas"] == 4
    store_lad = Store(tmp_path / "l")
    build(store_lad, mirror=fixture_mirror, lad="E06000001")
    assert len(store_lad.lsoas(geometry=False)) == 4
    with pytest.raises(BuildError, match="unknown ICB 'E54999999': there are no LSOAs of it in the official files"):
        build(Store(tmp_path / "x"), mirror=fixture_mirror, icb="E54999999")
    with pytest.raises(BuildError, match=r"^QBB is an ICB \(.*\), not a local authority: use --icb QBB$"):
        build(Store(tmp_path / "x"), mirror=fixture_mirror, lad="QBB")


def test_rebuild_is_idempotent(fixture_mirror, tmp_path):
    store = Store(tmp_path / "s")
    build(store, mirror=fixture_mirror)
    first = store.lsoas()
    build(store, mirror=fixture_mirror)
    second = store.lsoas()
    pd.testing.assert_frame_equal(first, second)
    builds = [p.name for p in (store.root / "builds").iterdir()]
    assert len(builds) <= 2 and not any(b.startswith(".partial") for b in builds)


def test_failed_build_leaves_previous_store(fixture_mirror, tmp_path):
    import shutil
    mirror = tmp_path / "mirror"
    shutil.copytree(fixture_mirror, mirror)
    store = Store(tmp_path / "s")
    build(store, mirror=mirror)
    before = store.manifest()["build_id"]
    # break a source: the build must stop with a clear message and change nothing
    path = mirror / "lookups/LSOA21_SICBL24_ICB24_EN_LU.csv"
    pd.read_csv(path).drop(columns=["ICB24CDH"]).to_csv(path, index=False)
    with pytest.raises(Exception, match=r"LSOA21_SICBL24_ICB24_EN_LU\.csv: missing column 'ICB24CDH'"):
        build(store, mirror=mirror)
    assert store.manifest()["build_id"] == before
    assert len(store.lsoas(geometry=False)) == 8
    assert not [p for p in (store.root / "builds").iterdir() if p.name.startswith(".partial")]


def test_interrupted_write_leaves_previous_store(fixture_mirror, tmp_path, monkeypatch):
    store = Store(tmp_path / "s")
    build(store, mirror=fixture_mirror)
    before = store.manifest()["build_id"]
    from geo.store import folder as store_module

    def fail(self, name, frame):
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module.StoreWriter, "report", fail)
    with pytest.raises(KeyboardInterrupt):
        build(store, mirror=fixture_mirror)
    assert store.manifest()["build_id"] == before
    assert not [p for p in (store.root / "builds").iterdir() if p.name.startswith(".partial")]


def test_missing_store_says_how_to_build(tmp_path):
    with pytest.raises(StoreError, match="gapmap data build"):
        Store(tmp_path / "nothing").lsoas()


def test_postcode_table_places_postcodes_in_lsoas(fixture_store):
    table = fixture_store.postcodes().set_index("key")
    assert table.loc["LU11AA", "lsoa21cd"] == "E01000001" and table.loc["LU11AB", "lsoa21cd"] == "E01000008"
    assert "LU29ZZ" not in table.index  # quality 90: no position
    assert fixture_store.postcodes(["LU11AB"])["postcode"].tolist() == ["LU1 1AB"]
