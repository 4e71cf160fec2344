"""Single-indicator classes (mapclassify) and bivariate classes."""
import numpy as np
import pandas as pd
import pytest

from geo.stats.bivariate_classes import STEVENS_3X3, bivariate_classes, palette
from geo.stats.classify import classify


def test_quantiles_keep_missing_as_no_data():
    values = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan])
    c = classify(values, "quantiles", k=5)
    assert c.classes[-1] == -1 and c.no_data == 1
    assert c.counts == [2, 2, 2, 2, 2]
    assert c.label_of()[-1] == "No data" and c.label_of()[0] == c.labels[0]
    assert c.breaks[-1] == 10


@pytest.mark.parametrize("scheme", ["fisher_jenks", "equal_interval", "std_mean"])
def test_other_schemes(scheme):
    values = np.r_[np.linspace(0, 1, 30), np.linspace(10, 11, 30)]
    c = classify(values, scheme, k=2 if scheme != "std_mean" else 5)
    assert sum(c.counts) == 60 and len(c.labels) == len(c.breaks)
    if scheme == "fisher_jenks":
        assert c.counts == [30, 30]


def test_user_breaks_and_imd_deciles():
    c = classify([1, 5, 12, 30], "user", breaks=[10, 20, 40])
    assert c.classes.tolist() == [0, 0, 1, 2]
    d = classify([1, 10, 3, np.nan], "imd_deciles")
    assert d.classes.tolist() == [0, 9, 2, -1]
    assert d.labels[0] == "Decile 1 (most deprived)" and d.labels[9] == "Decile 10 (least deprived)"
    with pytest.raises(ValueError, match="whole numbers 1 to 5"):
        classify([6], "imd_quintiles")
    with pytest.raises(ValueError, match="unknown classification"):
        classify([1], "rainbow")


def test_bivariate_classes_orientation_and_colours():
    deprivation_decile = np.array([1, 1, 2, 5, 6, 9, 10, 10, 3])  # 1 = most deprived
    activity = np.array([90, 80, 85, 50, 40, 10, 5, 20, np.nan])
    b = bivariate_classes(deprivation_decile, activity, deprivation_kind="decile")
    assert b.classes.iloc[0] == "3-3"  # most deprived, most activity: dark blue
    assert b.classes.iloc[6] == "1-1"
    assert pd.isna(b.classes.iloc[8])
    assert b.colour_of().iloc[0] == "#3b4994" == STEVENS_3X3["pink-blue"]["3-3"]
    assert b.deprivation_breaks[0] > b.deprivation_breaks[-1]  # back in decile units, most deprived first


def test_palettes():
    for scheme in STEVENS_3X3:
        assert len(palette(scheme, 3)) == 9
    four = palette("pink-blue", 4)
    assert len(four) == 16 and four["1-1"] == "#e8e8e8" and four["4-1"] == "#be64ac" and four["1-4"] == "#5ac8c8"
    with pytest.raises(ValueError):
        palette("pink-blue", 5)


def test_bivariate_classes_on_a_discrete_measure_are_whole_values_as_even_as_possible():
    """Issue 9, defect 8. 100 LSOAs by national quintile: 5 in quintile 1, 30 in 2, 25 in 3, 20 in 4,
    20 in 5. Runs of whole quintiles into 3 classes, worked by hand (sizes; sum of squared
    differences from 33.3), from least deprived: {5}{4}{3-1} 20/20/60 1,066.7; {5}{4-3}{2-1} 20/45/35
    316.7; {5}{4-2}{1} 1,816.7; {5-4}{3}{2-1} 40/25/35 116.7; {5-4}{3-2}{1} 40/55/5 1,316.7;
    {5-3}{2}{1} 65/30/5 1,816.7. The best: quintiles 4-5 | 3 | 1-2."""
    quintile = np.repeat([1, 2, 3, 4, 5], [5, 30, 25, 20, 20]).astype(float)
    activity = np.linspace(0, 1, 100)
    b = bivariate_classes(quintile, activity, n=3, deprivation_kind="quintile")
    d = b.classes.str[0].astype(int)
    assert d.value_counts().sort_index().tolist() == [40, 25, 35]
    assert (d[quintile <= 2] == 3).all() and (d[quintile == 3] == 2).all() and (d[quintile >= 4] == 1).all()
    assert b.deprivation_labels == ["quintiles 4-5", "quintile 3", "quintiles 1-2"]
    assert b.deprivation_values == [[4.0, 5.0], [3.0], [1.0, 2.0]]
    # quantile breaks on the same ties put 60 LSOAs in one class
    from mapclassify import Quantiles
    assert max(np.bincount(Quantiles(-quintile, k=3).yb)) >= 55
    # the continuous activity keeps quantile classes, with their ranges in the legend
    assert b.activity_values is None and b.activity_labels[0].endswith(f"to {b.activity_breaks[0]:.2f}")


def test_bivariate_deciles_into_four_classes_by_hand():
    # 10 deciles of 10 LSOAs each, 4 classes: 25 each is impossible; every grouping into two runs
    # of 2 deciles and two of 3 costs 4 x 5^2 = 100, anything else more (e.g. 10/30/30/30: 300).
    # Ties go to the first grouping from the least deprived end: 2, 2, 3, 3 deciles
    decile = np.repeat(np.arange(1, 11), 10).astype(float)
    b = bivariate_classes(decile, np.arange(100.0), n=4, deprivation_kind="decile")
    assert b.classes.str[0].astype(int).value_counts().sort_index().tolist() == [20, 20, 30, 30]
    assert b.deprivation_labels == ["deciles 9-10", "deciles 7-8", "deciles 4-6", "deciles 1-3"]
