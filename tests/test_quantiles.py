"""Quantiles against PHE's own test table (PHEindicatormethods, testdata_Quantiles.xlsx)."""
from pathlib import Path

import pandas as pd
import pytest

from geo.build.quantiles import quantiles

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "phe" / "testdata_Quantiles.xlsx"
N_QUANTILES = {"Decile": 10, "Septile": 7}


@pytest.fixture(scope="module")
def phe_table():
    if not REFERENCE.exists():
        pytest.skip(f"the PHE reference tables are not here ({REFERENCE})")
    return pd.read_excel(REFERENCE, sheet_name="testdata_Quantiles")


@pytest.mark.parametrize("groupset", ["IndSexReg", "IndSex"])
def test_against_phe_table(phe_table, groupset):
    """Sheet testdata_Quantiles, rows with Test = Gooddata or GooddataDups and GroupSet IndSexReg
    (deciles within regions, including a 9-area region that gets none) or IndSex (septiles
    within indicator). The Quartile rows rank all indicators of mixed polarity as one group and
    the BadPolarity rows test R argument checking; neither applies here."""
    rows = phe_table[(phe_table["GroupSet"] == groupset) & phe_table["Test"].isin(["Gooddata", "GooddataDups"])]
    assert len(rows) > 100
    checked = 0
    for (indicator, quantile_name), group in rows.groupby(["IndicatorID", "QuantileNm"]):
        polarity = group["Polarity"].iloc[0]
        higher_is_worse = polarity in ("RAG - Low is good", True)
        got = quantiles(group["Value"], N_QUANTILES[quantile_name], higher_is_worse,
                        groups=group["ParentCode"] if groupset == "IndSexReg" else None)
        expected = group["QuantileInGrp"].astype("Int64")
        pd.testing.assert_series_equal(got, expected, check_names=False)
        checked += len(group)
    assert checked == len(rows)


def test_small_examples():
    values = pd.Series([10.0, 40.0, None, 30.0, 20.0, 50.0])
    # 5 values, 5 quintiles: the highest (worst) is 1; the missing value gets none
    assert quantiles(values, 5).tolist() == [5, 2, pd.NA, 3, 4, 1]
    assert quantiles(values, 5, higher_is_worse=False).tolist() == [1, 4, pd.NA, 3, 2, 5]
    # fewer values than quantiles in a group: no quantile, as in PHE's method
    assert quantiles(values, 10).isna().all()
    # ties share the lower (worse) rank
    assert quantiles(pd.Series([5.0, 5.0, 1.0, 0.0]), 2).tolist() == [1, 1, 2, 2]
    with pytest.raises(ValueError):
        quantiles(values, 1)
