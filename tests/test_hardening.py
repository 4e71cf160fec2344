"""The smaller defects of issue 11 item 6: CSV metadata lines, leftovers of dead builds and ingests,
two builds at once, a full disk, disclosure rules and labels that cannot be applied, `$` in slides."""
import csv
import errno
import io
import os
import threading
import time

import pytest
from click.testing import CliRunner

from geo.store.datasets import DatasetStore
from geo.ingest.pipeline import IngestError, IngestOptions, ingest
from geo.store.folder import Store, StoreError

COUNTS = "lsoa21cd,count\nE01000001,25\nE01000002,40\n"


def test_csv_metadata_lines_cannot_inject_formulas():
    from geo.outputs import exports
    import pandas as pd

    frame = pd.DataFrame({"lsoa21cd": ["E01000001"], "name": ["=1+1"]})
    meta = {"measure": 'Admissions,=HYPERLINK("http://evil.example","x")',
            "title": "line one\n=cmd|' /C calc'!A0", "quote": 'a "quoted", value\r\n+SUM(A1)',
            "formula": "@SUM(1)"}
    text = exports.to_csv(frame, meta)
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    notes = [row for row in csv.reader(io.StringIO(text)) if row and row[0].startswith("# ")]
    assert len(notes) == len(meta) and all(len(row) == 1 for row in notes)  # one cell, one line each
    assert notes[0][0] == '# measure: Admissions,=HYPERLINK("http://evil.example","x")'


def _age(path, seconds):
    past = time.time() - seconds
    os.utime(path, (past, past), follow_symlinks=False)


def test_leftovers_of_dead_builds_and_ingests_are_cleaned(tmp_path):
    store = Store(tmp_path / "store")
    builds = store.root / "builds"
    (builds / ".partial-old").mkdir(parents=True)
    (builds / ".partial-running").mkdir()
    _age(builds / ".partial-old", 7 * 3600)
    (store.root / ".current-old").symlink_to("builds/x")
    _age(store.root / ".current-old", 7 * 3600)
    gone = store.clean_leftovers()
    assert {p.name for p in gone} == {".partial-old", ".current-old"}
    assert (builds / ".partial-running").exists()

    datasets = DatasetStore(store)
    versions = datasets.root / ".versions"
    for name in (".partial-dead", "orphan-1", "kept-1", "fresh-orphan"):
        (versions / name).mkdir(parents=True)
    (datasets.root / "kept").symlink_to(versions.relative_to(datasets.root) / "kept-1")
    for name in (".partial-dead", "orphan-1", "kept-1"):
        _age(versions / name, 7 * 3600)
    gone = datasets.clean_leftovers()
    assert {p.name for p in gone} == {".partial-dead", "orphan-1"}
    assert (versions / "kept-1").exists() and (versions / "fresh-orphan").exists()


def test_ingest_cleans_leftovers_first(fixture_store, tmp_path):
    versions = DatasetStore(fixture_store).root / ".versions"
    dead = versions / ".partial-dead-ingest"
    dead.mkdir(parents=True)
    _age(dead, 7 * 3600)
    path = tmp_path / "c.csv"
    path.write_text(COUNTS)
    ingest(path, IngestOptions(name="cleaner"), fixture_store)
    assert not dead.exists()
    DatasetStore(fixture_store).remove("cleaner")


