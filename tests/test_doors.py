"""Issue 19: the doors a probe found open, one test per rule: where sign-in may send you, who a
stranger's guesses can slow, which ICB's datasets a user sees on every route, formulas in the
files Gapmap writes, store packs that are incomplete, too large or weaken disclosure control,
and one memory budget for every cache."""
import io
import re

import pytest

from app import create_app
from geo.store.accounts import Accounts
from tests.test_security import clock, sign_in, token_of  # noqa: F401  (clock is a fixture)

COUNTS = b"lsoa21cd,count\nE01000001,25\nE01000002,40\nE01000003,12\n"


@pytest.fixture()
def icbs(fixture_store, tmp_path):
    """A shared server: an admin, analysts of two ICBs (QAA = E54000001 and QE1), a viewer of
    QAA and a viewer with no ICB; QAA's analyst has uploaded a dataset attached to UEC01."""
    book = Accounts(tmp_path / "accounts.sqlite")
    book.add_user("ada", "admin", "admin-password-1")
    book.add_user("ann", "analyst", "analyst-password-1", icb="QAA")
    book.add_user("val", "viewer", "viewer-password-2", icb="E54000001")
    book.add_user("bob", "analyst", "analyst-password-3", icb="QE1")
    book.add_user("nic", "viewer", "viewer-password-1")
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "DEFAULT_ICB": "E54000001",
                      "ACCOUNTS": str(book.path), "SECRET_KEY": "test-secret"})
    ann = signed_in(app, "ann", "analyst-password-1")
    made = ann.post("/upload", content_type="multipart/form-data",
                    data={"file": (io.BytesIO(COUNTS), "counts.csv"), "name": "qaa-admissions",
                          "measure": "Admissions", "nhs_indicator": "UEC01", "csrf_token": token_of(ann)})
    assert made.status_code == 200, made.get_data(as_text=True)
    yield app, book
    from geo.store.datasets import DatasetStore

    store = DatasetStore(app.extensions["gapmap_store"])
    for name in ("qaa-admissions", "bob-data"):
        if name in store.names():
            store.remove(name)


def signed_in(app, name, password, address="127.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    assert sign_in(client, name, password).status_code == 302
    return client


# ---- 4. sign-in and roles ------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["/\t/evil.example", "/%09/evil.example", "//evil.example", "/\\evil.example",
                                    "https://evil.example/", "/%2F/evil.example", "/\n/evil.example"])
def test_sign_in_sends_you_only_to_a_path_on_this_server(fixture_store, tmp_path, target):
    book = Accounts(tmp_path / "accounts.sqlite")
    book.add_user("ada", "admin", "admin-password-1")
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "ACCOUNTS": str(book.path), "SECRET_KEY": "s"})
    client = app.test_client()
    page = client.get("/sign-in", query_string={"next": target})
    assert "evil.example" not in page.get_data(as_text=True)
    done = client.post("/sign-in", data={"name": "ada", "password": "admin-password-1", "next": target,
                                         "csrf_token": token_of(client, "/sign-in")})
    assert done.status_code == 302 and done.headers["Location"] == "/"
    kept = app.test_client()
    kept_done = kept.post("/sign-in", data={"name": "ada", "password": "admin-password-1", "next": "/map?icb=QAA",
                                            "csrf_token": token_of(kept, "/sign-in")})
    assert kept_done.headers["Location"] == "/map?icb=QAA"  # a path on this server is kept


def test_a_stranger_cannot_lock_the_admin_out(icbs, clock):
    app, book = icbs
    stranger = app.test_client()
    stranger.environ_base["REMOTE_ADDR"] = "10.66.0.1"
    for _ in range(12):
        sign_in(stranger, "ada", "a-wrong-guess")
        clock.wait(70)
    assert sign_in(stranger, "ada", "admin-password-1").status_code == 429  # the guesser is held back
    assert signed_in(app, "ada", "admin-password-1").get("/admin/users").status_code == 200  # ada is not


