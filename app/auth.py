"""Who is asking, and may they: sign-in, roles, API tokens, CSRF and allowed hosts for the service.

Who is asking, in this order:

1. ``Authorization: Bearer gm_…``: an API token made with ``gapmap users token NAME`` (scripts);
   such requests carry no cookie and need no CSRF token. A wrong token is refused (401).
2. The organisation's single sign-on: when ``TRUSTED_USER_HEADER`` is set (e.g.
   ``X-Forwarded-User``), a request *from one of* ``TRUSTED_PROXIES`` (addresses or networks,
   default the loopback addresses) carrying that header is that user: their role from ``gapmap users`` or else
   ``TRUSTED_USER_ROLE`` (default viewer). The header is ignored from any other address.
3. A signed-in session (``/sign-in``, local accounts with hashed passwords).
4. Single-user mode: when no sign-in is configured (no users and no trusted header, or
   ``SINGLE_USER`` set true), everyone is the local admin. ``gapmap serve`` allows this on
   loopback only.

What they may do: every page and API route needs ``viewer``; any request that changes something
(POST, PUT, PATCH, DELETE) needs ``analyst`` unless listed in :data:`ENDPOINT_ROLES`; user
management needs ``admin``. Changing a dataset needs its owner, someone of its ICB, or an admin
(:func:`may_change`); seeing one needs its ICB, its owner, an admin, or an admin's share
(:func:`dataset_scope`, applied to every route by :func:`app.params.store`). Failed password
sign-ins slow down the client that made them, never the account (:mod:`app.sign_in_throttle`);
after signing in, ``next`` is followed only to a path on this server (:func:`_safe_next`).

Every request's Host must be in ``ALLOWED_HOSTS`` (default the loopback names), else 400: an
untrusted Host is never echoed (the embed snippet is built from it). Every form carries a CSRF
token bound to the session (:func:`csrf_token`); a changing request without it is refused (400),
and one whose ``Origin`` is another site is refused (403).
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import Blueprint, Flask, abort, current_app, g, jsonify, redirect, render_template, request, session, url_for

from geo.errors import GapmapError
from geo.store.accounts import ROLES, AccountError, Accounts, User, icb_code

bp = Blueprint("auth", __name__)

LOCAL_ADMIN = User("local", "admin", None, via="local")
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC_ENDPOINTS = {"auth.sign_in", "auth.sign_out", "static"}
# the role an endpoint needs, where it is not the default (viewer to read, analyst to change)
ENDPOINT_ROLES = {
    "auth.sign_in": "viewer", "auth.sign_out": "viewer",
    "auth.users": "admin", "auth.user_change": "admin",
    "upload.upload": "analyst", "upload.remove": "analyst", "upload.share": "admin",
}
DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).replace(" ", ",").split(",") if v.strip()]


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (where a single-user service is safe)."""
    host = host.strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def accounts(app: Flask | None = None) -> Accounts:
    app = app or current_app
    return app.extensions["gapmap_accounts"]


def single_user(app: Flask | None = None) -> bool:
    """True when no sign-in is configured: everyone is the local admin (loopback use only)."""
    app = app or current_app
    explicit = app.config.get("SINGLE_USER")
    if explicit is not None:
        return bool(explicit)
    if app.config.get("TRUSTED_USER_HEADER"):
        return False
    # whether there are users, looked up at most once a second (adding the first user turns sign-in on)
    checked = app.extensions.get("gapmap_has_users")
    if checked is None or time.monotonic() - checked[0] > 1.0:
        checked = app.extensions["gapmap_has_users"] = (time.monotonic(), accounts(app).has_users())
    return not checked[1]


def current_user() -> User | None:
    return g.get("user")


def may_change(user: User | None, meta: dict | None) -> bool:
    """May ``user`` replace or remove the dataset described by ``meta``? Admins may; analysts may
    change their own datasets and those of their ICB."""
    if user is None or not user.can("analyst"):
        return False
    if user.can("admin"):
        return True
    meta = meta or {}
    if meta.get("owner") and meta.get("owner") == user.name:
        return True
    return bool(user.icb and meta.get("owner_icb") and meta.get("owner_icb") == user.icb)


