"""Sign-in, roles, API tokens, CSRF, allowed hosts, security headers, the 500 page and the audit log
(issue 11 items 2 and 6), through Flask's test client on the fixture store."""
import io
import json
import logging
import re
import sqlite3
import stat

import pytest
from click.testing import CliRunner

from app import create_app
from geo.store.accounts import Accounts

COUNTS = b"lsoa21cd,count\nE01000001,25\nE01000002,40\n"


def token_of(client, page="/upload") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).get_data(as_text=True)).group(1)


def upload(client, name, csrf=True, **extra):
    data = {"file": (io.BytesIO(COUNTS), "counts.csv"), "name": name, "measure": "Admissions", **extra}
    if csrf:
        data["csrf_token"] = token_of(client)
    return client.post("/upload", data=data, content_type="multipart/form-data")


def sign_in(client, name, password):
    return client.post("/sign-in", data={"name": name, "password": password, "csrf_token": token_of(client, "/sign-in"),
                                         "next": "/datasets"})


@pytest.fixture()
def team(fixture_store, tmp_path):
    """An app with sign-in on: an admin, two analysts of one ICB, one of another, and a viewer."""
    book = Accounts(tmp_path / "accounts.sqlite")
    book.add_user("ada", "admin", "admin-password-1")
    book.add_user("ann", "analyst", "analyst-password-1", icb="QHG")
    book.add_user("amy", "analyst", "analyst-password-2", icb="QHG")
    book.add_user("bob", "analyst", "analyst-password-3", icb="QE1")
    book.add_user("vic", "viewer", "viewer-password-1")
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "DEFAULT_ICB": "E54000001",
                      "ACCOUNTS": str(book.path), "SECRET_KEY": "test-secret"})
    yield app, book
    from geo.store.datasets import DatasetStore

    store = DatasetStore(app.extensions["gapmap_store"])
    for name in ("ann-data", "shared", "tok-data"):
        if name in store.names():
            store.remove(name)


def test_single_user_on_loopback_needs_no_sign_in(fixture_store, tmp_path):
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "ACCOUNTS": str(tmp_path / "a.sqlite"),
                      "DEFAULT_ICB": "E54000001"})
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert "Sign out" not in client.get("/").get_data(as_text=True)


def test_security_headers_on_every_response(fixture_store):
    client = create_app({"GAPMAP_STORE": str(fixture_store.root), "SINGLE_USER": True,
                         "DEFAULT_ICB": "E54000001"}).test_client()
    for path in ("/", "/map/frame?lad=E06000001", "/api/indicators", "/static/css/gapmap.css", "/no-such-page"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'self'" in csp, path
        assert "http" not in csp.replace("https://", "") and "cdn" not in csp  # no other origin
        assert "object-src 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    framed = create_app({"GAPMAP_STORE": str(fixture_store.root), "SINGLE_USER": True,
                         "FRAME_ANCESTORS": "'self' https://intranet.example.nhs.uk"}).test_client()
    assert "frame-ancestors 'self' https://intranet.example.nhs.uk" in \
        framed.get("/").headers["Content-Security-Policy"]
    with pytest.raises(ValueError, match="GAPMAP_FRAME_ANCESTORS"):
        create_app({"GAPMAP_STORE": str(fixture_store.root), "FRAME_ANCESTORS": "'self'; script-src *"})