def test_failures_from_one_address_back_off_exponentially(icbs, clock):
    app, book = icbs
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "10.66.0.2"
    for name in ("ann", "bob", "nic"):  # three free failures, whatever the names
        assert sign_in(guesser, name, "a-wrong-guess").status_code == 401
    held = sign_in(guesser, "val", "a-wrong-guess")
    assert held.status_code == 429 and held.headers["Retry-After"] == "1"
    assert ("Too many failed sign-ins from this computer: wait 1 second before trying again (each further failure "
            "doubles the wait).") in held.get_data(as_text=True)
    clock.wait(1)
    assert sign_in(guesser, "val", "a-wrong-guess").status_code == 401
    again = sign_in(guesser, "val", "viewer-password-2")
    assert again.status_code == 429 and "wait 2 seconds" in again.get_data(as_text=True)
    clock.wait(2)
    assert sign_in(guesser, "val", "viewer-password-2").status_code == 302  # the right password, once waited


def test_users_are_given_an_icb_and_the_command_line_records_it(fixture_store, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from geo.cli import main

    monkeypatch.setenv("GAPMAP_STORE", str(fixture_store.root))
    monkeypatch.setenv("GAPMAP_ACCOUNTS", str(tmp_path / "a.sqlite"))
    out = CliRunner().invoke(main, ["users", "add", "sam.jones", "--role", "analyst", "--icb", "QAA",
                                    "--no-password"])
    assert out.exit_code == 0, out.output
    assert Accounts(tmp_path / "a.sqlite").get("sam.jones").icb == "E54000001"


def _same_words(text: str, name: str, other: str) -> str:
    return text.replace(name, "NAME").replace(other, "NAME")


ROUTES = ["/map?icb=E54000001&indicator={}", "/map/panel?icb=E54000001&indicator={}",
          "/map/frame?icb=E54000001&indicator={}",
          "/api/lsoas.geojson?icb=E54000001&indicator={}", "/api/statistics?icb=E54000001&indicator={}",
          "/api/export.csv?icb=E54000001&indicator={}", "/api/export.geojson?icb=E54000001&indicator={}",
          "/api/export.gpkg?icb=E54000001&indicator={}", "/api/export.html?icb=E54000001&indicator={}",
          "/targeting.csv?icb=E54000001&indicator={}"]


def test_another_icbs_datasets_are_unknown_on_every_route(icbs):
    app, book = icbs
    bob = signed_in(app, "bob", "analyst-password-3")
    for route in ROUTES:
        hidden, unknown = bob.get(route.format("qaa-admissions")), bob.get(route.format("never-uploaded"))
        assert hidden.status_code == unknown.status_code == 404, route
        assert _same_words(hidden.get_data(as_text=True), "qaa-admissions", "never-uploaded") == \
            _same_words(unknown.get_data(as_text=True), "qaa-admissions", "never-uploaded"), route
    for page in ("/datasets", "/", "/indicators", "/api/indicators", "/api/nhs-indicators", "/statement?icb=QAA",
                 "/statement/download.csv?icb=QAA", "/statement/download.xlsx?icb=QAA"):
        body = bob.get(page).data
        assert b"qaa-admissions" not in body and b"Admissions (uploaded" not in body, page
        assert b"<td>ann</td>" not in bob.get("/datasets").data  # nor who uploaded it
    assert bob.get("/statement/UEC01?icb=QAA").status_code == 404
    deck = bob.get("/statement/download.pptx?icb=QAA")
    assert deck.status_code == 200 and b"qaa-admissions" not in _unzipped(deck.data)
    removed = bob.post("/datasets/qaa-admissions/remove", data={"csrf_token": token_of(bob, "/datasets")})
    unknown = bob.post("/datasets/never-uploaded/remove", data={"csrf_token": token_of(bob, "/datasets")})
    assert removed.status_code == unknown.status_code == 404
    assert "no dataset called &#39;qaa-admissions&#39; (datasets: none yet)" in removed.get_data(as_text=True)
    replaced = bob.post("/upload", content_type="multipart/form-data",
                        data={"file": (io.BytesIO(COUNTS), "counts.csv"), "name": "qaa-admissions",
                              "csrf_token": token_of(bob)})
    assert replaced.status_code == 403
    assert "The name &#39;qaa-admissions&#39; cannot be used: choose another name." in replaced.get_data(as_text=True)
    from geo.store.datasets import DatasetStore

    meta = DatasetStore(app.extensions["gapmap_store"]).get("qaa-admissions").meta
    assert meta["owner"] == "ann" and meta["owner_icb"] == "QAA"  # untouched
    assert ("remove", "bob", "refused") in [(e["event"], e["actor"], e["outcome"]) for e in book.audit_log(20)]


def _unzipped(data: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return b"".join(z.read(n) for n in z.namelist())


def test_own_icb_sees_its_datasets_and_an_admin_may_share_one(icbs):
    app, book = icbs
    val = signed_in(app, "val", "viewer-password-2")  # QAA under its ONS code
    assert val.get("/map?icb=E54000001&indicator=qaa-admissions").status_code == 200
    assert b"qaa-admissions" in val.get("/datasets").data
    assert b"UEC01" in val.get("/statement?icb=QAA").data
    nic = signed_in(app, "nic", "viewer-password-1")  # no ICB: shared datasets only
    assert nic.get("/map?icb=E54000001&indicator=qaa-admissions").status_code == 404
    bob = signed_in(app, "bob", "analyst-password-3")
    assert bob.post("/datasets/qaa-admissions/share", data={"csrf_token": token_of(bob, "/datasets")}).status_code == 403
    ada = signed_in(app, "ada", "admin-password-1")
    shared = ada.post("/datasets/qaa-admissions/share", data={"shared": "1", "csrf_token": token_of(ada, "/datasets")})
    assert shared.status_code == 302
    assert nic.get("/map?icb=E54000001&indicator=qaa-admissions").status_code == 200
    assert b"qaa-admissions" in bob.get("/statement?icb=QAA").data  # the cached statement follows the share
    assert bob.post("/datasets/qaa-admissions/remove",
                    data={"csrf_token": token_of(bob, "/datasets")}).status_code == 403  # seen, not his to change
    ada.post("/datasets/qaa-admissions/share", data={"shared": "0", "csrf_token": token_of(ada, "/datasets")})
    assert nic.get("/map?icb=E54000001&indicator=qaa-admissions").status_code == 404


def test_single_user_mode_sees_every_dataset(icbs, tmp_path):
    app, book = icbs
    single = create_app({"GAPMAP_STORE": app.config["GAPMAP_STORE"], "ACCOUNTS": str(tmp_path / "none.sqlite"),
                         "DEFAULT_ICB": "E54000001"}).test_client()
    assert single.get("/map?icb=E54000001&indicator=qaa-admissions").status_code == 200
    assert b"qaa-admissions" in single.get("/datasets").data


# ---- 5. files that cannot attack their reader -----------------------------------------------------
EVIL = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture(scope="module")
def evil_statement(fixture_store, tmp_path_factory):
    """A statement whose dataset's period labels and measure start like formulas."""
    import pandas as pd

    from geo.ingest.pipeline import IngestOptions, ingest
    from geo.outputs import statement_files
    from geo.views import statement
    from geo.views.analysis import Extent

    tmp = tmp_path_factory.mktemp("evil")
    rows = [{"lsoa": f"E0100000{i}", "period": period, "count": 20 + 5 * i}
            for i in range(1, 9) for period in (EVIL, "2023/24")]
    pd.DataFrame(rows).to_csv(tmp / "evil.csv", index=False)
    ingest(tmp / "evil.csv", IngestOptions(name="evil-periods", shape="aggregated", measure="-2+3 admissions",
                                           nhs_indicator="UEC01"), fixture_store)
    try:
        st = statement.build(fixture_store, Extent("icb", "E54000001"), codes=["UEC01"])
        assert st.with_data and st.with_data[0].trend is not None
        yield statement_files.write_all(st, tmp / "out")
    finally:
        from geo.store.datasets import DatasetStore

        DatasetStore(fixture_store).remove("evil-periods")


def _workbook_cells(data: bytes):
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data))
    return [c.value for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None]


