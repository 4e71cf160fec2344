"""The gapmap command, as an analyst would use it."""
import io
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from geo.cli import main


@pytest.fixture
def runner(monkeypatch, tmp_path):
    monkeypatch.setenv("GAPMAP_STORE", str(tmp_path / "store"))
    monkeypatch.delenv("GAPMAP_MIRROR", raising=False)
    return CliRunner()


@pytest.fixture
def built(runner, fixture_mirror):
    result = runner.invoke(main, ["data", "build", "--mirror", str(fixture_mirror)])
    assert result.exit_code == 0, result.output
    return result


def test_build_prints_progress_and_where_the_store_is(built, tmp_path):
    assert "read LSOA boundaries" in built.output
    assert "8 lsoas" in built.output
    assert f"Store: {tmp_path / 'store'}" in built.output


def test_areas_csv_and_json(runner, built):
    result = runner.invoke(main, ["areas", "--level", "lad", "--format", "csv"])
    assert result.exit_code == 0
    frame = pd.read_csv(io.StringIO(result.output))
    assert frame["lad24cd"].tolist() == ["E06000001", "E06000002"]
    assert "geometry" not in frame.columns and "extent" in frame.columns
    result = runner.invoke(main, ["areas", "--level", "ward", "--icb", "QBB", "--format", "json"])
    assert [r["ward24cd"] for r in json.loads(result.output)] == ["E05000004"]


def test_areas_domain_summaries(runner, built):
    """Issue 21: `gapmap areas` offers File 10/13's domain summaries (it had the IMD's only)."""
    result = runner.invoke(main, ["areas", "--level", "lad", "--measure", "income,living"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.output))
    for domain in ("income", "living_environment"):
        for measure in ("average_score", "average_rank", "extent", "local_concentration",
                        "proportion_most_deprived_10pc"):
            assert f"{domain}_{measure}" in frame.columns and f"rank_{domain}_{measure}" in frame.columns
    assert "average_score" not in frame.columns and "crime_extent" not in frame.columns
    assert {"lad24cd", "lad24nm", "lsoas", "population", "population_weights"} <= set(frame.columns)
    imd = pd.read_csv(io.StringIO(runner.invoke(main, ["areas", "--level", "lad"]).output))
    assert "extent" in imd.columns and "income_extent" not in imd.columns  # the IMD by default
    every = runner.invoke(main, ["areas", "--level", "icb", "--measure", "all", "--format", "json"])
    row = json.loads(every.output)[0]
    for domain in ("", "income_", "employment_", "education_", "health_", "crime_", "barriers_",
                   "living_environment_"):
        assert f"{domain}local_concentration" in row
    bad = runner.invoke(main, ["areas", "--level", "lad", "--measure", "wealth"])
    assert bad.exit_code == 2 and "unknown --measure wealth" in bad.output and "living" in bad.output
    help_text = runner.invoke(main, ["areas", "--help"]).output
    assert "--measure" in help_text and "barriers" in help_text and "local" in help_text


def test_areas_domains_on_a_store_built_before_them(runner, built, monkeypatch):
    from geo.store.folder import Store

    real = Store.areas

    def old_store(self, level, **kw):
        frame = real(self, level, **kw)
        return frame[[c for c in frame.columns if not c.startswith(("income", "rank_income"))]]

    monkeypatch.setattr(Store, "areas", old_store)
    result = runner.invoke(main, ["areas", "--level", "lad", "--measure", "income"])
    assert result.exit_code == 1 and "rebuild it with `gapmap data build`" in result.output


def test_lsoas_filtered_with_chosen_columns(runner, built):
    result = runner.invoke(main, ["lsoas", "--lad", "E06000002", "--columns", "lsoa21cd,imd_decile", "--format", "csv"])
    frame = pd.read_csv(io.StringIO(result.output))
    assert list(frame.columns) == ["lsoa21cd", "imd_decile"]
    assert len(frame) == 4
    result = runner.invoke(main, ["lsoas", "--columns", "lsoa21cd,nope"])
    assert result.exit_code == 1 and "no column 'nope'" in result.output


def test_unknown_icb_is_a_clear_error(runner, built):
    result = runner.invoke(main, ["lsoas", "--icb", "QZZ"])
    assert result.exit_code == 1 and "unknown ICB 'QZZ'" in result.output


