"""The one targeting engine (issue 20 item 1): questions read as written, one case per rule with its
exact reason; point types from GIAS; and the same question asked through the map page,
/targeting.csv, `gapmap target` and the statement returning the same schools, equal to an
independent recomputation (esda's Gi* on the published values, deprivation ranked afresh)."""
import io
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from geo.cli import main
from geo.views import target_groups, targeting
from geo.views.analysis import Extent
from geo.views.target_groups import QuestionError


# ---- reading a question: one case per rule, exact reasons ---------------------------------------
@pytest.mark.parametrize("question, reason", [
    ("", "an empty targeting question: name a group"),
    ("core20 or", "the targeting question 'core20 or' ends where a group was expected"),
    ("(core20 or rural", "the targeting question '(core20 or rural' opens a bracket it does not close"),
    ("core20 rural", "the targeting question 'core20 rural' has 'rural' after a whole question: join groups with "
                     "'and' or 'or'"),
    ("and core20", "the targeting question 'and core20' has 'and' where a group was expected"),
    ("everyone", "unknown targeting group 'everyone': choose most-deprived-20"),
    ("decile:0", "'decile:0': give a decile or a range of them from 1 to 10, e.g. decile:1-2"),
    ("local-quintile:2-6", "'local-quintile:2-6': give a quintile or a range of them from 1 to 5"),
    ("quintile:3-1", "'quintile:3-1': give a quintile or a range of them from 1 to 5"),
    (" or ".join(["rural"] * 13), "a targeting question may name at most 12 groups"),
    ("rural or " * 60 + "rural", "a targeting question of 545 characters is longer than the 400 allowed"),
])
def test_question_refused_with_its_reason(question, reason):
    with pytest.raises(QuestionError) as caught:
        target_groups.parse(question)
    assert str(caught.value).startswith(reason), str(caught.value)


def test_and_binds_tighter_than_or_and_brackets_group():
    assert target_groups.parse("core20 or rural and urban") == (
        "or", [("group", "core20"), ("and", [("group", "rural"), ("group", "urban")])])
    assert target_groups.parse("(core20 OR rural) and NOT hotspots:ORA01") == (
        "and", [("or", [("group", "core20"), ("group", "rural")]), ("not", ("group", "hotspots:ORA01"))])


def test_groups_on_the_fixture_follow_the_lsoa_table(fixture_store):
    extent = Extent("icb", "E54000001")
    lsoas = fixture_store.lsoas(icb="E54000001", geometry=False).set_index("lsoa21cd").sort_index()
    ctx = target_groups.context(fixture_store, extent)

    def members(question):
        return set(target_groups.evaluate(ctx, question).query("member").index)

    core20 = set(lsoas.index[lsoas["imd_decile"] <= 2])
    rural = set(lsoas.index[lsoas["urban_rural"] == "Rural"])
    local40 = set(lsoas.index[lsoas["imd_quintile_in_icb"] <= 2])
    assert members("core20") == core20 and members("decile:1-2") == core20
    assert members("rural") == rural and members("urban") == set(lsoas.index) - rural
    assert members("most-deprived-40") == local40 == members("local-quintile:1-2")
    assert members("core20 and not rural") == core20 - rural
    assert members("core20 or rural") == core20 | rural
    why = target_groups.evaluate(ctx, "core20 and most-deprived-40").query("member")["why"]
    assert all(w.startswith("Core20 (national IMD 2025 decile ") and "within the ICB" in w for w in why)
    with pytest.raises(QuestionError, match="no dataset is attached to MAT01"):
        target_groups.evaluate(ctx, "hotspots:MAT01")
    with pytest.raises(QuestionError, match="'nothing-here' is neither an NHS indicator code"):
        target_groups.evaluate(ctx, "clusters:nothing-here")


