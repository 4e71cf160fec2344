"""Static files and text responses sent compressed, and cached by browsers for as long as they can be.

- ``/static/<file>`` is served from memory: each file is read and gzip-compressed once per version
  (its size and modification time), with an ETag (a hash of its bytes). Addresses made by
  ``url_for('static', ...)``, and the folium map pages passed through :func:`versioned`, carry
  ``?v=<that hash>``: such a response may be kept a year (``public, max-age=31536000, immutable``),
  since a changed file has a new address. Without ``v`` (or with an old one) the browser must
  revalidate (``no-cache``), and gets ``304 Not Modified`` while the file is unchanged.
- Any other text response (pages, JSON, CSV) of at least :data:`MIN_BYTES` and at most
  :data:`MAX_BYTES` is gzip-compressed on the fly when the client accepts gzip and the route did
  not compress it already (the map frames and LSOA layers keep a compressed copy in their caches).
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
import threading
import time
from pathlib import Path

from flask import Flask, Response, abort, request
from werkzeug.security import safe_join

MIN_BYTES = 1024  # below this, gzip's header costs about what it saves
MAX_BYTES = 8 << 20  # bigger bodies (exports) are sent as they are rather than hold a worker compressing
COMPRESSIBLE = {"text/html", "text/css", "text/csv", "text/plain", "text/javascript", "application/javascript",
                "application/json", "application/geo+json", "image/svg+xml"}
YEAR = "public, max-age=31536000, immutable"
RECHECK_SECONDS = 2.0  # a static file edited while the server runs is linked by its new version this soon
STATIC_LINK = re.compile(r'((?:src|href)=")/static/([^"?#]+)(")')


class StaticFiles:
    """The files under one folder, each as (ETag, bytes, gzip bytes or None, MIME type), re-read
    when its size or modification time changes. Bounded by the folder: only files in it are read."""

    def __init__(self, folder: str | Path):
        self.folder = str(folder)
        self._files: dict[str, tuple] = {}
        self._versions: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def get(self, filename: str) -> tuple[str, bytes, bytes | None, str] | None:
        path = safe_join(self.folder, filename)
        if path is None:
            return None
        try:
            stat = Path(path).stat()
        except OSError:
            return None
        if not Path(path).is_file():
            return None
        version = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            held = self._files.get(path)
        if held is not None and held[0] == version:
            return held[1]
        body = Path(path).read_bytes()
        mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if mimetype.startswith("text/") and mimetype != "text/csv":
            mimetype += "; charset=utf-8"
        packed = gzip.compress(body, compresslevel=9, mtime=0) if (
            mimetype.split(";")[0] in COMPRESSIBLE and len(body) >= MIN_BYTES) else None
        entry = (hashlib.sha1(body).hexdigest()[:16], body, packed, mimetype)
        with self._lock:
            self._files[path] = (version, entry)
        return entry

    def version(self, filename: str) -> str | None:
        """The ``v`` of a file's address (its ETag), or None for a file that is not there; looked up
        again at most every :data:`RECHECK_SECONDS` (a page links a dozen files: each a stat otherwise)."""
        now = time.monotonic()
        known = self._versions.get(filename)
        if known is not None and now - known[0] < RECHECK_SECONDS:
            return known[1]
        entry = self.get(filename)
        version = entry[0] if entry else None
        self._versions[filename] = (now, version)
        return version


def accepts_gzip() -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def versioned(page: str, files: StaticFiles) -> str:
    """``page`` with each ``src="/static/..."`` and ``href="/static/..."`` given its file's ``?v=``."""
    def add(match):
        version = files.version(match.group(2))
        return match.group(0) if version is None else f"{match.group(1)}/static/{match.group(2)}?v={version}{match.group(3)}"

    return STATIC_LINK.sub(add, page)


def init_app(app: Flask) -> None:
    """Serve ``app.static_folder`` through :class:`StaticFiles` and compress text responses."""
    files = app.extensions["gapmap_static"] = StaticFiles(app.static_folder)

    def static(filename: str):
        entry = files.get(filename)
        if entry is None:
            abort(404, description=f"no file {filename!r} here")
        etag, body, packed, mimetype = entry
        headers = {"Cache-Control": YEAR if request.args.get("v") == etag else "no-cache"}
        if packed is not None:
            headers["Vary"] = "Accept-Encoding"
        zipped = packed is not None and accepts_gzip()
        tag = etag + "-gz" if zipped else etag  # the two encodings are two representations
        if request.if_none_match.contains(tag):
            response = Response(status=304, headers=headers)
        elif zipped:
            response = Response(packed, mimetype=mimetype, headers={**headers, "Content-Encoding": "gzip"})
        else:
            response = Response(body, mimetype=mimetype, headers=headers)
        response.set_etag(tag)
        return response

    app.view_functions["static"] = static

    @app.url_defaults
    def static_version(endpoint, values):
        if endpoint == "static" and "v" not in values and "filename" in values:
            version = files.version(values["filename"])
            if version:
                values["v"] = version

    @app.after_request
    def compress(response):
        if (response.status_code != 200 or response.direct_passthrough or response.is_streamed
                or "Content-Encoding" in response.headers or response.mimetype not in COMPRESSIBLE
                or not accepts_gzip()):
            return response
        body = response.get_data()
        if not MIN_BYTES <= len(body) <= MAX_BYTES:
            return response
        response.set_data(gzip.compress(body, compresslevel=6))
        response.headers["Content-Encoding"] = "gzip"
        vary = [v.strip() for v in response.headers.get("Vary", "").split(",") if v.strip()]
        response.headers["Vary"] = ", ".join(vary + ([] if "Accept-Encoding" in vary else ["Accept-Encoding"]))
        return response


def versioned_response(key: tuple, make, mimetype: str, headers: dict | None = None) -> Response:
    """The response for one version of something a route caches as (plain bytes, gzip bytes):
    ``make()`` gives them (and is called only when they are to be sent); the ETag is a hash of
    ``key`` (which names the version: store build, dataset versions, options) and of the encoding,
    so a browser holding this version is answered ``304 Not Modified`` with nothing computed."""
    zipped = accepts_gzip()
    etag = hashlib.sha1(repr(key).encode()).hexdigest()[:20] + ("-gz" if zipped else "")
    headers = {**(headers or {}), "Vary": ", ".join(dict.fromkeys(
        ["Accept-Encoding"] + [v.strip() for v in (headers or {}).get("Vary", "").split(",") if v.strip()]))}
    if request.if_none_match.contains(etag):
        response = Response(status=304, headers=headers)
    else:
        plain, packed = make()
        response = Response(packed if zipped else plain, mimetype=mimetype,
                            headers={**headers, "Content-Encoding": "gzip"} if zipped else headers)
    response.set_etag(etag)
    return response