def dataset_scope(store):
    """Which datasets the current user sees (:func:`scope_of`); where the sign-in check did not
    run and no sign-in is configured, the local admin's (as :func:`identify` would say)."""
    user = current_user()
    if user is None and single_user():
        user = LOCAL_ADMIN
    return scope_of(user, store)


def scope_of(user: User | None, store):
    """Which datasets ``user`` sees (:mod:`geo.store.dataset_scope`): admins (and the single-user
    local admin, also where no sign-in is configured) every one; others the shared ones, their own
    and their ICB's. Nobody signed in sees the shared ones only."""
    from geo.store.dataset_scope import EVERYTHING, Scope

    if user is not None and user.can("admin"):
        return EVERYTHING
    if user is None:
        return Scope()
    return Scope(user=user.name, icbs=icb_aliases(store, user.icb))


def icb_aliases(store, code: str | None) -> frozenset:
    """Every code of the ICB ``code`` names (its ONS and NHS codes, upper case), so that a user
    entered as QHG matches datasets recorded as E54000024 and the other way round."""
    if not code:
        return frozenset()
    code = code.strip().upper()
    from geo.views.catalogue import per_build

    try:  # at every request of a signed-in user: the ICB table is read once per build
        icbs = per_build(store, "icb codes", lambda: store.areas("icb")[
            [c for c in ("icb24cd", "icb24cdh") if c in store.columns("areas_icb")]])
    except GapmapError:  # no build yet: the code as given
        return frozenset({code})
    columns = [c for c in ("icb24cd", "icb24cdh") if c in icbs]
    for row in icbs[columns].itertuples(index=False):
        names = {str(v).upper() for v in row if isinstance(v, str)}
        if code in names:
            return frozenset(names)
    return frozenset({code})


def audit(event: str, outcome: str = "ok", detail: str = "", actor: str | None = None) -> None:
    user = current_user()
    accounts().audit(event, actor or (user.name if user else None), outcome, detail, client_address())


def client_address() -> str | None:
    """The client's address: the peer's, or, when the peer is one of ``TRUSTED_PROXIES`` and says
    whom it forwards for (``X-Forwarded-For``), the last address it names. Sign-in slowing and the
    audit log key on it, so one client's failures never slow another's sign-in behind a proxy."""
    peer = request.remote_addr
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and from_trusted_proxy(peer, _as_list(current_app.config.get("TRUSTED_PROXIES"))):
        last = forwarded.split(",")[-1].strip()[:64]
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            return peer
    return peer


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _secret_key(app: Flask, store_root: Path) -> str:
    """The configured key, else one generated once and kept (owner-only) in the store folder."""
    if app.config.get("SECRET_KEY"):
        return app.config["SECRET_KEY"]
    path = store_root / "secret_key"
    if not path.exists():
        store_root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def host_allowed(host: str, allowed: list[str]) -> bool:
    """``host`` (with or without a port) against names; ``.example.nhs.uk`` allows its subdomains.
    There is no wildcard for any host: the embed snippet is built from the Host."""
    host = host.lower()
    if host.startswith("["):
        name = host.split("]")[0] + "]"
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    for pattern in allowed:
        pattern = pattern.lower()
        if name == pattern or host == pattern:
            return True
        if pattern.startswith(".") and (name.endswith(pattern) or name == pattern[1:]):
            return True
    return False


def init_app(app: Flask, store_root: Path) -> None:
    app.config.setdefault("FRAME_ANCESTORS", "'self'")
    app.config.setdefault("TRUSTED_PROXIES", "127.0.0.1,::1")
    app.config.setdefault("TRUSTED_USER_ROLE", "viewer")
    if app.config["TRUSTED_USER_ROLE"] not in ROLES:
        raise ValueError(f"GAPMAP_TRUSTED_USER_ROLE={app.config['TRUSTED_USER_ROLE']!r}: choose viewer, analyst "
                         f"or admin")
    from geo.store import open_accounts

    store = app.extensions.get("gapmap_store")
    if store is None or getattr(store, "url", None) is None:  # the folder store, or none given
        from geo.store.folder import Store

        store = Store(store_root)
    app.extensions["gapmap_accounts"] = open_accounts(store, app.config.get("ACCOUNTS"))
    app.secret_key = _secret_key(app, store_root)
    app.register_blueprint(bp)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.before_request(_check_request)

    @app.context_processor
    def who():
        return {"current_user": current_user(), "single_user": single_user()}


