"""Who may use a shared Gapmap, and what they did: users, roles, API tokens and the audit log.

Everything is kept in one SQLite file, ``<store>/accounts.sqlite`` (``GAPMAP_ACCOUNTS`` names
another file), through the :class:`Accounts` class only, so that a PostgreSQL backend can take
its place behind the same methods.

Roles, each including the ones before it:

``viewer``   sees maps, statistics and exports
``analyst``  also uploads datasets and removes or replaces the ones they own or their ICB owns
``admin``    also manages users (and may change any dataset)

Passwords are kept as werkzeug (scrypt) hashes. API tokens are 256-bit random strings shown once;
only their SHA-256 is kept (a token has far more entropy than a password, so a fast hash is
enough to make a stolen database useless). The audit log is append-only through this class:
uploads, removals, sign-ins (success and failure) and user changes, with who, when and from where.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from geo.errors import GapmapError

ROLES = ("viewer", "analyst", "admin")
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
MIN_PASSWORD = 10
TOKEN_PREFIX = "gm_"
# compared against when the user does not exist, so a wrong name takes as long as a wrong password
_DUMMY_HASH = generate_password_hash("not a password: keeps sign-in timing even")


class AccountError(GapmapError):
    """A user or token that cannot be added, changed or found; the message says why."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    icb: str | None = None
    via: str = "password"  # password | token | header | local

    def can(self, role: str) -> bool:
        """True when this user's role includes ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)


def rank(role: str) -> int:
    return ROLES.index(role)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: choose viewer, analyst or admin")
    return role


def check_user_name(name: str) -> str:
    if not isinstance(name, str) or not USER_NAME.fullmatch(name):
        raise AccountError(f"user name {name!r}: use letters, digits and . _ @ + - (up to 128), "
                           f"starting with a letter or digit, e.g. jane.smith or jane.smith@nhs.net")
    return name


def icb_code(code: str | None, store=None) -> str | None:
    """An ICB as its ONS code (E54000024), from that or its NHS code (QHG), so that users of one ICB
    match however they were entered; unknown codes are refused. Without a built store the code is
    kept as given (upper case)."""
    if not code or not code.strip():
        return None
    code = code.strip().upper()
    if store is None:
        return code
    from geo.store.folder import StoreError

    try:
        icbs = store.areas("icb")
    except StoreError:
        return code
    match = icbs[(icbs["icb24cd"].str.upper() == code) | (icbs["icb24cdh"].str.upper() == code)]
    if match.empty:
        raise AccountError(f"unknown ICB {code!r}; ICB codes look like E54000024 or QHG")
    return match["icb24cd"].iloc[0]


def utc_now() -> dt.datetime:
    """The time now, in UTC: every time the accounts write or compare comes from here."""
    return dt.datetime.now(dt.timezone.utc)


def _now() -> str:
    return utc_now().isoformat(timespec="seconds")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    icb TEXT,
    password_hash TEXT,
    created_at TEXT NOT NULL,
    session_epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_used TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT,
    outcome TEXT NOT NULL,
    detail TEXT,
    address TEXT
);
"""


