"""A tiny mirror of the official files, in their official shapes, made by the tests themselves.

Eight English LSOAs (and one Welsh one, which the build must leave out) are 1 km squares in a
4 x 2 grid near Luton, in British National Grid::

    row 1 (north):  E01000005  E01000006  E01000007  E01000008
    row 0 (south):  E01000001  E01000002  E01000003  E01000004      W01000001 (east, Wales)

Places: LAD E06000001 = LSOAs 1-4, LAD E06000002 = LSOAs 5-8.
Wards:  E05000001 = 1,2   E05000002 = 3,4   E05000003 = 5,6   E05000004 = 7,8.
ICBs:   E54000001 (NHS QAA) = 1-6,   E54000002 (QBB) = 7, 8 (so LAD E06000002 spans two ICBs).

LSOA 2011 -> 2021: 1-3 unchanged; 4 merged from E01009002 + E01009003; 5 irregular from
E01009004 (which also gives part of 6) and E01009005; 6 irregular from E01009004;
7 and 8 split from E01009001.
"""
from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

X0, Y0, SIZE = 505000.0, 220000.0, 1000.0
LSOAS = [f"E0100000{i}" for i in range(1, 9)]
LAD_OF = {c: ("E06000001" if i < 4 else "E06000002") for i, c in enumerate(LSOAS)}
LAD_NAME = {"E06000001": "Alphaton", "E06000002": "Betaford"}
WARD_OF = {c: f"E0500000{i // 2 + 1}" for i, c in enumerate(LSOAS)}
ICB_OF = {c: ("E54000001" if i < 6 else "E54000002") for i, c in enumerate(LSOAS)}
ICB_NHS = {"E54000001": "QAA", "E54000002": "QBB"}
# IMD 2025 score per LSOA (higher = more deprived); national rank follows from it
SCORES = dict(zip(LSOAS, [45.0, 30.0, 12.0, 8.0, 60.0, 22.0, 5.0, 17.0]))
RESIDENTS = dict(zip(LSOAS, [1500, 1600, 1400, 1700, 1550, 1450, 1000, 3000]))
LOOKUP_11_21 = [  # LSOA11CD, CHGIND, LSOA21CD
    ("E01000001", "U", "E01000001"),
    ("E01000002", "U", "E01000002"),
    ("E01000003", "U", "E01000003"),
    ("E01009002", "M", "E01000004"),
    ("E01009003", "M", "E01000004"),
    ("E01009004", "X", "E01000005"),
    ("E01009004", "X", "E01000006"),
    ("E01009005", "X", "E01000005"),
    ("E01009001", "S", "E01000007"),
    ("E01009001", "S", "E01000008"),
    ("W01000001", "U", "W01000001"),
]
LSOA11 = ["E01000001", "E01000002", "E01000003", "E01009001", "E01009002", "E01009003", "E01009004", "E01009005"]
IMD2019_RANK = dict(zip(LSOA11, [2, 5, 8, 7, 1, 4, 3, 6]))
POP2015 = dict(zip(LSOA11, [1400, 1500, 1300, 3800, 900, 1100, 2000, 1000]))
POP2020 = dict(zip(LSOA11, [1450, 1580, 1390, 4000, 800, 1000, 2100, 900]))
ETHNIC_GROUPS = ["Asian, Asian British or Asian Welsh", "Black, Black British, Black Welsh, Caribbean or African",
                 "Mixed or Multiple ethnic groups", "White", "Other ethnic group"]
AGE_GROUPS = ["Aged 15 years and under", "Aged 16 to 24 years", "Aged 25 to 34 years", "Aged 35 to 49 years",
              "Aged 50 to 64 years", "Aged 65 years and over"]