def allowed_hosts(app: Flask) -> list[str]:
    """The names a request's Host may be (``ALLOWED_HOSTS``, default the loopback names)."""
    return _as_list(app.config.get("ALLOWED_HOSTS")) or list(DEFAULT_ALLOWED_HOSTS)


def _check_request():
    allowed = allowed_hosts(current_app)
    if not host_allowed(request.host, allowed):
        abort(400, description="This address is not one Gapmap answers to (the Host is not in GAPMAP_ALLOWED_HOSTS).")
    g.user = _identify()
    endpoint = request.endpoint or ""
    if request.method in UNSAFE_METHODS:
        _check_origin(allowed)
        if g.user is None or g.user.via != "token":
            _check_csrf()
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    if g.user is None:
        if request.path.startswith("/api/") or request.method in UNSAFE_METHODS:
            abort(401, description="Sign in first (or send an API token: Authorization: Bearer TOKEN).")
        return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
    needed = ENDPOINT_ROLES.get(endpoint) or ("analyst" if request.method in UNSAFE_METHODS else "viewer")
    if not g.user.can(needed):
        abort(403, description=f"This needs the {needed} role; you are signed in as {g.user.name} "
                               f"({g.user.role}). Ask an admin to change your role.")
    return None


def _identify() -> User | None:
    return identify(current_app, request.headers, request.remote_addr, session)


class NeedsFullRequest(Exception):
    """Raised by :func:`identify` with ``quiet=True`` where naming the user would write (the session,
    the audit log) or refuse the request: the full request path must answer it."""


def identify(app: Flask, headers, remote_addr: str | None, session, quiet: bool = False) -> User | None:
    """Who sends a request with these ``headers``, from ``remote_addr``, with this ``session`` (the
    order is the module docstring's); None for nobody. With ``quiet``, nothing is written and
    nothing refused: where the answer would need that (a malformed or unknown token, a single
    sign-on user new to this session, a session whose account has ended), :class:`NeedsFullRequest`
    is raised instead (:mod:`app.light_responses` asks this way before Flask runs)."""
    book = accounts(app)
    auth = headers.get("Authorization", "")
    if auth:
        kind, _, token = auth.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            if quiet:
                raise NeedsFullRequest
            abort(401, description="Send an API token as: Authorization: Bearer TOKEN")
        user = book.user_for_token(token.strip())
        if user is None:
            if quiet:
                raise NeedsFullRequest
            book.audit("sign-in", None, "refused", "unknown or revoked API token", client_address())
            abort(401, description="This API token is not known (it may have been revoked).")
        return user
    header = app.config.get("TRUSTED_USER_HEADER")
    if header:
        name = headers.get(header, "").strip()[:256]
        if name and from_trusted_proxy(remote_addr, _as_list(app.config.get("TRUSTED_PROXIES"))):
            known = book.get(name)
            role = known.role if known else app.config.get("TRUSTED_USER_ROLE", "viewer")
            user = User(name, role, known.icb if known else None, via="header")
            if session.get("sso_user") != name:
                if quiet:
                    raise NeedsFullRequest
                session["sso_user"] = name
                book.audit("sign-in", name, "ok", f"single sign-on header {header} ({role})", client_address())
            return user
    name = session.get("user")
    if name:
        user = book.session_user(name, session.get("epoch"))
        if user is not None:
            return user
        if quiet:
            raise NeedsFullRequest
        session.pop("user", None)  # the account was removed, or signed out elsewhere: signed out
    if single_user(app):
        return LOCAL_ADMIN
    return None


