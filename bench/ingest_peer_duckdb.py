"""The DuckDB peer of Gapmap's ingest (run by bench/bench_ingest.py): the same file, the same checks.

    python bench/ingest_peer_duckdb.py FILE STORE OUT_FOLDER

Reads a SYNTHETIC A&E records CSV (`gapmap demo-data` columns) with DuckDB on every core and makes
the checks Gapmap makes on it, in Gapmap's order (the first reason found for a row stands):

1. the LSOA code (trimmed, upper case, spaces removed) against the store's LSOA 2021 list and
   ONS's 2011 -> 2021 lookup: a 2021 code in the store, a 2011 code converted (splits shared by
   the lookup's weights, merges summed, as a join), else rejected as outside the store's area,
   empty, Welsh, an unknown E01 code, another GSS code or not a code;
2. the age: a number from 0 to 120, else rejected;
3. the date: ISO or UK day-first forms, from 2000-01-01 to today, else rejected;
4. the record id: a repeat of an id on an earlier row is rejected;
5. sex and ethnic category mapped by Gapmap's own code tables (unrecognised: 'unknown');

then counts the used rows per LSOA 2021 x ESP age band x sex x ethnic group x financial year
(written as Parquet), writes every rejected row with its file row, column, value and reason (CSV)
and counts rejects by column. As a DuckDB user would write it: the file read once into a table
(its row id gives the file row), each column's distinct values checked once and joined back, the
repeated ids found by a hash aggregate. Prints one JSON line: rows used, rows rejected by column,
and the sum of the counts stored.
"""
from __future__ import annotations

import datetime as dt
import json
import sys

import duckdb

from geo.ingest import codes as C
from geo.store.folder import Store

LSOA, AGE, DATE, ID, SEX, ETHNIC = ("Der_Postcode_LSOA_2021_Code", "Age_At_Arrival", "Arrival_Date", "EC_Ident",
                                    "Sex", "Ethnic_Category")


