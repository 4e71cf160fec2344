"""What every column of the store's tables means.

``gapmap columns`` prints these descriptions; the tests check that every column a build writes
is described here, so this is the one place to document the tables.
"""
from __future__ import annotations

from geo.sources.catalogue import load_catalogue

# The groups and domains a build writes columns for (the build reads these).
ETHNIC_GROUPS = {  # Census 2021 high-level group -> column suffix
    "Asian, Asian British or Asian Welsh": "asian",
    "Black, Black British, Black Welsh, Caribbean or African": "black",
    "Mixed or Multiple ethnic groups": "mixed",
    "White": "white",
    "Other ethnic group": "other",
}
AGE_GROUPS = {
    "Aged 15 years and under": "0_15",
    "Aged 16 to 24 years": "16_24",
    "Aged 25 to 34 years": "25_34",
    "Aged 35 to 49 years": "35_49",
    "Aged 50 to 64 years": "50_64",
    "Aged 65 years and over": "65_plus",
}
DOMAINS = ("income", "employment", "education", "health", "crime", "barriers", "living_environment")
DOMAIN_TITLES = {
    "imd": "Index of Multiple Deprivation 2025", "income": "Income domain", "employment": "Employment domain",
    "education": "Education, Skills and Training domain", "health": "Health Deprivation and Disability domain",
    "crime": "Crime domain", "barriers": "Barriers to Housing and Services domain",
    "living_environment": "Living Environment domain",
}
SUBDOMAINS = {
    "children_and_young_people": "Children and Young People subdomain (Education)",
    "adult_skills": "Adult Skills subdomain (Education)",
    "geographical_barriers": "Geographical Barriers subdomain (Barriers)",
    "wider_barriers": "Wider Barriers subdomain (Barriers)",
    "indoors": "Indoors Living Environment subdomain",
    "outdoors": "Outdoors Living Environment subdomain",
}