def test_untrusted_host_is_refused_and_never_echoed(fixture_store):
    client = create_app({"GAPMAP_STORE": str(fixture_store.root), "SINGLE_USER": True,
                         "DEFAULT_ICB": "E54000001"}).test_client()
    evil = client.get("/map?lad=E06000001", headers={"Host": "evil.example"})
    assert evil.status_code == 400 and b"evil.example" not in evil.data
    ok = client.get("/map?lad=E06000001", headers={"Host": "127.0.0.1:8080"})
    assert ok.status_code == 200 and "http://127.0.0.1:8080/map/frame" in ok.get_data(as_text=True)
    team = create_app({"GAPMAP_STORE": str(fixture_store.root), "SINGLE_USER": True, "DEFAULT_ICB": "E54000001",
                       "ALLOWED_HOSTS": "gapmap.example.nhs.uk,.icb.nhs.uk"}).test_client()
    assert team.get("/", headers={"Host": "gapmap.example.nhs.uk"}).status_code == 200
    assert team.get("/", headers={"Host": "maps.icb.nhs.uk:443"}).status_code == 200
    assert team.get("/", headers={"Host": "localhost"}).status_code == 400
    assert team.get("/", headers={"Host": "icb.nhs.uk.evil.example"}).status_code == 400


def test_every_form_needs_a_csrf_token_and_other_sites_are_refused(fixture_store, tmp_path):
    client = create_app({"GAPMAP_STORE": str(fixture_store.root), "SINGLE_USER": True,
                         "ACCOUNTS": str(tmp_path / "a.sqlite")}).test_client()
    refused = upload(client, "csrf-test", csrf=False)
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    assert "csrf-test" not in client.get("/datasets").get_data(as_text=True)
    wrong = upload(client, "csrf-test", csrf=False, csrf_token="forged")
    assert wrong.status_code == 400
    cross = client.post("/upload", data={"name": "x", "csrf_token": token_of(client)},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    # every form the pages show carries the token
    made = upload(client, "csrf-listed")
    assert made.status_code == 200
    for page in ("/upload", "/datasets", "/sign-in", "/admin/users"):
        html = client.get(page).get_data(as_text=True)
        posts = re.findall(r'<form[^>]*method="post"[^>]*>(.*?)</form>', html, flags=re.S)
        assert posts and all('name="csrf_token" value="' in form for form in posts), page
    from geo.store.datasets import DatasetStore

    DatasetStore(client.application.extensions["gapmap_store"]).remove("csrf-listed")


def test_sign_in_roles_and_dataset_ownership(team):
    app, book = team
    client = app.test_client()
    page = client.get("/map?lad=E06000001")
    assert page.status_code == 302 and "/sign-in" in page.headers["Location"]
    api = client.get("/api/indicators")
    assert api.status_code == 401 and "error" in api.get_json()
    assert client.post("/upload", data={"name": "x"}).status_code in (400, 401)
    bad = sign_in(client, "ann", "not her password")
    assert bad.status_code == 401 and "do not match" in bad.get_data(as_text=True)
    assert client.get("/").status_code == 302
    good = sign_in(client, "ann", "analyst-password-1")
    assert good.status_code == 302 and good.headers["Location"].endswith("/datasets")
    cookie = good.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert client.get("/").status_code == 200
    assert client.get("/admin/users").status_code == 403  # analysts do not manage users
    made = upload(client, "ann-data")
    assert made.status_code == 200, made.get_data(as_text=True)
    from geo.store.datasets import DatasetStore

    meta = DatasetStore(app.extensions["gapmap_store"]).get("ann-data").meta
    assert meta["owner"] == "ann" and meta["owner_icb"] == "QHG"

    other = app.test_client()  # bob: an analyst of another ICB
    sign_in(other, "bob", "analyst-password-3")
    assert upload(other, "ann-data").status_code == 403
    refused = other.post("/datasets/ann-data/remove", data={"csrf_token": token_of(other, "/datasets")})
    assert refused.status_code == 404  # another ICB's dataset: as unknown to bob as a name never used (issue 19)
    assert "ann-data" in DatasetStore(app.extensions["gapmap_store"]).names()

    viewer = app.test_client()
    sign_in(viewer, "vic", "viewer-password-1")
    assert viewer.get("/map?lad=E06000001").status_code == 200
    assert upload(viewer, "vic-data").status_code == 403

    colleague = app.test_client()  # amy: same ICB as ann
    sign_in(colleague, "amy", "analyst-password-2")
    removed = colleague.post("/datasets/ann-data/remove", data={"csrf_token": token_of(colleague, "/datasets")})
    assert removed.status_code == 302
    assert "ann-data" not in DatasetStore(app.extensions["gapmap_store"]).names()

    signed_out = client.post("/sign-out", data={"csrf_token": token_of(client, "/datasets")})
    assert signed_out.status_code == 302 and client.get("/").status_code == 302

    log = book.audit_log(50)
    events = [(e["event"], e["actor"], e["outcome"]) for e in log]
    assert ("sign-in", "ann", "refused") in events and ("sign-in", "ann", "ok") in events
    assert ("upload", "ann", "ok") in events and ("upload", "bob", "refused") in events
    assert ("remove", "bob", "refused") in events and ("remove", "amy", "ok") in events
    assert ("sign-out", "ann", "ok") in events
    assert all(e["address"] == "127.0.0.1" for e in log)


def test_admin_manages_users_on_the_web(team):
    app, book = team
    client = app.test_client()
    sign_in(client, "ada", "admin-password-1")
    assert "ann" in client.get("/admin/users").get_data(as_text=True)
    token = token_of(client, "/admin/users")
    added = client.post("/admin/users", data={"action": "add", "name": "new.user", "role": "analyst", "icb": "qaa",
                                             "password": "a-long-password", "csrf_token": token})
    assert added.status_code == 302
    assert book.get("new.user").role == "analyst" and book.get("new.user").icb == "E54000001"  # NHS code -> ONS
    unknown = client.post("/admin/users", data={"action": "add", "name": "x.y", "role": "viewer", "icb": "ZZZ",
                                               "csrf_token": token})
    assert unknown.status_code == 400 and "unknown ICB" in unknown.get_data(as_text=True)
    client.post("/admin/users", data={"action": "role", "name": "new.user", "role": "viewer", "csrf_token": token})
    assert book.get("new.user").role == "viewer"
    short = client.post("/admin/users", data={"action": "add", "name": "x", "role": "viewer", "password": "short",
                                             "csrf_token": token})
    assert short.status_code == 400 and "at least 10" in short.get_data(as_text=True)
    client.post("/admin/users", data={"action": "remove", "name": "new.user", "csrf_token": token})
    assert book.get("new.user") is None
    assert {"user-add", "user-role", "user-remove"} <= {e["event"] for e in book.audit_log(20, actor="ada")}


def test_a_removed_user_is_signed_out(team):
    app, book = team
    client = app.test_client()
    sign_in(client, "vic", "viewer-password-1")
    assert client.get("/").status_code == 200
    book.remove_user("vic")
    assert client.get("/").status_code == 302


def test_signing_out_ends_copies_of_the_session_and_a_new_password_ends_all(team):
    app, book = team
    client = app.test_client()
    sign_in(client, "ann", "analyst-password-1")
    stolen = client.get_cookie("gapmap_session").value
    client.post("/sign-out", data={"csrf_token": token_of(client, "/datasets")})
    thief = app.test_client()
    thief.set_cookie("gapmap_session", stolen)
    assert thief.get("/").status_code == 302  # the copied cookie no longer signs anyone in
    sign_in(client, "ann", "analyst-password-1")
    assert client.get("/").status_code == 200
    book.set_password("ann", "a-new-password-2")
    assert client.get("/").status_code == 302


def test_api_tokens_for_scripts(team):
    app, book = team
    token = book.new_token("ann")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/indicators", headers=auth).status_code == 200
    # a script's POST needs no CSRF token (no cookie is involved)
    made = client.post("/upload", headers=auth, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(COUNTS), "counts.csv"), "name": "tok-data"})
    assert made.status_code == 200
    assert client.get("/api/indicators", headers={"Authorization": "Bearer gm_wrong"}).status_code == 401
    assert client.get("/api/indicators", headers={"Authorization": "Basic abc"}).status_code == 401
    raw = book.path.read_bytes()
    assert token.encode() not in raw  # only a hash is kept
    book.revoke_tokens("ann")
    assert client.get("/api/indicators", headers=auth).status_code == 401