def test_a_second_build_is_refused_with_a_message(fixture_mirror, tmp_path, monkeypatch):
    from geo.cli import main

    store = Store(tmp_path / "store")
    holding = threading.Event()
    release = threading.Event()

    def hold():
        with store.build_lock():
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        monkeypatch.setenv("GAPMAP_STORE", str(store.root))
        result = CliRunner().invoke(main, ["data", "build", "--mirror", str(fixture_mirror)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "Another build of the store" in result.output and f"process {os.getpid()}" in result.output
    finally:
        release.set()
        thread.join()
    with store.build_lock():  # released: the next build may run
        pass


def test_a_full_disk_gives_a_message(fixture_store, tmp_path, monkeypatch):
    from geo.cli import main

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(fixture_store.root / "datasets" / "x"))

    monkeypatch.setattr(DatasetStore, "save", full)
    monkeypatch.setenv("GAPMAP_STORE", str(fixture_store.root))
    monkeypatch.setenv("GAPMAP_ACCOUNTS", str(tmp_path / "a.sqlite"))
    path = tmp_path / "c.csv"
    path.write_text(COUNTS)
    result = CliRunner().invoke(main, ["ingest", str(path), "--name", "full"])
    assert result.exit_code == 1 and "The disk is full" in result.output and "Traceback" not in result.output

    from app import create_app
    from tests.test_security import token_of

    client = create_app({"GAPMAP_STORE": str(fixture_store.root), "SINGLE_USER": True,
                         "ACCOUNTS": str(tmp_path / "a.sqlite")}).test_client()
    data = {"file": (io.BytesIO(COUNTS.encode()), "c.csv"), "name": "full", "csrf_token": token_of(client)}
    response = client.post("/upload", data=data, content_type="multipart/form-data")
    assert response.status_code == 507 and "disk is full" in response.get_data(as_text=True)
    assert "full" not in DatasetStore(fixture_store).names()


@pytest.mark.parametrize("rule, words", [
    ({"round_to": 0}, "--round-to 0"), ({"round_to": -5}, "--round-to -5"),
    ({"suppress_to": -1}, "--suppress-to -1"), ({"suppress_to": 5000}, "1,000 or less"),
    ({"round_to": 2.5}, "whole number"), ({"hide": 3}, "unknown disclosure setting"),
])
def test_disclosure_rules_that_cannot_apply_are_refused(fixture_store, tmp_path, rule, words):
    path = tmp_path / "c.csv"
    path.write_text(COUNTS)
    with pytest.raises(IngestError, match=words):
        ingest(path, IngestOptions(name="rules", disclosure=rule), fixture_store)
    assert "rules" not in DatasetStore(fixture_store).names()


@pytest.mark.parametrize("rule, words", [
    ({"suppress_to": 3}, "--suppress-to 3 is below this server's disclosure floor: counts from 1 to 7 are always "
                         "hidden (GAPMAP_MIN_SUPPRESS)"),
    ({"round_to": 1}, "--round-to 1 is below this server's disclosure floor: counts are always rounded to a multiple "
                      "of at least 5 (GAPMAP_MIN_ROUND)"),
])
def test_a_rule_below_the_servers_floor_is_refused(fixture_store, tmp_path, rule, words):
    """Issue 19 item 2: no option can lower disclosure control below GAPMAP_MIN_SUPPRESS/ROUND."""
    import re

    path = tmp_path / "c.csv"
    path.write_text(COUNTS)
    with pytest.raises(IngestError, match=re.escape(words)):
        ingest(path, IngestOptions(name="rules", disclosure=rule), fixture_store)
    assert "rules" not in DatasetStore(fixture_store).names()


def test_cli_refuses_round_to_zero(fixture_store, tmp_path, monkeypatch):
    from geo.cli import main

    monkeypatch.setenv("GAPMAP_STORE", str(fixture_store.root))
    path = tmp_path / "c.csv"
    path.write_text(COUNTS)
    for args in (["--round-to", "0"], ["--suppress-to", "-3"]):
        result = CliRunner().invoke(main, ["ingest", str(path), "--name", "rules", *args])
        assert result.exit_code == 2 and "not in the range" in result.output


def test_measure_labels_are_bounded(fixture_store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(COUNTS)
    with pytest.raises(IngestError, match="500,000 characters long; keep it to 200"):
        ingest(path, IngestOptions(name="long", measure="x" * 500_000), fixture_store)
    for bad in ("two\nlines", "tab\there", "bell\x07", "nul\x00"):
        with pytest.raises(IngestError, match="control character"):
            ingest(path, IngestOptions(name="ctrl", measure=bad), fixture_store)
    assert not {"long", "ctrl"} & set(DatasetStore(fixture_store).names())


def test_dollars_in_measures_and_titles_do_not_break_slides(fixture_store, tmp_path):
    from geo.outputs import slides
    from geo.views.analysis import Extent

    path = tmp_path / "c.csv"
    path.write_text(COUNTS)
    ingest(path, IngestOptions(name="dollars", measure=r"Cost in $\notacommand{$ and $5"), fixture_store)
    try:
        out = slides.render(fixture_store, "dollars", Extent("lad", "E06000001"), out_dir=tmp_path / "slides",
                            title=r"$\frac{broken$ title $$")
        assert out.exists() and out.stat().st_size > 10_000
        with pytest.raises(ValueError, match="control character"):
            slides.render(fixture_store, "dollars", Extent("lad", "E06000001"), out_dir=tmp_path, title="a\nb")
    finally:
        DatasetStore(fixture_store).remove("dollars")
    assert slides.plain_text("$x$") == r"\$x\$" and slides.plain_text(r"\$") == r"\$"