def ethnic_counts(total: int) -> list[int]:
    """Census counts are whole people: 20%, 10%, 5% and 60%, and the rest in 'Other'."""
    first = [total * k // 20 for k in (4, 2, 1, 12)]
    return first + [total - sum(first)]


def age_counts(total: int) -> list[int]:
    """15 and under 20%, 16-24 10%, 25-34 15%, 35-49 20%, 50-64 20%, and the rest 65 and over."""
    first = [total * k // 20 for k in (4, 2, 3, 4, 4)]
    return first + [total - sum(first)]


DOMAIN_LABELS = [
    ("Index of Multiple Deprivation (IMD) Score", "Index of Multiple Deprivation (IMD)"),
    ("Income Score (rate)", "Income"),
    ("Employment Score (rate)", "Employment"),
    ("Education, Skills and Training Score", "Education, Skills and Training"),
    ("Health Deprivation and Disability Score", "Health Deprivation and Disability"),
    ("Crime Score", "Crime"),
    ("Barriers to Housing and Services Score", "Barriers to Housing and Services"),
    ("Living Environment Score", "Living Environment"),
]


def square(col: int, row: int) -> shapely.Polygon:
    x, y = X0 + col * SIZE, Y0 + row * SIZE
    return shapely.box(x, y, x + SIZE, y + SIZE)


def lsoa_polygons() -> gpd.GeoDataFrame:
    geoms = [square(i % 4, i // 4) for i in range(8)] + [square(5, 0)]
    codes = LSOAS + ["W01000001"]
    names = [f"{LAD_NAME[LAD_OF[c]]} 00{i}A" for i, c in enumerate(LSOAS)] + ["Cymru 001A"]
    return gpd.GeoDataFrame({"LSOA21CD": codes, "LSOA21NM": names}, geometry=geoms, crs=27700)


def national_rank(scores: dict[str, float]) -> dict[str, int]:
    order = sorted(scores, key=lambda c: -scores[c])
    return {c: i + 1 for i, c in enumerate(order)}


def decile(rank: int, n: int) -> int:
    return int(np.ceil(rank * 10 / n))


def sex_age_counts(code: str) -> dict[str, list[int]]:
    """ONS mid-2022 population of an LSOA 2021 by sex ('F', 'M') and single year 0..90+: whole people,
    different for every LSOA, age and sex, so that a mix-up of sexes or ages shows."""
    i = (LSOAS + ["W01000001"]).index(code)
    return {"F": [5 + (i + a) % 9 for a in range(91)], "M": [4 + (2 * i + a) % 7 for a in range(91)]}


def sex_age_rows() -> tuple[list[str], list[list]]:
    """The catalogued layout of sape_mid2022_lsoa21_sex_age: (header, rows), England and Wales."""
    names = dict(zip(lsoa_polygons().LSOA21CD, lsoa_polygons().LSOA21NM))
    header = ["LSOA21CD", "LSOA21NM", "total_population"] + [f"{s}{a}" for s in "FM" for a in range(91)]
    rows = []
    for c in LSOAS + ["W01000001"]:
        counts = sex_age_counts(c)
        cells = counts["F"] + counts["M"]
        rows.append([c, names[c], float(sum(cells)), *map(float, cells)])
    return header, rows


def write_mirror(root: Path, population_by_sex: bool = True) -> Path:
    """Write the whole fixture mirror under ``root``; returns ``root``. With ``population_by_sex``
    false the mirror lacks ONS's mid-2022 population by sex, as the real mirror does."""
    root = Path(root)
    for sub in ("boundaries", "lookups", "classification", "deprivation", "census", "population", "points",
                "activity", "postcodes/codepo_gb/Data/CSV", "postcodes/codepo_gb/Doc"):
        (root / sub).mkdir(parents=True, exist_ok=True)

    lsoas = lsoa_polygons()
    lsoas.to_crs(4326).to_file(root / "boundaries/LSOA_2021_EW_BSC_england.gpkg", layer="LSOA_2021_EW_BSC",
                               driver="GPKG")
    england = lsoas[lsoas.LSOA21CD.str.startswith("E")]
    lad = england.assign(LAD24CD=england.LSOA21CD.map(LAD_OF)).dissolve("LAD24CD").reset_index()
    lad["LAD24NM"] = lad.LAD24CD.map(LAD_NAME)
    lad[["LAD24CD", "LAD24NM", "geometry"]].to_crs(4326).to_file(
        root / "boundaries/LAD_2024_UK_BUC_england.gpkg", layer="LAD_2024", driver="GPKG")
    icb = england.assign(ICB22CD=england.LSOA21CD.map(ICB_OF)).dissolve("ICB22CD").reset_index()
    icb["ICB22NM"] = icb.ICB22CD.map({"E54000001": "NHS Alpha ICB", "E54000002": "NHS Beta ICB"})
    icb[["ICB22CD", "ICB22NM", "geometry"]].to_crs(4326).to_file(
        root / "boundaries/ICB_JUL_2022_EN_BUC.gpkg", layer="ICB_2022", driver="GPKG")

    names = dict(zip(lsoas.LSOA21CD, lsoas.LSOA21NM))
    pd.DataFrame({
        "LSOA21CD": LSOAS + ["W01000001"], "LSOA21NM": [names[c] for c in LSOAS] + ["Cymru 001A"],
        "WD24CD": [WARD_OF[c] for c in LSOAS] + ["W05000001"],
        "WD24NM": [f"Ward {WARD_OF[c][-1]}" for c in LSOAS] + ["Cymru ward"],
        "LAD24CD": [LAD_OF[c] for c in LSOAS] + ["W06000001"],
        "LAD24NM": [LAD_NAME[LAD_OF[c]] for c in LSOAS] + ["Cymru"],
    }).to_csv(root / "lookups/LSOA21_WD24_LAD24_EW_LU.csv", index=False)
    pd.DataFrame({
        "LSOA21CD": LSOAS, "LSOA21NM": [names[c] for c in LSOAS],
        "SICBL24CD": [f"E3800000{1 if ICB_OF[c] == 'E54000001' else 2}" for c in LSOAS],
        "SICBL24CDH": [f"0{1 if ICB_OF[c] == 'E54000001' else 2}A" for c in LSOAS],
        "SICBL24NM": [f"Sub-ICB {ICB_OF[c][-1]}" for c in LSOAS],
        "ICB24CD": [ICB_OF[c] for c in LSOAS], "ICB24CDH": [ICB_NHS[ICB_OF[c]] for c in LSOAS],
        "ICB24NM": [f"NHS {'Alpha' if ICB_OF[c] == 'E54000001' else 'Beta'} ICB" for c in LSOAS],
    }).to_csv(root / "lookups/LSOA21_SICBL24_ICB24_EN_LU.csv", index=False)
    pd.DataFrame(LOOKUP_11_21, columns=["LSOA11CD", "CHGIND", "LSOA21CD"]).assign(
        LSOA11NM="x", LSOA21NM="y", LAD22CD="E06000001", LAD22NM="Alphaton"
    )[["LSOA11CD", "LSOA11NM", "CHGIND", "LSOA21CD", "LSOA21NM", "LAD22CD", "LAD22NM"]].to_csv(
        root / "lookups/LSOA11_LSOA21_LAD22_EW_LU.csv", index=False)
    pd.DataFrame({"LSOA21CD": LSOAS + ["W01000001"],
                  "RUC21CD": ["UN1"] * 6 + ["RLN1", "RLN1", "UN1"],
                  "RUC21NM": ["Urban: Nearer to a major town or city"] * 6 + ["Rural village: Nearer"] * 2 + ["x"],
                  "Urban_rural_flag": ["Urban"] * 6 + ["Rural", "Rural", "Urban"]}).to_csv(
        root / "classification/RUC21_LSOA21_EW.csv", index=False)

    rank = national_rank(SCORES)
    file7 = {"LSOA code (2021)": LSOAS, "LSOA name (2021)": [names[c] for c in LSOAS],
             "Local Authority District code (2024)": [LAD_OF[c] for c in LSOAS],
             "Local Authority District name (2024)": [LAD_NAME[LAD_OF[c]] for c in LSOAS]}
    for k, (score_label, label) in enumerate(DOMAIN_LABELS):
        scores = {c: SCORES[c] / (k + 1) for c in LSOAS}
        ranks = national_rank(scores)
        file7[score_label] = [scores[c] for c in LSOAS]
        file7[f"{label} Rank (where 1 is most deprived)"] = [ranks[c] for c in LSOAS]
        file7[f"{label} Decile (where 1 is most deprived 10% of LSOAs)"] = [decile(ranks[c], 8) for c in LSOAS]
    pd.DataFrame(file7).to_csv(
        root / "deprivation/File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv", index=False)
    sub = {"lsoa21_code": LSOAS}
    for k, key in enumerate(["children_and_young_people", "adult_skills", "geographical_barriers",
                             "wider_barriers", "indoors", "outdoors"]):
        sub[f"{key}_score"] = [SCORES[c] * 0.1 * (k + 1) for c in LSOAS]
        sub[f"{key}_rank"] = [float(rank[c]) for c in LSOAS]
        sub[f"{key}_decile"] = [float(decile(rank[c], 8)) for c in LSOAS]
    pd.DataFrame(sub).to_csv(root / "deprivation/IoD2025_subdomains_lsoa21.csv", index=False)
    from geo.sources.catalogue import load_catalogue
    underlying = {"lsoa21_code": LSOAS}
    for k, official in enumerate(load_catalogue()["iod2025_underlying_indicators"].columns):
        if official != "lsoa21_code":
            underlying[official] = [round(SCORES[c] * (k + 1) / 10, 3) for c in LSOAS]
    underlying["acute_morbidity_indicator"] = [60 + 2 * SCORES[c] for c in LSOAS]
    underlying["income_deprivation_affecting_children_index_idaci_numerator"][6] = None  # empty cell, as in File 8
    pd.DataFrame(underlying).to_csv(root / "deprivation/IoD2025_underlying_indicators_lsoa21.csv", index=False)

    def write_2019(path, columns, rows):
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:  # the official CSVs start with a BOM
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerows(rows)

    head = ["LSOA code (2011)", "LSOA name (2011)", "Local Authority District code (2019)",
            "Local Authority District name (2019)"]
    write_2019(root / "deprivation/File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv",
               head + ["Index of Multiple Deprivation (IMD) Rank", "Index of Multiple Deprivation (IMD) Decile"],
               [[c, "n", "E06000001", "Alphaton", f"{IMD2019_RANK[c]:,}", decile(IMD2019_RANK[c], 8)]
                for c in LSOA11])
    write_2019(root / "deprivation/File_2_-_IoD2019_Domains_of_Deprivation.csv",
               head + ["Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",
                       "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)"],
               [[c, "n", "E06000001", "Alphaton", IMD2019_RANK[c], decile(IMD2019_RANK[c], 8)] for c in LSOA11])
    write_2019(root / "deprivation/File_6_-_IoD2019_Population_Denominators.csv",
               head + ["Total population: mid 2015 (excluding prisoners)"],
               [[c, "n", "E06000001", "Alphaton", f"{POP2015[c]:,}"] for c in LSOA11])

    rows = []
    for c in LSOAS + ["W01000001"]:
        total = RESIDENTS.get(c, 1200)
        for g, n in zip(ETHNIC_GROUPS, ethnic_counts(total)):
            rows.append((c, float(total), g, float(n), n / total))
    pd.DataFrame(rows, columns=["LSOA21CD", "total_residents", "ethnic_group", "n", "prop"]).to_csv(
        root / "census/TS021_ethnic_group_lsoa21_long.csv", index=False)
    rows = [(c, names.get(c, "Cymru 001A"), g, float(n))
            for c in LSOAS + ["W01000001"] for g, n in zip(AGE_GROUPS, age_counts(RESIDENTS.get(c, 1200)))]
    pd.DataFrame(rows, columns=["LSOA21CD", "LSOA21NM", "age_group", "usual_residents"]).to_csv(
        root / "census/census2021_usual_residents_by_age_group_lsoa21.csv", index=False)

    ages = [str(a) for a in range(90)] + ["90+"]
    rows = []
    for c in LSOA11 + ["W01000001"]:
        total = POP2020.get(c, 1000)
        per_age = np.full(91, total // 91, dtype=float)
        per_age[0] += total - per_age.sum()
        rows.append([f"{c} name", c, float(total), *per_age])
    pd.DataFrame(rows, columns=["LSOA11NM", "LSOA11CD", "total_population", *ages]).to_csv(
        root / "population/mid2020_persons_single_year_of_age_lsoa11.csv", index=False)
    if population_by_sex:
        header, rows = sex_age_rows()
        pd.DataFrame(rows, columns=header).to_csv(root / "population/mid2022_sex_single_year_of_age_lsoa21.csv",
                                                  index=False)

    write_points(root, lsoas)
    return root


HOSPITALS = [  # name, postcode, ODS code: the NHS website's list, placed at the postcode
    ("Alpha General", "LU4 4HG", "RAA01"), ("Alpha General", "lu44hg", "RAA01"),
    ("Offshore Clinic", "LU5 5OC", "RAA02"), ("Nowhere Cottage Hospital", "LU9 9NW", "RAA03")]


def centre(col: int, row: int, dx: float = 0.0, dy: float = 0.0) -> tuple[float, float]:
    return X0 + (col + 0.5) * SIZE + dx, Y0 + (row + 0.5) * SIZE + dy


def write_points(root: Path, lsoas: gpd.GeoDataFrame) -> None:
    schools = [  # urn, name, la_name, phase, (col,row) or None, gias lsoa
        (1001, "Alpha Primary", "Alphaton", "Primary", (0, 0), "E01000001"),
        (1002, "Beta Academy", "Betaford", "Secondary", (1, 1), "E01000002"),  # GIAS says LSOA 2, map says 6
        (1003, "Gamma Nursery", "Alphaton", "Nursery", (2, 0), "E01000003"),
        (1004, "Lost School", "Alphaton", "Primary", None, "E01000004"),  # no coordinates
        (1005, "Ysgol Cymru", "Cymru", "Primary", (5, 0), "W01000001"),  # in Wales
        (1006, "St Mary\u2019s Same LAD Other LSOA", "Alphaton", "Primary", (3, 0), "E01000002"),
    ]
    rows = []
    for urn, name, la, phase, cell, gias_lsoa in schools:
        e, n = centre(*cell) if cell else (None, None)
        rows.append({"urn": urn, "la_code": 999, "la_name": la, "establishment_number": 1,
                     "establishment_name": name, "establishment_type": "Community school",
                     "establishment_type_group": "Local authority maintained schools", "education_phase": phase,
                     "number_of_pupils": 200.0, "percentage_fsm": 21.5, "easting": e, "northing": n,
                     "lsoa_code": gias_lsoa, "pcon_code": "E14000001", "longitude": None, "latitude": None})
    pd.DataFrame(rows).to_csv(root / "points/gias_open_establishments_20250524.csv", index=False)

    headers = [["PC", "PQ", "EA", "NO", "CY", "RH", "LH", "CC", "DC", "WC"],
               ["Postcode", "Positional_quality_indicator", "Eastings", "Northings", "Country_code",
                "NHS_regional_HA_code", "NHS_HA_code", "Admin_county_code", "Admin_district_code", "Admin_ward_code"]]
    with open(root / "postcodes/codepo_gb/Doc/Code-Point_Open_Column_Headers.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(headers)
    postcodes = [("LU1 1AA", 10, *centre(0, 0)), ("LU1 1AB", 10, *centre(3, 1)), ("LU2 9ZZ", 90, 0, 0),
                 ("LU3 3XY", 10, *centre(5, 0)),  # LU3 3XY lies in the Welsh square: outside England
                 ("LU4 4HG", 10, *centre(1, 0)), ("LU5 5OC", 10, *centre(9, 9))]  # the hospitals' postcodes
    with open(root / "postcodes/codepo_gb/Data/CSV/lu.csv", "w", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC)
        for pc, pq, e, n in postcodes:
            w.writerow([pc, pq, int(e), int(n), "E92000001", "E19000001", "E18000006", "", "E06000001", "E05000001"])

    practices = [  # OrgCode, Name, Postcode, StatusCode, PrescrSet
        ("A00001", "ALPHA SURGERY", "LU1 1AA", "A", 4),
        ("A00002", "BETA MEDICAL CENTRE", "lu11ab", "A", 4),  # postcode written loosely
        ("A00003", "CLOSED SURGERY", "LU1 1AA", "C", 4),
        ("A00004", "UNKNOWN POSTCODE PRACTICE", "LU9 9XX", "A", 4),
        ("A00005", "FAR AWAY PRACTICE", "BD20 7LG", "A", 4),
        ("A00006", "OUT OF HOURS SERVICE", "LU1 1AA", "A", 8),
        ("A00007", "NO COORDINATES PRACTICE", "LU2 9ZZ", "A", 4),
    ]
    cols = ["OrgCode", "Name", "NationalGrouping", "HighLevelHealthGeography", "Address1", "Address2", "Address3",
            "Address4", "Address5", "Postcode", "OpenDate", "CloseDate", "StatusCode", "OrgSubTypeCode",
            "Commissioner", "JoinProviderDate", "LeftProviderDate", "TelNo", "AmendedRecordIndicator", "ProvPurch",
            "PrescrSet"]
    rows = [[code, name, "Y61", "QAA", "", "", "", "", "", pc, 19740401, "", status, "B", "01A", 20200401, "",
             "01234", 0, "01A", setting] for code, name, pc, status, setting in practices]
    pd.DataFrame(rows, columns=cols).to_csv(root / "points/epraccur.csv", index=False)

    lon_lat = gpd.GeoSeries(gpd.points_from_xy([centre(1, 0)[0], centre(9, 9)[0]],
                                               [centre(1, 0)[1], centre(9, 9)[1]]), crs=27700).to_crs(4326)
    # located at their postcodes (HOSPITALS); the last one's postcode is not in Code-Point Open
    hospitals = pd.DataFrame({"name": [h[0] for h in HOSPITALS],
                              "longitude": [lon_lat.x[0], lon_lat.x[0], lon_lat.x[1], None],
                              "latitude": [lon_lat.y[0], lon_lat.y[0], lon_lat.y[1], None]})
    hospitals.to_csv(root / "points/hospitals_2022.csv", index=False)

    rows = [  # Area Code, Area Name, Area Type, Value, Count, Denominator
        ("E92000001", "England", "England", 760.1, 2333000, 3059000),
        ("A00001", "ALPHA SURGERY", "GPs", 700.0, 70, 100),
        ("A00002", "BETA MEDICAL CENTRE", "GPs", 812.5, 65, 80),
        ("A00004", "UNKNOWN POSTCODE PRACTICE", "GPs", 650.0, 13, 20),
        ("A00008", "NO VALUE PRACTICE", "GPs", None, None, None),
    ]
    pd.DataFrame({"Indicator ID": 93930, "Indicator Name": "A&E attendances (0 to 4 years)",
                  "Parent Code": "", "Parent Name": "", "Area Code": [r[0] for r in rows],
                  "Area Name": [r[1] for r in rows], "Area Type": [r[2] for r in rows], "Sex": "Persons",
                  "Age": "0-4 yrs", "Category Type": "", "Category": "", "Time period": "2021/22",
                  "Value": [r[3] for r in rows], "Lower CI 95.0 limit": [r[3] and r[3] - 50 for r in rows],
                  "Upper CI 95.0 limit": [r[3] and r[3] + 50 for r in rows], "Count": [r[4] for r in rows],
                  "Denominator": [r[5] for r in rows]}).to_csv(
        root / "activity/fingertips_93930_ae_attendances_0_4_gp_2021_22.csv", index=False)


def zip_codepoint(root: Path, dest: Path) -> Path:
    """Code-Point Open as OS ships it: a zip with Data/CSV/*.csv and Doc/."""
    folder = root / "postcodes/codepo_gb"
    with zipfile.ZipFile(dest, "w") as zf:
        for path in folder.rglob("*.csv"):
            zf.write(path, path.relative_to(folder).as_posix())
    return dest


# ---- the same data in the layouts the publishers ship (served by tests/http_fixture.py) --------------

SUBDOMAINS = [("Children and Young People", "children_and_young_people"), ("Adult Skills", "adult_skills"),
              ("Geographical Barriers", "geographical_barriers"), ("Wider Barriers", "wider_barriers"),
              ("Indoors", "indoors"), ("Outdoors", "outdoors")]
# File 8: the sheet each indicator is on, and its header as MHCLG writes it (janitor's snake_case of the
# header is the catalogued name)
FILE8_SHEETS = {
    "IoD25 Income Domain": ["Income Domain numerator", "Income Deprivation Affecting Children Index (IDACI) numerator",
                            "Income Deprivation Affecting Older People Index (IDAOPI) numerator"],
    "IoD25 Employment Domain": ["Employment Domain numerator"],
    "IoD25 Education Domain": ["Adult Skills and English Language Proficiency indicator",
                               "Entry to Higher Education indicator"],
    "IoD25 Health Domain": ["Acute morbidity indicator", "Comparative Illness and Disability Ratio indicator",
                            "Mental Health indicator", "Years of Potential Life Lost indicator"],
    "IoD25 Crime Domain": ["Violence with injury rate per 1,000 at-risk population",
                           "Violence without injury rate per 1,000 at-risk population",
                           "Stalking and harassment rate per 1,000 at-risk population",
                           "Burglary rate per 1,000 at-risk properties", "Theft rate per 1,000 at-risk population",
                           "Criminal damage rate per 1,000 at-risk population",
                           "Public order and possession of weapons rate per 1,000 at-risk population",
                           "Anti-social behaviour rate per 1,000 at-risk population"],
    "IoD25 Barriers Domain": ["Connectivity Score",
                              "Owner-occupation affordability (component of housing affordability indicator)",
                              "Private rental affordability (component of housing affordability indicator)",
                              "Housing affordability indicator",
                              "Digital connectivity (broadband download and upload speeds)",
                              "Core homelessness rate (% of households)", "Patient to GP ratio",
                              "Homelessness indicator (rate per 1,000 households)",
                              "Household overcrowding indicator (rooms)", "Household overcrowding indicator (bedrooms)"],
    "IoD25 Living Env Domain": ["Housing in poor condition indicator", "Noise pollution", "Air quality indicator"],
}
GIAS_COLUMNS = ["URN", "LA (code)", "LA (name)", "EstablishmentNumber", "EstablishmentName",
                "TypeOfEstablishment (code)", "TypeOfEstablishment (name)", "EstablishmentTypeGroup (code)",
                "EstablishmentTypeGroup (name)", "EstablishmentStatus (code)", "EstablishmentStatus (name)",
                "PhaseOfEducation (code)", "PhaseOfEducation (name)", "StatutoryLowAge", "StatutoryHighAge",
                "NumberOfPupils", "PercentageFSM", "Postcode", "Easting", "Northing", "LSOA (code)", "LSOA (name)",
                "ParliamentaryConstituency (code)"]
EPRACCUR_WIDTH = 27


def _workbook(sheets: dict[str, pd.DataFrame], title_rows: dict[str, list[str]] | None = None) -> bytes:
    """An .xlsx with these sheets; ``title_rows`` puts lines of text above a sheet's header."""
    import io

    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as xl:
        for name, frame in sheets.items():
            titles = (title_rows or {}).get(name, [])
            frame.to_excel(xl, sheet_name=name, index=False, startrow=len(titles))
            for i, text in enumerate(titles):
                xl.sheets[name].cell(row=i + 1, column=1, value=text)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def official_files(mirror: Path) -> dict[str, bytes]:
    """The files each publisher ships, keyed by source id, holding the fixture mirror's data.

    Written from the same constants as :func:`write_mirror` (the mirror is read only for the
    layers the ArcGIS servers and the unchanged CSVs serve as they are).
    """
    from geo.sources.catalogue import load_catalogue

    mirror = Path(mirror)
    catalogue = load_catalogue()
    names = dict(zip(lsoa_polygons().LSOA21CD, lsoa_polygons().LSOA21NM))
    files: dict[str, bytes] = {}

    # File 7 (2025): every column, the sub-domains and population denominators included
    file7 = pd.read_csv(mirror / catalogue["iod2025_file7"].path)
    cols = list(file7.columns)
    at = cols.index("Living Environment Decile (where 1 is most deprived 10% of LSOAs)") + 1
    rank = national_rank(SCORES)
    extra = {}
    for label, abbr in (("Income Deprivation Affecting Children Index (IDACI)", 0.3),
                        ("Income Deprivation Affecting Older People (IDAOPI)", 0.2)):
        extra[f"{label} Score (rate)"] = [round(SCORES[c] * abbr / 100, 3) for c in LSOAS]
        extra[f"{label} Rank (where 1 is most deprived)"] = [rank[c] for c in LSOAS]
        extra[f"{label} Decile (where 1 is most deprived 10% of LSOAs)"] = [decile(rank[c], 8) for c in LSOAS]
    for k, (label, _key) in enumerate(SUBDOMAINS):
        extra[f"{label} Sub-domain Score"] = [SCORES[c] * 0.1 * (k + 1) for c in LSOAS]
        extra[f"{label} Sub-domain Rank (where 1 is most deprived)"] = [rank[c] for c in LSOAS]
        extra[f"{label} Sub-domain Decile (where 1 is most deprived 10% of LSOAs)"] = [decile(rank[c], 8)
                                                                                       for c in LSOAS]
    extra["Total population: mid 2022"] = [RESIDENTS[c] + 10 for c in LSOAS]
    extra["Dependent Children aged 0-15: mid 2022"] = [RESIDENTS[c] // 5 for c in LSOAS]
    extra["Older population aged 60 and over: mid 2022"] = [RESIDENTS[c] // 4 for c in LSOAS]
    extra["Working age population 18-66 (for use with Employment Deprivation Domain): mid 2022"] = [
        RESIDENTS[c] // 2 for c in LSOAS]
    full = pd.concat([file7[cols[:at]], pd.DataFrame(extra), file7[cols[at:]]], axis=1)
    files["iod2025_file7"] = files["iod2025_subdomains"] = full.to_csv(index=False).encode()

    # File 8: a Notes sheet, then one sheet per domain keyed by the LSOA code
    underlying = pd.read_csv(mirror / catalogue["iod2025_underlying_indicators"].path)
    head = {"LSOA code (2021)": LSOAS, "LSOA name (2021)": [names[c] for c in LSOAS],
            "Local Authority District code (2024)": [LAD_OF[c] for c in LSOAS],
            "Local Authority District name (2024)": [LAD_NAME[LAD_OF[c]] for c in LSOAS]}
    from geo.sources.official_layouts import snake_case

    sheets = {"Notes": pd.DataFrame({"Notes": ["English Indices of Deprivation 2025: underlying indicators"]})}
    for sheet, headers in FILE8_SHEETS.items():
        frame = pd.DataFrame(head)
        for header in headers:
            key = snake_case(header)
            frame[header] = underlying[key].to_numpy() if key in underlying else [0.5] * len(LSOAS)
        sheets[sheet] = frame
    files["iod2025_underlying_indicators"] = _workbook(sheets)

    # IoD2019 Files 1 and 2 (workbooks) and File 7 (CSV; carries File 6's population)
    head19 = {"LSOA code (2011)": LSOA11, "LSOA name (2011)": ["n"] * len(LSOA11),
              "Local Authority District code (2019)": ["E06000001"] * len(LSOA11),
              "Local Authority District name (2019)": ["Alphaton"] * len(LSOA11)}
    files["imd2019_file1"] = _workbook({"Notes": pd.DataFrame({"a": ["notes"]}), "IMD2019": pd.DataFrame({
        **head19, "Index of Multiple Deprivation (IMD) Rank": [IMD2019_RANK[c] for c in LSOA11],
        "Index of Multiple Deprivation (IMD) Decile": [decile(IMD2019_RANK[c], 8) for c in LSOA11]})})
    files["iod2019_file2"] = _workbook({"Notes": pd.DataFrame({"a": ["notes"]}), "IoD2019 Domains": pd.DataFrame({
        **head19, "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)":
            [IMD2019_RANK[c] for c in LSOA11],
        "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)":
            [decile(IMD2019_RANK[c], 8) for c in LSOA11]})})
    files["iod2019_file6"] = pd.DataFrame({
        **head19, "Index of Multiple Deprivation (IMD) Score": [10.0] * len(LSOA11),
        "Total population: mid 2015 (excluding prisoners)": [POP2015[c] for c in LSOA11],
        "Dependent Children aged 0-15: mid 2015 (excluding prisoners)": [POP2015[c] // 5 for c in LSOA11],
    }).to_csv(index=False).encode("utf-8-sig")

    # Census 2021 TS021 from nomis: a zip of one CSV per geography level, one column per category
    areas = LSOAS + ["W01000001"]
    wide = {"date": 2021, "geography": [names.get(c, "Cymru 001A") for c in areas], "geography code": areas}
    totals = [RESIDENTS.get(c, 1200) for c in areas]
    wide["Ethnic group: Total: All usual residents"] = totals
    counts = [ethnic_counts(t) for t in totals]
    for i, group in enumerate(ETHNIC_GROUPS):
        wide[f"Ethnic group: {group}"] = [n[i] for n in counts]
        wide[f"Ethnic group: {group}: a finer group"] = [n[i] for n in counts]
    lsoa_csv = pd.DataFrame(wide).to_csv(index=False).encode()
    country = pd.DataFrame({"date": [2021], "geography": ["England"], "geography code": ["E92000001"],
                            "Ethnic group: Total: All usual residents": [sum(totals)]}).to_csv(index=False).encode()
    files["census21_ethnic_group"] = _zip({"census2021-ts021-ctry.csv": country,
                                           "census2021-ts021-lsoa.csv": lsoa_csv})

    # Census 2021 resident_age_6a from ONS's census API (JSON observations)
    observations = []
    for c in areas:
        for k, (group, n) in enumerate(zip(AGE_GROUPS, age_counts(RESIDENTS.get(c, 1200)))):
            observations.append({"dimensions": [
                {"dimension": "Lower layer Super Output Areas", "dimension_id": "lsoa",
                 "option": names.get(c, "Cymru 001A"), "option_id": c},
                {"dimension": "Age (6 categories)", "dimension_id": "resident_age_6a", "option": group,
                 "option_id": str(k + 1)}], "observation": n})
    import json

    files["census21_age_groups"] = json.dumps({"observations": observations, "links": {},
                                               "total_observations": len(observations)}).encode()

    # ONS SAPE mid-2020: a workbook whose persons sheet has four rows of titles above its header
    ages = list(range(90)) + ["90+"]
    rows = []
    for c in LSOA11 + ["W01000001"]:
        total = POP2020.get(c, 1000)
        per_age = [total // 91] * 91
        per_age[0] += total - sum(per_age)
        rows.append([c, f"{c} name", "E06000001", "Alphaton", "E06000001", "Alphaton", total, *per_age])
    persons = pd.DataFrame(rows, columns=["LSOA Code", "LSOA Name", "LA Code (2018 boundaries)",
                                          "LA name (2018 boundaries)", "LA Code (2021 boundaries)",
                                          "LA name (2021 boundaries)", "All Ages", *ages])
    titles = ["Mid-2020 Population Estimates for Lower Layer Super Output Areas in England and Wales by "
              "Single Year of Age and Sex", "National Statistics", "", "All Persons"]
    files["sape_mid2020_lsoa11"] = _workbook(
        {"Contents": pd.DataFrame({"a": ["contents"]}), "Mid-2020 Persons": persons,
         "Mid-2020 Males": persons}, {"Mid-2020 Persons": titles, "Mid-2020 Males": titles})

    # ONS SAPE mid-2019 to mid-2022 on LSOA 2021: a workbook with one sheet per year, three rows of
    # titles above the header (LAD and LSOA 2021 codes and names, Total, F0 .. F90, M0 .. M90)
    _header, rows = sex_age_rows()
    lads = {**LAD_OF, "W01000001": "W06000001"}
    sheet = pd.DataFrame([[lads[r[0]], LAD_NAME.get(lads[r[0]], "Cymru"), r[0], r[1], int(r[2]),
                           *map(int, r[3:])] for r in rows],
                         columns=["LAD 2021 Code", "LAD 2021 Name", "LSOA 2021 Code", "LSOA 2021 Name", "Total",
                                  *[f"{s}{a}" for s in "FM" for a in range(91)]])
    titles = ["Mid-2022 Lower layer Super Output Area population estimates by single year of age and sex",
              "This worksheet contains one table.", "Source: Office for National Statistics"]
    earlier = sheet.assign(Total=0, **{c: 0 for c in sheet.columns[5:]})  # another year: never read
    files["sape_mid2022_lsoa21_sex_age"] = _workbook(
        {"Cover": pd.DataFrame({"a": ["cover"]}), "Contents": pd.DataFrame({"a": ["contents"]}),
         "Notes": pd.DataFrame({"a": ["notes"]}), "Mid-2021 LSOA 2021": earlier, "Mid-2022 LSOA 2021": sheet},
        {"Mid-2021 LSOA 2021": titles, "Mid-2022 LSOA 2021": titles})

    # GIAS: every establishment (a closed one too), cp1252
    gias = pd.read_csv(mirror / catalogue["gias_establishments"].path, dtype={"lsoa_code": str})
    out = pd.DataFrame({
        "URN": gias["urn"], "LA (code)": gias["la_code"], "LA (name)": gias["la_name"],
        "EstablishmentNumber": gias["establishment_number"], "EstablishmentName": gias["establishment_name"],
        "TypeOfEstablishment (code)": 1, "TypeOfEstablishment (name)": gias["establishment_type"],
        "EstablishmentTypeGroup (code)": 4, "EstablishmentTypeGroup (name)": gias["establishment_type_group"],
        "EstablishmentStatus (code)": 1, "EstablishmentStatus (name)": "Open",
        "PhaseOfEducation (code)": 2, "PhaseOfEducation (name)": gias["education_phase"],
        "StatutoryLowAge": 4, "StatutoryHighAge": 11,
        "NumberOfPupils": gias["number_of_pupils"].astype("Int64"), "PercentageFSM": gias["percentage_fsm"],
        "Postcode": "LU1 1AA", "Easting": gias["easting"].astype("Int64"), "Northing": gias["northing"].astype("Int64"),
        "LSOA (code)": gias["lsoa_code"], "LSOA (name)": "x", "ParliamentaryConstituency (code)": gias["pcon_code"]})
    out.loc[len(out) - 1, "EstablishmentStatus (name)"] = "Open, but proposed to close"
    closed = out.iloc[[0]].assign(URN=9999, EstablishmentName="Closed Old School", **{
        "EstablishmentStatus (code)": 2, "EstablishmentStatus (name)": "Closed"})
    out = pd.concat([out, closed], ignore_index=True)[GIAS_COLUMNS]
    files["gias_establishments"] = out.to_csv(index=False).encode("cp1252")

    # ODS epraccur: a zip holding a CSV with no header row and 27 columns (six always empty)
    practices = pd.read_csv(mirror / catalogue["ods_gp_practices"].path, dtype=str, keep_default_na=False)
    null_at = {18, 19, 20, 22, 24, 26}
    lines = []
    for row in practices.itertuples(index=False):
        values, it = [], iter(row)
        for i in range(EPRACCUR_WIDTH):
            values.append("" if i in null_at else next(it))
        lines.append(values)
    import io

    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(lines)
    files["ods_gp_practices"] = _zip({"epraccur.csv": text.getvalue().encode("latin-1"),
                                      "epraccur.pdf": b"%PDF- the column list"})

    # the NHS website's hospital list: separated by the not sign, Latin-1
    header = ["OrganisationID", "OrganisationCode", "OrganisationType", "SubType", "Sector", "OrganisationStatus",
              "IsPimsManaged", "OrganisationName", "Address1", "Address2", "Address3", "City", "County",
              "Postcode", "Latitude", "Longitude", "ParentODSCode", "ParentName", "Phone", "Email", "Website", "Fax"]
    rows = ["\u00ac".join(header)]
    for i, (name, postcode, code) in enumerate(HOSPITALS):
        values = [str(1000 + i), code, "Hospital", "UNKNOWN", "NHS Sector", "Visible", "True", name,
                  "1 Hospital Road", "", "", "Luton", "Bedfordshire", postcode, "51.9", "-0.4", "RAA",
                  "Alpha NHS Trust", "01582 000000", "", "https://example.nhs.uk/\u00e9", ""]
        rows.append("\u00ac".join(values))
    files["hospitals"] = ("\r\n".join(rows) + "\r\n").encode("latin-1")

    files["codepoint_open"] = _zip({f"codepo_gb/{p.relative_to(mirror / 'postcodes/codepo_gb').as_posix()}":
                                    p.read_bytes() for p in (mirror / "postcodes/codepo_gb").rglob("*.csv")})
    for sid in ("ruc21_lsoa21", "fingertips_ae_0_4_gp"):  # published as the mirror holds them
        files[sid] = (mirror / catalogue[sid].path).read_bytes()
    return files