class Accounts:
    """Users, tokens and the audit log in one SQLite file (created on first use). With a PostGIS
    store they live in PostgreSQL instead (:class:`geo.store.pg_accounts.PostgresAccounts`, the
    same queries); :func:`geo.store.open_accounts` picks the one that goes with a store."""

    INTEGRITY_ERRORS: tuple = (sqlite3.IntegrityError,)

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._ready = False  # the tables exist
        self._local = threading.local()  # one connection per thread, kept: a request costs one query

    @classmethod
    def for_store(cls, store_root: Path | str) -> "Accounts":
        override = os.environ.get("GAPMAP_ACCOUNTS", "").strip()
        return cls(Path(override) if override else Path(store_root) / "accounts.sqlite")

    def _connect(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is not None and self._local.pid == os.getpid() and self.path.exists():
            return con  # (a connection is never used across a fork: gunicorn workers open their own)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        con = sqlite3.connect(self.path, timeout=10)
        con.execute("PRAGMA foreign_keys = ON")
        if new:
            os.chmod(self.path, 0o600)  # password hashes and the audit log: the owner only
        if new or not self._ready:
            con.executescript(SCHEMA)
            self._ready = True
        self._local.con, self._local.pid = con, os.getpid()
        return con

    def _run(self, sql: str, args: tuple = ()) -> list[tuple]:
        con = self._connect()
        with con:  # one transaction: committed, or rolled back on an error
            return con.execute(sql, args).fetchall()

    # ---- users ---------------------------------------------------------------------------
    def _exists(self) -> bool:
        """Whether the accounts have been written at all (no file yet: no users, no log)."""
        return self.path.exists()

    def has_users(self) -> bool:
        if not self._exists():
            return False
        return bool(self._run("SELECT 1 FROM users LIMIT 1"))

    def add_user(self, name: str, role: str, password: str | None = None, icb: str | None = None) -> User:
        check_user_name(name)
        check_role(role)
        if password is not None and len(password) < MIN_PASSWORD:
            raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
        digest = generate_password_hash(password) if password is not None else None
        try:
            self._run("INSERT INTO users (name, role, icb, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                      (name, role, icb, digest, _now()))
        except self.INTEGRITY_ERRORS:
            raise AccountError(f"there is already a user called {name!r}") from None
        return User(name, role, icb)

    def get(self, name: str) -> User | None:
        rows = self._run("SELECT name, role, icb FROM users WHERE name = ?", (name,))
        return User(*rows[0]) if rows else None

    def users(self) -> list[dict]:
        rows = self._run("SELECT u.name, u.role, u.icb, u.password_hash IS NOT NULL, u.created_at, "
                         "(SELECT COUNT(*) FROM tokens t WHERE t.user_name = u.name) FROM users u ORDER BY u.name")
        return [{"name": r[0], "role": r[1], "icb": r[2], "password": bool(r[3]), "created_at": r[4],
                 "tokens": r[5]} for r in rows]

    def _require(self, name: str) -> User:
        user = self.get(name)
        if user is None:
            raise AccountError(f"no user called {name!r}; see `gapmap users list`")
        return user

    def remove_user(self, name: str) -> None:
        self._require(name)
        self._run("DELETE FROM users WHERE name = ?", (name,))

    def set_role(self, name: str, role: str, icb: str | None = None) -> User:
        self._require(name)
        check_role(role)
        if icb is None:
            self._run("UPDATE users SET role = ? WHERE name = ?", (role, name))
        else:
            self._run("UPDATE users SET role = ?, icb = ? WHERE name = ?", (role, icb or None, name))
        return self._require(name)

    def set_password(self, name: str, password: str) -> None:
        """A new password; it also signs the user out of every session."""
        self._require(name)
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
        self._run("UPDATE users SET password_hash = ?, session_epoch = session_epoch + 1 WHERE name = ?",
                  (generate_password_hash(password), name))

    def session_epoch(self, name: str) -> int | None:
        """A number that changes whenever the user's sessions must end (sign-out, new password);
        a session made under another number is no longer valid. None for an unknown user."""
        rows = self._run("SELECT session_epoch FROM users WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else None

    def session_user(self, name: str, epoch) -> User | None:
        """The user of a signed-in session, when the session is still valid (one query per request)."""
        rows = self._run("SELECT name, role, icb, session_epoch FROM users WHERE name = ?", (name,))
        if not rows or rows[0][3] != epoch:
            return None
        return User(rows[0][0], rows[0][1], rows[0][2], via="password")

    def end_sessions(self, name: str) -> None:
        """Sign the user out everywhere (the session cookie is signed, not stored: this is how it ends)."""
        self._run("UPDATE users SET session_epoch = session_epoch + 1 WHERE name = ?", (name,))

    def check_password(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs; None otherwise (unknown user, no password, wrong one)."""
        rows = self._run("SELECT name, role, icb, password_hash FROM users WHERE name = ?", (name,)) \
            if isinstance(name, str) and USER_NAME.fullmatch(name or "") else []
        digest = rows[0][3] if rows and rows[0][3] else _DUMMY_HASH
        ok = check_password_hash(digest, password or "")
        if rows and rows[0][3] and ok:
            return User(rows[0][0], rows[0][1], rows[0][2], via="password")
        return None

    # ---- tokens --------------------------------------------------------------------------
    def new_token(self, name: str) -> str:
        """A new API token for ``name``; shown once, only its hash is kept."""
        self._require(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._run("INSERT INTO tokens (token_hash, user_name, created_at) VALUES (?, ?, ?)",
                  (_token_hash(token), name, _now()))
        return token

    def revoke_tokens(self, name: str) -> int:
        self._require(name)
        return len(self._run("DELETE FROM tokens WHERE user_name = ? RETURNING 1", (name,)))

    def user_for_token(self, token: str) -> User | None:
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = _token_hash(token)
        rows = self._run("SELECT u.name, u.role, u.icb FROM tokens t JOIN users u ON u.name = t.user_name "
                         "WHERE t.token_hash = ?", (digest,))
        if not rows:
            return None
        now = dt.datetime.now(dt.timezone.utc)
        stale = (now - dt.timedelta(minutes=5)).isoformat(timespec="seconds")
        self._run("UPDATE tokens SET last_used = ? WHERE token_hash = ? AND (last_used IS NULL OR last_used < ?)",
                  (now.isoformat(timespec="seconds"), digest, stale))  # at most one write per token per 5 minutes
        return User(*rows[0], via="token")

    # ---- audit ---------------------------------------------------------------------------
    def audit(self, event: str, actor: str | None, outcome: str = "ok", detail: str = "",
              address: str | None = None) -> None:
        self._run("INSERT INTO audit (at, event, actor, outcome, detail, address) VALUES (?, ?, ?, ?, ?, ?)",
                  (_now(), event, actor, outcome, detail[:2000], address))

    def recent_failures(self, name: str, minutes: int) -> int:
        """Failed password sign-ins for ``name`` in the last ``minutes`` (to slow down guessing)."""
        if not name or not self._exists():
            return 0
        since = (utc_now() - dt.timedelta(minutes=minutes)).isoformat(timespec="seconds")
        rows = self._run("SELECT COUNT(*) FROM audit WHERE event = 'sign-in' AND outcome = 'refused' AND actor = ? "
                         "AND at >= ? AND detail = 'wrong name or password'", (name, since))
        return int(rows[0][0])

    def failed_sign_ins(self, minutes: int, address: str | None, name: str | None = None) -> list[dt.datetime]:
        """When password sign-ins failed in the last ``minutes`` (oldest first), from ``address``
        (and, when ``name`` is given, for that name only): what :mod:`app.sign_in_throttle` counts."""
        if not address or not self._exists():
            return []
        since = (utc_now() - dt.timedelta(minutes=minutes)).isoformat(timespec="seconds")
        sql = ("SELECT at FROM audit WHERE event = 'sign-in' AND outcome = 'refused' AND address = ? AND at >= ? "
               "AND detail = 'wrong name or password'")
        args: tuple = (address, since)
        if name is not None:
            sql += " AND actor = ?"
            args += (name,)
        rows = self._run(sql + " ORDER BY at", args)
        return [dt.datetime.fromisoformat(r[0]) for r in rows]

    def audit_log(self, limit: int = 100, event: str | None = None, actor: str | None = None) -> list[dict]:
        """The newest ``limit`` entries, newest first (optionally of one event or actor)."""
        if not self._exists():
            return []
        where, args = [], []
        if event:
            where.append("event = ?")
            args.append(event)
        if actor:
            where.append("actor = ?")
            args.append(actor)
        sql = ("SELECT id, at, event, actor, outcome, detail, address FROM audit" +
               (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?")
        rows = self._run(sql, (*args, int(limit)))
        return [dict(zip(("id", "at", "event", "actor", "outcome", "detail", "address"), r)) for r in rows]
