"""The PostgreSQL/PostGIS store on a throwaway cluster (tests/pg_cluster.py): the same tables as the
folder store, builds and datasets swapped in whole transactions, concurrent ingests, caches that
follow the database in every process, and the CLI and server against it. Nothing is mocked."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

try:
    import psycopg
except ImportError:  # the pg_cluster fixture says why these tests cannot run (or fails, when they must)
    psycopg = None

from geo.build.pipeline import build
from geo.ingest.pipeline import IngestOptions, ingest
from geo.store import open_store
from geo.store.datasets import DatasetError, DatasetStore
from geo.store.folder import Store
from geo.store.postgis import PostgisStore, publish

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def empty_db(pg_cluster) -> str:
    return pg_cluster.new_database("t")


@pytest.fixture
def published(empty_db, folder_fixture_store) -> PostgisStore:
    store = PostgisStore(empty_db)
    publish(folder_fixture_store, store)
    return store


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


TABLE_READS = {
    "lsoas": lambda s: s.lsoas(),
    "lsoas of an ICB, some columns": lambda s: s.lsoas(icb="E54000001", columns=["lsoa21cd", "imd_score", "core20"],
                                                      geometry=False),
    "wards of an ICB with outlines": lambda s: s.areas("ward", icb="E54000001", geometry=True),
    "places": lambda s: s.areas("lad"),
    "ICBs of a place": lambda s: s.areas("icb", lad="E06000002"),
    "schools of an ICB": lambda s: s.points("schools", icb="E54000001"),
    "GP practices of a place": lambda s: s.points("gp_practices", lad="E06000001"),
    "hospitals": lambda s: s.points("hospitals"),
    "some postcodes": lambda s: s.postcodes(["LU11AA", "LU33XY", "ZZ99ZZ"]),
    "all postcodes": lambda s: s.postcodes(geometry=False),
    "population of a ward": lambda s: s.population_by_age(ward="E05000001"),
    "population by sex of an ICB": lambda s: s.population_by_sex_age(icb="E54000001"),
    "populations report": lambda s: s.report("populations"),
    "2011 to 2021": lambda s: s.lsoa11_to_lsoa21(),
    "join gaps report": lambda s: s.report("join_gaps"),
}


@pytest.mark.parametrize("what", list(TABLE_READS))
def test_published_store_reads_the_same_as_the_folder_store(published, folder_fixture_store, what):
    """Every read gives the same frame (values, column types, row order, geometry, CRS)."""
    ours, theirs = TABLE_READS[what](published), TABLE_READS[what](folder_fixture_store)
    assert len(theirs) > 0 or what == "ICBs of a place"
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=True)
    if "geometry" in theirs:
        assert ours.crs == theirs.crs
        assert ours.geometry.geom_equals_exact(theirs.geometry, tolerance=0).all()


def test_published_store_metadata(published, folder_fixture_store):
    assert published.build_id() == folder_fixture_store.build_id()
    assert published.reports() == folder_fixture_store.reports()
    assert published.column_types("lsoas") == folder_fixture_store.column_types("lsoas")
    assert published.columns("areas_lad") == [c for c in folder_fixture_store.columns("areas_lad") if c != "bbox"]
    manifest = published.manifest()
    assert manifest["counts"] == folder_fixture_store.manifest()["counts"]
    assert manifest["published_from"] == str(folder_fixture_store.path)
    with pytest.raises(Exception, match="no report 'nothing'"):
        published.report("nothing")
    with pytest.raises(Exception, match="has no column 'colour'"):
        published.lsoas(columns=["colour"])


def test_geometry_is_postgis_with_spatial_indexes(published):
    """Polygons and points are PostGIS geometries in EPSG:4326 with GiST indexes, so SQL clients
    (QGIS, psql) can query them spatially."""
    schema = "gapmap_build_" + published.build_id().lower().replace("-", "_")
    with psycopg.connect(published.url) as conn:
        srids = dict(conn.execute("SELECT f_table_name, srid FROM geometry_columns WHERE f_table_schema = %s",
                                  (schema,)).fetchall())
        gist = {r[0] for r in conn.execute("SELECT tablename FROM pg_indexes WHERE schemaname = %s "
                                           "AND indexdef LIKE '%%USING gist%%'", (schema,)).fetchall()}
        # a spatial query: the LSOA containing the first school's point, by PostGIS
        school, lsoa = conn.execute(
            f'SELECT s.urn, l.lsoa21cd FROM "{schema}".points_schools s JOIN "{schema}".lsoas l '
            f'ON ST_Contains(l.geometry, s.geometry) ORDER BY s.urn LIMIT 1').fetchone()
    expected = {"lsoas", "areas_ward", "areas_lad", "areas_icb", "points_schools", "points_gp_practices",
                "points_hospitals", "postcodes"}
    assert expected <= set(srids) and {srids[t] for t in expected} == {4326}
    assert expected <= gist
    schools = published.points("schools")
    assert schools.loc[schools["urn"] == school, "lsoa21cd"].iloc[0] == lsoa


def test_build_is_all_or_nothing_and_old_builds_are_pruned(empty_db, fixture_mirror):
    store = PostgisStore(empty_db)
    build(store, mirror=fixture_mirror)
    first = store.build_id()
    before = store.lsoas(geometry=False)
    # a build that fails half-way leaves the previous one current and nothing behind
    with pytest.raises(RuntimeError):
        with store.writer() as writer:
            writer.table("lsoas", before.iloc[:2])
            raise RuntimeError("interrupted")
    assert store.build_id() == first
    pd.testing.assert_frame_equal(store.lsoas(geometry=False), before)
    # while a build is being written (not yet committed) readers see the previous one whole
    writer = store.writer()
    writer.table("lsoas", before.iloc[:2])
    writer.manifest({"counts": {"lsoas": 2}})
    assert store.build_id() == first and len(store.lsoas(geometry=False)) == len(before)
    writer.commit()
    assert store.build_id() == writer.build_id and len(store.lsoas(geometry=False)) == 2
    build(store, mirror=fixture_mirror)
    with psycopg.connect(empty_db) as conn:
        schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE "
                                              "'gapmap_build_%' ORDER BY 1").fetchall()]
        builds = conn.execute("SELECT count(*) FROM gapmap.builds").fetchone()[0]
    assert len(schemas) == 2 and builds == 2  # the current build and the one before it
    assert store.build_id() not in (first, writer.build_id)


def test_open_store_follows_the_setting(monkeypatch, published, tmp_path):
    assert isinstance(open_store(), Store)
    monkeypatch.setenv("GAPMAP_DATABASE_URL", published.url)
    assert open_store() == published
    assert type(DatasetStore()).__name__ == "PostgisDatasetStore"  # the default follows the setting too
    with pytest.raises(Exception, match="cannot connect to the database"):
        PostgisStore(f"postgresql://gapmap@/nowhere?host={tmp_path}")


def test_dataset_round_trip_and_replacement(published, tmp_path):
    path = _write(tmp_path / "a.csv", "lsoa21cd,count,denominator\nE01000001,30,1000\nE01000002,x,10\n")
    result = ingest(path, IngestOptions(name="ae", measure="A&E"), published)
    dataset = DatasetStore(published).get("ae")
    pd.testing.assert_frame_equal(dataset.counts(), result.counts.reset_index(drop=True))
    expected_rows = pd.read_csv(__import__("io").StringIO(result.rows_not_used.to_csv(index=False)), dtype=str,
                                keep_default_na=False)
    pd.testing.assert_frame_equal(dataset.rows_not_used(), expected_rows)
    assert dataset.meta["report"] == result.report and dataset.meta["name"] == "ae"
    assert list(dataset.meta) == ["name", *result.meta]  # provenance kept in its order
    old = dataset
    ingest(_write(tmp_path / "b.csv", "lsoa21cd,count\nE01000001,80\n"), IngestOptions(name="ae"), published)
    assert DatasetStore(published).get("ae").counts()["count"].tolist() == [80]
    with pytest.raises(DatasetError, match="replaced or removed while it was being read"):
        old.counts()  # a reader holding the replaced version is told, not given a mixture
    DatasetStore(published).remove("ae")
    assert "ae" not in DatasetStore(published).names() and DatasetStore(published).versions() == []


def test_a_reader_never_sees_half_a_dataset(published, tmp_path):
    """A save whose tables are written but not yet committed is invisible; then it appears whole."""
    ingest(_write(tmp_path / "a.csv", "lsoa21cd,count\nE01000001,10\n"), IngestOptions(name="x"), published)
    blocker = psycopg.connect(published.url, autocommit=True)
    blocker.execute("SELECT pg_advisory_lock(hashtext('gapmap dataset x'))")  # the save waits here, tables written
    done = threading.Event()
    errors = []

    def save():
        try:
            ingest(_write(tmp_path / "b.csv", "lsoa21cd,count\nE01000001,20\nE01000002,5\n"), IngestOptions(name="x"),
                   published)
        except Exception as exc:  # reported below
            errors.append(exc)
        done.set()

    thread = threading.Thread(target=save)
    thread.start()
    deadline = time.time() + 20
    while time.time() < deadline:  # wait until the save is blocked on the lock, its tables written
        waiting = blocker.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()[0]
        if waiting:
            break
        time.sleep(0.05)
    assert waiting, "the save never reached the swap"
    reader = DatasetStore(PostgisStore(published.url))
    assert reader.get("x").counts()["count"].tolist() == [10]
    assert reader.names() == ["x"]
    blocker.execute("SELECT pg_advisory_unlock(hashtext('gapmap dataset x'))")
    blocker.close()
    assert done.wait(30) and not errors
    thread.join()
    assert reader.get("x").counts()["count"].tolist() == [20, 5]
    assert len(reader.versions()) == 1


def test_concurrent_ingests_both_complete_and_reconcile(published, tmp_path):
    """Two analysts ingesting at once (different names, then the same name) both succeed."""
    files = {}
    for i, name in enumerate(("one", "two")):
        lines = ["lsoa21cd,count"] + [f"E0100000{j},{(i + 1) * 10 + j}" for j in range(1, 9)] + ["W01000001,4"]
        files[name] = _write(tmp_path / f"{name}.csv", "\n".join(lines) + "\n")
    results, errors = {}, []

    def run(name, target):
        try:
            results[(name, target)] = ingest(files[name], IngestOptions(name=target), PostgisStore(published.url))
        except Exception as exc:
            errors.append(exc)

    for pairs in ((("one", "one"), ("two", "two")), (("one", "same"), ("two", "same"))):
        threads = [threading.Thread(target=run, args=pair) for pair in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
    store = DatasetStore(published)
    for name in ("one", "two"):
        report = results[(name, name)].report
        assert report["rows_read"] == report["rows_used"] + report["rows_rejected"] == 9
        assert report["counts_read"] == report["counts_used"] + report["counts_rejected"]
        assert store.get(name).counts()["count"].sum() == report["counts_used"]
    # the same name: one of the two whole, never a mixture
    same = store.get("same").counts()["count"].tolist()
    assert same in ([11 + j for j in range(8)], [21 + j for j in range(8)])
    assert store.get("same").meta["source_file"] in ("one.csv", "two.csv")
    assert len(store.versions()) == len(store.names()) == 3


def _shown(store) -> str:
    """The start of the tooltip text the map shows for E01000001's value (see app/map_layers.py)."""
    from geo.views.analysis import Extent, indicator_values

    from app.map_layers import _figure

    values = indicator_values(store, "shared", Extent("lad", "E06000001")).set_index("lsoa21cd")["value"]
    return f'"{_figure(values["E01000001"])} ('