def test_deck_charts_workbooks_hold_formulas_as_text(evil_statement):
    import zipfile

    with zipfile.ZipFile(evil_statement["deck"]) as deck:
        embedded = [n for n in deck.namelist() if n.startswith("ppt/embeddings/") and n.endswith(".xlsx")]
        assert embedded
        cells = [v for name in embedded for v in _workbook_cells(deck.read(name))]
        slides = b"".join(deck.read(n) for n in deck.namelist() if n.startswith(("ppt/slides/", "ppt/charts/")))
    assert "'" + EVIL in cells  # the period label, as text
    assert not [v for v in cells if isinstance(v, str) and v.startswith(("=", "+", "-", "@"))]
    assert b"<a:t>=HYPERLINK" not in slides and b"<c:v>=HYPERLINK" not in slides


def test_statement_tables_hold_formulas_as_text(evil_statement):
    cells = _workbook_cells(evil_statement["xlsx"].read_bytes())
    assert "'" + EVIL in cells and not [v for v in cells if isinstance(v, str) and v.startswith("=")]
    text = evil_statement["csv"].read_text()
    assert not re.search(r'(^|,)"?=HYPERLINK', text, flags=re.M) and "'=HYPERLINK" in text


def test_rows_not_used_print_formulas_as_text(fixture_store, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from geo.cli import main

    monkeypatch.setenv("GAPMAP_STORE", str(fixture_store.root))
    monkeypatch.setenv("GAPMAP_ACCOUNTS", str(tmp_path / "a.sqlite"))
    (tmp_path / "c.csv").write_text(f'lsoa21cd,count\nE01000001,25\n"{EVIL.replace(chr(34), chr(34) * 2)}",4\n')
    assert CliRunner().invoke(main, ["ingest", str(tmp_path / "c.csv"), "--name", "evil-rows"]).exit_code == 0
    try:
        out = CliRunner().invoke(main, ["datasets", "rows", "evil-rows"]).output
    finally:
        CliRunner().invoke(main, ["datasets", "rm", "evil-rows"])
    assert "'=HYPERLINK" in out and not re.search(r'(^|,)"?=HYPERLINK', out, flags=re.M)


def test_one_neutralise_for_every_file():
    from geo.outputs import cell_text, exports, statement_deck

    assert exports.neutralise is cell_text.neutralise
    assert statement_deck._safe(EVIL) == "'" + EVIL and statement_deck._safe("-1.5") == "-1.5"
    assert statement_deck._safe("-") == "-" and statement_deck._safe("-1+1") == "'-1+1"


# ---- 7. memory bounded as a whole ---------------------------------------------------------------
def test_one_budget_bounds_every_cache_least_recently_used_first():
    from geo.views.cache_budget import CacheBudget, LruEntries
    from geo.views.map_table import BoundedCache

    budget = CacheBudget(1000)
    maps, panels = BoundedCache(10, 800, budget), LruEntries(10, 800, budget)
    maps.get("england", lambda: "m", lambda v: 400)
    panels.store("qaa", "p", 300)
    assert maps.get("england", lambda: "again", lambda v: 400) == "m"  # used again: now the newest
    panels.store("qe1", "p", 400)  # 1,100 bytes: the least recently used of either cache goes
    assert "qaa" not in panels._items and "england" in maps._items and budget.nbytes == 800
    maps.get("icb", lambda: "m", lambda v: 700)  # room is made across caches, oldest first
    assert budget.nbytes <= 1000 and list(maps._items) == ["icb"] and not panels._items
    assert not panels.store("too-big", "p", 1001) and budget.nbytes == 700  # larger than the budget: not kept
    maps.clear()
    assert budget.nbytes == 0


def test_every_cache_of_the_service_counts_against_gapmap_cache_mb(monkeypatch):
    from app import api, pages
    from app import statement as statement_pages
    from geo import settings
    from geo.views import cache_budget, extent_weights, map_table

    monkeypatch.delenv("GAPMAP_CACHE_MB", raising=False)
    assert settings.cache_budget() == 512_000_000
    monkeypatch.setenv("GAPMAP_CACHE_MB", "256")
    assert settings.cache_budget() == 256_000_000
    caches = (map_table.STATISTICS_CACHE, map_table.TABLE_CACHE, map_table.GEOMETRY_CACHE, pages.PANEL_CACHE,
              pages.MAP_CACHE, api._geojson_cache(), statement_pages.STATEMENTS, extent_weights.WEIGHTS)
    held = set(map(id, cache_budget.BUDGET.caches()))
    for cache in caches:
        assert id(cache) in held and cache.budget is cache_budget.BUDGET, cache.name


# ---- the same rules in PostgreSQL/PostGIS ---------------------------------------------------------
@pytest.mark.parametrize("backend", ["folder_fixture_store", "postgis_fixture_store"])
def test_dataset_scope_and_sharing_on_both_backends(request, backend):
    import pandas as pd

    from geo.store.dataset_scope import Scope, scoped
    from geo.store.datasets import DatasetError, DatasetStore

    store = request.getfixturevalue(backend)
    counts = pd.DataFrame({"lsoa21cd": ["E01000001"], "count": [30]})
    DatasetStore(store).save("scoped-data", {"measure": "Admissions", "owner": "ann", "owner_icb": "E54000001"},
                             pd.DataFrame({"row": []}), counts=counts)
    try:
        own = scoped(store, Scope(user="val", icbs=frozenset({"E54000001", "QAA"})))
        other = scoped(store, Scope(user="bob", icbs=frozenset({"E54000002", "QE1"})))
        assert "scoped-data" in DatasetStore(own).names() and DatasetStore(own).get("scoped-data").meta["owner"] == "ann"
        assert "scoped-data" not in DatasetStore(other).names() and not DatasetStore(other).list()
        with pytest.raises(DatasetError) as hidden:
            DatasetStore(other).get("scoped-data")
        with pytest.raises(DatasetError) as unknown:
            DatasetStore(other).get("never-saved")
        assert str(hidden.value).replace("scoped-data", "X") == str(unknown.value).replace("never-saved", "X")
        with pytest.raises(DatasetError):
            DatasetStore(other).remove("scoped-data")
        before = other.version_key()
        DatasetStore(store).set_shared("scoped-data", True)
        assert "scoped-data" in DatasetStore(other).names() and other.version_key() != before
        assert DatasetStore(store).get("scoped-data").meta["shared"] is True
    finally:
        DatasetStore(store).remove("scoped-data")


def test_sign_in_slowing_on_postgres(pg_cluster, clock):
    from app.sign_in_throttle import refusal
    from geo.store.pg_accounts import PostgresAccounts

    book = PostgresAccounts(pg_cluster.new_database("doors"))
    for _ in range(3):
        book.audit("sign-in", "ada", "refused", "wrong name or password", "10.66.0.3")
    assert len(book.failed_sign_ins(15, "10.66.0.3")) == 3 and book.failed_sign_ins(15, "10.66.0.4") == []
    assert refusal(book, "ada", "10.66.0.3")[0] == 1 and refusal(book, "ada", "10.66.0.4") is None
    clock.wait(1)
    assert refusal(book, "ada", "10.66.0.3") is None


def test_command_line_records_the_icb_and_shares(fixture_store, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from geo.cli import main
    from geo.store.datasets import DatasetStore

    monkeypatch.setenv("GAPMAP_STORE", str(fixture_store.root))
    monkeypatch.setenv("GAPMAP_ACCOUNTS", str(tmp_path / "a.sqlite"))
    (tmp_path / "c.csv").write_bytes(COUNTS)
    run = CliRunner().invoke
    assert run(main, ["ingest", str(tmp_path / "c.csv"), "--name", "cli-icb", "--icb", "QAA"]).exit_code == 0
    try:
        assert DatasetStore(fixture_store).get("cli-icb").meta["owner_icb"] == "E54000001"
        shared = run(main, ["datasets", "share", "cli-icb"])
        assert shared.exit_code == 0 and "cli-icb is now shared with every ICB." in shared.output
        assert DatasetStore(fixture_store).get("cli-icb").meta["shared"] is True
        assert "[shared]" in run(main, ["datasets"]).output
        assert "seen by its ICB only" in run(main, ["datasets", "share", "cli-icb", "--off"]).output
        assert DatasetStore(fixture_store).get("cli-icb").meta["shared"] is False
    finally:
        run(main, ["datasets", "rm", "cli-icb"])