def test_point_types_follow_gias_type_and_phase():
    rows = [("Academies", "Academy converter", "Primary", "primary"),
            ("Local authority maintained schools", "Community school", "Secondary", "secondary"),
            ("Free Schools", "Free schools", "All-through", "all-through"),
            ("Special schools", "Community special school", "Not applicable", "special"),
            ("Academies", "Academy special converter", "Not applicable", "special"),
            ("Special schools", "Other independent special school", "Not applicable", "independent"),
            ("Special schools", "Non-maintained special school", "Not applicable", "special"),
            ("Independent schools", "Other independent school", "Not applicable", "independent"),
            ("Colleges", "Further education", "16 plus", "colleges"),
            ("Academies", "Academy 16-19 converter", "16 plus", "post-16"),
            ("Local authority maintained schools", "Pupil referral unit", "Not applicable", "alternative-provision"),
            ("Local authority maintained schools", "Local authority nursery school", "Nursery", "nursery"),
            ("Universities", "Higher education institutions", "Not applicable", "other-schools")]
    schools = pd.DataFrame(rows, columns=["establishment_type_group", "establishment_type", "phase", "expected"])
    from geo.views.school_kinds import school_kind, school_type

    assert school_type(schools).tolist() == schools["expected"].tolist()
    # the map draws each in the layer of its kind: one classification for the map and the lists
    assert school_kind(schools).tolist() == ["primary", "secondary", "secondary", "special", "special", "other",
                                             "special", "other", "other", "secondary", "other", "other", "other"]
    with pytest.raises(ValueError, match="unknown point type 'schools': choose from primary, secondary"):
        targeting.check_points("primary,schools")
    assert targeting.check_points("") == targeting.DEFAULT_POINTS
    assert targeting.check_points(["all"]) == tuple(targeting.POINT_TYPES)


# ---- one question, every path, the same list: on the real Bedford population ------------------
BEDFORD = "E06000055"
QUESTION = "most-deprived-40 and hotspots:ORA01"


@pytest.fixture(scope="module")
def bedford(england_store, tmp_path_factory):
    from geo.ingest import synthetic
    from geo.ingest.pipeline import IngestOptions, ingest
    from geo.store.datasets import DatasetStore

    tmp = tmp_path_factory.mktemp("target-demo")
    table, meta = synthetic.generate_profile(england_store, "E54000024", "ORA01", seed=1)
    path = synthetic.write(table, meta, tmp / "ORA01.csv")
    name = "test-target-ora01"
    ingest(path, IngestOptions(name=name, by=("age_band", "sex", "ethnic_group", "period"), nhs_indicator="ORA01",
                               measure=meta["measure"], synthetic=True), england_store)
    yield england_store, name
    DatasetStore(england_store).remove(name)


def _csv_codes(text: str) -> tuple[list[str], list[str]]:
    comments = [line for line in text.splitlines() if line.startswith("#")]
    body = pd.read_csv(io.StringIO(text), comment="#", dtype=str)
    return comments, sorted(body.loc[body["kind"] == "school", "code"])


def test_same_question_same_schools_through_every_path(bedford):
    from app import create_app
    from geo.outputs.targeting_file import csv_text
    from geo.views import statement

    store, name = bedford
    query = f"lad={BEDFORD}&indicator={name}&where={QUESTION.replace(' ', '+')}&points=primary"
    client = create_app({"GAPMAP_STORE": str(store.root), "SINGLE_USER": True, "TESTING": True}).test_client()
    csv = client.get(f"/targeting.csv?{query}").get_data(as_text=True)
    comments, from_csv = _csv_codes(csv)
    assert comments[0] == "# SYNTHETIC DATA: made-up records, not real activity."
    page = client.get(f"/map?{query}").get_data(as_text=True)
    import html

    panel_url = html.unescape(re.search(r'id="map-panel"[^>]*data-src="([^"]+)"', page).group(1))
    panel = client.get(panel_url).get_data(as_text=True)  # what the page fetches for its side panel
    table = panel[panel.index('id="targets"'):]
    table = table[:table.index("</table>")]
    from_map = sorted(re.findall(r'data-code="(\d+)"', table))
    run = CliRunner().invoke(main, ["target", "--lad", BEDFORD, "--where", QUESTION, "--points", "primary",
                                    "--format", "csv"], env={"GAPMAP_STORE": str(store.root)})
    assert run.exit_code == 0, run.output
    cli_comments, from_cli = _csv_codes(run.output)
    assert cli_comments[0] == comments[0]
    st = statement.build(store, Extent("lad", BEDFORD), ["ORA01"], targets=(QUESTION,), points=("primary",))
    st_comments, from_statement = _csv_codes(csv_text(st.targets))
    assert st_comments[0] == comments[0]
    assert from_csv == from_map == from_cli == from_statement and len(from_csv) >= 1
    assert from_csv == _independent(store, name), "the engine's list differs from the recomputation"
    assert "All-through" not in csv or "state-funded all-through school" in csv
    assert "Independent" not in csv and "Further education" not in csv


