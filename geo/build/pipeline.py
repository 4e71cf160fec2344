"""Build the embedded store from the catalogued sources.

``build()`` reads every source once, joins them on LSOA 2021 codes into one England table, adds
what Gapmap derives (quintiles, Core20, local deciles, carried 2011 figures, areas), places the
points, summarises larger areas, and writes it all through :mod:`geo.store.folder` in one atomic step.
Every join is checked: an LSOA that a source lacks, or a source row that matches no LSOA, is
listed in the build's ``join_gaps`` report rather than silently dropped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo.errors import GapmapError
from geo import ATTRIBUTION
from geo.build import area_polygons
from geo.build import deprivation_summaries
from geo.build import lsoa_changes
from geo.build import points
from geo.sources import catalogue as sources
from geo.sources.loaders import read_source
from geo.build.quantiles import quantiles
from geo.store.folder import Store
from geo.store.schema import AGE_GROUPS, DOMAINS, ETHNIC_GROUPS

ENGLAND_LSOA = r"^E01\d{6}$"


class BuildError(GapmapError):
    """The sources cannot be joined into a store (wrong scope, inconsistent files)."""


@dataclass
class BuildLog:
    steps: list[tuple[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    echo: object = None
    _t: float = field(default_factory=time.perf_counter)

    def step(self, name: str) -> None:
        now = time.perf_counter()
        self.steps.append((name, round(now - self._t, 3)))
        self._t = now
        if self.echo:
            self.echo(f"  {name:<38} {self.steps[-1][1]:6.2f} s")

    def note(self, text: str) -> None:
        self.notes.append(text)
        if self.echo:
            self.echo(f"  note: {text}")


def _read(source_id: str, mirror: Path | None, downloads: Path | None) -> pd.DataFrame:
    return read_source(sources.get(source_id), mirror=mirror, downloads=downloads)


def _gaps(kind: str, codes, source_id: str, reason: str) -> pd.DataFrame:
    codes = sorted(set(codes))
    return pd.DataFrame({"code": codes, "kind": kind, "source": source_id, "reason": reason})


def _left_join(frame: pd.DataFrame, other: pd.DataFrame, source_id: str, gaps: list[pd.DataFrame],
               required: bool = True) -> pd.DataFrame:
    """Join ``other`` (keyed by lsoa21cd) onto ``frame``; record LSOAs it lacks and codes it has extra."""
    dup = other["lsoa21cd"].duplicated()
    if dup.any():
        raise BuildError(f"{source_id}: LSOA codes repeated: {', '.join(other.loc[dup, 'lsoa21cd'].head(5))}")
    ours = set(frame["lsoa21cd"])
    theirs = set(other["lsoa21cd"])
    missing = ours - theirs
    if missing:
        gaps.append(_gaps("lsoa21", missing, source_id,
                          "LSOA has no row in this source" + ("" if required else " (value left empty)")))
    extra = {c for c in theirs - ours if str(c).startswith("E01")}
    if extra:
        gaps.append(_gaps("lsoa21", extra, source_id, "English LSOA code not in the LSOA boundaries; row not used"))
    return frame.merge(other, on="lsoa21cd", how="left")


def load_lsoa_table(mirror: Path | None, downloads: Path | None, log: BuildLog) -> tuple[gpd.GeoDataFrame, dict]:
    """All English LSOAs with every LSOA-level attribute; returns (table, extras)."""
    gaps: list[pd.DataFrame] = []
    boundaries = _read("lsoa21_boundaries", mirror, downloads)
    boundaries = boundaries[boundaries["lsoa21cd"].str.match(ENGLAND_LSOA)].reset_index(drop=True)
    if boundaries["lsoa21cd"].duplicated().any():
        raise BuildError("the LSOA boundaries repeat a code")
    log.step("read LSOA boundaries")

    iod = _read("iod2025_file7", mirror, downloads)
    for level in ("imd", *DOMAINS):
        iod[f"{level}_decile"] = iod[f"{level}_decile"].astype("Int64")
        iod[f"{level}_rank"] = iod[f"{level}_rank"].astype("Int64")
    iod["imd_quintile"] = ((iod["imd_decile"] + 1) // 2).astype("Int64")
    iod["core20"] = iod["imd_decile"] <= 2
    table = _left_join(boundaries, iod, "iod2025_file7", gaps)

    sub = _read("iod2025_subdomains", mirror, downloads)
    for column in sub.columns:
        if column.endswith(("_rank", "_decile")):
            sub[column] = sub[column].round().astype("Int64")
    table = _left_join(table, sub, "iod2025_subdomains", gaps)
    table = _left_join(table, _read("iod2025_underlying_indicators", mirror, downloads),
                       "iod2025_underlying_indicators", gaps)
    log.step("read IoD2025 files 7, 8 and subdomains")

    wards = _read("lsoa21_ward24_lad24_lookup", mirror, downloads)
    wards = wards[wards["lsoa21cd"].str.match(ENGLAND_LSOA)]
    table = _left_join(table, wards, "lsoa21_ward24_lad24_lookup", gaps)
    icbs = _read("lsoa21_sicbl24_icb24_lookup", mirror, downloads)
    table = _left_join(table, icbs, "lsoa21_sicbl24_icb24_lookup", gaps)
    ruc = _read("ruc21_lsoa21", mirror, downloads)
    ruc = ruc[ruc["lsoa21cd"].str.match(ENGLAND_LSOA)]
    table = _left_join(table, ruc, "ruc21_lsoa21", gaps)
    log.step("read ward, ICB and rural-urban lookups")

    ages = _read("census21_age_groups", mirror, downloads)
    ages = ages[ages["lsoa21cd"].str.match(ENGLAND_LSOA)]
    unknown_age = set(ages["age_group"]) - set(AGE_GROUPS)
    if unknown_age:
        raise BuildError(f"census21_age_groups: unknown age groups {sorted(unknown_age)}")
    wide = ages.assign(col="residents_" + ages["age_group"].map(AGE_GROUPS)).pivot(
        index="lsoa21cd", columns="col", values="usual_residents")
    wide = wide[[f"residents_{v}" for v in AGE_GROUPS.values()]]
    wide["residents"] = wide.sum(axis=1)
    table = _left_join(table, wide.reset_index(), "census21_age_groups", gaps)

    eth = _read("census21_ethnic_group", mirror, downloads)
    eth = eth[eth["lsoa21cd"].str.match(ENGLAND_LSOA)]
    unknown_eth = set(eth["ethnic_group"]) - set(ETHNIC_GROUPS)
    if unknown_eth:
        raise BuildError(f"census21_ethnic_group: unknown ethnic groups {sorted(unknown_eth)}")
    counts = eth.assign(col="ethnic_" + eth["ethnic_group"].map(ETHNIC_GROUPS)).pivot(
        index="lsoa21cd", columns="col", values="n")
    total = eth.groupby("lsoa21cd")["total_residents"].first()
    shares = counts.div(total, axis=0).rename(columns=lambda c: f"{c}_share")
    ethnic = pd.concat([counts.rename(columns=lambda c: f"{c}_residents"), shares], axis=1)
    ethnic = ethnic[[f"ethnic_{v}_{k}" for k in ("residents", "share") for v in ETHNIC_GROUPS.values()]]
    table = _left_join(table, ethnic.reset_index(), "census21_ethnic_group", gaps)
    log.step("read Census 2021 age and ethnic group")

    # LSOA 2011 -> 2021: population mid-2020 and IMD 2019
    lookup = _read("lsoa11_lsoa21_lookup", mirror, downloads)
    lookup = lookup[lookup["lsoa21cd"].str.match(ENGLAND_LSOA)]
    weights = lsoa_changes.lookup_weights(lookup, table.set_index("lsoa21cd")["residents"])
    sape = _read("sape_mid2020_lsoa11", mirror, downloads)
    sape = sape[sape["lsoa11cd"].str.match(ENGLAND_LSOA)]
    age_columns = [c for c in sape.columns if c not in ("lsoa11cd", "total_population")]
    carried = lsoa_changes.carry_counts(sape, weights, ["total_population", *age_columns])
    if carried.attrs["unmatched"]:
        gaps.append(_gaps("lsoa11", carried.attrs["unmatched"], "sape_mid2020_lsoa11",
                          "LSOA 2011 code not in the 2011->2021 lookup; population not carried"))
    population = carried.rename(columns={"total_population": "population_mid2020"})
    population = population.rename(columns={c: f"age_{c.replace('+', '_plus')}" for c in age_columns})
    table = _left_join(table, population[["population_mid2020"]].reset_index(), "sape_mid2020_lsoa11", gaps)

    imd19 = _read("imd2019_file1", mirror, downloads)
    pop15 = _read("iod2019_file6", mirror, downloads).set_index("lsoa11cd")["pop2015"]
    carried19 = lsoa_changes.carry_ranks(imd19, pop15, weights, "imd2019_rank", "imd2019_decile")
    carried19 = carried19.rename(columns={"change": "lsoa_change_2011", "parents": "lsoa11_parents"})
    table = _left_join(table, carried19.reset_index(), "imd2019_file1", gaps)
    irregular = table.loc[table["lsoa_change_2011"] == "irregular", "lsoa21cd"]
    if len(irregular):
        gaps.append(_gaps("lsoa21", irregular, "lsoa11_lsoa21_lookup",
                          "irregular 2011->2021 change (CHGIND X): IMD 2019 rank and population carried approximately"))
    log.step("carry 2011 population and IMD 2019")

    # local quantiles order LSOAs by national IMD rank (1 = most deprived), which MHCLG computed
    # from unrounded scores: the published scores are rounded to 3 decimals and tie
    for n, label in ((10, "decile"), (5, "quintile")):
        for group in ("icb", "lad"):
            table[f"imd_{label}_in_{group}"] = quantiles(table["imd_rank"], n, higher_is_worse=False,
                                                         groups=table[f"{group}24cd"])
    table["area_km2"] = area_polygons.area_km2(table)
    table = gpd.GeoDataFrame(table, geometry="geometry", crs=boundaries.crs)
    log.step("local deciles and areas")
    extras = {"gaps": gaps, "population_by_age": population.reset_index(), "weights": weights}
    return table, extras


def _icb22_outlines_as_2024(official: gpd.GeoDataFrame, table: pd.DataFrame) -> gpd.GeoDataFrame:
    """The July 2022 ICB outlines keyed by the April 2024 ICB code they correspond to.

    Most ICBs kept their code; those re-coded in 2024 after a boundary change (Surrey Heartlands
    and Sussex) are matched by name, and the check report says so in ``icb22cd``.
    """
    names = table[["icb24cd", "icb24nm"]].drop_duplicates()
    same_code = official[official["icb22cd"].isin(names["icb24cd"])].assign(icb24cd=lambda f: f["icb22cd"])
    rest = official[~official["icb22cd"].isin(names["icb24cd"])].merge(
        names, left_on="icb22nm", right_on="icb24nm", how="inner").drop(columns=["icb24nm"])
    return gpd.GeoDataFrame(pd.concat([same_code, rest], ignore_index=True), geometry="geometry", crs=official.crs)


def restrict(table: gpd.GeoDataFrame, icb: str | None, lad: str | None) -> gpd.GeoDataFrame:
    if icb and lad:
        raise BuildError("choose --icb or --lad, not both")
    if icb:
        picked = table[(table["icb24cd"] == icb) | (table["icb24cdh"] == icb)]
        if picked.empty:
            known = ", ".join(sorted(table["icb24cd"].dropna().unique())[:5])
            raise BuildError(f"no LSOAs in ICB {icb!r} (ICB codes look like {known} …)")
        return picked
    if lad:
        picked = table[table["lad24cd"] == lad]
        if picked.empty:
            raise BuildError(f"no LSOAs in local authority {lad!r} (codes look like E06000055)")
        return picked
    return table


def build(store: Store | None = None, mirror: Path | None = None, downloads: Path | None = None,
          icb: str | None = None, lad: str | None = None, echo=None) -> Path:
    """Build the store and make it current; returns the build folder."""
    if store is None:
        from geo.store import open_store

        store = open_store()
    log = BuildLog(echo=echo)
    started = time.time()
    table, extras = load_lsoa_table(mirror, downloads, log)
    gaps = extras["gaps"]
    n_national = int(table["imd_rank"].max())

    summaries = {
        "ward": deprivation_summaries.summarise(table, "ward24cd", "residents", n_national),
        "lad": deprivation_summaries.summarise(table, "lad24cd", "residents", n_national),
        "icb": deprivation_summaries.summarise(table, "icb24cd", "residents", n_national),
    }
    log.step("area summaries (MHCLG measures)")

    scope = restrict(table, icb, lad)
    codes_in_scope = {level: set(scope[col].dropna()) for level, col in
                      (("ward", "ward24cd"), ("lad", "lad24cd"), ("icb", "icb24cd"))}

    names = {"ward": ["ward24nm", "lad24cd", "lad24nm"], "lad": ["lad24nm"],
             "icb": ["icb24nm", "icb24cdh"]}
    code_of = {"ward": "ward24cd", "lad": "lad24cd", "icb": "icb24cd"}
    areas = {}
    for level in ("ward", "lad", "icb"):
        members = table[table[code_of[level]].isin(codes_in_scope[level])]
        polygons = area_polygons.dissolve(members, code_of[level], names[level]).drop(columns=["lsoas"])
        polygons["area_km2"] = area_polygons.area_km2(polygons)
        areas[level] = polygons.merge(summaries[level], on=code_of[level], how="left")
        log.step(f"dissolve {level} polygons")

    official_lad = _read("lad24_boundaries", mirror, downloads)
    official_icb = _read("icb22_boundaries", mirror, downloads)
    lad_check = area_polygons.overlap_with_official(areas["lad"], official_lad, "lad24cd", "lad24cd")
    icb_check = area_polygons.overlap_with_official(areas["icb"], _icb22_outlines_as_2024(official_icb, table),
                                                    "icb24cd", "icb24cd")
    log.step("compare with official LAD/ICB outlines")

    lsoa_index = table[["lsoa21cd", "lad24cd", "geometry"]]
    gias = _read("gias_establishments", mirror, downloads)
    school_points, school_report = points.schools(gias, lsoa_index)
    practices = _read("ods_gp_practices", mirror, downloads)
    postcode_table = points.postcode_lsoas(_read("codepoint_open", mirror, downloads), lsoa_index)
    gp_points, gp_report = points.gp_practices(practices, postcode_table)
    hospital_points, hospital_report = points.hospitals(_read("hospitals", mirror, downloads), lsoa_index)
    lad_of = table.set_index("lsoa21cd")["lad24cd"]
    gp_points["lad24cd"] = gp_points["lsoa21cd"].map(lad_of)
    postcode_table["lad24cd"] = postcode_table["lsoa21cd"].map(lad_of)
    log.step("place schools, GP practices, hospitals")

    if icb or lad:
        keep = set(scope["lsoa21cd"])
        school_points = school_points[school_points["lsoa21cd"].isin(keep)]
        gp_points = gp_points[gp_points["lsoa21cd"].isin(keep)]
        hospital_points = hospital_points[hospital_points["lsoa21cd"].isin(keep)]
        postcode_table = postcode_table[postcode_table["lsoa21cd"].isin(keep)]
        population_by_age = extras["population_by_age"][extras["population_by_age"]["lsoa21cd"].isin(keep)]
    else:
        population_by_age = extras["population_by_age"]

    catalogue_used = []
    for source in sources.load_catalogue().values():
        if source.id == "fingertips_ae_0_4_gp":
            continue  # an activity source, read by `gapmap ingest`, not by the build
        try:
            path = sources.locate(source, mirror=mirror, downloads=downloads)
        except sources.SourceError:
            continue
        catalogue_used.append({"id": source.id, "title": source.title, "path": str(path),
                               "licence": source.licence, "attribution": source.attribution})
    join_gaps = pd.concat(gaps, ignore_index=True) if gaps else pd.DataFrame(
        columns=["code", "kind", "source", "reason"])

    with store.writer() as writer:
        writer.table("lsoas", scope, sort_by=["icb24cd", "lad24cd", "ward24cd", "lsoa21cd"])
        for level, frame in areas.items():
            writer.table(f"areas_{level}", frame, sort_by=[code_of[level]])
        writer.table("points_schools", school_points, sort_by=["lad24cd", "urn"])
        writer.table("points_gp_practices", gp_points, sort_by=["lad24cd", "practice_code"])
        writer.table("points_hospitals", hospital_points, sort_by=["lad24cd", "name"])
        writer.table("population_mid2020", population_by_age, sort_by=["lsoa21cd"])
        writer.table("postcodes", postcode_table, sort_by=["key"])
        writer.table("lsoa11_to_lsoa21", extras["weights"], sort_by=["lsoa11cd", "lsoa21cd"])
        writer.report("join_gaps", join_gaps)
        writer.report("schools_located", school_report)
        writer.report("gp_practices_not_located", gp_report)
        writer.report("hospitals_not_located", hospital_report)
        writer.report("lad_outline_check", lad_check)
        writer.report("icb_outline_check", icb_check)
        log.step("write store")
        counts = {
            "lsoas": int(len(scope)), "wards": int(len(areas["ward"])), "lads": int(len(areas["lad"])),
            "icbs": int(len(areas["icb"])), "schools": int(len(school_points)),
            "gp_practices": int(len(gp_points)), "hospitals": int(len(hospital_points)),
            "postcodes": int(len(postcode_table)),
        }
        writer.manifest({
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "scope": {"icb": icb, "lad": lad} if (icb or lad) else "England",
            "crs": "EPSG:4326 (areas computed in EPSG:27700)",
            "counts": counts,
            "population_for_summaries": "Census 2021 usual residents",
            "attribution": ATTRIBUTION,
            "sources": catalogue_used,
            "mirror": str(mirror) if mirror else None,
            "steps_seconds": dict(log.steps),
            "seconds": round(time.time() - started, 2),
            "notes": log.notes,
            "reports": {"join_gaps": int(len(join_gaps)), "schools_located": int(len(school_report)),
                        "gp_practices_not_located": int(len(gp_report)),
                        "hospitals_not_located": int(len(hospital_report))},
        })
        return writer.commit()


__all__ = ["build", "BuildError", "load_lsoa_table"]
