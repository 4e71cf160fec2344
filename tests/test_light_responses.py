"""The light API routes answered from their final bytes (app.light_responses): the same bytes and
headers as the full Flask path, never another scope's answer, every change to the store or to an
account seen at the next request, and bounded. The references are Flask's own answers, made by
the app without the layer in front (``LightResponses.wsgi_app``)."""
import io
import os
import shutil

import pytest
from werkzeug.test import Client

from app import create_app
from app.light_responses import MAX_QUERY, LightResponses
from geo.store.accounts import Accounts
from geo.store.datasets import DatasetStore
from geo.views import cache_budget
from tests.test_catalogue import _save, store  # noqa: F401  (store: the same store-copy fixture)
from tests.test_security import sign_in, token_of

ROUTES = ("/api/indicators", "/api/nhs-indicators", "/api/places?icb=E54000001")
COUNTS = b"lsoa21cd,count\nE01000001,25\nE01000002,40\nE01000003,12\n"




def _layer(app) -> LightResponses:
    return app.extensions["gapmap_light_responses"]


def _flask(client):
    """A client of the same app without the layer, holding the same cookies (the reference)."""
    inner = Client(_layer(client.application).wsgi_app)
    inner._cookies = client._cookies
    return inner


def _headers(response) -> list:
    return sorted((k, v) for k, v in response.headers.items() if k not in ("ETag", "Set-Cookie"))


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [row["id"] for row in response.get_json()]


@pytest.fixture
def team(store, tmp_path):
    """Sign-in on: an admin, an analyst of QAA (E54000001) with a dataset of QAA, a viewer of QAA
    under its ONS code, an analyst of QE1 and a viewer with no ICB."""
    book = Accounts(tmp_path / "accounts.sqlite")
    book.add_user("ada", "admin", "admin-password-1")
    book.add_user("ann", "analyst", "analyst-password-1", icb="QAA")
    book.add_user("val", "viewer", "viewer-password-2", icb="E54000001")
    book.add_user("bob", "analyst", "analyst-password-3", icb="QE1")
    book.add_user("nic", "viewer", "viewer-password-1")
    app = create_app({"GAPMAP_STORE": str(store.root), "DEFAULT_ICB": "E54000001", "ACCOUNTS": str(book.path),
                      "SECRET_KEY": "test-secret"})
    _save(store, "qaa-data", owner="ann", owner_icb="QAA", nhs_indicator="UEC01")
    return app, book, store


def _signed_in(app, name, password):
    client = app.test_client()
    assert sign_in(client, name, password).status_code == 302
    return client


def test_a_warm_answer_is_flasks_answer_on_every_route_and_encoding(store):
    app = create_app({**store.environment(), "DEFAULT_ICB": "E54000001", "SINGLE_USER": True})
    client = app.test_client()
    for route in ROUTES:
        for encoding in ({}, {"Accept-Encoding": "gzip"}):
            reference = _flask(client).get(route, headers=encoding)
            before = _layer(app).hits
            first, warm = client.get(route, headers=encoding), client.get(route, headers=encoding)
            assert _layer(app).hits == before + 1, route  # the second from memory
            for response in (first, warm):
                assert response.status_code == reference.status_code == 200
                assert response.data == reference.data, route
                assert _headers(response) == _headers(reference), route
            assert warm.headers["ETag"] == first.headers["ETag"]
            assert warm.headers["Cache-Control"] == "private, no-cache" and "Cookie" in warm.headers["Vary"]
    assert client.get(ROUTES[0]).headers["ETag"] != client.get(ROUTES[0], headers={"Accept-Encoding": "gzip"}).headers["ETag"]


