"""LSOA 2011 -> 2021 conversions on small hand-made lookups."""
import pandas as pd
import pytest

from geo.build import lsoa_changes

LOOKUP = pd.DataFrame([
    ("A", "U", "a"),
    ("B", "S", "b1"), ("B", "S", "b2"),
    ("C", "M", "cd"), ("D", "M", "cd"),
    ("E", "X", "e1"), ("E", "X", "e2"), ("F", "X", "e2"),
], columns=["lsoa11cd", "chgind", "lsoa21cd"])
RESIDENTS21 = pd.Series({"a": 10, "b1": 30, "b2": 10, "cd": 50, "e1": 20, "e2": 60})


def test_weights_share_splits_by_2021_residents():
    w = lsoa_changes.lookup_weights(LOOKUP, RESIDENTS21).set_index(["lsoa11cd", "lsoa21cd"])["weight"]
    assert w[("A", "a")] == 1 and w[("C", "cd")] == 1 and w[("D", "cd")] == 1 and w[("F", "e2")] == 1
    assert w[("B", "b1")] == pytest.approx(0.75) and w[("B", "b2")] == pytest.approx(0.25)
    assert w[("E", "e1")] == pytest.approx(0.25) and w[("E", "e2")] == pytest.approx(0.75)


def test_weights_fall_back_to_equal_shares():
    w = lsoa_changes.lookup_weights(LOOKUP, pd.Series({"a": 1})).set_index(["lsoa11cd", "lsoa21cd"])["weight"]
    assert w[("B", "b1")] == pytest.approx(0.5)


def test_counts_keep_their_total():
    counts = pd.DataFrame({"lsoa11cd": list("ABCDEFZ"), "n": [1, 8, 3, 4, 40, 5, 99]})
    weights = lsoa_changes.lookup_weights(LOOKUP, RESIDENTS21)
    out = lsoa_changes.carry_counts(counts, weights, ["n"])
    assert out["n"].to_dict() == pytest.approx({"a": 1, "b1": 6, "b2": 2, "cd": 7, "e1": 10, "e2": 35})
    assert out["n"].sum() == pytest.approx(61)
    assert out.attrs["unmatched"] == ["Z"]  # listed, not dropped silently


def test_ranks_inherit_or_take_the_population_weighted_mean():
    ranks = pd.DataFrame({"lsoa11cd": list("ABCDEF"), "r": [1, 2, 3, 9, 5, 6], "d": [1, 1, 1, 3, 2, 2]})
    pop = pd.Series({"A": 100, "B": 100, "C": 100, "D": 300, "E": 400, "F": 100})
    weights = lsoa_changes.lookup_weights(LOOKUP, RESIDENTS21)
    out = lsoa_changes.carry_ranks(ranks, pop, weights, "r", "d")
    assert out.loc["b1", "r"] == 2 and out.loc["b2", "r"] == 2 and out.loc["b1", "d"] == 1
    assert out.loc["b1", "change"] == "split" and out.loc["a", "change"] == "unchanged"
    assert out.loc["cd", "r"] == pytest.approx((3 * 100 + 9 * 300) / 400)
    assert out.loc["cd", "change"] == "merged" and out.loc["cd", "parents"] == 2
    # decile from the mean rank among the 6 ranked areas: ceil(7.5 * 10 / 6) = 13 -> capped at 10
    assert out.loc["cd", "d"] == 10
    # e2 gets 300 people from E (rank 5) and 100 from F (rank 6)
    assert out.loc["e2", "r"] == pytest.approx((5 * 300 + 6 * 100) / 400)
    assert out.loc["e2", "change"] == "irregular" and out.loc["e1", "change"] == "irregular"
    assert out.loc["e1", "r"] == 5


def test_decile_from_rank():
    ranks = pd.Series([1, 3375, 3376, 33755])
    assert lsoa_changes.decile_from_rank(ranks, 33755).tolist() == [1, 1, 2, 10]


def test_each_age_group_is_shared_by_its_own_residents():
    # B's children live mostly in b2 (9 of 10), its adults mostly in b1 (30 of 40)
    by_group = pd.DataFrame({"children": {"a": 1, "b1": 1, "b2": 9, "cd": 5, "e1": 0, "e2": 0},
                             "adults": {"a": 9, "b1": 30, "b2": 10, "cd": 45, "e1": 20, "e2": 60}})
    weights = lsoa_changes.group_weights(lsoa_changes.lookup_weights(LOOKUP, RESIDENTS21), by_group)
    w = weights.set_index(["lsoa11cd", "lsoa21cd"])
    assert w.loc[("B", "b1"), "weight_children"] == pytest.approx(0.1)
    assert w.loc[("B", "b2"), "weight_children"] == pytest.approx(0.9)
    assert w.loc[("B", "b1"), "weight_adults"] == pytest.approx(0.75)
    assert w.loc[("B", "b1"), "weight"] == pytest.approx(0.75)  # the all-age share is kept
    # no children in either part of E: the all-age share (e1 20 of 80)
    assert w.loc[("E", "e1"), "weight_children"] == pytest.approx(0.25)
    assert w.loc[("F", "e2"), "weight_children"] == 1 and w.loc[("C", "cd"), "weight_children"] == 1
    counts = pd.DataFrame({"lsoa11cd": ["B", "C"], "kids": [20, 4], "grown": [40, 6]})
    out = lsoa_changes.carry_counts(counts, weights, ["kids", "grown"],
                                    {"kids": "weight_children", "grown": "weight_adults"})
    assert out.loc["b1", "kids"] == pytest.approx(2) and out.loc["b2", "kids"] == pytest.approx(18)
    assert out.loc["b1", "grown"] == pytest.approx(30) and out.loc["b2", "grown"] == pytest.approx(10)
    assert out["kids"].sum() == pytest.approx(24) and out["grown"].sum() == pytest.approx(46)