def test_single_sign_on_header_only_from_the_trusted_proxy(fixture_store, tmp_path):
    book = Accounts(tmp_path / "a.sqlite")
    book.add_user("sam@nhs.net", "analyst", None, icb="QHG")
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "ACCOUNTS": str(book.path),
                      "TRUSTED_USER_HEADER": "X-Forwarded-User", "TRUSTED_PROXIES": "127.0.0.1",
                      "DEFAULT_ICB": "E54000001"})
    client = app.test_client()
    page = client.get("/", headers={"X-Forwarded-User": "sam@nhs.net"})
    assert page.status_code == 200 and "sam@nhs.net (analyst)" in page.get_data(as_text=True)
    unknown = client.get("/upload", headers={"X-Forwarded-User": "pat@nhs.net"})
    assert unknown.status_code == 403  # not in gapmap users: a viewer
    spoofed = app.test_client().get("/", headers={"X-Forwarded-User": "sam@nhs.net"},
                                    environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert spoofed.status_code == 302  # the header is ignored from anywhere else
    assert ("sign-in", "sam@nhs.net", "ok") in [(e["event"], e["actor"], e["outcome"]) for e in book.audit_log()]
    from app.auth import from_trusted_proxy

    assert from_trusted_proxy("10.0.0.7", ["10.0.0.0/24"]) and not from_trusted_proxy("10.0.1.7", ["10.0.0.0/24"])
    assert from_trusted_proxy("::1", ["127.0.0.1", "::1"]) and not from_trusted_proxy(None, ["127.0.0.1"])
    with pytest.raises(ValueError, match="GAPMAP_TRUSTED_USER_ROLE"):
        create_app({"GAPMAP_STORE": str(fixture_store.root), "TRUSTED_USER_HEADER": "X-Forwarded-User",
                    "TRUSTED_USER_ROLE": "superuser"})


def test_session_cookie_secure_and_secret_key_kept(fixture_store, tmp_path):
    book = Accounts(tmp_path / "a.sqlite")
    book.add_user("ann", "viewer", "analyst-password-1")
    store_root = tmp_path / "store"
    store_root.mkdir()
    (store_root / "current").symlink_to(fixture_store.path)
    app = create_app({"GAPMAP_STORE": str(store_root), "ACCOUNTS": str(book.path), "SESSION_COOKIE_SECURE": True})
    key = store_root / "secret_key"
    assert key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600
    again = create_app({"GAPMAP_STORE": str(store_root), "ACCOUNTS": str(book.path)})
    assert again.secret_key == app.secret_key == key.read_text().strip()
    response = sign_in(app.test_client(), "ann", "analyst-password-1")
    assert "Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_passwords_are_hashed(tmp_path):
    book = Accounts(tmp_path / "a.sqlite")
    book.add_user("ann", "viewer", "a-secret-password")
    with sqlite3.connect(book.path) as con:
        (digest,) = con.execute("SELECT password_hash FROM users").fetchone()
    assert "a-secret-password" not in digest and digest.startswith(("scrypt:", "pbkdf2:"))
    assert stat.S_IMODE(book.path.stat().st_mode) == 0o600
    assert book.check_password("ann", "a-secret-password").role == "viewer"
    assert book.check_password("ann", "wrong") is None and book.check_password("nobody", "x") is None


def test_server_error_page_shows_a_reference_not_the_traceback(fixture_store, caplog):
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "SINGLE_USER": True})

    @app.get("/boom")
    def boom():
        raise RuntimeError(f"failed reading {fixture_store.root}/secret/file.parquet")

    @app.get("/api/boom")
    def api_boom():
        raise RuntimeError("/tmp/tmpabc/x.csv")

    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="gapmap"):
        page = client.get("/boom")
    text = page.get_data(as_text=True)
    assert page.status_code == 500 and "Traceback" not in text and str(fixture_store.root) not in text
    reference = re.search(r"reference ([0-9a-f]{10})", text).group(1)
    assert reference in caplog.text and "RuntimeError" in caplog.text
    api = client.get("/api/boom")
    assert api.status_code == 500 and "/tmp" not in api.get_data(as_text=True)
    assert "reference" in api.get_json()["error"]