def main(path: str, store_dir: str, out: str) -> dict:
    store = Store(store_dir)
    lsoas, lookup = store._file("lsoas"), store._file("lsoa11_to_lsoa21")
    sexes = ", ".join(f"('{k}', '{v}')" for k, v in C._SEX.items())
    ethnic = ", ".join(f"('{k}', '{v}')" for k, v in C.NHS_ETHNIC_CATEGORY.items())
    today = dt.date.today().isoformat()
    con = duckdb.connect()
    con.execute("SET threads = 2")
    columns = ", ".join(f"COALESCE({c}, '') AS {c}" for c in (ID, DATE, AGE, SEX, ETHNIC, LSOA))
    con.execute(f"CREATE TEMP TABLE raw AS SELECT {columns} FROM read_csv('{path}', header = true, all_varchar = true)")
    con.execute(f"""
CREATE TEMP TABLE in_scope AS SELECT lsoa21cd AS code FROM read_parquet('{lsoas}');
CREATE TEMP TABLE lk AS SELECT * FROM read_parquet('{lookup}');
CREATE TEMP TABLE sexmap(k VARCHAR, v VARCHAR); INSERT INTO sexmap VALUES {sexes};
CREATE TEMP TABLE ethmap(k VARCHAR, v VARCHAR); INSERT INTO ethmap VALUES {ethnic};
CREATE TEMP TABLE codes AS
WITH v AS (SELECT DISTINCT {LSOA} AS value FROM raw),
c AS (SELECT value, upper(replace(trim(value), ' ', '')) AS code FROM v),
k AS (SELECT value, code, code IN (SELECT code FROM in_scope) AS here,
             code IN (SELECT lsoa11cd FROM lk) AND code NOT IN (SELECT lsoa21cd FROM lk) AS eleven,
             code IN (SELECT lsoa21cd FROM lk) AS known21 FROM c)
SELECT value, code, CASE WHEN here THEN 'lsoa21' WHEN eleven THEN 'lsoa11' END AS kind,
  CASE WHEN here OR eleven THEN NULL
       WHEN known21 THEN 'LSOA outside the area this store was built for'
       WHEN code = '' THEN 'LSOA code is empty'
       WHEN regexp_full_match(code, 'W01[0-9]{{6}}') THEN 'Welsh LSOA: Gapmap covers England only'
       WHEN regexp_full_match(code, 'E01[0-9]{{6}}')
            THEN 'unknown or retired LSOA code (neither a 2021 LSOA nor a 2011 LSOA in ONS''s lookup)'
       WHEN regexp_full_match(code, '[EWSNLM][0-9]{{8}}') THEN 'not an LSOA code (a ' || code[1:3] || ' code)'
       ELSE 'not an LSOA code' END AS reason
FROM k;
CREATE TEMP TABLE ages AS
WITH v AS (SELECT DISTINCT {AGE} AS value FROM raw),
p AS (SELECT value, TRY_CAST(trim(value) AS DOUBLE) AS age FROM v)
SELECT value, age,
  CASE WHEN age IS NULL AND trim(value) = '' THEN 'age is empty'
       WHEN age IS NULL THEN 'age ''' || trim(value) || ''' is not a number'
       WHEN NOT isfinite(age) OR age < 0 OR age > 120 THEN 'age ' || trim(value) || ' is out of range (0-120)'
  END AS reason
FROM p;
CREATE TEMP TABLE days AS
WITH v AS (SELECT DISTINCT {DATE} AS value FROM raw),
p AS (SELECT value, COALESCE(TRY_STRPTIME(trim(value), '%Y-%m-%d'), TRY_STRPTIME(trim(value), '%d/%m/%Y'),
                   TRY_STRPTIME(trim(value), '%d-%m-%Y'), TRY_STRPTIME(trim(value), '%d.%m.%Y'),
                   TRY_STRPTIME(trim(value), '%Y%m%d'), TRY_STRPTIME(trim(value), '%d %b %Y'))::DATE AS day FROM v)
SELECT value, day, CASE WHEN month(day) >= 4 THEN year(day) ELSE year(day) - 1 END AS fy,
  CASE WHEN day IS NULL AND trim(value) = '' THEN 'date is empty'
       WHEN day IS NULL THEN 'date ''' || trim(value) || ''' is not a date'
       WHEN day < DATE '2000-01-01' OR day > DATE '{today}'
            THEN 'date ' || day || ' is outside 2000-01-01 to {today}' END AS reason
FROM p;
CREATE TEMP TABLE repeats AS SELECT {ID} AS id, min(rowid) AS first FROM raw GROUP BY {ID} HAVING count(*) > 1;
CREATE TEMP TABLE checked AS
SELECT raw.rowid + 2 AS file_row, c.code, c.kind, a.age, d.fy,
  COALESCE(sm.v, 'unknown') AS sex, COALESCE(em.v, 'unknown') AS ethnic_group,
  CASE WHEN c.reason IS NOT NULL THEN '{LSOA}' WHEN a.reason IS NOT NULL THEN '{AGE}'
       WHEN d.reason IS NOT NULL THEN '{DATE}' WHEN r.first < raw.rowid THEN '{ID}' END AS "column",
  CASE WHEN c.reason IS NOT NULL THEN raw.{LSOA} WHEN a.reason IS NOT NULL THEN raw.{AGE}
       WHEN d.reason IS NOT NULL THEN raw.{DATE} WHEN r.first < raw.rowid THEN raw.{ID} END AS value,
  COALESCE(c.reason, a.reason, d.reason, CASE WHEN r.first < raw.rowid THEN 'duplicate record id' END) AS reason
FROM raw JOIN codes c ON raw.{LSOA} = c.value JOIN ages a ON raw.{AGE} = a.value
  JOIN days d ON raw.{DATE} = d.value LEFT JOIN repeats r ON raw.{ID} = r.id
  LEFT JOIN sexmap sm ON lower(trim(raw.{SEX})) = sm.k LEFT JOIN ethmap em ON upper(trim(raw.{ETHNIC})) = em.k;
COPY (
  WITH used AS (
    SELECT code, kind, sex, ethnic_group, fy,
           CASE WHEN age >= 90 THEN '90+' ELSE (floor(age / 5) * 5)::INT || '-' || ((floor(age / 5) * 5)::INT + 4)
           END AS age_band
    FROM checked WHERE reason IS NULL
  ), placed AS (
    SELECT code AS lsoa21cd, age_band, sex, ethnic_group, fy, 1.0 AS w FROM used WHERE kind = 'lsoa21'
    UNION ALL
    SELECT lk.lsoa21cd, age_band, sex, ethnic_group, fy, lk.weight FROM used JOIN lk ON used.code = lk.lsoa11cd
    WHERE kind = 'lsoa11'
  )
  SELECT lsoa21cd, age_band, sex, ethnic_group,
         fy::VARCHAR || '/' || lpad(((fy + 1) % 100)::VARCHAR, 2, '0') AS period, sum(w) AS count
  FROM placed GROUP BY ALL ORDER BY ALL
) TO '{out}/counts.parquet' (FORMAT parquet);
COPY (SELECT file_row AS row, "column", value, reason FROM checked WHERE reason IS NOT NULL ORDER BY file_row)
TO '{out}/rows_not_used.csv' (HEADER);
""")
    rejected = dict(con.execute('SELECT "column", count(*) FROM checked WHERE reason IS NOT NULL GROUP BY ALL')
                    .fetchall())
    used = con.execute("SELECT count(*) FROM checked WHERE reason IS NULL").fetchone()[0]
    stored = con.execute(f"SELECT sum(count) FROM read_parquet('{out}/counts.parquet')").fetchone()[0]
    return {"rows_used": int(used), "rejected_by_column": {k: int(v) for k, v in rejected.items()},
            "counts_stored": float(stored)}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