def _lsoa_columns() -> dict[str, str]:
    cols = {
        "lsoa21cd": "LSOA 2021 code (ONS), E01…",
        "lsoa21nm": "LSOA 2021 name (ONS)",
        "geometry": "LSOA polygon, super generalised clipped (BSC), EPSG:4326",
        "area_km2": "Area of the polygon in km\u00b2, computed in EPSG:27700",
    }
    for key in ("imd", *DOMAINS):
        title = DOMAIN_TITLES[key]
        cols[f"{key}_score"] = f"{title}: score (higher is more deprived)"
        cols[f"{key}_rank"] = f"{title}: national rank among 33,755 LSOAs (1 = most deprived)"
        cols[f"{key}_decile"] = f"{title}: national decile (1 = most deprived 10% of LSOAs in England)"
    cols["imd_quintile"] = "IMD 2025 national quintile (1 = most deprived 20%), from the national decile"
    cols["core20"] = "Core20: true for LSOAs in national IMD 2025 deciles 1-2 (NHS England's Core20PLUS5)"
    local = ("PHE quantile method on the LSOAs' national IMD 2025 rank (MHCLG's rank, which orders LSOAs whose "
             "published scores tie)")
    cols["imd_decile_in_icb"] = f"IMD 2025 decile within the LSOA's ICB (1 = most deprived 10% of the ICB's LSOAs), {local}"
    cols["imd_quintile_in_icb"] = f"IMD 2025 quintile within the LSOA's ICB (1 = most deprived 20% of the ICB's LSOAs), {local}"
    cols["imd_decile_in_lad"] = f"IMD 2025 decile within the LSOA's local authority (place), {local}"
    cols["imd_quintile_in_lad"] = f"IMD 2025 quintile within the LSOA's local authority (place), {local}"
    for key, title in SUBDOMAINS.items():
        cols[f"{key}_score"] = f"IoD2025 {title}: score"
        cols[f"{key}_rank"] = f"IoD2025 {title}: national rank (1 = most deprived)"
        cols[f"{key}_decile"] = f"IoD2025 {title}: national decile (1 = most deprived)"
    underlying = load_catalogue()["iod2025_underlying_indicators"]
    for official, ours in underlying.columns.items():
        if ours != "lsoa21cd":
            cols[ours] = f"IoD2025 File 8 underlying indicator ({official})"
    cols["acute_morbidity_indicator"] = ("IoD2025 acute morbidity indicator: age- and sex-standardised ratio of "
                                         "emergency hospital admissions (HES); 100 would be England's rate")
    cols.update({
        "ward24cd": "Electoral ward 2024 code (ONS best-fit lookup)",
        "ward24nm": "Electoral ward 2024 name",
        "lad24cd": "Local authority district 2024 code: the 'place'",
        "lad24nm": "Local authority district 2024 name",
        "sicbl24cd": "Sub-ICB location April 2024 code (ONS)",
        "sicbl24cdh": "Sub-ICB location April 2024 NHS code (e.g. 06F)",
        "sicbl24nm": "Sub-ICB location April 2024 name",
        "icb24cd": "Integrated Care Board April 2024 code (ONS, e.g. E54000024)",
        "icb24cdh": "Integrated Care Board April 2024 NHS code (e.g. QHG)",
        "icb24nm": "Integrated Care Board April 2024 name",
        "ruc21cd": "Rural-Urban Classification 2021 code",
        "ruc21nm": "Rural-Urban Classification 2021 name",
        "urban_rural": "Rural-Urban Classification 2021: Urban or Rural",
        "residents": "Census 2021 usual residents (sum of the six age groups)",
        "population_mid2020": ("ONS mid-2020 population estimate carried from LSOA 2011 to 2021 codes: the sum "
                               "of its single years of age, each shared among the parts of a split (or "
                               "irregularly changed) 2011 LSOA by their Census 2021 residents of the age group "
                               "it falls in; merges summed"),
        "file7_population_mid2022": ("IoD2025 File 7 'Total population: mid 2022', MHCLG's denominator (present only "
                                     "when the build's File 7 carries it; the area summaries are then weighted by it)"),
        "imd2019_rank": ("IMD 2019 national rank carried to 2021 codes: inherited for unchanged and split LSOAs, "
                         "mid-2015-population-weighted mean of the parents' ranks for merged and irregular ones"),
        "imd2019_decile": "IMD 2019 decile carried to 2021 codes (from the mean rank for merged/irregular LSOAs)",
        "lsoa_change_2011": "How the LSOA changed from 2011: unchanged, split, merged or irregular (ONS CHGIND)",
        "lsoa11_parents": "Number of LSOA 2011 areas the LSOA was made from",
    })
    for label, key in AGE_GROUPS.items():
        cols[f"residents_{key}"] = f"Census 2021 usual residents {label.lower()}"
    for label, key in ETHNIC_GROUPS.items():
        cols[f"ethnic_{key}_residents"] = f"Census 2021 usual residents, ethnic group '{label}'"
        cols[f"ethnic_{key}_share"] = f"Share (0-1) of Census 2021 usual residents in ethnic group '{label}'"
    return cols