def test_a_browser_holding_the_answer_is_told_not_modified(store):
    client = create_app({**store.environment(), "DEFAULT_ICB": "E54000001", "SINGLE_USER": True}).test_client()
    etag = client.get("/api/indicators").headers["ETag"]
    same = client.get("/api/indicators", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.data == b"" and same.headers["ETag"] == etag
    assert "Content-Type" not in same.headers and same.headers["Cache-Control"] == "private, no-cache"
    assert client.get("/api/indicators", headers={"If-None-Match": '"other"'}).status_code == 200
    _save(store, "light-new")  # the answer changed: the old tag gets the new bytes
    changed = client.get("/api/indicators", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "light-new" in _ids(changed) and changed.headers["ETag"] != etag


def test_no_scope_is_given_anothers_answer(team):
    app, book, store = team
    val, bob, nic, ada = (_signed_in(app, *who) for who in (("val", "viewer-password-2"), ("bob", "analyst-password-3"),
                                                           ("nic", "viewer-password-1"), ("ada", "admin-password-1")))
    for route in ("/api/indicators", "/api/nhs-indicators"):
        for _ in range(2):  # the second round from memory
            assert b"qaa-data" in val.get(route).data and b"qaa-data" in ada.get(route).data
            assert b"qaa-data" not in bob.get(route).data and b"qaa-data" not in nic.get(route).data
        for client in (val, bob, nic, ada):
            assert client.get(route).data == _flask(client).get(route).data, route
    assert _layer(app).hits >= 8
    stranger = app.test_client()  # nobody signed in: refused, never an answer from memory
    assert stranger.get("/api/indicators").status_code == 401
    stolen = app.test_client()
    stolen.set_cookie("gapmap_session", "not-a-signed-session")
    assert stolen.get("/api/indicators").status_code == 401


def test_an_accounts_change_counts_at_the_next_request(team):
    app, book, store = team
    bob = _signed_in(app, "bob", "analyst-password-3")
    for _ in range(2):
        assert "qaa-data" not in _ids(bob.get("/api/indicators"))
    book.set_role("bob", "admin")  # an admin sees every dataset
    assert "qaa-data" in _ids(bob.get("/api/indicators"))
    book.set_role("bob", "analyst", icb="QAA")  # moved to QAA
    assert "qaa-data" in _ids(bob.get("/api/indicators"))
    book.set_role("bob", "analyst", icb="QE1")
    assert "qaa-data" not in _ids(bob.get("/api/indicators"))
    book.end_sessions("bob")  # signed out everywhere
    assert bob.get("/api/indicators").status_code == 401
    token = book.new_token("val")
    scripted = app.test_client()
    for _ in range(2):
        answer = scripted.get("/api/indicators", headers={"Authorization": f"Bearer {token}"})
        assert "qaa-data" in _ids(answer) and "Set-Cookie" not in answer.headers
    book.revoke_tokens("val")
    assert scripted.get("/api/indicators", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert ("sign-in", None, "refused") in [(e["event"], e["actor"], e["outcome"]) for e in book.audit_log(5)]


def test_a_signed_in_answer_from_memory_refreshes_the_session_as_flask_does(team):
    app, book, store = team
    val = _signed_in(app, "val", "viewer-password-2")
    val.get("/api/indicators")
    before = _layer(app).hits
    warm = val.get("/api/indicators")
    assert _layer(app).hits == before + 1
    reference = _flask(val).get("/api/indicators")
    serializer = app.session_interface.get_signing_serializer(app)

    def cookie(response):
        name, _, rest = response.headers["Set-Cookie"].partition("=")
        value, _, attributes = rest.partition(";")
        kept = sorted(a.strip() for a in attributes.split(";") if not a.strip().startswith("Expires"))
        return name, serializer.loads(value), kept

    assert cookie(warm) == cookie(reference)
    assert cookie(warm)[1]["user"] == "val"
    assert val.get("/datasets").status_code == 200  # the refreshed cookie is a working session


def test_a_new_single_sign_on_session_goes_through_the_full_path(store, tmp_path):
    book = Accounts(tmp_path / "accounts.sqlite")
    book.add_user("ada", "admin", "admin-password-1")
    app = create_app({**store.environment(), "DEFAULT_ICB": "E54000001", "ACCOUNTS": str(book.path),
                      "SECRET_KEY": "s", "TRUSTED_USER_HEADER": "X-Forwarded-User"})
    for _ in range(2):  # two browsers, each signed on by the proxy: each sign-on is recorded
        app.test_client().get("/api/indicators", headers={"X-Forwarded-User": "sam"})
    signed_on = [e for e in book.audit_log(10) if e["event"] == "sign-in" and e["actor"] == "sam"]
    assert len(signed_on) == 2
    browser = app.test_client()
    for _ in range(3):  # the same browser: its session knows the user, so answers come from memory
        assert browser.get("/api/indicators", headers={"X-Forwarded-User": "sam"}).status_code == 200
    assert _layer(app).hits >= 1
    assert len([e for e in book.audit_log(10) if e["event"] == "sign-in" and e["actor"] == "sam"]) == 3


def test_ingest_share_removal_and_a_new_build_are_seen_at_the_next_request(team):
    app, book, store = team
    bob = _signed_in(app, "bob", "analyst-password-3")
    ids = lambda: _ids(bob.get("/api/indicators"))  # noqa: E731
    first = ids()
    assert ids() == first and "qaa-data" not in first
    DatasetStore(store).set_shared("qaa-data", True)  # meta.json replaced in place
    assert "qaa-data" in ids()
    _save(store, "light-b", owner="bob", owner_icb="QE1")
    assert "light-b" in ids()
    _save(store, "light-b", owner="bob", owner_icb="QE1", measure="Renamed")  # replaced under the same name
    labels = {row["id"]: row["label"] for row in bob.get("/api/indicators").get_json()}
    assert labels["light-b"].startswith("Renamed")
    DatasetStore(store).remove("light-b")
    DatasetStore(store).set_shared("qaa-data", False)
    assert ids() == first
    warm = _layer(app).hits
    assert ids() == first and _layer(app).hits == warm + 1
    old = store.path  # a new build made current (a copy of the old one, swapped in as `data build` does)
    new = old.parent / (old.name + "-copy")
    shutil.copytree(old, new)
    os.symlink(os.path.join("builds", new.name), store.root / ".current-new")
    os.replace(store.root / ".current-new", store.root / "current")
    assert ids() == first and _layer(app).hits == warm + 1  # made again from the new build
    assert ids() == first and _layer(app).hits == warm + 2


def test_what_a_client_can_ask_for_is_bounded(store):
    app = create_app({**store.environment(), "DEFAULT_ICB": "E54000001", "SINGLE_USER": True})
    layer = _layer(app)
    small = LightResponses(app, layer.wsgi_app, max_entries=4, max_bytes=1 << 20)
    client = Client(small)
    for i in range(20):
        assert client.get(f"/api/places?icb=E54000001&n={i}").status_code == 200
    assert len(small.answers) == 4  # least recently used dropped
    assert small.answers in cache_budget.BUDGET.caches() and layer.answers in cache_budget.BUDGET.caches()
    long = "icb=E54000001&pad=" + "x" * MAX_QUERY
    assert client.get(f"/api/places?{long}").status_code == 200 and client.get(f"/api/places?{long}").status_code == 200
    assert small.hits == 0  # a long query is answered, never kept
    tiny = LightResponses(app, layer.wsgi_app, max_entries=4, max_bytes=100)
    assert Client(tiny).get("/api/indicators").status_code == 200 and len(tiny.answers) == 0  # larger than its bound


def test_other_requests_go_to_flask_as_they_came(store):
    app = create_app({**store.environment(), "DEFAULT_ICB": "E54000001", "SINGLE_USER": True})
    client = app.test_client()
    assert client.get("/api/indicators", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/api/indicators", headers={"Host": "evil.example"}).status_code == 400
    assert client.head("/api/indicators").status_code == 200
    assert client.post("/api/indicators").status_code in (400, 405)
    assert client.get("/api/places?icb=E54000099").status_code == 404
    assert client.get("/api/places?icb=E54000099").status_code == 404
    assert client.get("/api/places?icb=E54000001&lad=E06000001").status_code == 400
    assert _layer(app).hits == 0 and len(_layer(app).answers) == 0
    upload = client.post("/upload", content_type="multipart/form-data",
                         data={"file": (io.BytesIO(COUNTS), "counts.csv"), "name": "via-upload", "measure": "Admissions",
                               "csrf_token": token_of(client)})
    assert upload.status_code == 200
    assert "via-upload" in _ids(client.get("/api/indicators"))