def test_caches_follow_the_database_across_app_instances(published, tmp_path):
    """Two apps (as two workers would be) on one database: a dataset replaced or removed through
    one is seen at once by the other, whose cached map was made before."""
    from app import create_app

    first = create_app({**published.environment(), "TESTING": True}).test_client()
    second = create_app({**published.environment(), "TESTING": True}).test_client()
    ingest(_write(tmp_path / "a.csv", "lsoa21cd,count\nE01000001,100\nE01000002,200\n"),
           IngestOptions(name="shared", measure="Admissions"), published)
    url = "/map/frame?lad=E06000001&indicator=shared"
    before = second.get(url)
    assert before.status_code == 200
    old = _shown(published)
    assert old in before.get_data(as_text=True)
    key = published.version_key()
    ingest(_write(tmp_path / "b.csv", "lsoa21cd,count\nE01000001,900\nE01000002,700\n"),
           IngestOptions(name="shared", measure="Admissions"), PostgisStore(published.url))
    assert published.version_key() != key
    after = second.get(url)
    assert after.status_code == 200

    new = _shown(published)
    assert new != old and new in after.get_data(as_text=True) and old not in after.get_data(as_text=True)
    assert first.get(url).status_code == 200
    DatasetStore(published).remove("shared")
    assert second.get(url).status_code == 404
    assert first.get(url).status_code == 404