SUMMARY_COLUMNS = {
    "lsoas": "Number of LSOAs in the area",
    "population": ("The area's population the summaries weight by: File 7's mid-2022 denominators when the "
                   "build's File 7 carries them, else Census 2021 usual residents (see population_weights)"),
    "population_weights": ("Which population weighted the summaries: 'File 7 mid-2022 denominators' (MHCLG's own, "
                           "as in Files 10 and 13) or 'Census 2021 usual residents (File 7's denominators absent)'"),
    "area_km2": "Area in km\u00b2 (EPSG:27700)",
    "average_score": "MHCLG 'average score': population-weighted mean IMD 2025 score of the area's LSOAs (higher is more deprived)",
    "average_rank": ("MHCLG 'average rank', on MHCLG's summary scale: each LSOA's rank is turned round so that the most "
                     "deprived LSOA counts as 33,755 (33,756 minus its national rank), then population-weighted; "
                     "HIGHER is more deprived"),
    "proportion_most_deprived_10pc": "MHCLG: share of the area's LSOAs in the most deprived 10% nationally (not population-weighted)",
    "extent": ("MHCLG 'extent': share of the population in the most deprived 30% of LSOAs, weighted 1 in the most "
               "deprived 10%, then 0.95 at the 11th percentile falling by 0.9/19 a percentile to 0.05 at the 30th "
               "(IoD Technical report, Appendix N)"),
    "local_concentration": ("MHCLG 'local concentration', on MHCLG's summary scale (most deprived LSOA = 33,755): "
                            "population-weighted mean of the turned-round ranks of the area's most deprived LSOAs "
                            "holding exactly 10% of its population; HIGHER is more deprived"),
    "geometry": "Area polygon dissolved from its LSOAs along the best-fit lookup, EPSG:4326",
}
for _measure in ("average_score", "average_rank", "proportion_most_deprived_10pc", "extent", "local_concentration"):
    SUMMARY_COLUMNS[f"rank_{_measure}"] = f"Rank of {_measure} among areas of the same level (1 = most deprived)"
_IMD_SUMMARIES = {k: v for k, v in SUMMARY_COLUMNS.items() if k.split("rank_")[-1] in (
    "average_score", "average_rank", "proportion_most_deprived_10pc", "extent", "local_concentration")}
for _domain in DOMAINS:  # File 10/13's domain sheets: the same measures of each domain's score, rank and decile
    _title = DOMAIN_TITLES[_domain]
    for _name, _text in _IMD_SUMMARIES.items():
        _column = (f"rank_{_domain}_{_name[5:]}" if _name.startswith("rank_") else f"{_domain}_{_name}")
        SUMMARY_COLUMNS[_column] = (f"{_title}: " + _text.replace("IMD 2025 score", "domain score")
                                    .replace("national rank", "national rank in the domain")
                                    .replace("most deprived 10% nationally",
                                             "most deprived 10% nationally on the domain"))


def area_columns(level: str) -> dict[str, str]:
    lsoa = _lsoa_columns()
    code = {"ward": ["ward24cd", "ward24nm", "lad24cd", "lad24nm"], "lad": ["lad24cd", "lad24nm"],
            "icb": ["icb24cd", "icb24nm", "icb24cdh"]}[level]
    return {**{c: lsoa[c] for c in code}, **SUMMARY_COLUMNS}


def lsoa_columns() -> dict[str, str]:
    return _lsoa_columns()


def _single_years(what: str) -> dict[str, str]:
    cols = {f"age_{age}": f"{what} aged {age}" for age in range(90)}
    cols["age_90_plus"] = f"{what} aged 90 and over"
    return cols


def population_by_age_columns() -> dict[str, str]:
    """The table ``population_mid2020`` (``store.population_by_age()``): one row per LSOA 2021."""
    return {"lsoa21cd": "LSOA 2021 code (ONS), E01…",
            "population_mid2020": _lsoa_columns()["population_mid2020"],
            **_single_years("ONS mid-2020 population estimate carried to 2021 codes (each age shared among the parts "
                            "of a split 2011 LSOA by their Census 2021 residents of its age group),")}


def population_by_sex_age_columns() -> dict[str, str]:
    """The table ``population_by_sex_mid2022`` (``store.population_by_sex_age()``): two rows per
    LSOA 2021, one per sex; absent when the build had no ONS population by sex."""
    return {"lsoa21cd": "LSOA 2021 code (ONS), E01…",
            "sex": "'female' or 'male' (ONS's F and M columns)",
            **_single_years("ONS mid-2022 LSOA 2021 population estimate of this sex (sapelsoasyoa20192022.xlsx, "
                            "sheet Mid-2022 LSOA 2021),")}


TABLES = {"lsoas": lsoa_columns, "ward": lambda: area_columns("ward"), "lad": lambda: area_columns("lad"),
          "icb": lambda: area_columns("icb"), "population_by_age": population_by_age_columns,
          "population_by_sex_age": population_by_sex_age_columns}