def test_upload_errors_show_no_server_paths(fixture_store):
    client = create_app({"GAPMAP_STORE": str(fixture_store.root), "SINGLE_USER": True}).test_client()
    data = {"file": (io.BytesIO(b"region,total\nx,1\n"), "my counts.csv"), "name": "no-lsoa",
            "csrf_token": token_of(client)}
    response = client.post("/upload", data=data, content_type="multipart/form-data")
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "no LSOA code or postcode column" in text
    assert "my counts.csv" in text or "my_counts.csv" in text
    assert "/tmp" not in text and str(fixture_store.root) not in text


def test_upload_size_limit(fixture_store):
    client = create_app({"GAPMAP_STORE": str(fixture_store.root), "SINGLE_USER": True,
                         "MAX_CONTENT_LENGTH": 1000}).test_client()
    token = token_of(client)
    data = {"file": (io.BytesIO(b"lsoa21cd,count\n" + b"E01000001,1\n" * 500), "big.csv"), "name": "big",
            "csrf_token": token}
    response = client.post("/upload", data=data, content_type="multipart/form-data")
    assert response.status_code == 413 and "GAPMAP_MAX_UPLOAD_MB" in response.get_data(as_text=True)


def test_serve_refuses_other_addresses_without_sign_in(fixture_store, tmp_path, monkeypatch):
    from geo.cli import main, serve_refusal

    single = create_app({"GAPMAP_STORE": str(fixture_store.root), "ACCOUNTS": str(tmp_path / "a.sqlite")})
    assert serve_refusal(single, "127.0.0.1") is None and serve_refusal(single, "localhost") is None
    message = serve_refusal(single, "0.0.0.0")
    assert "gapmap users add" in message and "GAPMAP_TRUSTED_USER_HEADER" in message
    Accounts(tmp_path / "a.sqlite").add_user("ada", "admin", "admin-password-1")
    signed = create_app({"GAPMAP_STORE": str(fixture_store.root), "ACCOUNTS": str(tmp_path / "a.sqlite")})
    assert "GAPMAP_ALLOWED_HOSTS" in serve_refusal(signed, "0.0.0.0")
    hosts = create_app({"GAPMAP_STORE": str(fixture_store.root), "ACCOUNTS": str(tmp_path / "a.sqlite"),
                        "ALLOWED_HOSTS": "gapmap.example.nhs.uk"})
    assert serve_refusal(hosts, "0.0.0.0") is None
    monkeypatch.setenv("GAPMAP_STORE", str(fixture_store.root))
    monkeypatch.setenv("GAPMAP_ACCOUNTS", str(tmp_path / "empty.sqlite"))
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "8103"])
    assert result.exit_code == 1 and "will not listen on 0.0.0.0 without sign-in" in result.output


