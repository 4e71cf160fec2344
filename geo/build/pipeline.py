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
from geo.sources.loaders import population_by_sex_age, read_source
from geo.build.quantiles import quantiles
from geo.store.folder import POPULATION_BY_SEX_TABLE, Store
from geo.store.schema import AGE_GROUPS, DOMAINS, ETHNIC_GROUPS

ENGLAND_LSOA = r"^E01\d{6}$"
SEX_AGE_SOURCE = "sape_mid2022_lsoa21_sex_age"
SEX_AGE_NOTES = {
    True: (f"population by sex: ONS mid-2022 LSOA 2021 estimates by sex and single year of age ({SEX_AGE_SOURCE}), "
           f"in the table {POPULATION_BY_SEX_TABLE}"),
    False: (f"no population by sex: age-sex standardisation falls back to age ({SEX_AGE_SOURCE}, ONS's mid-2022 "
            f"LSOA estimates by sex and single year of age, is not in the mirror or the downloads; "
            f"`gapmap data fetch --only {SEX_AGE_SOURCE}` gets it)"),
}
CARRIED_BY_AGE = ("mid-2020 population carried to 2021 codes by age: the parts of a split (or irregularly changed) "
                  "2011 LSOA share each single year of age by their Census 2021 residents of its age group "
                  "(15 and under, 16-24, 25-34, 35-49, 50-64, 65 and over), not by their residents of all ages")


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
    """All English LSOAs with every LSOA-level attribute; returns (table, extras).

    ``extras`` holds ``gaps`` (join reports), ``population_by_age`` (mid-2020, carried to 2021
    codes, each age by its own Census 2021 age group's shares), ``population_by_sex_age`` (ONS
    mid-2022 by sex and single year of age, one row per LSOA and sex, or None when the optional
    file is absent) and ``weights`` (the 2011 -> 2021 lookup with all-age shares).
    """
    def read(source_id: str) -> pd.DataFrame:
        return _read(source_id, mirror, downloads)

    gaps: list[pd.DataFrame] = []
    boundaries = _english_boundaries(read("lsoa21_boundaries"))
    log.step("read LSOA boundaries")
    table = _join_deprivation(boundaries, read, gaps)
    log.step("read IoD2025 files 7, 8 and subdomains")
    table = _join_geography(table, read, gaps)
    log.step("read ward, ICB and rural-urban lookups")
    table = _join_census(table, read, gaps)
    log.step("read Census 2021 age and ethnic group")
    table, population, weights = _carry_2011(table, read, gaps)
    log.step("carry 2011 population and IMD 2019")
    log.note(CARRIED_BY_AGE)
    table = _local_quantiles_and_areas(table, boundaries.crs)
    log.step("local deciles and areas")
    by_sex = _population_by_sex(_read_optional(SEX_AGE_SOURCE, mirror, downloads), table, gaps)
    log.step("read population by sex and age" if by_sex is not None else "no population by sex and age")
    log.note(SEX_AGE_NOTES[by_sex is not None])
    extras = {"gaps": gaps, "population_by_age": population.reset_index(), "weights": weights,
              "population_by_sex_age": by_sex}
    return table, extras


def _read_optional(source_id: str, mirror: Path | None, downloads: Path | None) -> pd.DataFrame | None:
    """An optional source (``optional = true`` in the catalogue) read as any other, or None when it
    is not in the mirror or the downloads folder. A file that is there but wrong is still an error."""
    source = sources.get(source_id)
    try:
        path = sources.locate(source, mirror=mirror, downloads=downloads)
    except sources.SourceError:
        if not source.optional:
            raise
        return None
    return read_source(source, path=path)


