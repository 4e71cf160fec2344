"""The light API routes answered from their final bytes, before Flask runs.

``GET /api/indicators``, ``/api/nhs-indicators`` and ``/api/places`` are the same bytes for
everyone who sees the same datasets, until the store changes. Flask, its session, the sign-in
check, the views, the headers and the compression cost most of a millisecond of Python per
request, and 100 clients asking back to back queue on the GIL behind it. So this WSGI layer
keeps each answer Flask gave, and gives it again while nothing it depends on has changed.

The key of an answer is:

* the path and the query string as sent (at most :data:`MAX_QUERY` characters; longer ones are
  not kept), and whether the client takes gzip;
* who asks, named by :func:`app.auth.identify` (the same function the full path uses, asked not
  to write anything) and the datasets they may see, :func:`app.auth.scope_of`: one user's
  answer is never given to another scope. Their account is read at every request, so a changed
  role or ICB, a removed user, a revoked token and a session ended elsewhere count at once;
* the store's :func:`geo.views.catalogue.token`: its ``current`` link and every dataset's link
  and ``meta.json`` (inode, modification time), read at every request (a directory scan and a
  readlink and a stat per dataset). An ingest, a share, a removal and a new build are seen at the
  next request: nothing here is stale, for any time.

What is kept is Flask's own response for the key (200 only, at most :data:`MAX_BODY` bytes), and
only when the full path served the scope this layer named (Flask records it, see
:func:`app.params.store`). Its ``Set-Cookie`` is not kept: a hit gets the cookie Flask would
set for this request's session (a signed-in session is refreshed at every request), made by the
app's own session interface. Each answer carries an ``ETag`` of its bytes, and a hit whose
``If-None-Match`` names it is ``304 Not Modified``.

Everything else goes to Flask as it came: other routes and methods, a Host that is not allowed,
nobody signed in (the 401), a request whose user cannot be named without writing (a new single
sign-on user, an unknown token, an ended session), a store that is not a folder (PostGIS has no
cheap token), and the first request of each key. Memory: at most :data:`MAX_ENTRIES` answers and
:data:`MAX_BYTES`, least recently used dropped first, counted in the process's cache budget.
"""
from __future__ import annotations

import hashlib

from flask import Flask
from werkzeug.http import parse_etags, quote_etag
from werkzeug.wrappers import Request

from app.auth import NeedsFullRequest, allowed_hosts, host_allowed, identify, scope_of
from app.params import SCOPE_ENVIRON
from geo.views import catalogue
from geo.views.cache_budget import LruEntries

ROUTES = frozenset({"/api/indicators", "/api/nhs-indicators", "/api/places"})
MAX_QUERY = 256  # characters of query string an answer may be kept for
MAX_BODY = 1 << 20  # bytes of one answer kept
MAX_ENTRIES = 512
MAX_BYTES = 16 << 20
NOT_ON_304 = {"content-length", "content-type", "content-encoding"}


class LightResponses:
    """WSGI middleware around ``app``'s own ``wsgi_app`` (see the module docstring)."""

    def __init__(self, app: Flask, wsgi_app, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES):
        self.app, self.wsgi_app = app, wsgi_app
        self.answers = LruEntries(max_entries=max_entries, max_bytes=max_bytes, name="light responses")
        self.hits = 0  # requests answered from memory (read by tests and benchmarks)

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") not in ROUTES:
            return self.wsgi_app(environ, start_response)
        asked = self._key(environ)
        if asked is None:
            return self.wsgi_app(environ, start_response)
        key, session = asked
        found, answer = self.answers.lookup(key)
        if not found:
            return self._fill(environ, start_response, key)
        self.hits += 1
        status, headers, body, etag = answer
        cookies = self._cookies(session)
        if parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains(etag):
            start_response("304 Not Modified", [h for h in headers if h[0].lower() not in NOT_ON_304] + cookies)
            return []
        start_response(status, headers + cookies)
        return [body]

    def _key(self, environ) -> tuple | None:
        """(the key of this request's answer, its session), or None where Flask must answer."""
        query = environ.get("QUERY_STRING", "")
        if len(query) > MAX_QUERY:
            return None
        store = self.app.extensions["gapmap_store"]
        version = catalogue.token(store)  # first: an answer made after it is never older than it
        if version is None:
            return None
        request = Request(environ, populate_request=False)  # werkzeug's: the Host, headers and cookies, read lazily
        if not host_allowed(request.host, allowed_hosts(self.app)):
            return None
        session = self._session(request)
        if session is None:
            return None
        try:
            user = identify(self.app, request.headers, request.remote_addr, session, quiet=True)
        except NeedsFullRequest:
            return None
        if user is None or not user.can("viewer"):
            return None
        zipped = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "").lower()
        return (environ["PATH_INFO"], query, zipped, user.via, scope_of(user, store), version), session

    def _session(self, request):
        """The request's session as Flask would open it (an empty one without its cookie)."""
        interface = self.app.session_interface
        if "HTTP_COOKIE" not in request.environ or not request.cookies.get(interface.get_cookie_name(self.app)):
            return interface.session_class()
        return interface.open_session(self.app, request)

    def _cookies(self, session) -> list[tuple[str, str]]:
        """The ``Set-Cookie`` headers Flask would send for ``session`` (none for an empty one)."""
        if not session:
            return []
        response = self.app.response_class()
        self.app.session_interface.save_session(self.app, session, response)
        return [("Set-Cookie", value) for value in response.headers.getlist("Set-Cookie")]

    def _fill(self, environ, start_response, key):
        """Flask's answer, sent with an ETag of its bytes, and kept when it is a 200 made for this
        key's scope."""
        sent = {}
        written = []

        def capture(status, headers, exc_info=None):
            sent["status"], sent["headers"] = status, list(headers)
            return written.append

        result = self.wsgi_app(environ, capture)
        try:
            body = b"".join(written) + b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        status, headers = sent["status"], sent["headers"]
        if status.startswith("200 "):
            etag = hashlib.sha1(body).hexdigest()[:20]
            headers = [h for h in headers if h[0].lower() != "etag"] + [("ETag", quote_etag(etag))]
            if environ.get(SCOPE_ENVIRON) == key[4] and len(body) <= MAX_BODY:
                kept = [h for h in headers if h[0].lower() != "set-cookie"]
                self.answers.store(key, (status, kept, body, etag),
                                   len(body) + sum(len(k) + len(v) for k, v in kept) + 256)
        start_response(status, headers)
        return [body]


def init_app(app: Flask) -> None:
    """Put :class:`LightResponses` in front of ``app`` (after every other part is registered)."""
    app.wsgi_app = app.extensions["gapmap_light_responses"] = LightResponses(app, app.wsgi_app)