def test_users_and_audit_commands(fixture_store, tmp_path, monkeypatch):
    from geo.cli import main

    monkeypatch.setenv("GAPMAP_STORE", str(fixture_store.root))
    monkeypatch.setenv("GAPMAP_ACCOUNTS", str(tmp_path / "cli.sqlite"))
    run = CliRunner().invoke
    added = run(main, ["users", "add", "jo", "--role", "analyst", "--icb", "qbb", "--password-stdin"],
                input="jo-password-123\n")
    assert added.exit_code == 0, added.output
    assert run(main, ["users", "add", "jo", "--no-password"]).exit_code == 1  # already there
    assert run(main, ["users", "add", "pw", "--password-stdin"], input="short\n").exit_code == 1
    listed = run(main, ["users", "list"]).output
    assert "jo" in listed and "analyst" in listed and "E54000002" in listed
    assert "unknown ICB" in run(main, ["users", "add", "zz", "--icb", "ZZZ", "--no-password"]).output
    assert run(main, ["users", "role", "jo", "admin"]).exit_code == 0
    token = run(main, ["users", "token", "jo"]).output.strip().splitlines()[0]
    book = Accounts(tmp_path / "cli.sqlite")
    assert token.startswith("gm_") and book.user_for_token(token).role == "admin"
    assert run(main, ["users", "remove", "jo"]).exit_code == 0
    assert book.user_for_token(token) is None  # tokens go with their user
    assert run(main, ["users", "remove", "jo"]).exit_code == 1
    audit = run(main, ["audit", "--format", "json"])
    events = [e["event"] for e in json.loads(audit.output)]
    assert events[:4] == ["user-remove", "user-token", "user-role", "user-add"]
    assert "user-add" in run(main, ["audit"]).output
    counts = tmp_path / "c.csv"
    counts.write_bytes(COUNTS)
    assert run(main, ["ingest", str(counts), "--name", "cli-audit"]).exit_code == 0
    assert "by cli:" in run(main, ["datasets"]).output
    assert run(main, ["datasets", "rm", "cli-audit"]).exit_code == 0
    log = book.audit_log(2)
    assert [(e["event"], e["outcome"]) for e in log] == [("remove", "ok"), ("upload", "ok")]
    assert all(e["actor"].startswith("cli") for e in log)


