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