def from_trusted_proxy(address: str | None, proxies: list[str]) -> bool:
    """Is ``address`` one of ``proxies`` (addresses or networks such as 10.0.0.0/24)?"""
    try:
        peer = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    for proxy in proxies:
        try:
            if peer in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def _check_origin(allowed: list[str]) -> None:
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        host = urlsplit(origin).netloc
        if not host or not host_allowed(host, allowed):
            abort(403, description="This request came from another website and was refused.")


def _check_csrf() -> None:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form had expired or came from elsewhere (no valid CSRF token). "
                               "Reload the page and try again.")


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: ``target`` when it is a path on this server (``/map?icb=QHG``),
    else the home page. Anything a browser could read as another site is refused: ``//host``,
    ``/\\host``, a scheme or host, and any space or control character (browsers drop tabs and
    line breaks, so ``/%09/evil.example`` would become ``//evil.example``)."""
    home = url_for("pages.home")
    if not target or not target.startswith("/") or "\\" in target:
        return home
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return home
    parts = urlsplit(target)
    if target.startswith("//") or parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return home
    path = unquote(parts.path)  # and the same once decoded: /%2F/evil.example, /%09/evil.example
    if path.startswith("//") or "\\" in path or any(ch.isspace() or ord(ch) < 0x20 for ch in path):
        return home
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("sign_in.html", next=target, error=None)
    name = request.form.get("name", "").strip()[:128]
    from app.sign_in_throttle import refusal

    refused = refusal(accounts(), name, client_address())
    if refused is not None:
        seconds, message = refused
        audit("sign-in", "refused", "too many failed attempts", actor=name or None)
        return render_template("sign_in.html", next=target, name=name, error=message), 429, \
            {"Retry-After": str(seconds)}
    user = accounts().check_password(name, request.form.get("password", ""))
    if user is None:
        audit("sign-in", "refused", "wrong name or password", actor=name or None)
        return render_template("sign_in.html", next=target, name=name,
                               error="That name and password do not match an account."), 401
    session.clear()  # a fresh session: no fixation
    session["user"] = user.name
    session["epoch"] = accounts().session_epoch(user.name)
    session.permanent = True
    csrf_token()
    g.user = user
    audit("sign-in", "ok", "password")
    return redirect(target)


@bp.post("/sign-out")
def sign_out():
    user = current_user()
    if user is not None and user.via == "password":
        accounts().end_sessions(user.name)  # a copy of the cookie is worthless from now on
        audit("sign-out")
    session.clear()
    return redirect(url_for("auth.sign_in"))


@bp.get("/admin/users")
def users():
    return render_template("users.html", users=accounts().users(), message=request.args.get("message"))


@bp.post("/admin/users")
def user_change():
    book = accounts()
    action = request.form.get("action")
    name = request.form.get("name", "").strip()
    try:
        if action == "add":
            password = request.form.get("password") or None
            icb = icb_code(request.form.get("icb"), current_app.extensions["gapmap_store"])
            book.add_user(name, request.form.get("role", "viewer"), password, icb)
            message = f"Added {name} ({request.form.get('role', 'viewer')})."
        elif action == "role":
            icb = icb_code(request.form.get("icb"), current_app.extensions["gapmap_store"])
            book.set_role(name, request.form.get("role", ""), icb)
            message = f"{name} is now {request.form.get('role')}."
        elif action == "remove":
            if name == current_user().name:
                raise AccountError("you cannot remove yourself; ask another admin")
            book.remove_user(name)
            message = f"Removed {name}."
        else:
            abort(400, description="action must be add, role or remove")
    except AccountError as exc:
        audit(f"user-{action}", "refused", f"{name}: {exc}")
        return render_template("users.html", users=book.users(), error=str(exc)), 400
    audit(f"user-{action}", "ok", f"{name}: {message}")
    return redirect(url_for("auth.users", message=message))


def unauthorised(error):
    """401 as JSON for the API, as the sign-in page for pages."""
    message = getattr(error, "description", "Sign in first.")
    if request.path.startswith("/api/"):
        return jsonify({"error": message}), 401
    return render_template("sign_in.html", next=_safe_next(request.full_path), error=message), 401