def _population_by_sex(frame: pd.DataFrame | None, table: pd.DataFrame, gaps: list[pd.DataFrame]) -> pd.DataFrame | None:
    """ONS mid-2022 LSOA 2021 population by sex and single year of age of the English LSOAs, one row
    per LSOA and sex (see :func:`geo.sources.loaders.population_by_sex_age`), or None without the
    file. LSOAs it lacks, English codes it has extra and rows whose Total is not the sum of their
    sex-age cells go into ``join_gaps``."""
    if frame is None:
        return None
    frame = frame[frame["lsoa21cd"].str.match(ENGLAND_LSOA)].reset_index(drop=True)
    if frame["lsoa21cd"].duplicated().any():
        raise BuildError(f"{SEX_AGE_SOURCE}: LSOA codes repeated: "
                         f"{', '.join(frame.loc[frame['lsoa21cd'].duplicated(), 'lsoa21cd'].head(5))}")
    long = population_by_sex_age(frame, sources.get(SEX_AGE_SOURCE).path)
    cells = long.drop(columns=["sex"]).groupby("lsoa21cd").sum().sum(axis=1)
    total = frame.set_index("lsoa21cd")["total_population"].astype("float64")
    off = total.index[(total - cells.reindex(total.index)).abs() > 0.5]
    if len(off):
        gaps.append(_gaps("lsoa21", off, SEX_AGE_SOURCE, "Total is not the sum of the sex-age cells; the cells are used"))
    ours, theirs = set(table["lsoa21cd"]), set(frame["lsoa21cd"])
    if ours - theirs:
        gaps.append(_gaps("lsoa21", ours - theirs, SEX_AGE_SOURCE, "LSOA has no row in this source (no population by sex)"))
    if theirs - ours:
        gaps.append(_gaps("lsoa21", theirs - ours, SEX_AGE_SOURCE,
                          "English LSOA code not in the LSOA boundaries; row not used"))
    return long[long["lsoa21cd"].isin(ours)].reset_index(drop=True)