class FakeClock:
    """The accounts' clock, moved on by hand (sign-in waits are seconds to minutes)."""

    def __init__(self):
        import datetime as dt

        self.now = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self):
        return self.now

    def wait(self, seconds):
        import datetime as dt

        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture()
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr("geo.store.accounts.utc_now", fake)
    return fake


def test_password_guessing_is_slowed(team, clock):
    app, book = team
    client = app.test_client()
    for _ in range(10):
        assert sign_in(client, "vic", "guess").status_code == 401
        clock.wait(15 * 60 // 10 - 1)  # each guess waits out this address's back-off (at most 64 s here)
    locked = sign_in(client, "vic", "viewer-password-1")  # even the right password, for a while, from here
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.get_data(as_text=True)
    elsewhere = app.test_client()  # others are not locked
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert sign_in(elsewhere, "ann", "analyst-password-1").status_code == 302


def test_store_errors_show_no_server_paths(tmp_path):
    missing = tmp_path / "no" / "store-here"
    client = create_app({"GAPMAP_STORE": str(missing), "SINGLE_USER": True}).test_client()
    for path in ("/map?lad=E06000001", "/api/lsoas.geojson?lad=E06000001"):
        response = client.get(path)
        assert response.status_code == 503, path
        text = response.get_data(as_text=True)
        assert "gapmap data build" in text and str(tmp_path) not in text, text


def test_a_configured_basemap_may_load_its_tiles(fixture_store, monkeypatch):
    monkeypatch.setenv("GAPMAP_TILES", "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png")
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "SINGLE_USER": True})
    csp = app.test_client().get("/").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://*.tile.openstreetmap.org;" in csp
    assert "script-src 'self' 'unsafe-inline';" in csp  # tiles are images only


def test_who_may_change_a_dataset():
    from app.auth import may_change
    from geo.store.accounts import User

    ann = User("ann", "analyst", "E54000001")
    assert may_change(ann, {"owner": "ann", "owner_icb": "E54000001"})
    assert may_change(ann, {"owner": "amy", "owner_icb": "E54000001"})  # her ICB's
    assert not may_change(ann, {"owner": "bob", "owner_icb": "E54000002"})
    assert not may_change(ann, {"owner": "cli:root", "owner_icb": None})  # from the command line: admins only
    assert not may_change(User("nic", "analyst", None), {"owner": "bob", "owner_icb": None})
    assert not may_change(User("vic", "viewer", "E54000001"), {"owner": "vic", "owner_icb": "E54000001"})
    assert may_change(User("ada", "admin"), {"owner": "bob", "owner_icb": "E54000002"})
    assert not may_change(None, {})