def test_cli_build_publish_status_ingest(pg_cluster, fixture_mirror, folder_fixture_store, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from geo.cli import main

    runner = CliRunner()
    url = pg_cluster.new_database("cli")
    monkeypatch.setenv("GAPMAP_DATABASE_URL", url)
    built = runner.invoke(main, ["data", "build", "--mirror", str(fixture_mirror), "--quiet"])
    assert built.exit_code == 0, built.output
    assert "Store: postgresql://gapmap@" in built.output and "(build " in built.output
    status = runner.invoke(main, ["data", "status"])
    assert status.exit_code == 0 and "PostgreSQL" in status.output and "lsoas" in status.output
    lsoas = runner.invoke(main, ["lsoas", "--lad", "E06000001", "--columns", "lsoa21cd,imd_decile"])
    assert lsoas.exit_code == 0 and lsoas.output.count("E01") == 4
    csv = _write(tmp_path / "c.csv", "lsoa21cd,count\nE01000001,12\n")
    ingested = runner.invoke(main, ["ingest", str(csv), "--name", "c"])
    assert ingested.exit_code == 0 and "rows read 1: used 1" in ingested.output
    assert "c:" in runner.invoke(main, ["datasets"]).output
    # publish a folder store (and its datasets) into another database
    other = pg_cluster.new_database("pub")
    ingest(_write(tmp_path / "f.csv", "lsoa21cd,count\nE01000003,9\n"), IngestOptions(name="folder-ds"),
           folder_fixture_store)
    out = runner.invoke(main, ["data", "publish", "--from", str(folder_fixture_store.root), "--database", other,
                               "--with-datasets"])
    assert out.exit_code == 0, out.output
    assert "dataset folder-ds" in out.output
    target = PostgisStore(other)
    assert target.build_id() == folder_fixture_store.build_id()
    assert DatasetStore(target).get("folder-ds").counts()["count"].tolist() == [9]
    again = runner.invoke(main, ["data", "publish", "--from", str(folder_fixture_store.root), "--database", other])
    assert again.exit_code != 0 and "already" in again.output
    monkeypatch.delenv("GAPMAP_DATABASE_URL")
    missing = runner.invoke(main, ["data", "publish"])
    assert missing.exit_code != 0 and "GAPMAP_DATABASE_URL" in missing.output


def _free_port() -> int:
    for port in range(8110, 8120):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 8110-8119")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_with_workers_shares_the_database(published, tmp_path):
    """`gapmap serve --workers 2` (gunicorn): every worker answers, and every worker sees a dataset
    added or removed through the database at once."""
    port = _free_port()
    env = {**os.environ, **published.environment(), "PYTHONPATH": str(ROOT)}
    env.pop("GAPMAP_STORE", None)
    server = subprocess.Popen([sys.executable, "-m", "geo.cli", "serve", "--port", str(port), "--workers", "2",
                               "--threads", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if _get(base + "/api/places")[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        workers = []
        while time.time() < deadline:  # gunicorn starts its workers one after another
            workers = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.pid)], capture_output=True,
                                     text=True).stdout.split()
            if len(workers) >= 2:
                break
            time.sleep(0.3)
        assert len(workers) == 2
        url = base + "/map/frame?lad=E06000001&indicator=served"
        assert all(_get(url)[0] == 404 for _ in range(6))
        ingest(_write(tmp_path / "s.csv", "lsoa21cd,count\nE01000001,100\n"), IngestOptions(name="served"), published)
        assert all(_get(url)[0] == 200 for _ in range(12))  # each worker, whatever it cached
        DatasetStore(published).remove("served")
        assert all(_get(url)[0] == 404 for _ in range(12))
    finally:
        server.terminate()
        server.wait(30)


def test_a_dropped_connection_is_replaced(published):
    """The server closing a worker's connection (a restart, an idle timeout) costs no request."""
    store = PostgisStore(published.url)
    pid = store.db.connection().info.backend_pid
    with psycopg.connect(published.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert store.build_id() == published.build_id()
    assert store.db.connection().info.backend_pid != pid


def test_passwords_are_never_shown():
    from geo.store.pg import masked

    assert masked("postgresql://gapmap:s3cret@db.nhs.uk/gapmap") == "postgresql://gapmap:***@db.nhs.uk/gapmap"
    assert "s3cret" not in masked("host=db user=gapmap password=s3cret dbname=gapmap")


def test_a_new_build_reaches_every_app_at_once(published):
    """A build published while apps hold cached maps: their next request draws the new build."""
    from app import create_app

    apps = [create_app({**published.environment(), "TESTING": True}).test_client() for _ in range(2)]
    url = "/map/frame?lad=E06000001&indicator=imd_score"
    before = [a.get(url).get_data(as_text=True) for a in apps]
    assert all('"77.7"' not in page for page in before)
    names = ["lsoas", "areas_ward", "areas_lad", "areas_icb", "points_schools", "points_gp_practices",
             "points_hospitals", "postcodes", "population_mid2020", "lsoa11_to_lsoa21"]
    with published.writer() as writer:  # the same build with one IMD score changed
        for name in names:
            frame = published._read(name, None, None, True)
            if name == "lsoas":
                frame.loc[frame["lsoa21cd"] == "E01000001", "imd_score"] = 77.7
            writer.table(name, frame)
        for report in published.reports():
            writer.report(report, published.report(report))
        writer.manifest({k: v for k, v in published.manifest().items() if k != "build_id"})
        writer.commit()
    after = [a.get(url).get_data(as_text=True) for a in apps]
    assert all('"77.7"' in page for page in after)
    assert published.manifest()["build_id"] == writer.build_id


# ---- users, tokens and the audit log in PostgreSQL ----------------------------------------------
def test_accounts_live_in_postgresql(empty_db):
    """The same account operations as the SQLite file, answered from the database."""
    from geo.store import open_accounts
    from geo.store.accounts import AccountError
    from geo.store.pg_accounts import PostgresAccounts

    book = open_accounts(PostgisStore(empty_db), override=None)
    assert isinstance(book, PostgresAccounts) and not book.has_users()
    book.add_user("ada", "analyst", "a-long-password", "E54000024")
    with pytest.raises(AccountError, match="already a user"):
        book.add_user("ada", "viewer")
    assert book.check_password("ada", "a-long-password").role == "analyst"
    assert book.check_password("ada", "wrong-password") is None
    epoch = book.session_epoch("ada")
    book.set_password("ada", "another-long-one")
    assert book.session_epoch("ada") == epoch + 1 and book.session_user("ada", epoch) is None
    token = book.new_token("ada")
    other = PostgresAccounts(empty_db)  # another worker or server on the same database
    assert other.user_for_token(token).name == "ada"
    assert other.set_role("ada", "admin").role == "admin" and book.get("ada").role == "admin"
    assert book.revoke_tokens("ada") == 1 and other.user_for_token(token) is None
    for _ in range(3):
        book.audit("sign-in", "ada", "refused", "wrong name or password", "127.0.0.1")
    assert other.recent_failures("ada", 15) == 3
    log = other.audit_log(10, event="sign-in")
    assert len(log) == 3 and log[0]["id"] > log[-1]["id"]
    other.remove_user("ada")
    assert book.get("ada") is None and book.users() == []


def test_apps_on_one_database_share_sign_in(published):
    """Two apps on one PostGIS store (two servers of a team): a user added through one can sign
    in through the other, and both write one audit log."""
    from app import create_app
    from geo.store.pg_accounts import PostgresAccounts

    first = create_app({**published.environment(), "TESTING": True})
    second = create_app({**published.environment(), "TESTING": True})
    assert isinstance(first.extensions["gapmap_accounts"], PostgresAccounts)
    first.extensions["gapmap_accounts"].add_user("bea", "viewer", "bea-long-password")
    token = first.extensions["gapmap_accounts"].new_token("bea")
    response = second.test_client().get("/api/places?icb=E54000001", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert second.test_client().get("/api/places?icb=E54000001").status_code == 401  # sign-in is on for both
    first.extensions["gapmap_accounts"].audit("upload", "bea", "ok", "test")
    assert second.extensions["gapmap_accounts"].audit_log(5, event="upload")[0]["actor"] == "bea"
