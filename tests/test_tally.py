"""geo.ingest.tally: sum_by against pandas' groupby-sum (the reference) on random tables, and Tally (table by
table) against sum_by of all the tables."""
import numpy as np
import pandas as pd

from geo.ingest.tally import Tally, sum_by


def test_sum_by_equals_groupby_sum():
    rng = np.random.default_rng(3)
    for _ in range(100):
        n = int(rng.integers(1, 400))
        frame = pd.DataFrame({"lsoa21cd": pd.Series(rng.choice(["E01000002", "E01000001", "e01", ""], n)).astype("str"),
                              "sex": pd.Series(rng.choice(["male", "female"], n), dtype=object),
                              "age_lo": rng.integers(0, 19, n) * 5,
                              "count": rng.integers(0, 9, n).astype(float), "denominator": rng.random(n)})
        keys, values = ["lsoa21cd", "sex", "age_lo"], ["count", "denominator"]
        expected = frame.groupby(keys, sort=True, dropna=False)[values].sum().reset_index()
        got = sum_by(frame, keys, values)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, check_dtype=False)
        assert [got[k].dtype for k in keys] == [frame[k].dtype for k in keys]
    empty = sum_by(frame.iloc[:0], keys, values)
    assert empty.empty and list(empty.columns) == keys + values


def test_tally_added_table_by_table_equals_sum_by_of_all():
    """Chunks added one at a time, new values arriving late (so the packed key is repacked), give
    sum_by over the whole table; a column with more values than 64 bits can pack falls back."""
    rng = np.random.default_rng(5)
    for _ in range(60):
        n = int(rng.integers(1, 500))
        frame = pd.DataFrame({"lsoa21cd": pd.Series([f"E01{v:06d}" for v in rng.integers(0, 50, n)]).astype("str"),
                              "period": pd.Series(rng.choice(["2024/25", "2023/24", ""], n)).astype("str"),
                              "age_lo": rng.integers(0, 19, n) * 5,
                              "count": rng.integers(0, 9, n).astype(float)})
        frame = frame.sort_values("lsoa21cd", kind="stable").reset_index(drop=True)  # later codes come later
        tally = Tally(["lsoa21cd", "period", "age_lo"], ["count"])
        for part in np.array_split(np.arange(n), int(rng.integers(1, 6))):
            tally.add(frame.iloc[part])
        expected = sum_by(frame, ["lsoa21cd", "period", "age_lo"], ["count"])
        pd.testing.assert_frame_equal(tally.frame(), expected, check_exact=False, rtol=1e-12)
    n = 70_000  # four columns of 70,000 values need 4 x 17 bits: more than one integer holds
    wide = pd.DataFrame({"a": np.arange(n), "b": np.arange(n) * 7, "c": -np.arange(n), "d": np.arange(n) % 9 * n
                         + np.arange(n), "count": 1.0})
    tally = Tally(["a", "b", "c", "d"], ["count"])
    tally.add(wide.iloc[:10])
    tally.add(wide)
    tally.add(wide.iloc[:3])
    assert tally._frames is not None
    expected = sum_by(pd.concat([wide.iloc[:10], wide, wide.iloc[:3]]), ["a", "b", "c", "d"], ["count"])
    pd.testing.assert_frame_equal(tally.frame(), expected)


def test_coded_tables_added_equal_their_frames_summed():
    """Tables held as numbers (tally.Coded: a key column as its distinct values, repeated ones
    included, and each row's index into them), added one at a time, give sum_by over their rows
    as text; the distinct values are put in sort_values' order (text, then numbers)."""
    from geo.ingest.tally import Coded

    rng = np.random.default_rng(11)
    for _ in range(60):
        tally, frames = Tally(["lsoa21cd", "sex", "age_lo"], ["count", "denominator"]), []
        for _ in range(int(rng.integers(1, 5))):
            n = int(rng.integers(0, 300))
            codes = np.array([f"E01{v:06d}" for v in rng.integers(0, 40, 30)], dtype=object)  # repeats too
            sexes = np.array(rng.choice(["male", "female", "unknown"], 3), dtype=object)
            ages = rng.integers(0, 19, 5) * 5
            table = Coded({"lsoa21cd": (codes, rng.integers(0, 30, n)), "sex": (sexes, rng.integers(0, 3, n)),
                           "age_lo": (ages, rng.integers(0, 5, n))},
                          {"count": rng.integers(0, 9, n).astype(float), "denominator": rng.random(n)},
                          {"lsoa21cd": "str", "sex": "str", "age_lo": np.dtype(np.int64)},
                          ["lsoa21cd", "sex", "count", "denominator", "age_lo"])
            frame = table.frame()
            assert list(frame["lsoa21cd"]) == [codes[i] for i in table.keys["lsoa21cd"][1]]
            assert table.distinct("lsoa21cd") == frame["lsoa21cd"].nunique()
            tally.add_coded(table)
            frames.append(frame)
        expected = sum_by(pd.concat(frames, ignore_index=True), ["lsoa21cd", "sex", "age_lo"],
                          ["count", "denominator"])
        if tally.dtypes is None:  # every table empty
            continue
        got = tally.frame()
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
        text = pd.Series(["E01000001"]).astype("str").dtype
        assert [got[k].dtype for k in ["lsoa21cd", "sex", "age_lo"]] == [text, text, np.dtype(np.int64)]