def test_status_and_columns(runner, built):
    result = runner.invoke(main, ["data", "status"])
    assert "lsoas" in result.output and "Open Government Licence" in result.output
    result = runner.invoke(main, ["columns", "--table", "lad", "--format", "markdown"])
    assert "| `extent` |" in result.output


def test_no_store_yet(runner):
    result = runner.invoke(main, ["areas", "--level", "lad"])
    assert result.exit_code == 1 and "gapmap data build" in result.output


def test_fetch_with_a_mirror_checks_it(runner, fixture_mirror, tmp_path):
    result = runner.invoke(main, ["data", "fetch", "--mirror", str(fixture_mirror), "--only", "ruc21_lsoa21"])
    assert result.exit_code == 0 and "changed" in result.output
    result = runner.invoke(main, ["data", "fetch", "--mirror", str(tmp_path), "--only", "ruc21_lsoa21"])
    assert result.exit_code == 1 and "missing" in result.output
    result = runner.invoke(main, ["data", "fetch", "--only", "nope"])
    assert result.exit_code == 1 and "unknown source nope" in result.output


def test_build_with_a_broken_mirror_names_the_file(runner, tmp_path):
    result = runner.invoke(main, ["data", "build", "--mirror", str(tmp_path)])
    assert result.exit_code == 1 and "not found in the mirror" in result.output


def test_sources_listing(runner):
    result = runner.invoke(main, ["data", "sources", "--format", "json"])
    entries = json.loads(result.output)
    assert {e["id"] for e in entries} >= {"lsoa21_boundaries", "iod2025_file7", "codepoint_open"}


# ---- a code given to the wrong option is an error saying what it is -----------------------------

