"""Every `gapmap analyse` option is applied or refused with a message, never ignored (issue 9,
defect 5 and "never ignore an option"); the options travel in one AnalysisOptions object."""
import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from geo.views import analysis
from geo.cli import main

ARGS = {  # option -> how a user gives it
    "deprivation": ["--deprivation", "imd_decile"], "grouping": ["--group", "ward24cd"],
    "permutations": ["--permutations", "199"], "seed": ["--seed", "1"], "alpha": ["--alpha", "0.01"],
    "fdr": ["--fdr"], "direction": ["--direction", "two-sided"], "inference": ["--inference", "permutation"],
    "weights_kind": ["--weights", "rook"], "k": ["--weights", "knn", "--k", "4"],
    "distance_m": ["--weights", "distance", "--distance", "1000"], "scheme": ["--scheme", "fisher_jenks"],
    "n_classes": ["--classes", "4"],
}
REFUSALS = [(option, stat) for option, stats in analysis.APPLIES_TO.items()
            for stat in analysis.STATISTICS if stat not in stats]


def test_every_option_is_described_and_every_statistic_known():
    assert set(ARGS) == set(analysis.APPLIES_TO)
    assert set().union(*analysis.APPLIES_TO.values()) <= set(analysis.STATISTICS)
    assert len(REFUSALS) > 40


@pytest.mark.parametrize("option, stat", REFUSALS, ids=[f"{o}-{s}" for o, s in REFUSALS])
def test_an_option_that_does_not_apply_is_refused(option, stat):
    result = CliRunner().invoke(main, ["analyse", "imd_score", "--stat", stat, *ARGS[option]])
    assert result.exit_code == 2, result.output
    flag = ARGS[option][-2] if option not in ("fdr",) else "--fdr"
    assert f"{flag} does not apply to --stat {stat}" in result.output


@pytest.mark.parametrize("args, message", [
    (["--stat", "local-moran", "--k", "4"], "--k applies only with --weights knn"),
    (["--stat", "gi-star", "--distance", "900"], "--distance applies only with --weights distance"),
    (["--stat", "moran", "--weights", "knn", "--distance", "900"], "--distance applies only with --weights distance"),
    (["--stat", "bivariate-classes", "--classes", "5"], "bivariate classes are 3 x 3 or 4 x 4"),
    (["--stat", "bivariate-classes", "--scheme", "quantiles"], "bivariate colours are"),
], ids=["k-without-knn", "distance-without-distance-weights", "moran-distance", "bivariate-5-classes",
        "bivariate-scheme"])
def test_options_that_conflict_are_refused(args, message):
    result = CliRunner().invoke(main, ["analyse", "imd_score", *args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_the_options_object_checks_the_same_way():
    o = analysis.AnalysisOptions(fdr=True)
    assert o.check("gi-star", {"fdr"}) is o
    with pytest.raises(analysis.AnalysisError, match="--fdr does not apply to --stat moran"):
        o.check("moran", {"fdr"})
    assert analysis.AnalysisOptions().alpha_for("gi-star") is None  # Gi*'s three levels
    assert analysis.AnalysisOptions().alpha_for("local-moran") == 0.05


@pytest.fixture
def store(fixture_store, monkeypatch):
    monkeypatch.setenv("GAPMAP_STORE", str(fixture_store.root))
    return fixture_store


def run(*args):
    result = CliRunner().invoke(main, ["analyse", "imd_score", *args])
    assert result.exit_code == 0, result.output
    return result


def test_options_that_apply_change_the_result(store):
    # Gi*: --alpha and --fdr reach the bins (they were ignored: the output was byte-identical)
    base = pd.read_csv(io.StringIO(run("--stat", "gi-star").stdout))
    strict = pd.read_csv(io.StringIO(run("--stat", "gi-star", "--alpha", "0.001").stdout))
    assert set(strict["bin"]) <= {-3, 0, 3} and (strict["p_value"][strict["bin"] != 0] <= 0.001).all()
    assert (base["p_two_sided"] <= 0.10).sum() == (base["bin"] != 0).sum()  # two-sided levels (issue 21)
    np.testing.assert_allclose(base["p_two_sided"], np.minimum(1, 2 * base["p_value"]))
    method = json.loads(run("--stat", "gi-star", "--fdr").stderr.splitlines()[0])["method"]
    assert "false discovery rate" in method
    # global Moran: --weights knn --k now reaches the weights (k was dropped)
    k2 = json.loads(run("--stat", "moran", "--weights", "knn", "--k", "2", "--format", "json").stdout)["moran_i"]
    k3 = json.loads(run("--stat", "moran", "--weights", "knn", "--k", "3", "--format", "json").stdout)["moran_i"]
    assert k2 != k3
    # the p-value convention is said in the method text
    lm = json.loads(run("--stat", "local-moran", "--permutations", "199").stderr.splitlines()[0])
    assert lm["p_value_convention"] == "folded" and "as GeoDa and esda" in lm["method"]
    two = json.loads(run("--stat", "local-moran", "--direction", "two-sided").stderr.splitlines()[0])
    assert two["p_value_convention"] == "two-sided"


def test_exports_state_the_test_used(fixture_store):
    from geo.outputs.exports import export_table

    frame, meta = export_table(fixture_store, "imd_score", analysis.Extent(), geometry=False)
    assert meta["p_value_convention"] == "folded"
    assert "Getis-Ord Gi*" in meta["method"] and "local Moran's I" in meta["method"]
    assert "as GeoDa and esda" in meta["method"] and "two-sided (twice" not in meta["method"]
    assert "confidence levels two-sided" in meta["method"]  # Gi*'s levels, whatever the convention (issue 21)