def _independent(store, name) -> list[str]:
    """The question recomputed without the engine: Gi* (esda's G_Local, star, row-standardised queen
    contiguity from the LSOA polygons) on the values the map publishes (its CSV export), 95% two-sided;
    the 40% most deprived of Bedford ranked afresh from the IMD 2025 rank; primary phases by GIAS."""
    import esda
    import libpysal
    from scipy.stats import norm

    from app import create_app

    client = create_app({"GAPMAP_STORE": str(store.root), "SINGLE_USER": True, "TESTING": True}).test_client()
    text = client.get(f"/api/export.csv?lad={BEDFORD}&indicator={name}").get_data(as_text=True)
    published = pd.read_csv(io.StringIO(text), comment="#").set_index("lsoa21cd")
    value_column = next(c for c in published.columns if c in ("value", "rate_per_100000", "rate_per_1000", "rate"))
    polygons = store.lsoas(lad=BEDFORD).sort_values("lsoa21cd").set_index("lsoa21cd")
    values = published[value_column].reindex(polygons.index)
    known = values.notna().to_numpy()
    w = libpysal.weights.Queen.from_dataframe(polygons[known].reset_index(), use_index=False)
    w.transform = "r"
    g = esda.G_Local(values[known].to_numpy(float), w, star=True, permutations=0)
    p_two_sided = 2 * norm.sf(np.abs(g.Zs))
    hot = set(polygons.index[known][(g.Zs > 0) & (p_two_sided <= 0.05)])
    ranks = polygons["imd_rank"].rank(method="first")
    fifth = np.ceil(ranks * 5 / len(ranks))
    deprived = set(polygons.index[fifth <= 2])
    schools = store.points("schools", lad=BEDFORD)
    state = schools["establishment_type_group"].isin(["Academies", "Local authority maintained schools",
                                                      "Free Schools"])
    primary = schools[state & schools["phase"].isin(["Primary", "Middle deemed primary", "All-through"])]
    return sorted(primary.loc[primary["lsoa21cd"].isin(hot & deprived), "urn"].astype(str))


def test_hot_spots_never_on_hidden_lsoas_and_reasons_never_say_no_neighbours(bedford):
    from geo.views import map_table

    store, name = bedford
    extent = Extent("lad", BEDFORD)
    frame = map_table.map_table(store, name, extent).frame.set_index("lsoa21cd")
    ctx = target_groups.context(store, extent)
    for question in ("hotspots:ORA01", "clusters:ORA01", "coldspots:ORA01"):
        hit = target_groups.evaluate(ctx, question).query("member")
        assert not frame.loc[hit.index, "suppressed"].any(), question
        assert not hit["why"].str.contains("no neighbours|no data", case=False).any(), question
    # the smoothed view's hot spots: every LSOA has an EB-standardised rate, the hidden ones too
    smoothed = target_groups.evaluate(ctx, "smoothed-hotspots:ORA01")
    assert frame["eb_standardised"].notna().all() and smoothed["member"].any()
    assert frame["smoothed"].notna().all(), "Bedford ORA01: a smoothed value for every LSOA (issue 20's bar)"
    listed = targeting.answer(store, extent, "smoothed-hotspots:ORA01", ("wards",))
    assert (listed["kind"] == "ward").all() and listed["why"].str.contains("of its").all()