def _english_boundaries(boundaries: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    boundaries = boundaries[boundaries["lsoa21cd"].str.match(ENGLAND_LSOA)].reset_index(drop=True)
    if boundaries["lsoa21cd"].duplicated().any():
        raise BuildError("the LSOA boundaries repeat a code")
    return boundaries


def _join_deprivation(table: pd.DataFrame, read, gaps: list[pd.DataFrame]) -> pd.DataFrame:
    """IoD2025 File 7 (with quintile and Core20), its sub-domains, and File 8's indicators."""
    iod = read("iod2025_file7")
    for level in ("imd", *DOMAINS):
        iod[f"{level}_decile"] = iod[f"{level}_decile"].astype("Int64")
        iod[f"{level}_rank"] = iod[f"{level}_rank"].astype("Int64")
    iod["imd_quintile"] = ((iod["imd_decile"] + 1) // 2).astype("Int64")
    iod["core20"] = iod["imd_decile"] <= 2
    table = _left_join(table, iod, "iod2025_file7", gaps)

    sub = read("iod2025_subdomains")
    for column in sub.columns:
        if column.endswith(("_rank", "_decile")):
            sub[column] = sub[column].round().astype("Int64")
    table = _left_join(table, sub, "iod2025_subdomains", gaps)
    return _left_join(table, read("iod2025_underlying_indicators"), "iod2025_underlying_indicators", gaps)


def _join_geography(table: pd.DataFrame, read, gaps: list[pd.DataFrame]) -> pd.DataFrame:
    """Ward and LAD (best fit), sub-ICB and ICB, and the rural-urban classification."""
    wards = read("lsoa21_ward24_lad24_lookup")
    wards = wards[wards["lsoa21cd"].str.match(ENGLAND_LSOA)]
    table = _left_join(table, wards, "lsoa21_ward24_lad24_lookup", gaps)
    table = _left_join(table, read("lsoa21_sicbl24_icb24_lookup"), "lsoa21_sicbl24_icb24_lookup", gaps)
    ruc = read("ruc21_lsoa21")
    ruc = ruc[ruc["lsoa21cd"].str.match(ENGLAND_LSOA)]
    return _left_join(table, ruc, "ruc21_lsoa21", gaps)


def _join_census(table: pd.DataFrame, read, gaps: list[pd.DataFrame]) -> pd.DataFrame:
    """Census 2021 usual residents by six age groups (and their sum), and by ethnic group with shares."""
    ages = read("census21_age_groups")
    ages = ages[ages["lsoa21cd"].str.match(ENGLAND_LSOA)]
    unknown_age = set(ages["age_group"]) - set(AGE_GROUPS)
    if unknown_age:
        raise BuildError(f"census21_age_groups: unknown age groups {sorted(unknown_age)}")
    wide = ages.assign(col="residents_" + ages["age_group"].map(AGE_GROUPS)).pivot(
        index="lsoa21cd", columns="col", values="usual_residents")
    wide = wide[[f"residents_{v}" for v in AGE_GROUPS.values()]]
    wide["residents"] = wide.sum(axis=1)
    table = _left_join(table, wide.reset_index(), "census21_age_groups", gaps)

    eth = read("census21_ethnic_group")
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
    return _left_join(table, ethnic.reset_index(), "census21_ethnic_group", gaps)


def census_age_group(age: int) -> str:
    """The Census 2021 age group (a key of ``residents_<group>``, e.g. ``0_15``) that holds ``age``
    (90 for 90+)."""
    for group in AGE_GROUPS.values():
        low, high = group.split("_")
        if int(low) <= age and (high == "plus" or age <= int(high)):
            return group
    raise BuildError(f"no Census 2021 age group holds age {age}")


def _carry_2011(table: pd.DataFrame, read, gaps: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """LSOA 2011 -> 2021: the mid-2020 population and IMD 2019; returns (table, population, weights).

    Where a 2011 LSOA became several 2021 LSOAs (splits, irregular changes), each single year of
    age is shared among the parts by their Census 2021 residents of the age group that year falls
    in (15 and under, 16-24, 25-34, 35-49, 50-64, 65 and over), not by their residents of all ages
    (:func:`geo.build.lsoa_changes.group_weights`); ``population_mid2020`` is the sum of the
    carried ages. The stored lookup (``weights``) keeps the all-age share, which carries counts
    without ages.
    """
    lookup = read("lsoa11_lsoa21_lookup")
    lookup = lookup[lookup["lsoa21cd"].str.match(ENGLAND_LSOA)]
    residents = table.set_index("lsoa21cd")
    weights = lsoa_changes.lookup_weights(lookup, residents["residents"])
    by_age_group = lsoa_changes.group_weights(
        weights, residents[[f"residents_{g}" for g in AGE_GROUPS.values()]].rename(columns=lambda c: c[10:]))
    sape = read("sape_mid2020_lsoa11")
    sape = sape[sape["lsoa11cd"].str.match(ENGLAND_LSOA)]
    age_columns = [c for c in sape.columns if c not in ("lsoa11cd", "total_population")]
    weight_of = {c: f"weight_{census_age_group(int(c.rstrip('+')))}" for c in age_columns}
    carried = lsoa_changes.carry_counts(sape, by_age_group, age_columns, weight_of)
    if carried.attrs["unmatched"]:
        gaps.append(_gaps("lsoa11", carried.attrs["unmatched"], "sape_mid2020_lsoa11",
                          "LSOA 2011 code not in the 2011->2021 lookup; population not carried"))
    population = carried.rename(columns={c: f"age_{c.replace('+', '_plus')}" for c in age_columns})
    population.insert(0, "population_mid2020", population.sum(axis=1))
    table = _left_join(table, population[["population_mid2020"]].reset_index(), "sape_mid2020_lsoa11", gaps)

    imd19 = read("imd2019_file1")
    pop15 = read("iod2019_file6").set_index("lsoa11cd")["pop2015"]
    carried19 = lsoa_changes.carry_ranks(imd19, pop15, weights, "imd2019_rank", "imd2019_decile")
    carried19 = carried19.rename(columns={"change": "lsoa_change_2011", "parents": "lsoa11_parents"})
    table = _left_join(table, carried19.reset_index(), "imd2019_file1", gaps)
    irregular = table.loc[table["lsoa_change_2011"] == "irregular", "lsoa21cd"]
    if len(irregular):
        gaps.append(_gaps("lsoa21", irregular, "lsoa11_lsoa21_lookup",
                          "irregular 2011->2021 change (CHGIND X): IMD 2019 rank and population carried approximately"))
    return table, population, weights


def _local_quantiles_and_areas(table: pd.DataFrame, crs) -> gpd.GeoDataFrame:
    """IMD deciles and quintiles within each ICB and LAD, and each LSOA's area in km2."""
    # local quantiles order LSOAs by national IMD rank (1 = most deprived), which MHCLG computed
    # from unrounded scores: the published scores are rounded to 3 decimals and tie
    for n, label in ((10, "decile"), (5, "quintile")):
        for group in ("icb", "lad"):
            table[f"imd_{label}_in_{group}"] = quantiles(table["imd_rank"], n, higher_is_worse=False,
                                                         groups=table[f"{group}24cd"])
    table["area_km2"] = area_polygons.area_km2(table)
    return gpd.GeoDataFrame(table, geometry="geometry", crs=crs)


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
    """The LSOAs of one ICB or local authority; a code that is not one (``--lad QHG``) is refused
    saying what it is and which option takes it."""
    from geo.sources.area_codes import UnknownArea, resolve

    if icb and lad:
        raise BuildError("choose --icb or --lad, not both")
    for level, code in (("icb", icb), ("lad", lad)):
        if not code:
            continue
        try:
            ons = resolve(pd.DataFrame(table.drop(columns="geometry", errors="ignore")), level, code,
                          held="the official files read")
        except UnknownArea as exc:
            raise BuildError(str(exc)) from None
        return table[table[f"{level}24cd"] == ons]
    return table


CODE_OF = {"ward": "ward24cd", "lad": "lad24cd", "icb": "icb24cd"}
NAMES_OF = {"ward": ["ward24nm", "lad24cd", "lad24nm"], "lad": ["lad24nm"], "icb": ["icb24nm", "icb24cdh"]}


def build(store: Store | None = None, mirror: Path | None = None, downloads: Path | None = None,
          icb: str | None = None, lad: str | None = None, echo=None) -> Path:
    """Build the store and make it current; returns the build folder. One build at a time: a second
    one is refused with a StoreError (see :meth:`Store.build_lock`), which also clears leftovers."""
    if store is None:
        from geo.store import open_store

        store = open_store()
    with store.build_lock():
        return _build(store, mirror, downloads, icb, lad, echo)


def _build(store: Store, mirror: Path | None, downloads: Path | None, icb: str | None, lad: str | None,
           echo) -> Path:
    log = BuildLog(echo=echo)
    started = time.time()
    table, extras = load_lsoa_table(mirror, downloads, log)
    summaries, weighted_by = _area_summaries(table)
    log.step("area summaries (MHCLG measures)")
    scope = restrict(table, icb, lad)
    areas = _area_polygons(table, scope, summaries, log)
    checks = _outline_checks(areas, table, mirror, downloads)
    log.step("compare with official LAD/ICB outlines")
    places = _place_points(table, mirror, downloads)
    log.step("place schools, GP practices, hospitals")
    population_by_age = extras["population_by_age"]
    by_sex = extras["population_by_sex_age"]
    if icb or lad:
        keep = set(scope["lsoa21cd"])
        places = {**places, **{name: frame[frame["lsoa21cd"].isin(keep)] for name, frame in places.items()
                               if name in ("schools", "gp_practices", "hospitals", "postcodes")}}
        population_by_age = population_by_age[population_by_age["lsoa21cd"].isin(keep)]
        by_sex = by_sex[by_sex["lsoa21cd"].isin(keep)] if by_sex is not None else None
    gaps = extras["gaps"]
    join_gaps = pd.concat(gaps, ignore_index=True) if gaps else pd.DataFrame(
        columns=["code", "kind", "source", "reason"])
    with store.writer() as writer:
        _write_tables(writer, scope, areas, places, population_by_age, extras["weights"])
        if by_sex is not None:
            writer.table(POPULATION_BY_SEX_TABLE, by_sex, sort_by=["lsoa21cd", "sex"])
        reports = {"join_gaps": join_gaps, "schools_located": places["schools_report"],
                   "gp_practices_not_located": places["gp_practices_report"],
                   "hospitals_not_located": places["hospitals_report"],
                   "populations": _populations_report(by_sex is not None, weighted_by), **checks}
        for name, frame in reports.items():
            writer.report(name, frame)
        log.step("write store")
        counts = {
            "lsoas": int(len(scope)), "wards": int(len(areas["ward"])), "lads": int(len(areas["lad"])),
            "icbs": int(len(areas["icb"])), "schools": int(len(places["schools"])),
            "gp_practices": int(len(places["gp_practices"])), "hospitals": int(len(places["hospitals"])),
            "postcodes": int(len(places["postcodes"])),
        }
        writer.manifest({
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "scope": {"icb": icb, "lad": lad} if (icb or lad) else "England",
            "crs": "EPSG:4326 (areas computed in EPSG:27700)",
            "counts": counts,
            "population_for_summaries": weighted_by,
            "population_by_sex_age": SEX_AGE_NOTES[by_sex is not None],
            "attribution": ATTRIBUTION,
            "sources": _sources_used(mirror, downloads),
            "mirror": str(mirror) if mirror else None,
            "steps_seconds": dict(log.steps),
            "seconds": round(time.time() - started, 2),
            "notes": log.notes,
            "reports": {name: int(len(reports[name])) for name in
                        ("join_gaps", "schools_located", "gp_practices_not_located", "hospitals_not_located")},
        })
        return writer.commit()


def _area_summaries(table: gpd.GeoDataFrame) -> tuple[dict[str, pd.DataFrame], str]:
    """MHCLG's summary measures of wards, LADs and ICBs, of the IMD and each of its seven domains,
    always over the whole of each area, weighted by File 7's mid-2022 denominators when the build's
    File 7 carries them, else by Census 2021 usual residents; returns (summaries by level, which
    population weighted them). Each summary says so in its ``population_weights`` column."""
    column, weighted_by = deprivation_summaries.summary_population(table)
    summaries = {}
    for level, code in CODE_OF.items():
        summary = deprivation_summaries.summarise_all(table, code, column)  # the IMD and File 10/13's domain sheets
        summary["population_weights"] = weighted_by
        summaries[level] = summary
    return summaries, weighted_by


def _populations_report(has_sex: bool, weighted_by: str) -> pd.DataFrame:
    """One line per population the build provides: what it is, where it comes from, how it was made."""
    return pd.DataFrame([
        {"population": "population_mid2020 (store: population_by_age)", "source": "sape_mid2020_lsoa11",
         "status": "present", "note": CARRIED_BY_AGE},
        {"population": f"{POPULATION_BY_SEX_TABLE} (store: population_by_sex_age)", "source": SEX_AGE_SOURCE,
         "status": "present" if has_sex else "absent", "note": SEX_AGE_NOTES[has_sex]},
        {"population": "area summaries (areas_ward, areas_lad, areas_icb: population)", "source":
            "iod2025_file7" if weighted_by == deprivation_summaries.FILE7_WEIGHTS else "census21_age_groups",
         "status": "present", "note": f"MHCLG summaries weighted by {weighted_by}"},
    ])


def _area_polygons(table: gpd.GeoDataFrame, scope: gpd.GeoDataFrame, summaries: dict[str, pd.DataFrame],
                   log: BuildLog) -> dict[str, gpd.GeoDataFrame]:
    """Ward, LAD and ICB polygons dissolved from their LSOAs (those with LSOAs in scope), with summaries."""
    areas = {}
    for level, code in CODE_OF.items():
        members = table[table[code].isin(set(scope[code].dropna()))]
        polygons = area_polygons.dissolve(members, code, NAMES_OF[level]).drop(columns=["lsoas"])
        polygons["area_km2"] = area_polygons.area_km2(polygons)
        areas[level] = polygons.merge(summaries[level], on=code, how="left")
        log.step(f"dissolve {level} polygons")
    return areas


def _outline_checks(areas: dict, table: gpd.GeoDataFrame, mirror: Path | None,
                    downloads: Path | None) -> dict[str, pd.DataFrame]:
    """How the LSOA-built LAD and ICB polygons compare with the official outlines."""
    official_lad = _read("lad24_boundaries", mirror, downloads)
    official_icb = _read("icb22_boundaries", mirror, downloads)
    return {
        "lad_outline_check": area_polygons.overlap_with_official(areas["lad"], official_lad, "lad24cd", "lad24cd"),
        "icb_outline_check": area_polygons.overlap_with_official(
            areas["icb"], _icb22_outlines_as_2024(official_icb, table), "icb24cd", "icb24cd"),
    }


def _place_points(table: gpd.GeoDataFrame, mirror: Path | None, downloads: Path | None) -> dict[str, pd.DataFrame]:
    """Schools, GP practices, hospitals and postcodes placed in LSOAs, with the reports of those not used."""
    lsoa_index = table[["lsoa21cd", "lad24cd", "geometry"]]
    schools, schools_report = points.schools(_read("gias_establishments", mirror, downloads), lsoa_index)
    postcodes = points.postcode_lsoas(_read("codepoint_open", mirror, downloads), lsoa_index)
    practices, practices_report = points.gp_practices(_read("ods_gp_practices", mirror, downloads), postcodes)
    hospitals, hospitals_report = points.hospitals(_read("hospitals", mirror, downloads), lsoa_index)
    lad_of = table.set_index("lsoa21cd")["lad24cd"]
    practices["lad24cd"] = practices["lsoa21cd"].map(lad_of)
    postcodes["lad24cd"] = postcodes["lsoa21cd"].map(lad_of)
    return {"schools": schools, "schools_report": schools_report, "gp_practices": practices,
            "gp_practices_report": practices_report, "hospitals": hospitals, "hospitals_report": hospitals_report,
            "postcodes": postcodes}


def _sources_used(mirror: Path | None, downloads: Path | None) -> list[dict]:
    """The catalogued sources the build found, with where they were read from and their licences."""
    used = []
    for source in sources.load_catalogue().values():
        if source.id == "fingertips_ae_0_4_gp":
            continue  # an activity source, read by `gapmap ingest`, not by the build
        try:
            path = sources.locate(source, mirror=mirror, downloads=downloads)
        except sources.SourceError:
            continue
        used.append({"id": source.id, "title": source.title, "path": str(path),
                     "licence": source.licence, "attribution": source.attribution})
    return used


def _write_tables(writer, scope: gpd.GeoDataFrame, areas: dict, places: dict, population_by_age: pd.DataFrame,
                  weights: pd.DataFrame) -> None:
    writer.table("lsoas", scope, sort_by=["icb24cd", "lad24cd", "ward24cd", "lsoa21cd"])
    from geo.build.simplified import simplified_tables

    for name, frame in simplified_tables(scope).items():  # beside the full polygons, for the maps
        writer.table(name, frame, sort_by=["icb24cd", "lad24cd", "ward24cd", "lsoa21cd"])
    for level, frame in areas.items():
        writer.table(f"areas_{level}", frame, sort_by=[CODE_OF[level]])
    writer.table("points_schools", places["schools"], sort_by=["lad24cd", "urn"])
    writer.table("points_gp_practices", places["gp_practices"], sort_by=["lad24cd", "practice_code"])
    writer.table("points_hospitals", places["hospitals"], sort_by=["lad24cd", "name"])
    writer.table("population_mid2020", population_by_age, sort_by=["lsoa21cd"])
    writer.table("postcodes", places["postcodes"], sort_by=["key"])
    writer.table("lsoa11_to_lsoa21", weights, sort_by=["lsoa11cd", "lsoa21cd"])


__all__ = ["build", "BuildError", "load_lsoa_table"]