@pytest.mark.parametrize("args, message", [
    (["lsoas", "--lad", "QBB"], "Error: QBB is an ICB (NHS Beta ICB), not a local authority: use --icb QBB"),
    (["lsoas", "--lad", "E54000002"], "Error: E54000002 is an ICB (NHS Beta ICB), not a local authority: use --icb E54000002"),
    (["lsoas", "--icb", "E06000001"], "Error: E06000001 is a local authority (Alphaton), not an ICB: use --lad E06000001"),
    (["areas", "--level", "ward", "--icb", "E06000002"],
     "Error: E06000002 is a local authority (Betaford), not an ICB: use --lad E06000002"),
    (["areas", "--level", "lad", "--lad", "E05000001"], "Error: E05000001 is a ward ("),
    (["analyse", "imd_score", "--ward", "E06000001", "--stat", "moran"],
     "Error: E06000001 is a local authority (Alphaton), not a ward: use --lad E06000001"),
    (["export", "imd_score", "--lad", "QAA", "--format", "csv", "--out", "x"],
     "Error: QAA is an ICB (NHS Alpha ICB), not a local authority: use --icb QAA"),
    (["slide", "imd_score", "--icb", "E05000004", "--out", "x"], "Error: E05000004 is a ward ("),
    (["statement", "--lad", "QAA", "--out", "x"], "Error: QAA is an ICB (NHS Alpha ICB), not a local authority: use --icb QAA"),
    (["lsoas", "--lad", "E06000032"], "Error: unknown local authority 'E06000032': there are no LSOAs of it in "
                                       "this store; local authority codes look like E06000032; `gapmap areas "
                                       "--level lad` lists those in this store"),
    (["lsoas", "--icb", "E06000099"], "Error: E06000099 looks like a local authority code, not an ICB (use --lad)"),
    (["lsoas", "--lad", "W06000015"], "Error: W06000015 is a Welsh code: Gapmap covers England only"),
])
def test_a_code_of_another_kind_of_area_is_an_error_naming_the_option(runner, built, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_nhs_icb_code_in_any_case_and_a_ward_work(runner, built):
    result = runner.invoke(main, ["lsoas", "--icb", "qbb", "--columns", "lsoa21cd"])
    assert result.exit_code == 0 and pd.read_csv(io.StringIO(result.output))["lsoa21cd"].tolist() == [
        "E01000007", "E01000008"]


# ---- every --format is applied (issue 21) --------------------------------------------------------

def format_commands(group=main, prefix=()):
    """(command path, its --format choices) of every gapmap command with a --format option."""
    import click

    found = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(format_commands(command, prefix + (name,)))
            continue
        for param in command.params:
            if "--format" in getattr(param, "opts", ()):
                found[" ".join(prefix + (name,))] = tuple(param.type.choices)
    return found


def test_moran_writes_csv_or_json_as_asked(runner, built):
    """`--format csv` was ignored for --stat moran: it printed JSON whatever was asked."""
    csv = runner.invoke(main, ["analyse", "imd_score", "--stat", "moran", "--format", "csv"])
    assert csv.exit_code == 0, csv.output
    frame = pd.read_csv(io.StringIO(csv.stdout))
    assert len(frame) == 1 and {"moran_i", "p_value", "n", "method", "p_value_convention"} <= set(frame.columns)
    assert not csv.stdout.lstrip().startswith("{")
    as_json = runner.invoke(main, ["analyse", "imd_score", "--stat", "moran", "--format", "json"])
    one = json.loads(as_json.stdout)
    assert one["moran_i"] == pytest.approx(frame.loc[0, "moran_i"]) and one["n"] == frame.loc[0, "n"]
    assert "Open Government Licence" in csv.stderr


def test_every_format_option_is_applied(runner, built, tmp_path):
    """Every command with --format writes each format it offers (or refuses it with a message)."""
    def out(*args):
        result = runner.invoke(main, list(args))
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    def is_json(text):
        try:
            json.loads(text)
            return True
        except ValueError:
            return False

    commands = format_commands()
    assert set(commands) == {"data sources", "areas", "lsoas", "columns", "analyse", "export", "slide", "audit",
                             "target"}
    assert is_json(out("data", "sources", "--format", "json")) and not is_json(out("data", "sources"))
    for command in (["areas", "--level", "lad"], ["lsoas", "--columns", "lsoa21cd,imd_decile"]):
        assert pd.read_csv(io.StringIO(out(*command, "--format", "csv"))).shape[0] >= 2
        assert isinstance(json.loads(out(*command, "--format", "json")), list)
    assert out("columns", "--format", "markdown").startswith("| column |")
    assert not out("columns", "--format", "text").startswith("|")
    for stat in ("local-moran", "gi-star", "classes", "moran"):
        options = [] if stat == "classes" else ["--permutations", "99"]
        csv = out("analyse", "imd_score", "--stat", stat, *options, "--format", "csv")
        assert not is_json(csv) and "," in csv.splitlines()[0]
        assert is_json(out("analyse", "imd_score", "--stat", stat, *options, "--format", "json"))
    for fmt, suffix in (("geojson", ".geojson"), ("gpkg", ".gpkg"), ("csv", ".csv"), ("html", ".html")):
        written = out("export", "imd_score", "--lad", "E06000001", "--format", fmt, "--out", str(tmp_path / fmt))
        assert [p.suffix for p in (tmp_path / fmt).iterdir()] == [suffix], written
    refused = runner.invoke(main, ["export", "imd_score", "--format", "geojson", "--table", "ward",
                                   "--out", str(tmp_path / "w")])
    assert refused.exit_code == 2 and "--table ward is written as CSV" in refused.output
    for fmt, suffix in (("png", ".png"), ("print", ".png"), ("svg", ".svg")):
        out("slide", "imd_score", "--lad", "E06000001", "--format", fmt, "--out", str(tmp_path / f"s-{fmt}"))
        assert [p.suffix for p in (tmp_path / f"s-{fmt}").iterdir()] == [suffix]
    listed = {fmt: out("target", "--icb", "E54000001", "--where", "decile:1-10", "--points", "all", "--format", fmt)
              for fmt in ("table", "csv", "json")}
    as_json = json.loads(listed["json"])
    as_csv = pd.read_csv(io.StringIO(listed["csv"]), comment="#")
    assert len(as_csv) == len(as_json["rows"]) >= 1 and f"{len(as_csv):,} found." in listed["table"]
    assert not is_json(listed["table"]) and listed["csv"].startswith("# Targeting: every kind of school")
    assert is_json(out("audit", "--format", "json"))
    assert out("audit", "--format", "csv").startswith("id,at,event")
    assert not out("audit", "--format", "table").startswith("id,at,event")