def test_top_wards_rank_published_ward_figures_and_skip_hidden_ones(bedford):
    from geo.views import map_table

    store, name = bedford
    extent = Extent("lad", BEDFORD)
    wards = map_table.group_table(store, name, extent, "ward24cd").set_index("group")
    top = targeting.top_wards(targeting.lsoa_targets(store, name, extent), n=100, ward_table=wards.reset_index())
    hidden = set(wards.index[wards["value"].isna()])
    assert hidden and not hidden & set(top["ward24cd"]), "a ward whose figure is hidden is never ranked"
    assert (top["basis"] == "ward figure").all()
    assert top["mean_value"].tolist() == wards.loc[top["ward24cd"], "value"].tolist()
    assert top["mean_value"].is_monotonic_decreasing


def test_the_statement_targets_a_rare_indicator_by_its_smoothed_hot_spots(bedford):
    """Bedford's ORA01: most LSOA counts hidden, so the statement's default hot-spot group is the
    smoothed view's (every LSOA has a value there); over the whole ICB, where fewer are hidden,
    the published values' own."""
    from geo.views import map_table, statement_targets

    store, name = bedford
    for extent in (Extent("lad", BEDFORD), Extent("icb", "E54000024")):
        hidden = map_table.map_table(store, name, extent).frame["suppressed"].mean()
        groups = statement_targets.default_groups(store, extent)
        assert groups[0] == "most-deprived-40"
        assert groups[1] == ("smoothed-hotspots:ORA01" if hidden > 0.5 else "hotspots:ORA01"), (extent, hidden)
    assert map_table.map_table(store, name, Extent("lad", BEDFORD)).frame["suppressed"].mean() > 0.5


def test_the_panel_and_the_statement_publish_the_same_quintiles(bedford):
    """One suppression rule for group tables: the map panel's rates by IMD quintile are the
    statement's, hidden cells included (the issue: the panel hid quintiles the statement printed)."""
    from app import create_app, pages
    from geo.views import statement

    store, name = bedford
    extent = Extent("lad", BEDFORD)
    app = create_app({"GAPMAP_STORE": str(store.root), "SINGLE_USER": True, "TESTING": True})
    with app.app_context():
        panel = pages._panel(extent, name)
    section = statement.build(store, extent, ["ORA01"]).sections[0]
    ours = {int(r["group"]): r["value"] for r in panel["by_quintile"]}
    theirs = dict(zip(section.quintiles["group"].astype(int), section.quintiles["value"]))
    assert ours.keys() == theirs.keys() == {1, 2, 3, 4, 5}
    for q in ours:
        assert (np.isnan(ours[q]) and np.isnan(theirs[q])) or ours[q] == pytest.approx(theirs[q], rel=1e-12), q


def test_the_statement_maps_the_hot_spots_it_targets_by(bedford, tmp_path):
    """A rare indicator's statement targets its smoothed view's hot spots, so its hot-spot slide
    shows those (every LSOA coloured), not the published values' (mostly grey)."""
    from geo.outputs import slides
    from geo.outputs.statement_files import draw_maps
    from geo.views import statement, statement_targets

    store, name = bedford
    extent = Extent("lad", BEDFORD)
    st = statement.build(store, extent, ["ORA01"], targets=tuple(statement_targets.default_groups(store, extent)))
    assert "smoothed-hotspots:ORA01" in st.targets_groups
    draw_maps(st, store, tmp_path / "maps")
    drawn = st.sections[0].maps["hotspots"]
    assert drawn == slides.slide_path(name, extent, "smoothed-hotspots", "png", tmp_path / "maps") and drawn.exists()
